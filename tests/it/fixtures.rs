//! Starting nodes and talking to them, and waiting on conditions with deadlines (never sleeps).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tonic::transport::Channel;
use xuncha_node::{CountyConfig, CountyHandle, start_county};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::finding_service_client::FindingServiceClient;
use xuncha_proto::v1::lead_service_client::LeadServiceClient;
use xuncha_proto::v1::ledger_service_client::LedgerServiceClient;
use xuncha_proto::v1::linkage_service_client::LinkageServiceClient;
use xuncha_proto::v1::node_service_client::NodeServiceClient;
use xuncha_proto::v1::rectification_service_client::RectificationServiceClient;
use xuncha_proto::v1::round_service_client::RoundServiceClient;
use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;

/// A county node on a free port over `dir`.
pub async fn county(dir: &Path, code: &str) -> CountyHandle {
    let config = CountyConfig::new(code, dir, "127.0.0.1:0".parse().unwrap());
    start_county(config).await.expect("county starts")
}

pub async fn channel(addr: std::net::SocketAddr) -> Channel {
    tls_channel(addr, None).await.expect("connects")
}

/// A channel over mTLS with `tls`, or plain without.
pub async fn tls_channel(
    addr: std::net::SocketAddr,
    tls: Option<&xuncha_node::TlsFiles>,
) -> Result<Channel, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{addr}")).unwrap();
    if let Some(t) = tls {
        endpoint = endpoint.tls_config(t.client().unwrap())?;
    }
    endpoint.connect_timeout(Duration::from_secs(5)).connect().await
}

/// Clients for every service on one channel.
#[derive(Clone)]
pub struct Clients {
    pub units: UnitServiceClient<Channel>,
    pub pool: TalentPoolServiceClient<Channel>,
    pub rounds: RoundServiceClient<Channel>,
    pub findings: FindingServiceClient<Channel>,
    pub leads: LeadServiceClient<Channel>,
    pub rectify: RectificationServiceClient<Channel>,
    pub ledger: LedgerServiceClient<Channel>,
    pub linkage: LinkageServiceClient<Channel>,
    pub node: NodeServiceClient<Channel>,
}

impl Clients {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self::over(channel(addr).await)
    }

    pub async fn connect_tls(addr: std::net::SocketAddr, tls: &xuncha_node::TlsFiles) -> Self {
        Self::over(tls_channel(addr, Some(tls)).await.expect("connects over mTLS"))
    }

    pub fn over(c: Channel) -> Self {
        Self {
            units: UnitServiceClient::new(c.clone()),
            pool: TalentPoolServiceClient::new(c.clone()),
            rounds: RoundServiceClient::new(c.clone()),
            findings: FindingServiceClient::new(c.clone()),
            leads: LeadServiceClient::new(c.clone()),
            rectify: RectificationServiceClient::new(c.clone()),
            ledger: LedgerServiceClient::new(c.clone()),
            linkage: LinkageServiceClient::new(c.clone()),
            node: NodeServiceClient::new(c),
        }
    }

    /// Records held and the outbox counter: what a refused request must leave unchanged.
    pub async fn footprint(&mut self) -> (u64, u64, usize) {
        let s = self.node.get_status(pb::GetStatusRequest {}).await.unwrap().into_inner();
        let events = self
            .ledger
            .list_events(pb::ListEventsRequest { limit: 100_000, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .events
            .len();
        (s.records, s.outbox_seq, events)
    }
}

pub fn actor(name: &str, role: pb::Role) -> Option<pb::Actor> {
    Some(pb::Actor { name: name.into(), role: role as i32 })
}

pub fn office() -> Option<pb::Actor> {
    actor("赵主任", pb::Role::Office)
}

/// Polls `check` until it returns `Some`, or fails the test after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The field named in a status's BadRequest details.
pub fn bad_field(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

/// A person's fields with sensible defaults.
pub fn person(
    name: &str,
    birth_year: i32,
    rank: pb::Rank,
    specialties: &[pb::Specialty],
    leader: bool,
) -> pb::PersonFields {
    pb::PersonFields {
        name: name.into(),
        birth_year,
        rank: rank as i32,
        source: pb::PoolSource::InspectionOffice as i32,
        work_unit: "县委巡察办".into(),
        specialties: specialties.iter().map(|s| *s as i32).collect(),
        leader_qualified: leader,
        active: true,
        ..Default::default()
    }
}
