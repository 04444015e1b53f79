//! The services on a city replica: writes go through raft (forwarded to the leader from a
//! follower), reads wait for a read index unless the client asks for stale reads.

use std::sync::Arc;

use xuncha_domain::{DomainError, Envelope, Outcome};
use xuncha_replication::raft::{CityReplica, ReplicaError};
use xuncha_store::Engine;

use crate::backend::{Backend, Consistency};
use crate::error::{ApiError, ApiResult};

pub struct CityBackend {
    replica: Arc<CityReplica>,
}

impl CityBackend {
    pub fn new(replica: Arc<CityReplica>) -> Self {
        Self { replica }
    }
}

impl From<ReplicaError> for ApiError {
    fn from(e: ReplicaError) -> Self {
        match e {
            ReplicaError::NotLeader { leader } => {
                ApiError::Unavailable { reason: ReplicaError::NotLeader { leader: leader.clone() }.to_string(), leader }
            }
            ReplicaError::Unavailable(reason) => ApiError::Unavailable { reason, leader: None },
            ReplicaError::Refused(reason) => ApiError::Domain(DomainError::precondition("cluster", reason)),
            ReplicaError::Fatal(reason) => ApiError::Internal(reason),
        }
    }
}

#[tonic::async_trait]
impl Backend for CityBackend {
    fn engine(&self) -> &Arc<Engine> {
        &self.replica.engine
    }

    async fn execute(&self, envelope: Envelope) -> ApiResult<Outcome> {
        Ok(self.replica.write(envelope).await??)
    }

    async fn read_barrier(&self, consistency: Consistency) -> ApiResult<()> {
        match consistency {
            Consistency::Stale => Ok(()),
            Consistency::Linearizable => Ok(self.replica.read_barrier().await?),
        }
    }

    fn replica_id(&self) -> u64 {
        self.replica.id
    }
}
