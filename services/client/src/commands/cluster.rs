use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::cluster_service_client::ClusterServiceClient;

use crate::Ctx;
use crate::output::{print, table};

#[derive(Subcommand, Debug, Clone)]
pub enum ClusterCmd {
    /// Leader, term, commit index and every replica's match index.
    Status,
    /// Initialises a new cluster on the replica --node points at.
    Init {
        /// Members as ID=HOST:PORT (repeatable), this replica included.
        #[arg(long = "member", required = true, value_parser = parse_member)]
        members: Vec<(u64, String)>,
    },
    /// Adds a replica as a learner (it catches up from the log or a snapshot).
    AddLearner {
        /// A new replica id, never used before in this cluster.
        #[arg(long)]
        id: u64,
        /// Its gRPC address.
        #[arg(long)]
        addr: String,
        /// Return only once it has caught up.
        #[arg(long)]
        wait: bool,
    },
    /// Promotes learners to voters.
    Promote {
        /// Learner ids.
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Removes a replica; its id is retired.
    Remove {
        /// Replica id.
        id: u64,
    },
    /// Takes a snapshot on the replica and compacts its log.
    Snapshot,
}

fn parse_member(text: &str) -> Result<(u64, String), String> {
    let (id, addr) = text.split_once('=').ok_or("expected ID=HOST:PORT")?;
    Ok((id.trim().parse().map_err(|_| format!("'{id}' is not a replica id"))?, addr.trim().to_string()))
}

fn status_table(s: &pb::ClusterStatus) -> String {
    let mut out = format!(
        "副本 {}({})  任期 {}  领导者 {} {}  提交 {}  已应用 {}  日志 {}  快照 {}\n",
        s.replica_id,
        s.state,
        s.term,
        s.leader_id,
        s.leader_addr,
        s.commit_index,
        s.last_applied,
        s.last_log_index,
        s.snapshot_index
    );
    let mut t = table(&["副本", "地址", "角色", "匹配位置"]);
    for r in &s.replicas {
        let m = if s.state == "leader" { r.match_index.to_string() } else { "-".into() };
        t.add_row(vec![r.id.to_string(), r.addr.clone(), r.role.clone(), m]);
    }
    out.push_str(&t.to_string());
    out
}

pub async fn cluster(ctx: &Ctx, c: ClusterCmd) -> anyhow::Result<()> {
    let mut client = ClusterServiceClient::new(ctx.channel.clone());
    let s = match c {
        ClusterCmd::Status => {
            let s = client.get_cluster_status(pb::GetClusterStatusRequest {}).await?.into_inner();
            // Match indexes are known on the leader: ask it when this replica is not.
            if s.state != "leader" && !s.leader_addr.is_empty() {
                match crate::connect::channel(&s.leader_addr, ctx.tls.as_ref()).await {
                    Ok(ch) => ClusterServiceClient::new(ch)
                        .get_cluster_status(pb::GetClusterStatusRequest {})
                        .await?
                        .into_inner(),
                    Err(_) => s,
                }
            } else {
                s
            }
        }
        ClusterCmd::Init { members } => {
            let members =
                members.into_iter().map(|(id, addr)| pb::Replica { id, addr, ..Default::default() }).collect();
            client.initialize(pb::InitializeClusterRequest { members }).await?.into_inner()
        }
        ClusterCmd::AddLearner { id, addr, wait } => {
            client.add_learner(pb::AddLearnerRequest { id, addr, wait }).await?.into_inner()
        }
        ClusterCmd::Promote { ids } => client.promote(pb::PromoteRequest { ids }).await?.into_inner(),
        ClusterCmd::Remove { id } => client.remove_replica(pb::RemoveReplicaRequest { id }).await?.into_inner(),
        ClusterCmd::Snapshot => client.snapshot(pb::SnapshotRequest {}).await?.into_inner(),
    };
    print(ctx.format, &s, status_table)
}
