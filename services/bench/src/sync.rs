//! `xuncha-bench sync`: a county reconnects with a backlog of N changes; time to full
//! convergence, changes/s and bytes on the wire per change, beside the city's raft write
//! throughput measured in the same run. Nodes run in this process over real sockets and mTLS;
//! the county reaches the city through a proxy that counts bytes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use xuncha_domain::{Caller, Command, NodeId};
use xuncha_node::certs::{self, Identity};
use xuncha_node::{CityConfig, CountyConfig, start_city, start_county};
use xuncha_replication::raft::ReplicaNode;

use crate::load::{LoadResult, Writer};
use crate::procs::until;

/// A TCP proxy that counts the bytes it carries and can hold the link down.
struct CountingProxy {
    addr: SocketAddr,
    bytes: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
    /// Bumped to end every open connection.
    generation: tokio::sync::watch::Sender<u64>,
}

impl CountingProxy {
    async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (bytes, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
        let generation = tokio::sync::watch::channel(0u64).0;
        let (b, d, g) = (bytes.clone(), down.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: the county sees the city unreachable
                }
                let b = b.clone();
                let mut ended = g.subscribe();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(upstream).await else { return };
                    let (mut ri, mut wi) = inbound.into_split();
                    let (mut ro, mut wo) = outbound.into_split();
                    let (b1, b2) = (b.clone(), b);
                    let up = async move { copy_counting(&mut ri, &mut wo, &b1).await };
                    let downward = async move { copy_counting(&mut ro, &mut wi, &b2).await };
                    tokio::select! {
                        _ = async { tokio::join!(up, downward) } => {}
                        _ = ended.changed() => {}
                    }
                });
            }
        });
        Ok(Self { addr, bytes, down, generation })
    }

    /// Takes the link down (closing open connections) or up.
    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn copy_counting(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
    n: &AtomicU64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                n.fetch_add(k as u64, Ordering::Relaxed);
                if w.write_all(&buf[..k]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = w.shutdown().await;
}

#[derive(Serialize)]
pub struct SyncFigures {
    pub backlog: u64,
    pub seconds: f64,
    pub changes_per_sec: f64,
    pub bytes_per_change: f64,
}

#[derive(Serialize)]
pub struct SyncReport {
    pub runs: Vec<SyncFigures>,
    pub raft: LoadResult,
}

/// Signs the demo's office head in, in process.
async fn sign_in_head(api: &xuncha_api::Api, accounts: &[xuncha_node::demo::DemoAccount]) -> anyhow::Result<Caller> {
    let head = accounts.iter().find(|a| a.username == "head").context("the demo made no office head")?;
    let signed = api.auth().login(&head.username, &head.password, None).await?;
    Ok(Caller::Session(xuncha_api::auth::session_key(&signed.token)))
}

struct FindingWriter {
    api: xuncha_api::Api,
    /// The demo's office head, signed in.
    caller: Caller,
    target: xuncha_domain::ids::TargetId,
    text: Text,
}

/// Varied Chinese text, so compression sees something like real findings rather than one
/// repeated character.
struct Text(u64);

impl Text {
    fn next(&mut self, chars: usize) -> String {
        const POOL: &str = "违规发放津补贴项目审批把关不严干部档案管理不规范公务接待超标准惠民资金发放不及时基层党组织三会一课制度落实不到位主体责任压得不实廉政风险排查流于形式";
        let pool: Vec<char> = POOL.chars().collect();
        (0..chars)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                pool[(self.0 >> 33) as usize % pool.len()]
            })
            .collect()
    }
}

