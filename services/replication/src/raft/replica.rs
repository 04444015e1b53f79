//! One city replica: the raft instance over the SQLite log and state machine, writes that reach
//! the leader wherever they arrive, linearizable reads on any replica, and membership changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use xuncha_domain::{Envelope, NodeId};
use xuncha_store::{Durability, Engine};

use super::log_store::{LogStore, import_sqlite_log, log_dir};
use super::network::{Expect, Peers, decode, encode};
use super::state_machine::{StateMachine, ids_seen};
use super::types::{CityRequest, CityResponse, Decided, PushedChanges, Raft, ReplicaId, ReplicaNode, SyncApplied};

/// Raft timing and compaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaftSettings {
    /// Leader heartbeat, ms. Also the timeout of one AppendEntries call.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// A follower that hears nothing for a random time in [min, max] ms starts an election.
    #[serde(default = "default_election_min")]
    pub election_min_ms: u64,
    #[serde(default = "default_election_max")]
    pub election_max_ms: u64,
    /// Take a snapshot after this many entries since the last one.
    #[serde(default = "default_snapshot_logs")]
    pub snapshot_logs: u64,
    /// Entries kept behind a snapshot for followers that lag a little (more lag: a snapshot).
    #[serde(default = "default_keep_logs")]
    pub keep_logs: u64,
    /// Timeout of one snapshot chunk, ms.
    #[serde(default = "default_snapshot_timeout")]
    pub snapshot_chunk_timeout_ms: u64,
}

// Tuned for replicas on one site's network: a follower starts an election after the leader
// lease (= election_max) plus a random [min, max], so failover takes about 0.4-0.6 s. Raise all
// three for replicas across a slow WAN.
fn default_heartbeat() -> u64 {
    60
}
fn default_election_min() -> u64 {
    180
}
fn default_election_max() -> u64 {
    300
}
fn default_snapshot_logs() -> u64 {
    10_000
}
fn default_keep_logs() -> u64 {
    1_000
}
fn default_snapshot_timeout() -> u64 {
    10_000
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: default_heartbeat(),
            election_min_ms: default_election_min(),
            election_max_ms: default_election_max(),
            snapshot_logs: default_snapshot_logs(),
            keep_logs: default_keep_logs(),
            snapshot_chunk_timeout_ms: default_snapshot_timeout(),
        }
    }
}

/// Entries in one AppendEntries.
pub const MAX_PAYLOAD_ENTRIES: u64 = 8;
/// Largest raft message: a full AppendEntries of the largest entries (a county's push batch is
/// one entry), with room for framing. Only authenticated replicas may send one.
pub const MAX_RAFT_MESSAGE_BYTES: usize =
    MAX_PAYLOAD_ENTRIES as usize * xuncha_store::MAX_SYNC_MESSAGE_BYTES + (4 << 20);

impl RaftSettings {
    pub fn to_openraft(&self) -> Result<Config, openraft::ConfigError> {
        Config {
            cluster_name: "xuncha-city".into(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_min_ms,
            election_timeout_max: self.election_max_ms,
            install_snapshot_timeout: self.snapshot_chunk_timeout_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_logs),
            max_in_snapshot_log_to_keep: self.keep_logs,
            snapshot_max_chunk_size: 1 << 20,
            // Entries are batches of commands: keep one AppendEntries well inside a heartbeat.
            max_payload_entries: MAX_PAYLOAD_ENTRIES,
            ..Default::default()
        }
        .validate()
    }
}

/// What opening a replica needs.
pub struct ReplicaOptions {
    pub id: ReplicaId,
    pub data_dir: PathBuf,
    pub raft: RaftSettings,
    pub peers: Peers,
}

/// Why a replica could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ReplicaError {
    /// This replica does not lead: retry on the leader, or, when none is known (an election is
    /// under way), shortly. Nothing was written.
    #[error("{}", match leader {
        Some(l) => format!("this replica is not the leader; the leader is {l}"),
        None => "no leader is known yet (an election may be under way); retry shortly".to_string(),
    })]
    NotLeader { leader: Option<String> },
    /// The leader cannot be reached, or this replica cannot catch up with it; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The request is not allowed (a reused replica id, a membership change under way).
    #[error("{0}")]
    Refused(String),
    /// The replica stopped (storage failure, shutdown).
    #[error("replica stopped: {0}")]
    Fatal(String),
}

