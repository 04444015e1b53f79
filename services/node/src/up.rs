//! `xuncha up`: a whole local federation for a first look, in one process, with demo data.
//! Writes `DIR/endpoints.json` so any gRPC tool (and the CLI's `--node <name>`) finds the nodes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::CountyConfig;
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
}

/// What to run.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub data: PathBuf,
    /// Counties get ports base+101, base+102, ...; 0 picks free ports.
    pub base_port: u16,
    pub counties: usize,
}

/// A running federation.
pub struct Federation {
    pub counties: Vec<CountyHandle>,
    pub endpoints: Vec<Endpoint>,
}

impl Federation {
    pub async fn stop(self) {
        for c in self.counties {
            c.stop().await;
        }
    }
}

fn port(base: u16, offset: u16) -> SocketAddr {
    let p = if base == 0 { 0 } else { base + offset };
    SocketAddr::from(([127, 0, 0, 1], p))
}

/// Starts the federation under `opts.data`, seeds demo data where a node is empty, and writes
/// `endpoints.json`.
pub async fn start_federation(opts: &UpOptions) -> anyhow::Result<Federation> {
    std::fs::create_dir_all(&opts.data).with_context(|| format!("creating {}", opts.data.display()))?;
    let mut counties = Vec::new();
    let mut endpoints = Vec::new();
    for (i, (code, name)) in DEMO_COUNTIES.iter().take(opts.counties).enumerate() {
        let mut config =
            CountyConfig::new(code, &opts.data.join(format!("county-{code}")), port(opts.base_port, 101 + i as u16));
        config.name = name.to_string();
        let node = start_county(config).await?;
        demo::seed_county(&node.api, name, 1000 + i as u64).await.with_context(|| format!("demo data for {name}"))?;
        endpoints.push(Endpoint {
            name: format!("county-{code}"),
            role: "county".into(),
            grpc: node.addr().to_string(),
        });
        counties.push(node);
    }
    write_endpoints(&opts.data, &endpoints)?;
    Ok(Federation { counties, endpoints })
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
        println!("  {:<16} {:<7} {}", e.name, e.role, e.grpc);
    }
    println!("try: xuncha --node {} round list    (Ctrl-C stops)", fed.endpoints[0].name);
    tokio::signal::ctrl_c().await?;
    fed.stop().await;
    Ok(())
}
