//! Raft between city replicas, and the requests a follower hands to the leader. Payloads are
//! openraft's own types as JSON.

use std::sync::Arc;

use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};
use xuncha_domain::Envelope;
use xuncha_proto::v1::RaftMessage;
use xuncha_proto::v1::raft_service_server::RaftService;
use xuncha_replication::raft::{CityReplica, TypeConfig, decode, encode};

use crate::access::peer;
use crate::identity::Peer;

pub struct RaftApi(pub Arc<CityReplica>);

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftMessage>, Status> {
    encode(value).map(Response::new).map_err(|e| Status::internal(format!("encoding a raft reply: {e}")))
}

fn body<T: serde::de::DeserializeOwned>(r: &Request<RaftMessage>) -> Result<T, Status> {
    decode(r.get_ref()).map_err(|e| Status::invalid_argument(format!("json: not a raft message: {e}")))
}

/// A raft message speaks for the replica its vote names: that must be the replica whose
/// certificate sent it, or one replica could campaign or lead in another's name.
fn sent_by<T>(r: &Request<T>, vote: &Vote<u64>) -> Result<(), Status> {
    let claimed = vote.leader_id().voted_for();
    match peer(r) {
        Peer::Replica(id) if Some(id) == claimed => Ok(()),
        // Plaintext (development, loopback only): there is no certificate to check against.
        Peer::Anonymous => Ok(()),
        p => Err(Status::permission_denied(format!(
            "vote: {} sent a raft message in the name of replica {}",
            p.label(),
            claimed.map_or("none".to_string(), |c| c.to_string())
        ))),
    }
}

#[tonic::async_trait]
impl RaftService for RaftApi {
    async fn append_entries(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: AppendEntriesRequest<TypeConfig> = body(&r)?;
        sent_by(&r, &req.vote)?;
        reply(&self.0.raft.append_entries(req).await)
    }

    async fn vote(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: VoteRequest<u64> = body(&r)?;
        sent_by(&r, &req.vote)?;
        reply(&self.0.raft.vote(req).await)
    }

    async fn install_snapshot(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: InstallSnapshotRequest<TypeConfig> = body(&r)?;
        sent_by(&r, &req.vote)?;
        // Snapshots only from a member: a replica removed from the cluster installs nothing.
        // (Any member, not only voters: this replica's view of the membership may lag the
        // leader's; a fresh replica knows no members yet and takes its first snapshot.)
        let from = req.vote.leader_id().voted_for();
        let members: Vec<u64> =
            self.0.raft.metrics().borrow().membership_config.membership().nodes().map(|(id, _)| *id).collect();
        if !members.is_empty() && !from.is_some_and(|id| members.contains(&id)) {
            return Err(Status::permission_denied(format!(
                "vote: a snapshot from replica {}, which is not a member here ({members:?})",
                from.map_or("none".to_string(), |c| c.to_string())
            )));
        }
        reply(&self.0.raft.install_snapshot(req).await)
    }

    async fn forward(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let envelope: Envelope = body(&r)?;
        reply(&self.0.write_here(envelope).await)
    }

    async fn read_index(&self, _: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        reply(&self.0.read_index_here().await)
    }
}
