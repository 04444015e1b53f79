//! `xuncha up`: a whole local federation for a first look, in one process, with demo data.
//! Writes `DIR/endpoints.json` so any gRPC tool (and the CLI's `--node <name>`) finds the nodes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;
use std::time::Duration;

use xuncha_replication::raft::ReplicaNode;

use crate::certs::{self, Identity};
use crate::city::{CityHandle, start_city};
use crate::config::{CityConfig, CountyConfig};
use crate::county::{CountyHandle, start_county};
use crate::demo;

/// The invented counties of the demo: (code, name).
pub const DEMO_COUNTIES: [(&str, &str); 11] = [
    ("anping", "安平县"),
    ("qinghe", "清河县"),
    ("changle", "长乐县"),
    ("yongning", "永宁县"),
    ("dongyang", "东阳市"),
    ("xiling", "西岭区"),
    ("nanhu", "南湖区"),
    ("taoyuan", "桃源县"),
    ("shiqiao", "石桥县"),
    ("liulin", "柳林县"),
    ("baisha", "白沙县"),
];

/// One node in `endpoints.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    /// `county-anping`, `city-1`, ...
    pub name: String,
    /// `county` or `city`.
    pub role: String,
    /// `host:port` of its gRPC API.
    pub grpc: String,
    /// The CA certificate to trust (PEM).
    pub ca: PathBuf,
    /// An operator client certificate `up` made, and its key: any gRPC tool can connect with them.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Its Prometheus metrics (`http://<this>/metrics`).
    pub metrics: String,
    /// Its web app for office staff (`https://host:port/`), signed by `ca`.
    #[serde(default)]
    pub web: String,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub data: PathBuf,
    /// City replicas get ports base+1..3 (metrics base+201.., web app base+401..), counties
    /// base+101, base+102, ... (metrics base+301, ..., web app base+501, ...); 0 picks free ports.
    pub base_port: u16,
    pub counties: usize,
    /// The demo data seeded into empty nodes; [`demo::Scenario::Seed`] runs all 11 counties.
    pub scenario: demo::Scenario,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self { data: PathBuf::from("data"), base_port: 7000, counties: 2, scenario: demo::Scenario::Demo }
    }
}

/// A running federation.
pub struct Federation {
    pub city: Vec<CityHandle>,
    pub counties: Vec<CountyHandle>,
    pub endpoints: Vec<Endpoint>,
}

impl Federation {
    pub async fn stop(self) {
        for c in self.counties {
            c.stop().await;
        }
        for c in self.city {
            c.stop().await;
        }
    }
}

/// Replicas of the city cluster `up` runs.
pub const CITY_REPLICAS: u64 = 3;

/// Starts three city replicas, initialises the cluster on a fresh start, and waits for a leader.
async fn start_city_cluster(
    opts: &UpOptions,
    certs: &Path,
    county_names: &[(&str, &str)],
) -> anyhow::Result<Vec<CityHandle>> {
    let mut city = Vec::new();
    for id in 1..=CITY_REPLICAS {
        let mut config = CityConfig::new(id, &opts.data.join(format!("city-{id}")), port(opts.base_port, id as u16));
        config.tls = Some(certs::files(certs, &Identity::Replica(id)));
        config.metrics_listen = Some(port(opts.base_port, 200 + id as u16));
        config.web_listen = Some(port(opts.base_port, 400 + id as u16));
        config.county_names = county_names.iter().map(|(c, n)| (c.to_string(), n.to_string())).collect();
        city.push(start_city(config).await?);
    }
    let members: BTreeMap<u64, ReplicaNode> =
        city.iter().map(|c| (c.config.replica_id, ReplicaNode { addr: c.advertised() })).collect();
    let first = &city[0].replica;
    if !first.raft.is_initialized().await? {
        first.initialize(members).await?;
    }
    first
        .raft
        .wait(Some(Duration::from_secs(30)))
        .metrics(|m| m.current_leader.is_some(), "a city leader")
        .await
        .context("no city leader was elected")?;
    Ok(city)
}

fn port(base: u16, offset: u16) -> SocketAddr {
    let p = if base == 0 { 0 } else { base + offset };
    SocketAddr::from(([127, 0, 0, 1], p))
}

