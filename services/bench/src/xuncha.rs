//! The xuncha city cluster: three `xuncha city` processes on 127.0.0.1. A write is a finding
//! with a 1 KiB description, recorded through the real API and raft.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{Duration as Days, Utc};
use tokio::process::Child;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::cluster_service_client::ClusterServiceClient;
use xuncha_proto::v1::finding_service_client::FindingServiceClient;
use xuncha_wire::Bearer;

use crate::load::Writer;
use crate::procs::{free_port, kill9, spawn, until};
use crate::system::{System, VALUE_BYTES};

pub struct Xuncha {
    bin: PathBuf,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    children: Vec<Option<Child>>,
    target: String,
    /// The administrator's session (replicated: any replica accepts it).
    token: String,
}

async fn channel(port: u16) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_millis(500))
        .tcp_nodelay(true)
        .connect()
        .await?)
}

async fn cluster_status(port: u16) -> anyhow::Result<pb::ClusterStatus> {
    let mut c = ClusterServiceClient::new(channel(port).await?);
    let mut req = tonic::Request::new(pb::GetClusterStatusRequest {});
    req.set_timeout(Duration::from_secs(1));
    Ok(c.get_cluster_status(req).await?.into_inner())
}

/// A connection that signs every call with `token`.
type Signed = InterceptedService<Channel, Bearer>;

async fn signed(port: u16, token: &str) -> anyhow::Result<Signed> {
    Ok(InterceptedService::new(channel(port).await?, Bearer::new(token)?))
}

/// The benchmark's administrator: made with the (plaintext, development) operator path, then
/// signed in; every write carries the token, so the figures include the token check.
const ADMIN: &str = "bench";
const ADMIN_PASSWORD: &str = "benchmark-password-1";