/// A running city replica.
pub struct CityReplica {
    pub id: ReplicaId,
    pub raft: Raft,
    pub engine: Arc<Engine>,
    log: LogStore,
    peers: Peers,
    batcher: mpsc::Sender<Pending>,
}

/// How long a follower waits to catch up to a read index before giving up.
const READ_CATCH_UP: Duration = Duration::from_secs(10);

/// How long a write waits for an election to end before answering that no leader is known.
const ELECTION_WAIT: Duration = Duration::from_secs(5);

impl CityReplica {
    /// Opens (or creates) the replica's data under `opts.data_dir` and starts raft. A fresh
    /// replica does nothing until it is initialised or added to a cluster.
    pub async fn open(opts: ReplicaOptions) -> anyhow::Result<Arc<Self>> {
        let engine = Engine::open(&opts.data_dir.join("state.db"), &NodeId::city(), Durability::Normal).await?;
        let mut log = LogStore::open(&log_dir(&opts.data_dir), opts.id).await?;
        import_sqlite_log(&opts.data_dir, &mut log).await?;
        let mut sm = StateMachine::new(engine.clone(), opts.data_dir.join("snapshots"))?;
        sm.catch_up_to_snapshot().await?;
        let config = Arc::new(opts.raft.to_openraft()?);
        let raft = Raft::new(opts.id, config, opts.peers.clone(), log.clone(), sm).await?;
        let (batcher, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run_batcher(raft.clone(), queue, opts.id, opts.peers.clone()));
        Ok(Arc::new(Self { id: opts.id, raft, engine, log, peers: opts.peers, batcher }))
    }

