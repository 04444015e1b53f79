//! Operator commands for the city cluster: initialise, add learners, promote, remove, status.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::cluster_service_server::ClusterService;
use xuncha_replication::raft::{CityReplica, ClusterView, ReplicaNode};

use super::ok;
use crate::error::ApiError;

pub struct ClusterApi(pub Arc<CityReplica>);

pub fn status_pb(v: ClusterView) -> pb::ClusterStatus {
    pb::ClusterStatus {
        replica_id: v.replica_id,
        state: v.state.into(),
        term: v.term,
        leader_id: v.leader_id.unwrap_or(0),
        leader_addr: v.leader_addr.unwrap_or_default(),
        commit_index: v.commit_index.unwrap_or(0),
        last_applied: v.last_applied.unwrap_or(0),
        last_log_index: v.last_log_index.unwrap_or(0),
        snapshot_index: v.snapshot_index.unwrap_or(0),
        replicas: v
            .replicas
            .into_iter()
            .map(|r| pb::Replica {
                id: r.id,
                addr: r.addr,
                role: if r.voter { "voter" } else { "learner" }.into(),
                match_index: r.match_index.unwrap_or(0),
            })
            .collect(),
    }
}

impl ClusterApi {
    async fn status(&self) -> Result<Response<pb::ClusterStatus>, Status> {
        ok(status_pb(self.0.status().await))
    }
}

fn invalid(field: &str, reason: &str) -> Status {
    ApiError::invalid(field, reason).into()
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    async fn get_cluster_status(
        &self,
        _: Request<pb::GetClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        self.status().await
    }

    async fn initialize(
        &self,
        r: Request<pb::InitializeClusterRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let mut members = BTreeMap::new();
        for (i, m) in r.into_inner().members.into_iter().enumerate() {
            if m.id == 0 || m.addr.trim().is_empty() {
                return Err(invalid(&format!("members[{i}]"), "needs an id above 0 and an address"));
            }
            members.insert(m.id, ReplicaNode { addr: m.addr });
        }
        self.0.initialize(members).await.map_err(ApiError::from)?;
        self.status().await
    }

    async fn add_learner(&self, r: Request<pb::AddLearnerRequest>) -> Result<Response<pb::ClusterStatus>, Status> {
        let r = r.into_inner();
        if r.id == 0 {
            return Err(invalid("id", "replica ids start at 1"));
        }
        if r.addr.trim().is_empty() {
            return Err(invalid("addr", "is required"));
        }
        self.0.add_learner(r.id, r.addr, r.wait).await.map_err(ApiError::from)?;
        self.status().await
    }

    async fn promote(&self, r: Request<pb::PromoteRequest>) -> Result<Response<pb::ClusterStatus>, Status> {
        let ids = r.into_inner().ids.into_iter().collect::<std::collections::BTreeSet<_>>();
        if ids.is_empty() {
            return Err(invalid("ids", "name at least one learner"));
        }
        self.0.promote(ids).await.map_err(ApiError::from)?;
        self.status().await
    }

    async fn remove_replica(
        &self,
        r: Request<pb::RemoveReplicaRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        self.0.remove(r.into_inner().id).await.map_err(ApiError::from)?;
        self.status().await
    }

    async fn snapshot(&self, _: Request<pb::SnapshotRequest>) -> Result<Response<pb::ClusterStatus>, Status> {
        self.0.snapshot().await.map_err(ApiError::from)?;
        self.status().await
    }
}
