//! An in-process city cluster over real sockets, with a fault proxy on every replica-to-replica
//! link, and writers that record what was acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use xuncha_node::{CityConfig, CityHandle, start_city};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;
use xuncha_replication::raft::{RaftSettings, ReplicaNode};

use crate::fixtures::eventually;
use crate::proxy::Proxy;
use tonic::service::interceptor::InterceptedService;

pub struct CityCluster {
    pub dir: tempfile::TempDir,
    /// Certificates (mTLS on every link) when the cluster was started with them.
    pub certs: Option<std::path::PathBuf>,
    pub nodes: BTreeMap<u64, Option<CityHandle>>,
    pub addrs: BTreeMap<u64, SocketAddr>,
    /// (from, to) → the proxy `from` uses to reach `to`.
    proxies: BTreeMap<(u64, u64), Proxy>,
    settings: RaftSettings,
}

impl CityCluster {
    /// `n` replicas, initialised, with a leader.
    pub async fn start(n: u64, settings: RaftSettings) -> Self {
        Self::start_with(n, settings, None).await
    }

    /// `n` replicas with mTLS from the certificates in `certs` (made with `xuncha certs`).
    pub async fn start_with(n: u64, settings: RaftSettings, certs: Option<std::path::PathBuf>) -> Self {
        let c = Self::initialised(n, settings, certs).await;
        c.leader().await;
        c
    }

    /// `n` replicas, initialised, returning before any leader is elected.
    pub async fn initialised(n: u64, settings: RaftSettings, certs: Option<std::path::PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut proxies = BTreeMap::new();
        for i in 1..=n {
            for j in 1..=n {
                if i != j {
                    proxies.insert((i, j), Proxy::start(None).await);
                }
            }
        }
        let mut c = Self { dir, certs, nodes: BTreeMap::new(), addrs: BTreeMap::new(), proxies, settings };
        for id in 1..=n {
            c.launch(id, "127.0.0.1:0".parse().unwrap()).await;
        }
        for ((_, to), p) in &c.proxies {
            p.set_upstream(c.addrs[to]);
        }
        let members: BTreeMap<u64, ReplicaNode> =
            c.addrs.iter().map(|(id, a)| (*id, ReplicaNode { addr: a.to_string() })).collect();
        c.node(1).replica.initialize(members).await.unwrap();
        c
    }

    fn config(&self, id: u64, listen: SocketAddr) -> CityConfig {
        let mut config = CityConfig::new(id, &self.dir.path().join(format!("city-{id}")), listen);
        config.raft = self.settings.clone();
        config.tls =
            self.certs.as_ref().map(|d| xuncha_node::certs::files(d, &xuncha_node::certs::Identity::Replica(id)));
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        if config.tls.is_some() {
            config.web_listen = Some("127.0.0.1:0".parse().unwrap());
            config.county_names = ["anping", "qinghe"]
                .iter()
                .map(|c| (c.to_string(), crate::federation::county_name(c).to_string()))
                .collect();
        }
        config.peer_overrides = self
            .proxies
            .iter()
            .filter(|((from, _), _)| *from == id)
            .map(|((_, to), p)| (*to, p.addr.to_string()))
            .collect();
        config
    }

    async fn launch(&mut self, id: u64, listen: SocketAddr) {
        let handle = start_city(self.config(id, listen)).await.expect("replica starts");
        self.addrs.insert(id, handle.addr());
        self.nodes.insert(id, Some(handle));
    }

    pub fn node(&self, id: u64) -> &CityHandle {
        self.nodes[&id].as_ref().expect("replica is running")
    }

    pub fn live(&self) -> Vec<u64> {
        self.nodes.iter().filter(|(_, n)| n.is_some()).map(|(id, _)| *id).collect()
    }

    /// The leader the live replicas agree on (waits for one).
    pub async fn leader(&self) -> u64 {
        eventually("an agreed leader", Duration::from_secs(30), || async {
            let mut leaders = BTreeSet::new();
            for id in self.live() {
                let s = self.node(id).replica.status().await;
                leaders.insert(s.leader_id);
            }
            match leaders.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(l)] if self.live().contains(l) && self.node(*l).replica.status().await.state == "leader" => {
                    Some(*l)
                }
                _ => None,
            }
        })
        .await
    }

    /// Stops a replica at once (no request in flight finishes).
    pub async fn kill(&mut self, id: u64) {
        let handle = self.nodes.get_mut(&id).unwrap().take().expect("running");
        handle.kill().await;
    }

    /// Starts a killed replica again on its folder and port.
    pub async fn restart(&mut self, id: u64) {
        let listen = self.addrs[&id];
        let handle = eventually("the port to be free again", Duration::from_secs(30), || async {
            start_city(self.config(id, listen)).await.ok()
        })
        .await;
        self.nodes.insert(id, Some(handle));
    }

    /// Cuts `id` off from every other replica (both directions), or heals it.
    pub fn isolate(&self, id: u64, on: bool) {
        for ((from, to), p) in &self.proxies {
            if *from == id || *to == id {
                p.block(on);
            }
        }
    }

    /// Waits until every live replica applied everything the leader committed.
    pub async fn converged(&self) {
        eventually("replicas to converge", Duration::from_secs(60), || async {
            let leader = self.leader().await;
            let commit = self.node(leader).replica.status().await.commit_index?;
            for id in self.live() {
                if self.node(id).replica.status().await.last_applied? < commit {
                    return None;
                }
            }
            Some(())
        })
        .await
    }

    /// Starts a new replica `id` on a fresh folder (reached directly, without a proxy).
    pub async fn add_node(&mut self, id: u64) -> String {
        let mut config =
            CityConfig::new(id, &self.dir.path().join(format!("city-{id}")), "127.0.0.1:0".parse().unwrap());
        config.raft = self.settings.clone();
        config.tls =
            self.certs.as_ref().map(|d| xuncha_node::certs::files(d, &xuncha_node::certs::Identity::Replica(id)));
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        let handle = start_city(config).await.expect("replica starts");
        self.addrs.insert(id, handle.addr());
        self.nodes.insert(id, Some(handle));
        self.addrs[&id].to_string()
    }

    /// Unit names held on replica `id` (its own state, no read barrier).
    pub async fn units_on(&self, id: u64) -> BTreeSet<String> {
        self.node(id).replica.engine.read(|s| s.units.values().map(|u| u.name.clone()).collect()).await
    }
}

