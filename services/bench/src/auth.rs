//! `xuncha-bench auth`: how long signing in takes, and what checking a token adds to a call,
//! beside a city write's latency, in one run: three city replicas in this process on
//! 127.0.0.1 (real raft, real SQLite, plaintext loopback gRPC).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use xuncha_node::{CityConfig, start_city};
use xuncha_proto::v1 as pb;
use xuncha_replication::raft::ReplicaNode;
use xuncha_wire::Bearer;

use crate::procs::until;

#[derive(Debug, Serialize)]
pub struct AuthReport {
    pub login_median_ms: f64,
    pub login_p99_ms: f64,
    /// The token check alone (hash, state lookup), in process, mean over many calls.
    pub token_check_us: f64,
    /// A signed call (WhoAmI) minus an unsigned one (health), median round trips.
    pub signed_call_us: f64,
    pub unsigned_call_us: f64,
    /// A city write (register a unit) through the leader, median.
    pub write_median_us: f64,
    /// token_check_us / write_median_us.
    pub check_share_of_write: f64,
}

fn percentile(mut xs: Vec<f64>, q: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

async fn channel(addr: std::net::SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?.tcp_nodelay(true).connect().await?)
}

pub async fn run(logins: usize, calls: usize) -> anyhow::Result<AuthReport> {
    let dir = tempfile::tempdir()?;
    let mut city = Vec::new();
    for id in 1..=3u64 {
        let mut c = CityConfig::new(id, &dir.path().join(format!("city-{id}")), "127.0.0.1:0".parse()?);
        c.log.level = "warn".into();
        city.push(start_city(c).await?);
    }
    let members: BTreeMap<u64, ReplicaNode> =
        city.iter().map(|c| (c.config.replica_id, ReplicaNode { addr: c.advertised() })).collect();
    city[0].replica.initialize(members).await?;
    let leader = until("a city leader", Duration::from_secs(30), || async {
        for (i, c) in city.iter().enumerate() {
            if c.replica.status().await.state == "leader" {
                return Ok(i);
            }
        }
        anyhow::bail!("no leader yet")
    })
    .await?;
    let raw = channel(city[leader].addr()).await?;
    let password = "Kennwort-zum-Messen-7";
    pb::account_service_client::AccountServiceClient::new(raw.clone())
        .bootstrap(pb::BootstrapAccountRequest {
            username: "bench".into(),
            display_name: "基准测试".into(),
            password: password.into(),
        })
        .await?;
    let mut auth = pb::auth_client::AuthClient::new(raw.clone());
    let login = || pb::LoginRequest { username: "bench".into(), password: password.into() };
    let mut login_ms = Vec::new();
    let mut token = String::new();
    for _ in 0..logins {
        let t0 = Instant::now();
        token = auth.login(login()).await?.into_inner().token;
        login_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    eprintln!("auth: {logins} sign-ins, median {:.1} ms", percentile(login_ms.clone(), 0.5));

    // The check alone, in process.
    let authenticator = city[leader].api.auth().clone();
    let n = calls * 10;
    let t0 = Instant::now();
    for _ in 0..n {
        authenticator.authenticate(&token).await?;
    }
    let token_check_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;

    // Round trips: a signed call against an unsigned one, and a city write.
    let signed = InterceptedService::new(raw.clone(), Bearer::new(&token)?);
    let mut who = pb::auth_client::AuthClient::new(signed.clone());
    let mut health = tonic_health::pb::health_client::HealthClient::new(raw.clone());
    let mut units = pb::unit_service_client::UnitServiceClient::new(signed);
    let (mut signed_us, mut unsigned_us, mut write_us) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..calls {
        let t0 = Instant::now();
        who.who_am_i(pb::WhoAmIRequest {}).await?;
        signed_us.push(t0.elapsed().as_secs_f64() * 1e6);
        let t0 = Instant::now();
        health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await?;
        unsigned_us.push(t0.elapsed().as_secs_f64() * 1e6);
        let t0 = Instant::now();
        units
            .register_unit(pb::RegisterUnitRequest {
                name: format!("基准单位{i}"),
                kind: pb::UnitKind::CityDepartment as i32,
                parent: String::new(),
            })
            .await?;
        write_us.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let write_median_us = percentile(write_us, 0.5);
    let report = AuthReport {
        login_median_ms: percentile(login_ms.clone(), 0.5),
        login_p99_ms: percentile(login_ms, 0.99),
        token_check_us,
        signed_call_us: percentile(signed_us, 0.5),
        unsigned_call_us: percentile(unsigned_us, 0.5),
        write_median_us,
        check_share_of_write: token_check_us / write_median_us,
    };
    for c in city {
        c.stop().await;
    }
    Ok(report)
}