    /// Puts a command through raft: here when this replica leads, otherwise forwarded once to
    /// the leader; during an election it waits (up to `ELECTION_WAIT`) for the new leader. Either
    /// way the answer comes only once this replica has applied the write, so whoever wrote
    /// through it reads their own write here next.
    pub async fn write(&self, envelope: Envelope) -> Reply {
        let deadline = Instant::now() + ELECTION_WAIT;
        loop {
            let attempt = match self.write_here(envelope.clone()).await {
                Err(ReplicaError::NotLeader { leader: Some(addr) }) => self.forward(&addr, &envelope).await,
                other => other,
            };
            match attempt {
                Ok((decided, _)) => return Ok(decided),
                // Refused before anything was appended: a leader is being elected (or the one
                // asked just stepped down). Safe to try again once a leader is known.
                Err(ReplicaError::NotLeader { .. }) if Instant::now() < deadline => self.leader_known(deadline).await,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until some replica leads in this replica's view, or `deadline`.
    async fn leader_known(&self, deadline: Instant) {
        let me = self.id;
        let wait = self.raft.wait(Some(deadline.saturating_duration_since(Instant::now())));
        let led = |m: &openraft::RaftMetrics<ReplicaId, ReplicaNode>| match m.current_leader {
            Some(l) if l == me => m.state == ServerState::Leader,
            Some(_) => true,
            None => false,
        };
        let _ = wait.metrics(led, "a leader").await;
        // A leader this replica already knew refused too (it is stepping down): let the
        // election move on rather than asking again at once.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// Puts a command through raft only if this replica leads (a forwarded write takes no
    /// second hop). Commands arriving together share one log entry. The answer carries the
    /// index of that entry.
    pub async fn write_here(&self, envelope: Envelope) -> Committed {
        let (reply, answer) = oneshot::channel();
        let stopped = || ReplicaError::Fatal("the replica is stopping".into());
        self.batcher.send(Pending { envelope, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Has the leader put a command through raft, then waits until this replica has applied it
    /// too (the leader answers after applying; this replica may not have heard of the commit).
    async fn forward(&self, leader: &str, envelope: &Envelope) -> Committed {
        let unreachable = |e: String| ReplicaError::Unavailable(format!("the leader {leader} cannot be reached: {e}"));
        let mut client = self.peers.client(leader, Expect::AnyReplica).map_err(|e| unreachable(e.to_string()))?;
        let mut request = tonic::Request::new(encode(envelope).map_err(|e| ReplicaError::Fatal(e.to_string()))?);
        crate::trace::inject_current(request.metadata_mut());
        let reply = client.forward(request).await.map_err(|s| {
            self.peers.forget_if_revoked(leader, Expect::AnyReplica, &s);
            unreachable(s.message().to_string())
        })?;
        let (decided, index) =
            decode::<Committed>(reply.get_ref()).map_err(|e| ReplicaError::Fatal(e.to_string()))??;
        let wait = self.raft.wait(Some(READ_CATCH_UP));
        if let Err(e) = wait.applied_index_at_least(Some(index), "own write").await {
            // The write is committed: an error would invite a retry that repeats it.
            tracing::warn!(index, error = %e, "answering a forwarded write before this replica applied it");
        }
        Ok((decided, index))
    }

    fn not_leader(
        &self,
        forward: Option<&openraft::error::ForwardToLeader<ReplicaId, ReplicaNode>>,
        err: String,
    ) -> ReplicaError {
        not_leader(self.id, &self.peers, forward, err)
    }

    /// Puts a county's pushed batch through raft. Only on the leader: counties find the leader
    /// and hold their sync session there.
    pub async fn write_changes(
        &self,
        pushed: PushedChanges,
    ) -> Result<Result<SyncApplied, xuncha_domain::DomainError>, ReplicaError> {
        match self.raft.client_write(CityRequest::Changes(pushed)).await {
            Ok(r) => match r.data {
                CityResponse::Synced(result) => Ok(result),
                other => Err(ReplicaError::Fatal(format!("the log answered a push with {other:?}"))),
            },
            Err(e) => Err(self.not_leader(e.forward_to_leader(), e.to_string())),
        }
    }

    /// Whether this replica leads now (by its own metrics), and otherwise the leader's address.
    pub fn leadership(&self) -> Result<(), ReplicaError> {
        let m = self.raft.metrics().borrow().clone();
        match m.current_leader {
            Some(l) if l == self.id && m.state == ServerState::Leader => Ok(()),
            Some(l) => {
                let addr = m.membership_config.membership().get_node(&l).map(|n| self.peers.addr_of(l, &n.addr));
                Err(ReplicaError::NotLeader { leader: addr })
            }
            None => Err(ReplicaError::NotLeader { leader: None }),
        }
    }

    /// Waits until this replica's state reflects every write acknowledged before the call: the
    /// leader confirms its leadership with a quorum and names the index; a follower waits until
    /// it has applied that far.
    pub async fn read_barrier(&self) -> Result<(), ReplicaError> {
        let index = match self.read_index_here().await {
            Ok(i) => i,
            Err(ReplicaError::NotLeader { leader: Some(addr) }) => {
                let mut client = self
                    .peers
                    .client(&addr, Expect::AnyReplica)
                    .map_err(|e| ReplicaError::Unavailable(e.to_string()))?;
                let reply = client
                    .read_index(encode(&()).map_err(|e| ReplicaError::Fatal(e.to_string()))?)
                    .await
                    .map_err(|s| {
                        self.peers.forget_if_revoked(&addr, Expect::AnyReplica, &s);
                        ReplicaError::Unavailable(format!("the leader {addr} cannot be reached: {}", s.message()))
                    })?;
                decode::<Result<Option<u64>, ReplicaError>>(reply.get_ref())
                    .map_err(|e| ReplicaError::Fatal(e.to_string()))??
            }
            Err(e) => return Err(e),
        };
        self.raft.wait(Some(READ_CATCH_UP)).applied_index_at_least(index, "read index").await.map(|_| ()).map_err(|e| {
            ReplicaError::Unavailable(format!("this replica could not catch up for a linearizable read: {e}"))
        })
    }

    /// On the leader: the index a linearizable read must see.
    pub async fn read_index_here(&self) -> Result<Option<u64>, ReplicaError> {
        match self.raft.ensure_linearizable().await {
            Ok(log_id) => Ok(log_id.map(|l| l.index)),
            Err(e) => Err(self.not_leader(e.forward_to_leader(), e.to_string())),
        }
    }

    /// Initialises a new cluster with `members` (this replica among them).
    pub async fn initialize(&self, members: BTreeMap<ReplicaId, ReplicaNode>) -> Result<(), ReplicaError> {
        if !members.contains_key(&self.id) {
            return Err(ReplicaError::Refused(format!("the members must include this replica ({})", self.id)));
        }
        check_distinct_addrs(&members)?;
        self.raft.initialize(members).await.map_err(|e| ReplicaError::Refused(e.to_string()))
    }

    /// Adds a learner. A replica id that was ever a member is refused: a wiped replica comes
    /// back under a new id.
    pub async fn add_learner(&self, id: ReplicaId, addr: String, wait: bool) -> Result<(), ReplicaError> {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let current: BTreeMap<ReplicaId, ReplicaNode> =
            membership.membership().nodes().map(|(i, n)| (*i, n.clone())).collect();
        if let Some(node) = current.get(&id) {
            return if node.addr == addr {
                Ok(())
            } else {
                Err(ReplicaError::Refused(format!("replica {id} is already a member at {}", node.addr)))
            };
        }
        let seen = ids_seen(&self.engine).await.map_err(|e| ReplicaError::Fatal(e.to_string()))?;
        if seen.contains(&id) {
            return Err(ReplicaError::Refused(format!(
                "replica id {id} was used before in this cluster; give the replica a new id"
            )));
        }
        let mut with = current.clone();
        with.insert(id, ReplicaNode { addr: addr.clone() });
        check_distinct_addrs(&with)?;
        match self.raft.add_learner(id, ReplicaNode { addr }, wait).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.membership_error(e)),
        }
    }

    /// Makes learners voters.
    pub async fn promote(&self, ids: BTreeSet<ReplicaId>) -> Result<(), ReplicaError> {
        match self.raft.change_membership(ChangeMembers::AddVoterIds(ids), false).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.membership_error(e)),
        }
    }

    /// Removes a replica, voter or learner, entirely.
    pub async fn remove(&self, id: ReplicaId) -> Result<(), ReplicaError> {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let is_voter = membership.membership().voter_ids().any(|v| v == id);
        let change =
            if is_voter { ChangeMembers::RemoveVoters([id].into()) } else { ChangeMembers::RemoveNodes([id].into()) };
        match self.raft.change_membership(change, false).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.membership_error(e)),
        }
    }

    fn membership_error(
        &self,
        e: openraft::error::RaftError<ReplicaId, openraft::error::ClientWriteError<ReplicaId, ReplicaNode>>,
    ) -> ReplicaError {
        match e.forward_to_leader() {
            Some(f) => self.not_leader(Some(f), e.to_string()),
            None => match e {
                openraft::error::RaftError::APIError(api) => ReplicaError::Refused(api.to_string()),
                openraft::error::RaftError::Fatal(f) => ReplicaError::Fatal(f.to_string()),
            },
        }
    }

    /// Takes a snapshot now and waits for it.
    pub async fn snapshot(&self) -> Result<(), ReplicaError> {
        let applied = self.raft.metrics().borrow().last_applied;
        self.raft.trigger().snapshot().await.map_err(|e| ReplicaError::Fatal(e.to_string()))?;
        if let Some(applied) = applied {
            self.raft
                .wait(Some(Duration::from_secs(60)))
                .metrics(|m| m.snapshot.is_some_and(|s| s.index >= applied.index), "snapshot")
                .await
                .map_err(|e| ReplicaError::Unavailable(e.to_string()))?;
        }
        Ok(())
    }

    /// The cluster as this replica sees it.
    pub async fn status(&self) -> ClusterView {
        let m = self.raft.metrics().borrow().clone();
        let committed = self.raft.with_raft_state(|st| st.committed).await.ok().flatten();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<ReplicaId> = membership.voter_ids().collect();
        let leader_addr =
            m.current_leader.and_then(|l| membership.get_node(&l).map(|n| self.peers.addr_of(l, &n.addr)));
        let replicas = membership
            .nodes()
            .map(|(id, node)| ReplicaView {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
                match_index: m.replication.as_ref().and_then(|r| r.get(id).cloned().flatten()).map(|l| l.index),
            })
            .collect();
        ClusterView {
            replica_id: self.id,
            state: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            },
            term: m.current_term,
            leader_id: m.current_leader,
            leader_addr,
            commit_index: committed.map(|c| c.index),
            last_applied: m.last_applied.map(|l| l.index),
            last_log_index: m.last_log_index,
            snapshot_index: m.snapshot.map(|s| s.index),
            replicas,
        }
    }