impl Writer for FindingWriter {
    async fn write(&mut self, _seq: u64) -> anyhow::Result<()> {
        let cmd = xuncha_domain::finding::RecordFinding {
            target: self.target,
            category: "style.formalism".into(),
            tags: Default::default(),
            title: self.text.next(12),
            description: self.text.next(300),
        };
        self.api.execute(self.caller.clone(), Command::RecordFinding(cmd)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// A target of this node's own round under way.
async fn open_target(api: &xuncha_api::Api) -> anyhow::Result<xuncha_domain::ids::TargetId> {
    let me = api.engine().node().clone();
    api.engine()
        .read(|s| {
            s.targets
                .values()
                .filter(|t| t.meta.owner == me)
                .find(|t| {
                    t.feedback_on.is_none()
                        && s.rounds[&t.round].status == xuncha_domain::model::RoundStatus::InProgress
                })
                .map(|t| t.id)
        })
        .await
        .ok_or_else(|| anyhow::anyhow!("no target under inspection"))
}

pub async fn run(backlogs: &[u64], seconds: u64) -> anyhow::Result<SyncReport> {
    let dir = tempfile::tempdir()?;
    let certs_dir = dir.path().join("certs");
    let mut ids: Vec<Identity> = (1..=3).map(Identity::Replica).collect();
    ids.push(Identity::County("bench".into()));
    certs::make(&certs_dir, &ids, &[])?;
    let mut city = Vec::new();
    for id in 1..=3u64 {
        let mut c = CityConfig::new(id, &dir.path().join(format!("city-{id}")), "127.0.0.1:0".parse()?);
        c.tls = Some(certs::files(&certs_dir, &Identity::Replica(id)));
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
        anyhow::bail!("none yet")
    })
    .await?;
    let mut proxies = Vec::new();
    for c in &city {
        proxies.push(CountingProxy::start(c.addr()).await?);
    }
    let mut cc = CountyConfig::new("bench", &dir.path().join("county"), "127.0.0.1:0".parse()?);
    cc.city = proxies.iter().map(|p| p.addr.to_string()).collect();
    cc.tls = Some(certs::files(&certs_dir, &Identity::County("bench".into())));
    cc.sync_wait_ms = 1000;
    let county = start_county(cc).await?;
    let accounts = xuncha_node::demo::seed_county(&county.api, "基准县", 3).await?;
    let county_caller = sign_in_head(&county.api, &accounts).await?;
    let target = open_target(&county.api).await?;
    let county_node = NodeId::county("bench")?;
    let mut runs = Vec::new();
    for &n in backlogs {
        for p in &proxies {
            p.set_down(true);
        }
        // Build the backlog offline: findings are two changes each (record and ledger event).
        let start_seq = county.engine.outbox_seq();
        let mut w = FindingWriter { api: county.api.clone(), caller: county_caller.clone(), target, text: Text(n) };
        let mut seq = 0;
        while county.engine.outbox_seq() - start_seq < n {
            w.write(seq).await?;
            seq += 1;
        }
        let target_seq = county.engine.outbox_seq();
        let backlog = target_seq - start_seq;
        for p in &proxies {
            p.bytes.store(0, Ordering::SeqCst);
            p.set_down(false);
        }
        let t0 = Instant::now();
        until("the city to hold the whole backlog", Duration::from_secs(1800), || async {
            for c in &city {
                if c.replica.engine.store().applied_seq(&county_node).await? >= target_seq {
                    return Ok(());
                }
            }
            anyhow::bail!("not yet")
        })
        .await?;
        let secs = t0.elapsed().as_secs_f64();
        let bytes: u64 = proxies.iter().map(|p| p.bytes.load(Ordering::SeqCst)).sum();
        eprintln!(
            "sync: backlog {backlog}: {secs:.1} s, {:.0} changes/s, {:.0} bytes/change",
            backlog as f64 / secs,
            bytes as f64 / backlog as f64
        );
        runs.push(SyncFigures {
            backlog,
            seconds: secs,
            changes_per_sec: backlog as f64 / secs,
            bytes_per_change: bytes as f64 / backlog as f64,
        });
    }
    // The city's raft write throughput in the same run: 64 writers recording findings.
    let accounts = xuncha_node::demo::seed_city(&city[leader].api, &[("bench", "基准县")], 4).await?;
    let caller = sign_in_head(&city[leader].api, &accounts).await?;
    let city_target = open_target(&city[leader].api).await?;
    let writers = (0..64)
        .map(|i| FindingWriter {
            api: city[leader].api.clone(),
            caller: caller.clone(),
            target: city_target,
            text: Text(i),
        })
        .collect();
    // The first write shows any error before the load hides it in a count.
    FindingWriter { api: city[leader].api.clone(), caller, target: city_target, text: Text(99) }.write(0).await?;
    let raft = crate::load::run(writers, Duration::from_secs(2), Duration::from_secs(seconds)).await;
    eprintln!("raft: {:.0} writes/s ({:.0} changes/s) with 64 writers", raft.writes_per_sec, raft.writes_per_sec * 2.0);
    county.stop().await;
    for c in city {
        c.stop().await;
    }
    Ok(SyncReport { runs, raft })
}
