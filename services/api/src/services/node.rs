use tonic::{Request, Response, Status};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::node_service_server::NodeService;
use xuncha_store::{StoreError, last_outbox_seq, peer_statuses};

use super::ok;
use crate::backend::Api;
use crate::conv::timestamp;
use crate::error::ApiError;

pub struct NodeApi(pub Api);

type BackupStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::BackupChunk, Status>> + Send>>;

#[tonic::async_trait]
impl NodeService for NodeApi {
    type BackupStream = BackupStream;

    async fn backup(&self, _: Request<pb::BackupRequest>) -> Result<Response<BackupStream>, Status> {
        let engine = self.0.engine().clone();
        // A consistent copy (one read transaction) next to the database, streamed, then removed.
        let dir = engine.store().path().parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let file = dir.join(format!("backup-{}.db.tmp", uuid::Uuid::now_v7()));
        engine.store().backup_to(&file).await.map_err(ApiError::from)?;
        let bytes = tokio::fs::read(&file).await.map_err(|e| ApiError::Internal(format!("reading the backup: {e}")));
        let _ = tokio::fs::remove_file(&file).await;
        let bytes = bytes?;
        let total = bytes.len() as u64;
        let node = engine.node().to_string();
        let chunks: Vec<Result<pb::BackupChunk, Status>> = bytes
            .chunks(1 << 20)
            .enumerate()
            .map(|(i, c)| {
                Ok(pb::BackupChunk {
                    data: c.to_vec(),
                    total: if i == 0 { total } else { 0 },
                    node: if i == 0 { node.clone() } else { String::new() },
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn get_status(&self, _: Request<pb::GetStatusRequest>) -> Result<Response<pb::NodeStatus>, Status> {
        let engine = self.0.engine();
        let records = engine.read(|s| s.record_count() as u64).await;
        let mut conn = engine.store().readers().acquire().await.map_err(StoreError::from).map_err(ApiError::from)?;
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
                refused_at: p.refused.as_ref().map(|r| timestamp(r.1)),
                refused: p.refused.map(|r| r.0).unwrap_or_default(),
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
