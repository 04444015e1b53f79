use tonic::{Request, Response, Status};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::node_service_server::NodeService;
use xuncha_store::{StoreError, last_outbox_seq, peer_statuses};

use super::ok;
use crate::backend::Api;
use crate::conv::timestamp;
use crate::error::ApiError;

pub struct NodeApi(pub Api);

#[tonic::async_trait]
impl NodeService for NodeApi {
    async fn get_status(&self, _: Request<pb::GetStatusRequest>) -> Result<Response<pb::NodeStatus>, Status> {
        let engine = self.0.engine();
        let records = engine.read(|s| s.record_count() as u64).await;
        let mut conn = engine.store().pool().acquire().await.map_err(StoreError::from).map_err(ApiError::from)?;
        let outbox_seq = last_outbox_seq(&mut conn).await.map_err(ApiError::from)?;
        let peers = peer_statuses(&mut conn)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|p| pb::PeerStatus {
                node: p.node.to_string(),
                applied_seq: p.applied_seq,
                last_contact: p.last_contact.map(timestamp),
                backlog: p.backlog,
                pulled_seq: p.pulled_seq,
                lag: p.lag,
            })
            .collect();
        ok(pb::NodeStatus {
            node: engine.node().to_string(),
            replica_id: self.0.backend().replica_id(),
            version: env!("CARGO_PKG_VERSION").into(),
            records,
            outbox_seq,
            peers,
            started_at: Some(timestamp(self.0.started_at())),
        })
    }
}