/// Starts the federation under `opts.data`, seeds demo data where a node is empty, and writes
/// `endpoints.json`.
pub async fn start_federation(opts: &UpOptions) -> anyhow::Result<Federation> {
    std::fs::create_dir_all(&opts.data).with_context(|| format!("creating {}", opts.data.display()))?;
    let counties = if opts.scenario == demo::Scenario::Seed { DEMO_COUNTIES.len() } else { opts.counties };
    let running: Vec<(&str, &str)> = DEMO_COUNTIES.iter().take(counties).copied().collect();
    // Development certificates for every node and one operator (kept across restarts).
    let certs_dir = certs::dir_in(&opts.data);
    let mut identities: Vec<Identity> = (1..=CITY_REPLICAS).map(Identity::Replica).collect();
    identities.extend(running.iter().map(|(code, _)| Identity::County(code.to_string())));
    identities.push(Identity::Operator("up".into()));
    certs::make(&certs_dir, &identities, &[]).context("making development certificates")?;
    let operator = certs::files(&certs_dir, &Identity::Operator("up".into()));
    let endpoint =
        |name: String, role: &str, grpc: String, metrics: Option<SocketAddr>, web: Option<String>| Endpoint {
            name,
            role: role.into(),
            grpc,
            ca: operator.ca.clone(),
            cert: operator.cert.clone(),
            key: operator.key.clone(),
            metrics: metrics.map(|a| a.to_string()).unwrap_or_default(),
            web: web.unwrap_or_default(),
        };
    let city = start_city_cluster(opts, &certs_dir, &running).await?;
    let city_addrs: Vec<String> = city.iter().map(|c| c.addr().to_string()).collect();
    let mut endpoints: Vec<Endpoint> = city
        .iter()
        .map(|c| {
            endpoint(
                format!("city-{}", c.config.replica_id),
                "city",
                c.addr().to_string(),
                c.metrics.as_ref().map(|m| m.0),
                c.web.as_ref().map(|w| w.url()),
            )
        })
        .collect();
    let mut accounts =
        demo::seed_city_as(&city[0].api, None, &running, 7, opts.scenario).await.context("demo data for the city")?;
    for a in &mut accounts {
        a.node = "city-1".into();
    }
    let mut counties = Vec::new();
    for (i, (code, name)) in running.iter().enumerate() {
        let dir = opts.data.join(format!("county-{code}"));
        let mut config = CountyConfig::new(code, &dir, port(opts.base_port, 101 + i as u16));
        config.name = name.to_string();
        config.city = city_addrs.clone();
        config.tls = Some(certs::files(&certs_dir, &Identity::County(code.to_string())));
        config.metrics_listen = Some(port(opts.base_port, 301 + i as u16));
        config.web_listen = Some(port(opts.base_port, 501 + i as u16));
        let node = start_county(config).await?;
        let shape = match opts.scenario {
            demo::Scenario::Demo => demo::CountyShape::default(),
            demo::Scenario::Seed => demo::CountyShape::seed(i),
        };
        let made = demo::seed_county_as(&node.api, None, name, 1000 + i as u64, shape)
            .await
            .with_context(|| format!("demo data for {name}"))?;
        accounts.extend(made.into_iter().map(|a| demo::DemoAccount { node: format!("county-{code}"), ..a }));
        endpoints.push(endpoint(
            format!("county-{code}"),
            "county",
            node.addr().to_string(),
            node.metrics.as_ref().map(|m| m.0),
            node.web.as_ref().map(|w| w.url()),
        ));
        counties.push(node);
    }
    write_endpoints(&opts.data, &endpoints)?;
    write_demo_accounts(&opts.data, accounts)?;
    Ok(Federation { city, counties, endpoints })
}

/// Where `up` lists the demo accounts and their passwords.
pub fn demo_accounts_path(dir: &Path) -> PathBuf {
    dir.join("demo-accounts.json")
}

/// Adds `new` to `DATA/demo-accounts.json`, readable by its owner only (it holds passwords).
pub fn write_demo_accounts(dir: &Path, new: Vec<demo::DemoAccount>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = demo_accounts_path(dir);
    let mut all: Vec<demo::DemoAccount> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?,
        Err(_) => Vec::new(),
    };
    if new.is_empty() && path.exists() {
        return Ok(());
    }
    all.extend(new);
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all((serde_json::to_string_pretty(&all)? + "\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

pub fn write_endpoints(dir: &Path, endpoints: &[Endpoint]) -> anyhow::Result<()> {
    let path = dir.join("endpoints.json");
    std::fs::write(&path, serde_json::to_string_pretty(endpoints)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs the federation in the foreground until Ctrl-C.
pub async fn up(opts: UpOptions) -> anyhow::Result<()> {
    crate::telemetry::init(&Default::default());
    let fed = start_federation(&opts).await?;
    println!("xuncha federation is up; endpoints in {}", opts.data.join("endpoints.json").display());
    for e in &fed.endpoints {
        println!("  {:<16} {:<7} grpc {:<16} web {}", e.name, e.role, e.grpc, e.web);
    }
    println!(
        "web app: the certificates are the development CA's; trust {} in the browser",
        fed.endpoints[0].ca.display()
    );
    println!("demo accounts and passwords (development only): {}", demo_accounts_path(&opts.data).display());
    println!("try: xuncha --node county-anping login head; xuncha --node county-anping round list    (Ctrl-C stops)");
    tokio::signal::ctrl_c().await?;
    fed.stop().await;
    Ok(())
}
