//! Starting nodes and talking to them, and waiting on conditions with deadlines (never sleeps).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use xuncha_node::{CountyConfig, CountyHandle, start_county};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::account_service_client::AccountServiceClient;
use xuncha_proto::v1::auth_client::AuthClient;
use xuncha_proto::v1::finding_service_client::FindingServiceClient;
use xuncha_proto::v1::lead_service_client::LeadServiceClient;
use xuncha_proto::v1::ledger_service_client::LedgerServiceClient;
use xuncha_proto::v1::linkage_service_client::LinkageServiceClient;
use xuncha_proto::v1::node_service_client::NodeServiceClient;
use xuncha_proto::v1::rectification_service_client::RectificationServiceClient;
use xuncha_proto::v1::round_service_client::RoundServiceClient;
use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;
use xuncha_wire::Bearer;

/// A county node on a free port over `dir`.
pub async fn county(dir: &Path, code: &str) -> CountyHandle {
    let config = CountyConfig::new(code, dir, "127.0.0.1:0".parse().unwrap());
    start_county(config).await.expect("county starts")
}

/// A connection whose calls carry a signed-in person's token.
pub type Conn = InterceptedService<Channel, Bearer>;

/// The administrator every test node gets (巡察办主任 and 运维 over the node's scope).
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "Test-Kennwort-2026";
/// The password `staff` gives every account it adds.
pub const STAFF_PASSWORD: &str = "Correct-Horse-Battery-9";

/// A connection to a plaintext node, signed in as its administrator (made on first use).
pub async fn channel(addr: std::net::SocketAddr) -> Conn {
    admin(tls_channel(addr, None).await.expect("connects")).await
}