    /// Stops raft and closes both databases.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        self.log.close().await;
        self.engine.store().close().await;
    }
}

/// What a write returns: the command's result, or why raft could not take it.
pub type Reply = Result<Decided, ReplicaError>;

/// What the leader returns for a write: the command's result and the index of the log entry
/// that carried it (a forwarding replica waits to apply that far before it answers).
pub type Committed = Result<(Decided, u64), ReplicaError>;

fn not_leader(
    me: ReplicaId,
    peers: &Peers,
    forward: Option<&openraft::error::ForwardToLeader<ReplicaId, ReplicaNode>>,
    err: String,
) -> ReplicaError {
    match forward {
        Some(f) => match (&f.leader_id, &f.leader_node) {
            (Some(id), Some(node)) if *id != me => {
                ReplicaError::NotLeader { leader: Some(peers.addr_of(*id, &node.addr)) }
            }
            _ => ReplicaError::NotLeader { leader: None },
        },
        None => ReplicaError::Fatal(err),
    }
}

/// A command waiting for a log entry.
struct Pending {
    envelope: Envelope,
    reply: oneshot::Sender<Committed>,
}

/// Most commands in one log entry.
const MAX_BATCH: usize = 128;
/// Log entries being written at once; while they are, arriving commands gather.
const IN_FLIGHT: usize = 4;

