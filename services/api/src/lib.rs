//! The gRPC services of xuncha (`xuncha.v1`), over a [`Backend`]: a county's local engine or a
//! city replica. Conversions between proto and domain live in [`conv`]; every error becomes a
//! `Status` in [`error`].

pub mod backend;
pub mod city;
pub mod conv;
pub mod error;
pub mod identity;
mod services;
pub mod tabular;

use std::sync::Arc;

use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use xuncha_proto::v1 as pb;
use xuncha_replication::raft::CityReplica;

pub use backend::{Api, Backend, CONSISTENCY_METADATA, Consistency, LocalBackend};
pub use city::CityBackend;
pub use error::{ApiError, ApiResult, LEADER_METADATA};
pub use services::status_pb;

/// Every `xuncha.v1` service over `api`, with gRPC health and server reflection; on a city
/// replica (`city`) also raft, cluster operations and sync. Each service admits only its
/// callers (see [`identity`]). The health reporter marks each service serving; the node can
/// mark them otherwise.
pub async fn routes(
    api: Api,
    city: Option<Arc<CityReplica>>,
) -> Result<(Routes, HealthReporter), tonic_reflection::server::Error> {
    use identity::{Admit, guard};
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
    use tonic::service::interceptor::InterceptedService;

    let (health, health_service) = tonic_health::server::health_reporter();
    let staff = || guard(Admit::Staff);
    macro_rules! staff {
        ($server:ident, $imp:ident, $api:expr) => {{
            health.set_serving::<$server<services::$imp>>().await;
            InterceptedService::new($server::new(services::$imp($api)), staff())
        }};
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(xuncha_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let mut routes = Routes::new(health_service)
        .add_service(reflection)
        .add_service(staff!(UnitServiceServer, UnitApi, api.clone()))
        .add_service(staff!(TalentPoolServiceServer, TalentApi, api.clone()))
        .add_service(staff!(RoundServiceServer, RoundApi, api.clone()))
        .add_service(staff!(FindingServiceServer, FindingApi, api.clone()))
        .add_service(staff!(LeadServiceServer, LeadApi, api.clone()))
        .add_service(staff!(RectificationServiceServer, RectificationApi, api.clone()))
        .add_service(staff!(SupervisionServiceServer, SupervisionApi, api.clone()))
        .add_service(staff!(LinkageServiceServer, LinkageApi, api.clone()))
        .add_service(staff!(OversightServiceServer, OversightApi, api.clone()))
        .add_service(staff!(LedgerServiceServer, LedgerApi, api.clone()))
        .add_service(staff!(NodeServiceServer, NodeApi, api));
    if let Some(replica) = city {
        use pb::cluster_service_server::ClusterServiceServer;
        use pb::raft_service_server::RaftServiceServer;
        use pb::sync_service_server::SyncServiceServer;
        health.set_serving::<RaftServiceServer<services::RaftApi>>().await;
        health.set_serving::<ClusterServiceServer<services::ClusterApi>>().await;
        health.set_serving::<SyncServiceServer<services::SyncApi>>().await;
        let raft = RaftServiceServer::new(services::RaftApi(replica.clone()))
            .accept_compressed(Zstd)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        let sync = SyncServiceServer::new(services::SyncApi(replica.clone()))
            .accept_compressed(Zstd)
            .send_compressed(Zstd)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        routes = routes
            .add_service(InterceptedService::new(raft, guard(Admit::Raft)))
            .add_service(InterceptedService::new(
                ClusterServiceServer::new(services::ClusterApi(replica.clone())),
                guard(Admit::Cluster),
            ))
            .add_service(InterceptedService::new(sync, guard(Admit::Sync)));
    }
    Ok((routes, health))
}