async fn sign_in(port: u16) -> anyhow::Result<String> {
    use xuncha_proto::v1::account_service_client::AccountServiceClient;
    use xuncha_proto::v1::auth_client::AuthClient;
    let ch = channel(port).await?;
    let made = AccountServiceClient::new(ch.clone())
        .bootstrap(pb::BootstrapAccountRequest {
            username: ADMIN.into(),
            display_name: "基准测试".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await;
    if let Err(s) = made
        && s.code() != tonic::Code::FailedPrecondition
    {
        return Err(s.into());
    }
    let r =
        AuthClient::new(ch).login(pb::LoginRequest { username: ADMIN.into(), password: ADMIN_PASSWORD.into() }).await?;
    Ok(r.into_inner().token)
}

fn day(offset: i64) -> String {
    (Utc::now() + Days::hours(8) + Days::days(offset)).date_naive().to_string()
}

impl Xuncha {
    pub async fn start(bin: PathBuf) -> anyhow::Result<Self> {
        let mut x = Self {
            bin,
            dir: tempfile::tempdir()?,
            ports: (0..3).map(|_| free_port()).collect::<Result<_, _>>()?,
            children: vec![None, None, None],
            target: String::new(),
            token: String::new(),
        };
        for m in 0..3 {
            let config = format!(
                "replica_id = {}\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n[log]\nlevel = \"warn\"\n",
                m + 1,
                x.dir.path().join(format!("city-{}", m + 1)).display(),
                x.ports[m]
            );
            std::fs::write(x.dir.path().join(format!("city-{}.toml", m + 1)), config)?;
            x.launch(m)?;
        }
        let members: Vec<pb::Replica> = (0..3)
            .map(|m| pb::Replica { id: m as u64 + 1, addr: format!("127.0.0.1:{}", x.ports[m]), ..Default::default() })
            .collect();
        until("replica 1 to initialise", Duration::from_secs(30), || async {
            let mut c = ClusterServiceClient::new(channel(x.ports[0]).await?);
            c.initialize(pb::InitializeClusterRequest { members: members.clone() }).await?;
            Ok(())
        })
        .await?;
        x.healthy().await?;
        (x.target, x.token) = x.setup().await?;
        Ok(x)
    }

    fn launch(&mut self, m: usize) -> anyhow::Result<()> {
        let args = vec![
            "city".into(),
            "--config".into(),
            self.dir.path().join(format!("city-{}.toml", m + 1)).display().to_string(),
        ];
        self.children[m] = Some(spawn(&self.bin, &args, &self.dir.path().join(format!("city-{}.log", m + 1)))?);
        Ok(())
    }

    /// A round in progress with one target to record findings at.
    async fn setup(&self) -> anyhow::Result<(String, String)> {
        use xuncha_proto::v1::round_service_client::RoundServiceClient;
        use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
        use xuncha_proto::v1::unit_service_client::UnitServiceClient;
        let port = self.ports[self.leader().await?];
        let token = sign_in(port).await?;
        let ch = signed(port, &token).await?;
        let mut units = UnitServiceClient::new(ch.clone());
        let mut pool = TalentPoolServiceClient::new(ch.clone());
        let mut rounds = RoundServiceClient::new(ch);
        let window = Some(pb::DateWindow { from: day(-400), to: day(400) });
        let term = units.create_term(pb::CreateTermRequest { name: "基准届".into(), window }).await?.into_inner().id;
        let unit = units
            .register_unit(pb::RegisterUnitRequest {
                name: "市基准测试局".into(),
                kind: pb::UnitKind::CityDepartment as i32,
                parent: String::new(),
            })
            .await?
            .into_inner()
            .id;
        let mut people = Vec::new();
        for (i, specialty) in [
            pb::Specialty::Discipline,
            pb::Specialty::Finance,
            pb::Specialty::Law,
            pb::Specialty::Audit,
            pb::Specialty::Other,
        ]
        .iter()
        .enumerate()
        {
            let fields = pb::PersonFields {
                name: format!("基准{i}"),
                birth_year: 1975 + i as i32,
                rank: pb::Rank::SectionHead as i32,
                source: pb::PoolSource::InspectionOffice as i32,
                work_unit: "市委巡察办".into(),
                specialties: vec![*specialty as i32],
                leader_qualified: i == 0,
                active: true,
                ..Default::default()
            };
            people.push(pool.add_person(pb::AddPersonRequest { person: Some(fields) }).await?.into_inner().id);
        }
        let dates = Some(pb::RoundDates { enter_on: day(-10), leave_on: day(30), feedback_on: day(40) });
        let round = rounds
            .create_round(pb::CreateRoundRequest {
                term,
                number: 1,
                name: "基准轮".into(),
                dates,
                group_size_min: 4,
                group_size_max: 4,
                ..Default::default()
            })
            .await?
            .into_inner()
            .id;
        let group = rounds
            .form_group(pb::FormGroupRequest {
                round: round.clone(),
                name: "基准组".into(),
                leader: people[0].clone(),
                members: people[1..].to_vec(),
                reason: String::new(),
            })
            .await?
            .into_inner()
            .id;
        let target = rounds
            .add_target(pb::AddTargetRequest {
                round: round.clone(),
                group,
                unit,
                kind: pb::TargetKind::Regular as i32,
                ..Default::default()
            })
            .await?
            .into_inner()
            .id;
        for to in [pb::RoundStatus::Approved, pb::RoundStatus::InProgress] {
            rounds.advance_round(pb::AdvanceRoundRequest { round: round.clone(), to: to as i32 }).await?;
        }
        Ok((target, token))
    }
}

pub struct XunchaWriter {
    client: FindingServiceClient<Signed>,
    target: String,
    description: String,
}

impl Writer for XunchaWriter {
    async fn write(&mut self, _seq: u64) -> anyhow::Result<()> {
        let mut req = tonic::Request::new(pb::RecordFindingRequest {
            target: self.target.clone(),
            category: "style.formalism".into(),
            tags: vec![],
            title: "基准测试问题".into(),
            description: self.description.clone(),
        });
        req.set_timeout(Duration::from_secs(2));
        self.client.record_finding(req).await?;
        Ok(())
    }
}

impl System for Xuncha {
    type W = XunchaWriter;

    fn name(&self) -> &'static str {
        "xuncha"
    }

    async fn leader(&self) -> anyhow::Result<usize> {
        for m in 0..3 {
            if self.children[m].is_none() {
                continue;
            }
            if let Ok(s) = cluster_status(self.ports[m]).await
                && s.leader_id != 0
            {
                // Only the leader's own word counts (a restarted replica may remember an old one).
                let l = s.leader_id as usize - 1;
                if self.children[l].is_some() && cluster_status(self.ports[l]).await.is_ok_and(|x| x.state == "leader")
                {
                    return Ok(l);
                }
            }
        }
        bail!("no xuncha leader")
    }

    async fn writer(&self, member: usize) -> anyhow::Result<XunchaWriter> {
        // 1 KiB of description: 341 three-byte characters and one byte.
        let description = format!("{}x", "问".repeat(VALUE_BYTES / 3));
        Ok(XunchaWriter {
            client: FindingServiceClient::new(signed(self.ports[member], &self.token).await?),
            target: self.target.clone(),
            description,
        })
    }

    async fn kill(&mut self, member: usize) -> anyhow::Result<()> {
        kill9(self.children[member].as_mut().context("not running")?).await?;
        self.children[member] = None;
        Ok(())
    }

    async fn restart(&mut self, member: usize) -> anyhow::Result<()> {
        self.launch(member)
    }

    async fn healthy(&self) -> anyhow::Result<()> {
        let settled = || async {
            let leader = self.leader().await?;
            let s = cluster_status(self.ports[leader]).await?;
            if s.replicas.len() != 3 {
                bail!("not settled: {s:?}");
            }
            for m in 0..3 {
                let r = cluster_status(self.ports[m]).await?;
                if r.leader_id != s.replica_id || r.last_applied + 5 < s.commit_index {
                    bail!("replica {} not caught up", m + 1);
                }
            }
            Ok((leader, s.term))
        };
        // Settled, and still the same leader and term a second later.
        until("a settled cluster", Duration::from_secs(60), || async {
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
        if std::env::var_os("XUNCHA_BENCH_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir")).keep();
            eprintln!("kept {}", dir.display());
        }
    }
}
