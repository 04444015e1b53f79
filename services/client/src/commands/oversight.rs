use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::ledger_service_client::LedgerServiceClient;
use xuncha_proto::v1::node_service_client::NodeServiceClient;
use xuncha_proto::v1::oversight_service_client::OversightServiceClient;

use super::rectify::items_table;
use crate::Ctx;
use crate::output::{actor_label, print, table};
use crate::refs::NodeLabels;
use xuncha_wire::labels::Labelled;

#[derive(Args, Debug, Clone)]
pub struct CoverageArgs {
    /// Only this term.
    #[arg(long, default_value = "")]
    pub term: String,
}

#[derive(Args, Debug, Clone)]
pub struct OverdueArgs {
    /// Only this owner's items.
    #[arg(long, default_value = "")]
    pub owner: String,
}

#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// The file to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum LedgerCmd {
    /// Lists ledger events, oldest first.
    List {
        /// Only about this kind of record (round, finding, rectification, ...).
        #[arg(long, default_value = "")]
        kind: String,
        /// Only about this record.
        #[arg(long, default_value = "")]
        id: String,
        /// Only actions starting with this (round., lead.).
        #[arg(long, default_value = "")]
        action: String,
        /// Only what this account did (its id, from `account list -o json`).
        #[arg(long = "by", default_value = "")]
        by: String,
        /// Only made on this node.
        #[arg(long = "made-on", default_value = "")]
        made_on: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Checks every ledger chain on the node (links and hashes) and names the first break;
    /// exits with an error if there is one.
    Verify,
    /// Exports the ledger or the rectification table (整改台账) as XLSX.
    Export {
        /// ledger or rectification.
        table: String,
        /// File to write; default the suggested name in the current folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) fn ts(t: &Option<xuncha_proto::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|d| {
            d.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn coverage_table(list: &[pb::Coverage], nodes: &NodeLabels) -> String {
    let mut t = table(&["届次", "归属", "规划单位", "已覆盖", "巡察中", "覆盖率"]);
    for c in list {
        t.add_row(vec![
            c.term_name.clone(),
            nodes.label(&c.owner),
            c.planned.to_string(),
            c.covered.to_string(),
            c.in_progress.to_string(),
            format!("{:.2}%", c.percent),
        ]);
    }
    t.to_string()
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let s = NodeServiceClient::new(ctx.channel.clone()).get_status(pb::GetStatusRequest {}).await?.into_inner();
    print(ctx.format, &s, |s| {
        let mut out = format!(
            "节点 {}  版本 {}  记录 {}  变更序号 {}  启动于 {}",
            s.node,
            s.version,
            s.records,
            s.outbox_seq,
            ts(&s.started_at)
        );
        if s.replica_id != 0 {
            out.push_str(&format!("  副本 {}", s.replica_id));
        }
        if !s.peers.is_empty() {
            let mut t = table(&["对端", "已收对端序号", "对端待发", "对端已收本端序号", "本端待送达", "最近联系"]);
            for p in &s.peers {
                t.add_row(vec![
                    p.node.clone(),
                    p.applied_seq.to_string(),
                    p.backlog.to_string(),
                    p.pulled_seq.to_string(),
                    p.lag.to_string(),
                    ts(&p.last_contact),
                ]);
            }
            out.push_str(&format!("\n{t}"));
            for p in s.peers.iter().filter(|p| !p.refused.is_empty()) {
                out.push_str(&format!("\n与 {} 的同步有变更被拒收({}):{}", p.node, ts(&p.refused_at), p.refused));
            }
        }
        out
    })
}

pub async fn backup(ctx: &Ctx, a: BackupArgs) -> anyhow::Result<()> {
    use std::io::Write;
    anyhow::ensure!(!a.out.exists(), "{} exists", a.out.display());
    let mut stream = NodeServiceClient::new(ctx.channel.clone()).backup(pb::BackupRequest {}).await?.into_inner();
    let tmp = a.out.with_extension("partial");
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    let (mut node, mut total, mut written) = (String::new(), 0u64, 0u64);
    while let Some(chunk) = stream.message().await? {
        if !chunk.node.is_empty() {
            node = chunk.node;
            total = chunk.total;
        }
        file.write_all(&chunk.data)?;
        written += chunk.data.len() as u64;
    }
    file.sync_all()?;
    anyhow::ensure!(written == total, "the backup stream ended after {written} of {total} bytes");
    std::fs::rename(&tmp, &a.out)?;
    println!("wrote a backup of {node} to {} ({written} bytes)", a.out.display());
    Ok(())
}

pub async fn coverage(ctx: &Ctx, a: CoverageArgs) -> anyhow::Result<()> {
    let r = OversightServiceClient::new(ctx.channel.clone())
        .get_coverage(pb::GetCoverageRequest { term: a.term })
        .await?
        .into_inner();
    let nodes = NodeLabels::of(&ctx.channel).await?;
    print(ctx.format, &r, |r| coverage_table(&r.coverage, &nodes))
}

pub async fn oversight(ctx: &Ctx) -> anyhow::Result<()> {
    let r =
        OversightServiceClient::new(ctx.channel.clone()).get_oversight(pb::GetOversightRequest {}).await?.into_inner();
    let nodes = NodeLabels::of(&ctx.channel).await?;
    print(ctx.format, &r, |r| {
        let mut t = table(&[
            "节点",
            "轮次(未结束)",
            "对象",
            "问题",
            "线索",
            "整改(已销号/总数)",
            "逾期事项",
            "逾期报告",
            "全覆盖",
            "联动任务",
            "最近联系",
            "待上报",
            "待下发",
        ]);
        for n in &r.nodes {
            let rect = n.rectification.unwrap_or_default();
            let coverage: Vec<String> =
                n.coverage.iter().map(|c| format!("{} {:.2}%", c.term_name, c.percent)).collect();
            let stage = |code: &str| {
                xuncha_wire::labels::parse::<pb::AssignmentStage>(code).map(|s| s.label_zh()).unwrap_or("其他")
            };
            let stages: Vec<String> =
                n.assignments.iter().map(|s| format!("{}{}个", stage(&s.stage), s.count)).collect();
            t.add_row(vec![
                nodes.label(&n.node),
                format!("{}({})", n.rounds, n.rounds_open),
                n.targets.to_string(),
                n.findings.to_string(),
                n.leads.to_string(),
                format!("{}/{}", rect.signed_off, rect.total),
                rect.overdue.to_string(),
                n.overdue_reports.to_string(),
                coverage.join(" "),
                stages.join(" "),
                ts(&n.last_contact),
                n.backlog.to_string(),
                n.lag.to_string(),
            ]);
        }
        t.to_string()
    })
}

pub async fn overdue(ctx: &Ctx, a: OverdueArgs) -> anyhow::Result<()> {
    let r = OversightServiceClient::new(ctx.channel.clone())
        .list_overdue(pb::ListOverdueRequest { owner: a.owner })
        .await?
        .into_inner();
    let nodes = NodeLabels::of(&ctx.channel).await?;
    print(ctx.format, &r, |r| items_table(&r.items, &nodes))
}

pub async fn ledger(ctx: &Ctx, c: LedgerCmd) -> anyhow::Result<()> {
    let mut client = LedgerServiceClient::new(ctx.channel.clone());
    match c {
        LedgerCmd::List { kind, id, action, by, made_on, limit, offset } => {
            let r = client
                .list_events(pb::ListEventsRequest {
                    node: made_on,
                    subject_kind: kind,
                    subject_id: id,
                    action_prefix: action,
                    actor: by,
                    limit,
                    offset,
                })
                .await?
                .into_inner();
            print(ctx.format, &r, |r| {
                let mut t = table(&["时间", "节点", "操作人", "事项", "原因"]);
                for e in &r.events {
                    t.add_row(vec![
                        ts(&e.at),
                        e.node.clone(),
                        e.actor.as_ref().map(actor_label).unwrap_or_default(),
                        e.summary.clone(),
                        e.reason.clone(),
                    ]);
                }
                t.to_string()
            })
        }
        LedgerCmd::Verify => {
            let r = client.verify_ledger(pb::VerifyLedgerRequest {}).await?.into_inner();
            print(ctx.format, &r, |r| {
                let mut t = table(&["节点", "去向", "已核对", "链尾", "结果"]);
                for c in &r.chains {
                    let head = if c.head_n == 0 {
                        "—".to_string()
                    } else {
                        format!("第 {} 条 {}", c.head_n, &c.head_hash[..c.head_hash.len().min(12)])
                    };
                    let result = match &c.first_break {
                        None => "完好".to_string(),
                        Some(b) => format!("第 {} 条起断开:{}", b.n, b.reason),
                    };
                    t.add_row(vec![c.node.clone(), c.audience.clone(), c.checked.to_string(), head, result]);
                }
                let mut out = t.to_string();
                if r.unchained > 0 {
                    out.push_str(&format!("\n另有 {} 条事件早于台账链,未核对", r.unchained));
                }
                out
            })?;
            if !r.intact {
                anyhow::bail!("台账链有断开处,见上表");
            }
            Ok(())
        }
        LedgerCmd::Export { table: which, out } => {
            let table = match which.as_str() {
                "ledger" | "台账" => pb::ExportTable::Ledger,
                "rectification" | "整改台账" => pb::ExportTable::Rectification,
                other => anyhow::bail!("table: '{other}' is not ledger or rectification"),
            };
            use std::io::Write;
            let mut stream = client.export(pb::ExportRequest { table: table as i32 }).await?.into_inner();
            let first = stream.message().await?.context("the export stream ended before naming the file")?;
            let path = out.unwrap_or_else(|| PathBuf::from(&first.file_name));
            anyhow::ensure!(!path.exists(), "{} exists", path.display());
            // Written piece by piece beside the target, renamed once the last piece came.
            let tmp = path.with_extension("partial");
            let received = async {
                let mut file = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
                while let Some(piece) = stream.message().await? {
                    file.write_all(&piece.content)?;
                    if piece.done {
                        file.sync_all()?;
                        return Ok(piece.rows);
                    }
                }
                anyhow::bail!("the export stream ended early; nothing was written")
            }
            .await;
            let rows = received.inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            std::fs::rename(&tmp, &path)?;
            println!("已导出 {}({rows} 行)", path.display());
            Ok(())
        }
    }
}
