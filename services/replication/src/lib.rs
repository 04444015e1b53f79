//! Replication of xuncha: the city office's raft cluster ([`raft`]) — and, in time, the sync
//! between the city and its counties.

pub mod raft;
