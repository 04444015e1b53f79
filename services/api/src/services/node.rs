use tonic::{Request, Response, Status};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::node_service_server::NodeService;

use tokio_stream::StreamExt;

use super::ok;
use crate::backend::Api;
use crate::conv::timestamp;
use crate::error::ApiError;
use crate::streaming::chunks_of;

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
        // Open, then unlink: the open handle reads on, and the copy is gone once it closes.
        let opened = tokio::fs::File::open(&file).await;
        let _ = tokio::fs::remove_file(&file).await;
        let reading = |e: std::io::Error| Status::from(ApiError::Internal(format!("reading the backup: {e}")));
        let opened = opened.map_err(reading)?;
        let total = opened.metadata().await.map_err(reading)?.len();
        let mut node = Some(engine.node().to_string());
        let chunks = chunks_of(opened).map(move |piece| {
            let data = piece.map_err(reading)?;
            // The first piece says what the file is and how long.
            let first = node.take();
            Ok(pb::BackupChunk {
                data,
                total: if first.is_some() { total } else { 0 },
                node: first.unwrap_or_default(),
            })
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn get_status(&self, _: Request<pb::GetStatusRequest>) -> Result<Response<pb::NodeStatus>, Status> {
        let engine = self.0.engine();
        let records = engine.read(|s| s.record_count() as u64).await;
        let outbox_seq = engine.store().last_outbox_seq().await.map_err(ApiError::from)?;
        let peers = engine
            .store()
            .peer_statuses()
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
            node_names: self.0.node_names().clone().into_iter().collect(),
        })
    }
}
