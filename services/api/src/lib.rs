//! The gRPC services of xuncha (`xuncha.v1`), over a [`Backend`]: a county's local engine or a
//! city replica. Conversions between proto and domain live in [`conv`]; every error becomes a
//! `Status` in [`error`].

pub mod access;
pub mod auth;
pub mod backend;
pub mod city;
pub mod conv;
pub mod error;
pub mod exports;
pub mod identity;
mod services;
pub mod streaming;
pub mod tabular;

use std::sync::Arc;

use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use xuncha_proto::v1 as pb;
use xuncha_replication::raft::CityReplica;

pub use access::AccessLayer;
pub use auth::{AuthSettings, SessionClock};
pub use backend::{Api, Backend, CONSISTENCY_METADATA, Consistency, LocalBackend};
pub use city::CityBackend;
pub use error::{ApiError, ApiResult, LEADER_METADATA};
pub use services::status_pb;
pub use xuncha_replication::revocation::{self, Revoked};

/// Every `xuncha.v1` service over `api`, with gRPC health and server reflection (v1 and
/// v1alpha); on a city replica (`city`) also raft, cluster operations and sync. The returned
/// [`AccessLayer`] must wrap them: it admits each method's callers (see [`access`]). The health
/// reporter marks each service serving; the node can mark them otherwise.
pub async fn routes(
    api: Api,
    city: Option<Arc<CityReplica>>,
) -> Result<(Routes, HealthReporter, AccessLayer), tonic_reflection::server::Error> {
    use pb::account_service_server::AccountServiceServer;
    use pb::auth_server::AuthServer;
    use pb::finding_service_server::FindingServiceServer;
    use pb::lead_service_server::LeadServiceServer;
    use pb::ledger_service_server::LedgerServiceServer;
    use pb::linkage_service_server::LinkageServiceServer;
    use pb::node_service_server::NodeServiceServer;
    use pb::oversight_service_server::OversightServiceServer;
    use pb::rectification_service_server::RectificationServiceServer;
    use pb::round_service_server::RoundServiceServer;
    use pb::supervision_service_server::SupervisionServiceServer;
    use pb::talent_pool_service_server::TalentPoolServiceServer;
    use pb::unit_service_server::UnitServiceServer;
    use tonic::codec::CompressionEncoding::Zstd;

    let (health, health_service) = tonic_health::server::health_reporter();
    macro_rules! serving {
        ($server:ident, $imp:ident, $api:expr) => {{
            health.set_serving::<$server<services::$imp>>().await;
            $server::new(services::$imp($api))
        }};
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(xuncha_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let access = AccessLayer::new(api.auth().clone());
    let mut routes = Routes::new(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(serving!(AuthServer, AuthApi, api.clone()))
        .add_service(serving!(AccountServiceServer, AccountApi, api.clone()))
        .add_service(serving!(UnitServiceServer, UnitApi, api.clone()))
        .add_service(serving!(TalentPoolServiceServer, TalentApi, api.clone()))
        .add_service(serving!(RoundServiceServer, RoundApi, api.clone()))
        .add_service(serving!(FindingServiceServer, FindingApi, api.clone()))
        .add_service(serving!(LeadServiceServer, LeadApi, api.clone()))
        .add_service(serving!(RectificationServiceServer, RectificationApi, api.clone()))
        .add_service(serving!(SupervisionServiceServer, SupervisionApi, api.clone()))
        .add_service(serving!(LinkageServiceServer, LinkageApi, api.clone()))
        .add_service(serving!(OversightServiceServer, OversightApi, api.clone()))
        .add_service(serving!(LedgerServiceServer, LedgerApi, api.clone()))
        .add_service(serving!(NodeServiceServer, NodeApi, api));
    if let Some(replica) = city {
        use pb::cluster_service_server::ClusterServiceServer;
        use pb::raft_service_server::RaftServiceServer;
        use pb::sync_service_server::SyncServiceServer;
        health.set_serving::<RaftServiceServer<services::RaftApi>>().await;
        health.set_serving::<ClusterServiceServer<services::ClusterApi>>().await;
        health.set_serving::<SyncServiceServer<services::SyncApi>>().await;
        let raft = RaftServiceServer::new(services::RaftApi(replica.clone()))
            .accept_compressed(Zstd)
            .max_decoding_message_size(xuncha_replication::raft::MAX_RAFT_MESSAGE_BYTES)
            .max_encoding_message_size(xuncha_replication::raft::MAX_RAFT_MESSAGE_BYTES);
        let sync = SyncServiceServer::new(services::SyncApi::new(replica.clone()))
            .accept_compressed(Zstd)
            .send_compressed(Zstd)
            .max_decoding_message_size(xuncha_store::MAX_SYNC_MESSAGE_BYTES)
            .max_encoding_message_size(xuncha_store::MAX_SYNC_MESSAGE_BYTES);
        routes = routes
            .add_service(raft)
            .add_service(ClusterServiceServer::new(services::ClusterApi(replica.clone())))
            .add_service(sync);
    }
    Ok((routes, health, access))
}