/// Gathers commands that arrive while earlier entries are being written into one entry each.
async fn run_batcher(raft: Raft, mut queue: mpsc::Receiver<Pending>, me: ReplicaId, peers: Peers) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (raft, peers) = (raft.clone(), peers.clone());
        tokio::spawn(async move {
            let (envelopes, replies): (Vec<Envelope>, Vec<oneshot::Sender<Committed>>) =
                batch.into_iter().map(|p| (p.envelope, p.reply)).unzip();
            let n = envelopes.len();
            match raft.client_write(CityRequest::Commands(envelopes)).await {
                Ok(r) => match r.data {
                    CityResponse::Decided(results) if results.len() == n => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok((result, r.log_id.index)));
                        }
                    }
                    other => {
                        for reply in replies {
                            let _ = reply.send(Err(ReplicaError::Fatal(format!(
                                "the log answered {n} commands with {other:?}"
                            ))));
                        }
                    }
                },
                Err(e) => {
                    let err = not_leader(me, &peers, e.forward_to_leader(), e.to_string());
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
            drop(slot);
        });
    }
}

fn check_distinct_addrs(members: &BTreeMap<ReplicaId, ReplicaNode>) -> Result<(), ReplicaError> {
    let mut seen = BTreeMap::new();
    for (id, node) in members {
        if let Some(other) = seen.insert(node.addr.clone(), *id) {
            return Err(ReplicaError::Refused(format!(
                "replicas {other} and {id} cannot share the address {}",
                node.addr
            )));
        }
    }
    Ok(())
}

/// The cluster as one replica sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    pub replica_id: ReplicaId,
    pub state: &'static str,
    pub term: u64,
    pub leader_id: Option<ReplicaId>,
    pub leader_addr: Option<String>,
    pub commit_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub last_log_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub replicas: Vec<ReplicaView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaView {
    pub id: ReplicaId,
    pub addr: String,
    pub voter: bool,
    /// Known on the leader only.
    pub match_index: Option<u64>,
}
