//! A city cluster and counties syncing over mTLS, with a fault proxy on every county-to-city
//! link, and the convergence check: record by record, both ways.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use xuncha_domain::{Audience, NodeId, Record};
use xuncha_node::certs::{self, Identity};
use xuncha_node::{CountyConfig, CountyHandle, TlsFiles, start_county};
use xuncha_replication::raft::RaftSettings;

use crate::city::CityCluster;
use crate::fixtures::eventually;
use crate::proxy::Proxy;

pub struct County {
    pub dir: PathBuf,
    pub handle: Option<CountyHandle>,
    /// One proxy per city replica: the county's only way to the city.
    pub links: Vec<Proxy>,
}

pub struct Federation {
    pub city: CityCluster,
    pub certs: PathBuf,
    pub counties: BTreeMap<String, County>,
    _dir: tempfile::TempDir,
}

pub const COUNTIES: [&str; 2] = ["anping", "qinghe"];

/// The Chinese name the test counties go by.
pub fn county_name(code: &str) -> &'static str {
    match code {
        "anping" => "安平县",
        "qinghe" => "清河县",
        _ => "测试县",
    }
}

impl Federation {
    pub async fn start(counties: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certs_dir = dir.path().join("certs");
        let mut ids: Vec<Identity> = (1..=3).map(Identity::Replica).collect();
        ids.extend(counties.iter().map(|c| Identity::County(c.to_string())));
        ids.extend([Identity::Operator("test".into()), Identity::County("intruder".into())]);
        certs::make(&certs_dir, &ids, &[]).unwrap();
        let city = CityCluster::start_with(3, RaftSettings::default(), Some(certs_dir.clone())).await;
        let mut fed = Self { city, certs: certs_dir, counties: BTreeMap::new(), _dir: dir };
        for code in counties {
            let mut links = Vec::new();
            for id in 1..=3 {
                links.push(Proxy::start(Some(fed.city.addrs[&id])).await);
            }
            let county = County { dir: fed._dir.path().join(format!("county-{code}")), handle: None, links };
            fed.counties.insert(code.to_string(), county);
            fed.start_county(code).await;
        }
        fed
    }

    pub fn config(&self, code: &str) -> CountyConfig {
        let c = &self.counties[code];
        let mut config = CountyConfig::new(code, &c.dir, "127.0.0.1:0".parse().unwrap());
        config.city = c.links.iter().map(|p| p.addr.to_string()).collect();
        config.tls = Some(certs::files(&self.certs, &Identity::County(code.to_string())));
        config.sync_wait_ms = 300;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.web_listen = Some("127.0.0.1:0".parse().unwrap());
        config.name = county_name(code).to_string();
        config
    }

    pub async fn start_county(&mut self, code: &str) {
        let handle = start_county(self.config(code)).await.expect("county starts");
        self.counties.get_mut(code).unwrap().handle = Some(handle);
    }

    pub fn county(&self, code: &str) -> &CountyHandle {
        self.counties[code].handle.as_ref().expect("county running")
    }

    pub fn operator(&self) -> TlsFiles {
        certs::files(&self.certs, &Identity::Operator("test".into()))
    }

    pub fn tls(&self, identity: Identity) -> TlsFiles {
        certs::files(&self.certs, &identity)
    }

    /// Cuts a county off the city (blocks every link), or reconnects it.
    pub fn offline(&self, code: &str, on: bool) {
        for p in &self.counties[code].links {
            p.block(on);
        }
    }

    /// Drops the county's open connections now (a cut mid-stream); it reconnects.
    pub fn cut(&self, code: &str) {
        for p in &self.counties[code].links {
            p.cut();
        }
    }

    /// Waits until every county and the city hold identical copies of every shared record.
    pub async fn converged(&self) {
        let leader = self.city.leader().await;
        eventually("city and counties to converge", Duration::from_secs(120), || async {
            let city: Vec<Record> = self.city.node(leader).replica.engine.read(|s| s.records().collect()).await;
            for code in self.counties.keys() {
                let node = NodeId::county(code).unwrap();
                let county: Vec<Record> = self.county(code).engine.read(|s| s.records().collect()).await;
                if let Err(why) = same_shared(&node, &city, &county) {
                    tracing_note(&why);
                    return None;
                }
            }
            Some(())
        })
        .await;
    }
}

fn tracing_note(why: &str) {
    if std::env::var_os("XUNCHA_TEST_VERBOSE").is_some() {
        eprintln!("not converged yet: {why}");
    }
}

fn key(r: &Record) -> (String, String) {
    (r.kind().as_str().to_string(), r.id_string())
}

/// The county's records addressed to the city equal the city's copies of the county (and the
/// city holds nothing else of it); the city's records addressed to the county equal the
/// county's copies.
pub fn same_shared(county: &NodeId, city: &[Record], held: &[Record]) -> Result<(), String> {
    let up_here: BTreeMap<_, _> =
        held.iter().filter(|r| r.owner() == county && r.audience() == Audience::City).map(|r| (key(r), r)).collect();
    let up_there: BTreeMap<_, _> = city.iter().filter(|r| r.owner() == county).map(|r| (key(r), r)).collect();
    if up_here != up_there {
        return Err(format!("{county}: county has {} shared records, city {}", up_here.len(), up_there.len()));
    }
    let down_here: BTreeMap<_, _> = city
        .iter()
        .filter(|r| r.owner().is_city() && r.audience().reaches(county) && r.version() > 0)
        .map(|r| (key(r), r))
        .collect();
    // Seeded categories exist everywhere at version 1 without being sent.
    let down_there: BTreeMap<_, _> = held.iter().filter(|r| r.owner().is_city()).map(|r| (key(r), r)).collect();
    if down_here != down_there {
        return Err(format!(
            "{county}: city addresses {} records to it, it holds {}",
            down_here.len(),
            down_there.len()
        ));
    }
    Ok(())
}
