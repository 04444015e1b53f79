//! The gRPC services of xuncha (`xuncha.v1`), over a [`Backend`]: a county's local engine or a
//! city replica. Conversions between proto and domain live in [`conv`]; every error becomes a
//! `Status` in [`error`].

pub mod backend;
pub mod city;
pub mod conv;
pub mod error;
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
/// replica (`city`) also raft and the cluster operations. The health reporter marks each
/// service serving; the node can mark them otherwise.
pub async fn routes(
    api: Api,
    city: Option<Arc<CityReplica>>,
) -> Result<(Routes, HealthReporter), tonic_reflection::server::Error> {
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

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<UnitServiceServer<services::UnitApi>>().await;
    health.set_serving::<TalentPoolServiceServer<services::TalentApi>>().await;
    health.set_serving::<RoundServiceServer<services::RoundApi>>().await;
    health.set_serving::<FindingServiceServer<services::FindingApi>>().await;
    health.set_serving::<LeadServiceServer<services::LeadApi>>().await;
    health.set_serving::<RectificationServiceServer<services::RectificationApi>>().await;
    health.set_serving::<SupervisionServiceServer<services::SupervisionApi>>().await;
    health.set_serving::<LinkageServiceServer<services::LinkageApi>>().await;
    health.set_serving::<OversightServiceServer<services::OversightApi>>().await;
    health.set_serving::<LedgerServiceServer<services::LedgerApi>>().await;
    health.set_serving::<NodeServiceServer<services::NodeApi>>().await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(xuncha_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let mut routes = Routes::new(health_service)
        .add_service(reflection)
        .add_service(UnitServiceServer::new(services::UnitApi(api.clone())))
        .add_service(TalentPoolServiceServer::new(services::TalentApi(api.clone())))
        .add_service(RoundServiceServer::new(services::RoundApi(api.clone())))
        .add_service(FindingServiceServer::new(services::FindingApi(api.clone())))
        .add_service(LeadServiceServer::new(services::LeadApi(api.clone())))
        .add_service(RectificationServiceServer::new(services::RectificationApi(api.clone())))
        .add_service(SupervisionServiceServer::new(services::SupervisionApi(api.clone())))
        .add_service(LinkageServiceServer::new(services::LinkageApi(api.clone())))
        .add_service(OversightServiceServer::new(services::OversightApi(api.clone())))
        .add_service(LedgerServiceServer::new(services::LedgerApi(api.clone())))
        .add_service(NodeServiceServer::new(services::NodeApi(api)));
    if let Some(replica) = city {
        use pb::cluster_service_server::ClusterServiceServer;
        use pb::raft_service_server::RaftServiceServer;
        use tonic::codec::CompressionEncoding;
        health.set_serving::<RaftServiceServer<services::RaftApi>>().await;
        health.set_serving::<ClusterServiceServer<services::ClusterApi>>().await;
        routes = routes
            .add_service(
                RaftServiceServer::new(services::RaftApi(replica.clone()))
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Zstd)
                    .max_decoding_message_size(256 << 20)
                    .max_encoding_message_size(256 << 20),
            )
            .add_service(ClusterServiceServer::new(services::ClusterApi(replica)));
    }
    Ok((routes, health))
}
