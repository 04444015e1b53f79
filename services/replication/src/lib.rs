//! Replication of xuncha: the city office's raft cluster ([`raft`]) and the county-initiated
//! sync between the city and its counties ([`sync`]).

// openraft's storage and config errors are large, and its traits fix them as return types.
#![allow(clippy::result_large_err)]

pub mod raft;
pub mod revocation;
pub mod sync;
pub mod tls;
pub mod trace;
