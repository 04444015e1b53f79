//! The raft type configuration of the city cluster: what goes into the log and what applying it
//! returns.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xuncha_domain::{DomainError, Envelope, NodeId, Outcome};
use xuncha_store::Change;

/// A city replica's raft id. Never reused: a wiped replica comes back under a new id.
pub type ReplicaId = u64;

/// Where a replica is reached: its gRPC address (API and raft share it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaNode {
    pub addr: String,
}

impl std::fmt::Display for ReplicaNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.addr)
    }
}

/// One entry of the city's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CityRequest {
    /// Staff commands that arrived together, decided in order when applied, identically on
    /// every replica. Batching many writes into one entry is what lets throughput approach
    /// what the disk allows (one fsync per batch, not per write).
    Commands(Vec<Envelope>),
    /// A batch a county pushed: its changes, checked again when applied (owner, kind,
    /// audience), deduplicated by (origin, sequence).
    Changes(PushedChanges),
}

/// A county's pushed batch as it enters the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushedChanges {
    /// The county, from its certificate.
    pub origin: NodeId,
    pub changes: Vec<Change>,
    /// The county's cursor this batch reaches.
    pub reached: u64,
    /// The county's pull cursor (city changes it applied).
    pub pulled: u64,
    /// The county's changes still to push.
    pub backlog: u64,
    /// When the leader accepted it (so every replica records the same contact time).
    pub at: DateTime<Utc>,
    /// W3C trace context of the push, so applying it joins the county's trace.
    #[serde(default)]
    pub trace: std::collections::BTreeMap<String, String>,
}

/// What a pushed batch did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncApplied {
    /// The city's cursor for the county after the batch.
    pub applied_seq: u64,
    pub new_changes: u64,
    pub duplicates: u64,
}

/// One command's result: its outcome, or the rule that refused it (nothing changed).
pub type Decided = Result<Outcome, DomainError>;

/// What applying an entry produced, returned to the client that wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CityResponse {
    /// One result per command of the entry, in order.
    Decided(Vec<Decided>),
    /// A pushed batch: applied, or refused whole (a change its sender may not make).
    Synced(Result<SyncApplied, DomainError>),
    /// Blank and membership entries.
    Nothing,
}

openraft::declare_raft_types!(
    /// The city cluster's raft types.
    pub TypeConfig:
        D = CityRequest,
        R = CityResponse,
        NodeId = ReplicaId,
        Node = ReplicaNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<ReplicaId>;
pub type StorageError = openraft::StorageError<ReplicaId>;
pub type StoredMembership = openraft::StoredMembership<ReplicaId, ReplicaNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<ReplicaId, ReplicaNode>;

/// A storage failure of `what`, for openraft (fatal to the replica).
pub fn storage_error(what: impl std::fmt::Display) -> StorageError {
    openraft::StorageIOError::write(openraft::AnyError::error(what.to_string())).into()
}
