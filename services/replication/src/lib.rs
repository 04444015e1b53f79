//! Replication of xuncha: the city office's raft cluster ([`raft`]) and the county-initiated
//! sync between the city and its counties ([`sync`]).

pub mod raft;
pub mod sync;
