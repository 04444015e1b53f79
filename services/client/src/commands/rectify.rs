use std::collections::HashMap;

use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::rectification_service_client::RectificationServiceClient;
use xuncha_proto::v1::supervision_service_client::SupervisionServiceClient;
use xuncha_proto::v1::{NoticeLevel, NoticeStatus, RectificationKind, RectificationStatus};

use super::plan::enum_arg;
use crate::output::{print, table};
use crate::refs::NodeLabels;
use crate::{Ctx, label};

#[derive(Subcommand, Debug, Clone)]
pub enum RectifyCmd {
    /// Adds a rectification item for a fed-back finding.
    Add {
        /// The finding: its number (问题〔2026〕42号) or id.
        #[arg(long)]
        finding: String,
        /// Measures (repeatable).
        #[arg(long = "measure", required = true)]
        measures: Vec<String>,
        /// 责任单位.
        #[arg(long)]
        responsible_unit: String,
        /// 责任人.
        #[arg(long, default_value = "")]
        person: String,
        /// Deadline; default: the report-due date.
        #[arg(long, default_value = "")]
        deadline: String,
        /// A long-term mechanism (长效机制) rather than a measure.
        #[arg(long)]
        mechanism: bool,
    },
    /// Reports progress: a new status, a note, evidence.
    Update {
        /// The item: its number (整改〔2026〕42号) or id.
        item: String,
        /// in_progress, done, long_term.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "")]
        evidence: String,
    },
    /// Signs off (销号); the office only.
    Signoff {
        /// The item: its number (整改〔2026〕42号) or id.
        item: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lists items.
    List {
        #[arg(long, default_value = "")]
        round: String,
        #[arg(long, default_value = "")]
        owner: String,
        /// Only overdue items.
        #[arg(long)]
        overdue: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum NoticeCmd {
    /// Issues a supervision notice (督办) to a county office or a unit.
    Issue {
        /// County code (from the city).
        #[arg(long, default_value = "")]
        county: String,
        /// Unit id (of this node).
        #[arg(long, default_value = "")]
        unit: String,
        /// About this rectification item (its number, 整改〔2026〕42号, or id).
        #[arg(long, default_value = "")]
        item: String,
        /// About this target.
        #[arg(long, default_value = "")]
        target: String,
        /// About this linked assignment.
        #[arg(long, default_value = "")]
        assignment: String,
        /// supervision (督办), admonition (约谈), accountability (问责).
        #[arg(long, default_value = "supervision")]
        level: String,
        #[arg(long)]
        text: String,
        /// Respond by (YYYY-MM-DD).
        #[arg(long)]
        respond_by: String,
        /// The earlier notice this escalates.
        #[arg(long, default_value = "")]
        escalates: String,
    },
    /// Responds to a notice.
    Respond {
        notice: String,
        #[arg(long)]
        text: String,
    },
    /// Closes a notice.
    Close { notice: String },
    /// Lists notices.
    List {
        /// Only open notices.
        #[arg(long)]
        open: bool,
    },
}

pub fn items_table(items: &[pb::RectificationItem], nodes: &NodeLabels) -> String {
    let mut t = table(&["编号", "类型", "整改措施", "责任单位", "期限", "状态", "逾期", "归属"]);
    for i in items {
        t.add_row(vec![
            i.reference.clone(),
            label::<RectificationKind>(i.kind).into(),
            i.measures.join(";"),
            i.responsible_unit.clone(),
            i.deadline.clone(),
            label::<RectificationStatus>(i.status).into(),
            if i.overdue { format!("{}天", i.days_overdue) } else { String::new() },
            i.meta.as_ref().map(|m| nodes.label(&m.owner)).unwrap_or_default(),
        ]);
    }
    format!("{t}\n共{}项", items.len())
}

/// What a notices table names: nodes, units, and items by number.
struct NoticeNames {
    nodes: NodeLabels,
    units: HashMap<String, String>,
    items: HashMap<String, String>,
}

impl NoticeNames {
    async fn of(ctx: &Ctx) -> anyhow::Result<Self> {
        let (units, _) = super::rounds::names(ctx).await?;
        let items = RectificationServiceClient::new(ctx.channel.clone())
            .list_items(pb::ListRectificationRequest::default())
            .await?
            .into_inner()
            .items;
        Ok(Self {
            nodes: NodeLabels::of(&ctx.channel).await?,
            units,
            items: items.into_iter().map(|i| (i.id, i.reference)).collect(),
        })
    }
}

fn notices_table(notices: &[pb::SupervisionNotice], names: &NoticeNames) -> String {
    let mut t = table(&["督办事项", "级别", "对象", "内容", "回复期限", "状态", "回复"]);
    for n in notices {
        let to = if n.addressee_county.is_empty() {
            names.units.get(&n.addressee_unit).cloned().unwrap_or_else(|| n.addressee_unit.clone())
        } else {
            names.nodes.county(&n.addressee_county)
        };
        let subject = names.items.get(&n.subject_rectification).cloned().unwrap_or_default();
        t.add_row(vec![
            subject,
            label::<NoticeLevel>(n.level).into(),
            to,
            n.text.clone(),
            n.respond_by.clone(),
            label::<NoticeStatus>(n.status).into(),
            n.response.as_ref().map(|r| format!("{} {}", r.responded_on, r.text)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

pub async fn rectify(ctx: &Ctx, c: RectifyCmd) -> anyhow::Result<()> {
    let mut client = RectificationServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    let item = match c {
        RectifyCmd::Add { finding, measures, responsible_unit, person, deadline, mechanism } => {
            let finding = crate::refs::finding(&ctx.channel, &finding).await?;
            let kind = if mechanism { RectificationKind::Mechanism } else { RectificationKind::Measure };
            client
                .add_item(pb::AddRectificationItemRequest {
                    finding,
                    kind: kind as i32,
                    measures,
                    responsible_unit,
                    responsible_person: person,
                    deadline,
                })
                .await?
                .into_inner()
        }
        RectifyCmd::Update { item, status, note, evidence } => {
            let item = crate::refs::rectification_item(&ctx.channel, &item).await?;
            let status = status.map(|s| enum_arg::<RectificationStatus>("--status", &s)).transpose()?.unwrap_or(0);
            client.update_item(pb::UpdateRectificationRequest { item, status, note, evidence }).await?.into_inner()
        }
        RectifyCmd::Signoff { item, note } => {
            let item = crate::refs::rectification_item(&ctx.channel, &item).await?;
            client.sign_off(pb::SignOffRectificationRequest { item, note }).await?.into_inner()
        }
        RectifyCmd::List { round, owner, overdue } => {
            let round = if round.is_empty() { round } else { crate::refs::round(&ctx.channel, &round).await? };
            let r = client
                .list_items(pb::ListRectificationRequest {
                    round,
                    finding: String::new(),
                    owner,
                    overdue_only: overdue,
                })
                .await?
                .into_inner();
            return print(ctx.format, &r, |r| items_table(&r.items, &nodes));
        }
    };
    print(ctx.format, &item, |i| items_table(std::slice::from_ref(i), &nodes))
}

pub async fn notice(ctx: &Ctx, c: NoticeCmd) -> anyhow::Result<()> {
    let mut client = SupervisionServiceClient::new(ctx.channel.clone());
    let n = match c {
        NoticeCmd::Issue { county, unit, item, target, assignment, level, text, respond_by, escalates } => {
            let item = match item.as_str() {
                "" => item,
                text => crate::refs::rectification_item(&ctx.channel, text).await?,
            };
            let level = enum_arg::<NoticeLevel>("--level", &level)?;
            let unit = crate::refs::unit(&ctx.channel, &unit).await?;
            let target = crate::refs::target(&ctx.channel, &target).await?;
            let assignment = crate::refs::assignment(&ctx.channel, &assignment).await?;
            let escalates =
                if escalates.is_empty() { escalates } else { crate::refs::notice(&ctx.channel, &escalates).await? };
            client
                .issue_notice(pb::IssueNoticeRequest {
                    addressee_county: county,
                    addressee_unit: unit,
                    subject_rectification: item,
                    subject_target: target,
                    subject_assignment: assignment,
                    level,
                    text,
                    respond_by,
                    escalates,
                })
                .await?
                .into_inner()
        }
        NoticeCmd::Respond { notice, text } => {
            let notice = crate::refs::notice(&ctx.channel, &notice).await?;
            client.respond_notice(pb::RespondNoticeRequest { notice, text }).await?.into_inner()
        }
        NoticeCmd::Close { notice } => {
            let notice = crate::refs::notice(&ctx.channel, &notice).await?;
            client.close_notice(pb::CloseNoticeRequest { notice }).await?.into_inner()
        }
        NoticeCmd::List { open } => {
            let r = client.list_notices(pb::ListNoticesRequest { open_only: open }).await?.into_inner();
            let names = NoticeNames::of(ctx).await?;
            return print(ctx.format, &r, |r| notices_table(&r.notices, &names));
        }
    };
    let names = NoticeNames::of(ctx).await?;
    print(ctx.format, &n, |n| notices_table(std::slice::from_ref(n), &names))
}