/// Makes the node's first administrator over `raw` (with the caller's operator certificate,
/// or none on a plaintext node) unless there is one, and signs them in.
pub async fn admin(raw: Channel) -> Conn {
    let made = AccountServiceClient::new(raw.clone())
        .bootstrap(pb::BootstrapAccountRequest {
            username: ADMIN.into(),
            display_name: "赵主任".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await;
    if let Err(s) = &made {
        assert_eq!(s.code(), tonic::Code::FailedPrecondition, "bootstrap: {s:?}");
    }
    sign_in(raw, ADMIN, ADMIN_PASSWORD).await.expect("the administrator signs in")
}

/// Signs `username` in over `raw`.
pub async fn sign_in(raw: Channel, username: &str, password: &str) -> Result<Conn, tonic::Status> {
    let token = AuthClient::new(raw.clone())
        .login(pb::LoginRequest { username: username.into(), password: password.into() })
        .await?
        .into_inner()
        .token;
    Ok(InterceptedService::new(raw, Bearer::new(&token)?))
}

/// A connection without any token.
pub fn unsigned(raw: Channel) -> Conn {
    InterceptedService::new(raw, Bearer::none())
}

/// Adds an account holding `roles` (as `admin` can grant) and signs it in.
pub async fn staff(admin: &Conn, raw: Channel, username: &str, name: &str, roles: Vec<pb::RoleGrant>) -> Conn {
    let password = STAFF_PASSWORD.to_string();
    AccountServiceClient::new(admin.clone())
        .add_account(pb::AddAccountRequest {
            username: username.into(),
            display_name: name.into(),
            password: password.clone(),
            roles,
        })
        .await
        .unwrap_or_else(|e| panic!("adding {username}: {e:?}"));
    sign_in(raw, username, &password).await.unwrap_or_else(|e| panic!("{username} signs in: {e:?}"))
}

/// A role over a scope: `grant("office_clerk", pb::ScopeKind::City, "")`.
pub fn grant(role: &str, kind: pb::ScopeKind, id: &str) -> pb::RoleGrant {
    pb::RoleGrant {
        role: role.into(),
        scope: Some(pb::Scope { kind: kind as i32, id: id.into(), label: String::new() }),
        role_label: String::new(),
    }
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

/// Clients for every service on one connection.
#[derive(Clone)]
pub struct Clients {
    pub conn: Conn,
    pub units: UnitServiceClient<Conn>,
    pub pool: TalentPoolServiceClient<Conn>,
    pub rounds: RoundServiceClient<Conn>,
    pub findings: FindingServiceClient<Conn>,
    pub leads: LeadServiceClient<Conn>,
    pub rectify: RectificationServiceClient<Conn>,
    pub ledger: LedgerServiceClient<Conn>,
    pub linkage: LinkageServiceClient<Conn>,
    pub node: NodeServiceClient<Conn>,
}

impl Clients {
    /// Signed in as the node's administrator.
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self::over(channel(addr).await)
    }

    /// Over mTLS with `tls` (an operator's certificate), signed in as the node's administrator.
    pub async fn connect_tls(addr: std::net::SocketAddr, tls: &xuncha_node::TlsFiles) -> Self {
        Self::over(admin(tls_channel(addr, Some(tls)).await.expect("connects over mTLS")).await)
    }

    pub fn over(c: Conn) -> Self {
        Self {
            units: UnitServiceClient::new(c.clone()),
            pool: TalentPoolServiceClient::new(c.clone()),
            rounds: RoundServiceClient::new(c.clone()),
            findings: FindingServiceClient::new(c.clone()),
            leads: LeadServiceClient::new(c.clone()),
            rectify: RectificationServiceClient::new(c.clone()),
            ledger: LedgerServiceClient::new(c.clone()),
            linkage: LinkageServiceClient::new(c.clone()),
            node: NodeServiceClient::new(c.clone()),
            conn: c,
        }
    }

    /// Records held and the outbox counter: what a refused request must leave unchanged.
    pub async fn footprint(&mut self) -> (u64, u64, usize) {
        let s = self.node.get_status(pb::GetStatusRequest {}).await.unwrap().into_inner();
        let events = all_events(&mut self.ledger, pb::ListEventsRequest::default()).await.len();
        (s.records, s.outbox_seq, events)
    }
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

/// Makes the node's administrator in process (as an operator would) unless there is one, signs
/// them in, and returns their session: for tests that drive commands straight into a node.
pub async fn admin_session(api: &xuncha_api::Api) -> xuncha_domain::Caller {
    use xuncha_domain::{Caller, Command};
    let password_hash = api.auth().hash_new_password("password", ADMIN, ADMIN_PASSWORD).await.unwrap();
    let bootstrap =
        xuncha_domain::account::BootstrapAdmin {
            username: ADMIN.into(), display_name: "赵主任".into(), password_hash
        };
    if let Err(e) = api.execute(Caller::Operator("test".into()), Command::BootstrapAdmin(bootstrap)).await {
        assert!(e.to_string().contains("already has"), "bootstrap: {e}");
    }
    let signed = api.auth().login(ADMIN, ADMIN_PASSWORD, None).await.expect("the administrator signs in");
    Caller::Session(xuncha_api::auth::session_key(&signed.token))
}

/// Every event matching `q`, page by page.
pub async fn all_events(
    ledger: &mut xuncha_proto::v1::ledger_service_client::LedgerServiceClient<Conn>,
    mut q: pb::ListEventsRequest,
) -> Vec<pb::LedgerEvent> {
    let mut all = Vec::new();
    q.limit = 1000;
    loop {
        q.offset = all.len() as u32;
        let page = ledger.list_events(q.clone()).await.unwrap().into_inner().events;
        let done = page.len() < q.limit as usize;
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// The node's database file opened read-only beside the node (WAL lets it read while the node
/// writes), for a test to look at rows the node's typed operations do not show.
pub async fn inspect(store: &xuncha_store::Store) -> sqlx::SqlitePool {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", store.path().display()))
        .unwrap()
        .read_only(true);
    sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap()
}
