//! The city's raft cluster: openraft with a SQLite log store and a state machine that applies
//! commands through the store, raft RPC over gRPC. See DESIGN.md beside this crate.

pub mod log_store;
pub mod network;
pub mod replica;
pub mod state_machine;
pub mod types;

pub use network::{CITY_SERVER_NAME, Expect, Peers, decode, encode, replica_server_name};
pub use replica::{
    CityReplica, ClusterView, MAX_RAFT_MESSAGE_BYTES, RaftSettings, ReplicaError, ReplicaOptions, ReplicaView, Reply,
};
pub use types::{
    CityRequest, CityResponse, Decided, PushedChanges, Raft, ReplicaId, ReplicaNode, SyncApplied, TypeConfig,
};
