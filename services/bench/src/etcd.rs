//! etcd 3.4, three members on 127.0.0.1, reached over its gRPC API.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Child;
use tonic::transport::{Channel, Endpoint};

use crate::load::Writer;
use crate::procs::{free_port, kill9, spawn, until};
use crate::system::{System, VALUE_BYTES};

pub mod pb {
    tonic::include_proto!("etcdserverpb");
}

pub struct Etcd {
    bin: PathBuf,
    dir: tempfile::TempDir,
    client_ports: Vec<u16>,
    peer_ports: Vec<u16>,
    children: Vec<Option<Child>>,
    member_ids: Vec<u64>,
}

async fn channel(port: u16) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_millis(500))
        .tcp_nodelay(true)
        .connect()
        .await?)
}

async fn status(port: u16) -> anyhow::Result<pb::StatusResponse> {
    let mut c = pb::maintenance_client::MaintenanceClient::new(channel(port).await?);
    let mut req = tonic::Request::new(pb::StatusRequest {});
    req.set_timeout(Duration::from_secs(1));
    Ok(c.status(req).await?.into_inner())
}

impl Etcd {
    pub async fn start(bin: PathBuf) -> anyhow::Result<Self> {
        let mut e = Self {
            bin,
            dir: tempfile::tempdir()?,
            client_ports: (0..3).map(|_| free_port()).collect::<Result<_, _>>()?,
            peer_ports: (0..3).map(|_| free_port()).collect::<Result<_, _>>()?,
            children: vec![None, None, None],
            member_ids: vec![],
        };
        for m in 0..3 {
            e.launch(m, "new")?;
        }
        for m in 0..3 {
            let s = until("etcd to answer", Duration::from_secs(30), || status(e.client_ports[m])).await?;
            e.member_ids.push(s.header.context("status without header")?.member_id);
        }
        Ok(e)
    }

    fn launch(&mut self, m: usize, state: &str) -> anyhow::Result<()> {
        let cluster: Vec<String> = (0..3).map(|i| format!("m{i}=http://127.0.0.1:{}", self.peer_ports[i])).collect();
        let (cp, pp) = (self.client_ports[m], self.peer_ports[m]);
        let args: Vec<String> = [
            format!("--name=m{m}"),
            format!("--data-dir={}", self.dir.path().join(format!("m{m}")).display()),
            format!("--listen-client-urls=http://127.0.0.1:{cp}"),
            format!("--advertise-client-urls=http://127.0.0.1:{cp}"),
            format!("--listen-peer-urls=http://127.0.0.1:{pp}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{pp}"),
            format!("--initial-cluster={}", cluster.join(",")),
            "--initial-cluster-token=xuncha-bench".into(),
            format!("--initial-cluster-state={state}"),
            "--logger=zap".into(),
            "--log-level=error".into(),
        ]
        .into();
        self.children[m] = Some(spawn(&self.bin, &args, &self.dir.path().join(format!("m{m}.log")))?);
        Ok(())
    }
}

pub struct EtcdWriter {
    client: pb::kv_client::KvClient<Channel>,
    value: Vec<u8>,
}

impl Writer for EtcdWriter {
    async fn write(&mut self, seq: u64) -> anyhow::Result<()> {
        let mut req = tonic::Request::new(pb::PutRequest {
            key: format!("bench/{seq:016x}").into_bytes(),
            value: self.value.clone(),
        });
        req.set_timeout(Duration::from_secs(2));
        self.client.put(req).await?;
        Ok(())
    }
}

impl System for Etcd {
    type W = EtcdWriter;

    fn name(&self) -> &'static str {
        "etcd 3.4"
    }

    async fn leader(&self) -> anyhow::Result<usize> {
        for m in 0..3 {
            if self.children[m].is_none() {
                continue;
            }
            if let Ok(s) = status(self.client_ports[m]).await
                && let Some(i) = self.member_ids.iter().position(|id| *id == s.leader)
            {
                return Ok(i);
            }
        }
        bail!("no etcd leader")
    }

    async fn writer(&self, member: usize) -> anyhow::Result<EtcdWriter> {
        Ok(EtcdWriter {
            client: pb::kv_client::KvClient::new(channel(self.client_ports[member]).await?),
            value: vec![b'x'; VALUE_BYTES],
        })
    }

    async fn kill(&mut self, member: usize) -> anyhow::Result<()> {
        kill9(self.children[member].as_mut().context("not running")?).await?;
        self.children[member] = None;
        Ok(())
    }

    async fn restart(&mut self, member: usize) -> anyhow::Result<()> {
        self.launch(member, "existing")
    }

    async fn healthy(&self) -> anyhow::Result<()> {
        let settled = || async {
            let mut idx = Vec::new();
            let mut leaders = std::collections::BTreeSet::new();
            let mut term = 0;
            for m in 0..3 {
                let s = status(self.client_ports[m]).await?;
                if s.leader == 0 {
                    bail!("no leader");
                }
                leaders.insert(s.leader);
                term = term.max(s.raft_term);
                idx.push(s.raft_index);
            }
            let (lo, hi) = (idx.iter().min().copied().unwrap_or(0), idx.iter().max().copied().unwrap_or(0));
            if hi - lo > 5 || leaders.len() != 1 {
                bail!("members apart: {idx:?} {leaders:?}");
            }
            Ok((leaders, term))
        };
        // Settled, and still the same leader and term a second later.
        until("every etcd member caught up", Duration::from_secs(60), || async {
            let first = settled().await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let second = settled().await?;
            anyhow::ensure!(first == second, "leader or term changed");
            Ok(())
        })
        .await
    }

    async fn stop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = kill9(c).await;
        }
    }
}