/// Writers registering units (one acknowledged write = one unit) against any live replica,
/// until stopped. Acknowledged names are kept.
pub struct Writers {
    pub acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    pub fn start(count: usize, addrs: Vec<SocketAddr>, prefix: &str) -> Self {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..count)
            .map(|w| {
                let (acked, stop, addrs, prefix) = (acked.clone(), stop.clone(), addrs.clone(), prefix.to_string());
                tokio::spawn(async move {
                    let mut i = 0u64;
                    let mut target = w;
                    while !stop.load(Ordering::SeqCst) {
                        let addr = addrs[target % addrs.len()];
                        let name = format!("{prefix}-{w}-{i}");
                        if write_unit(addr, &name).await.is_ok() {
                            acked.lock().await.push(name);
                            i += 1;
                        } else {
                            // Try another replica; a refused or lost write is retried under a new name.
                            target += 1;
                            i += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        Self { acked, stop, tasks }
    }

    pub async fn count(&self) -> usize {
        self.acked.lock().await.len()
    }

    /// Waits for `more` acknowledged writes beyond now.
    pub async fn wait_for(&self, more: usize, within: Duration) {
        let target = self.count().await + more;
        eventually(&format!("{more} more acknowledged writes"), within, || async {
            (self.count().await >= target).then_some(())
        })
        .await;
    }

    pub async fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.acked).unwrap().into_inner()
    }
}

/// The administrator's token by replica address: sessions are replicated, so one sign-in
/// serves every replica of a cluster; made on first use through whichever replica is asked.
static TOKENS: std::sync::Mutex<BTreeMap<SocketAddr, String>> = std::sync::Mutex::new(BTreeMap::new());

async fn admin_token(ch: &tonic::transport::Channel) -> Result<String, tonic::Status> {
    use crate::fixtures::{ADMIN, ADMIN_PASSWORD};
    let mut req = tonic::Request::new(pb::BootstrapAccountRequest {
        username: ADMIN.into(),
        display_name: "赵主任".into(),
        password: ADMIN_PASSWORD.into(),
    });
    req.set_timeout(Duration::from_secs(10));
    let made = pb::account_service_client::AccountServiceClient::new(ch.clone()).bootstrap(req).await;
    match made {
        Err(s) if s.code() != tonic::Code::FailedPrecondition => return Err(s),
        _ => {}
    }
    let mut req = tonic::Request::new(pb::LoginRequest { username: ADMIN.into(), password: ADMIN_PASSWORD.into() });
    req.set_timeout(Duration::from_secs(10));
    Ok(pb::auth_client::AuthClient::new(ch.clone()).login(req).await?.into_inner().token)
}

/// Registers a unit through `addr` as the administrator, with a deadline (a partitioned leader
/// never answers).
pub async fn write_unit(addr: SocketAddr, name: &str) -> Result<pb::Unit, tonic::Status> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let known = TOKENS.lock().unwrap().get(&addr).cloned();
    let token = match known {
        Some(t) => t,
        None => {
            let t = admin_token(&ch).await?;
            let mut all = TOKENS.lock().unwrap();
            all.insert(addr, t.clone());
            t
        }
    };
    let conn = InterceptedService::new(ch, xuncha_wire::Bearer::new(&token)?);
    let mut client = UnitServiceClient::new(conn);
    let mut req = tonic::Request::new(pb::RegisterUnitRequest {
        name: name.into(),
        kind: pb::UnitKind::CityDepartment as i32,
        parent: String::new(),
    });
    req.set_timeout(Duration::from_secs(5));
    let written = client.register_unit(req).await.map(|r| r.into_inner());
    if matches!(&written, Err(s) if s.code() == tonic::Code::Unauthenticated) {
        // A token of an earlier cluster on the same port: sign in again next time.
        TOKENS.lock().unwrap().remove(&addr);
    }
    written
}
