//! The gRPC face of the city's side of sync (`xuncha_replication::sync::city`): the county is
//! whoever its certificate says; errors become statuses here.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use xuncha_domain::NodeId;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::sync_service_server::SyncService;
use xuncha_replication::raft::CityReplica;
use xuncha_replication::sync::city::{CitySync, SyncError, SyncStream};

use crate::access::peer;
use crate::error::ApiError;

pub struct SyncApi(CitySync);

impl SyncApi {
    pub fn new(replica: Arc<CityReplica>) -> Self {
        Self(CitySync::new(replica))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The calling county, from its certificate (the guard admitted only counties).
fn county<T>(req: &Request<T>) -> Result<NodeId, Status> {
    peer(req).county().ok_or_else(|| Status::permission_denied("a county certificate is required"))
}

fn status(e: SyncError) -> Status {
    match e {
        SyncError::Stream(s) => s,
        SyncError::Refused(d) => ApiError::Domain(d).into(),
        SyncError::Replica(r) => ApiError::from(r).into(),
        SyncError::Store(s) => ApiError::Internal(s).into(),
    }
}

fn statuses<T: 'static>(s: SyncStream<T>) -> BoxStream<T> {
    Box::pin(s.map(|r| r.map_err(status)))
}

#[tonic::async_trait]
impl SyncService for SyncApi {
    async fn hello(&self, r: Request<pb::HelloRequest>) -> Result<Response<pb::HelloResponse>, Status> {
        let origin = county(&r)?;
        Ok(Response::new(self.0.hello(&origin, r.get_ref()).await.map_err(status)?))
    }

    type PushStream = BoxStream<pb::PushAck>;

    async fn push(&self, r: Request<Streaming<pb::PushBatch>>) -> Result<Response<Self::PushStream>, Status> {
        let origin = county(&r)?;
        Ok(Response::new(statuses(self.0.push(origin, r.into_inner()).map_err(status)?)))
    }

    type PullStream = BoxStream<pb::PullBatch>;

    async fn pull(&self, r: Request<pb::PullRequest>) -> Result<Response<Self::PullStream>, Status> {
        let peer = county(&r)?;
        Ok(Response::new(statuses(self.0.pull(peer, r.into_inner()).map_err(status)?)))
    }

    type RestoreStream = BoxStream<pb::RestoreBatch>;

    async fn restore(&self, r: Request<pb::RestoreRequest>) -> Result<Response<Self::RestoreStream>, Status> {
        let origin = county(&r)?;
        Ok(Response::new(statuses(self.0.restore(origin).await.map_err(status)?)))
    }
}
