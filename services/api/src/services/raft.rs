//! Raft between city replicas, and the requests a follower hands to the leader. Payloads are
//! openraft's own types as JSON.

use std::sync::Arc;

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};
use xuncha_domain::Envelope;
use xuncha_proto::v1::RaftMessage;
use xuncha_proto::v1::raft_service_server::RaftService;
use xuncha_replication::raft::{CityReplica, TypeConfig, decode, encode};

pub struct RaftApi(pub Arc<CityReplica>);

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftMessage>, Status> {
    encode(value).map(Response::new).map_err(|e| Status::internal(format!("encoding a raft reply: {e}")))
}

fn body<T: serde::de::DeserializeOwned>(r: &Request<RaftMessage>) -> Result<T, Status> {
    decode(r.get_ref()).map_err(|e| Status::invalid_argument(format!("json: not a raft message: {e}")))
}

#[tonic::async_trait]
impl RaftService for RaftApi {
    async fn append_entries(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: AppendEntriesRequest<TypeConfig> = body(&r)?;
        reply(&self.0.raft.append_entries(req).await)
    }

    async fn vote(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: VoteRequest<u64> = body(&r)?;
        reply(&self.0.raft.vote(req).await)
    }

    async fn install_snapshot(&self, r: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let req: InstallSnapshotRequest<TypeConfig> = body(&r)?;
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
