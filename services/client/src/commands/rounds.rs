use std::collections::HashMap;

use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::round_service_client::RoundServiceClient;
use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;
use xuncha_proto::v1::{RoundStatus, TargetKind};

use super::plan::enum_arg;
use crate::output::{print, table};
use crate::refs::{self, NodeLabels};
use crate::{Ctx, label};

#[derive(Subcommand, Debug, Clone)]
pub enum RoundCmd {
    /// Plans a round (draft).
    Create {
        /// Term (届次) by name, e.g. 十四届县委.
        #[arg(long)]
        term: String,
        /// 第几轮.
        #[arg(long)]
        number: u32,
        /// Name, e.g. 十四届县委第七轮巡察.
        #[arg(long)]
        name: String,
        /// 进驻 (YYYY-MM-DD).
        #[arg(long)]
        enter: String,
        /// 撤离.
        #[arg(long)]
        leave: String,
        /// 反馈.
        #[arg(long)]
        feedback: String,
        /// Months after feedback the rectification report is due (default 2).
        #[arg(long, default_value_t = 0)]
        report_months: u32,
        /// Smallest group (members besides the leader; default 4).
        #[arg(long, default_value_t = 0)]
        min_members: u32,
        /// Largest group (default 6).
        #[arg(long, default_value_t = 0)]
        max_members: u32,
    },
    /// Lists rounds.
    List {
        /// Only this owner's rounds.
        #[arg(long, default_value = "")]
        owner: String,
        /// Only of this term.
        #[arg(long, default_value = "")]
        term: String,
    },
    /// Shows a round's plan: groups with people, targets with units.
    Show {
        /// Round: 第七轮, 7, its name.
        id: String,
    },
    /// Changes dates (an amendment with --reason after approval).
    Dates {
        /// Round: 第七轮, 7, its name.
        id: String,
        #[arg(long)]
        enter: String,
        #[arg(long)]
        leave: String,
        #[arg(long)]
        feedback: String,
        /// Amendment reason.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Approves the plan.
    Approve { id: String },
    /// Groups entered (进驻).
    Start { id: String },
    /// Closes the round (every item signed off).
    Close { id: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum GroupCmd {
    /// Forms a group.
    Form {
        #[arg(long)]
        round: String,
        /// E.g. 第一巡察组.
        #[arg(long)]
        name: String,
        /// Leader (组长库).
        #[arg(long)]
        leader: String,
        /// Members (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Amendment reason, once approved.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Changes a group's leader and members.
    Change {
        /// Group: 第一巡察组 (or 第七轮:第一巡察组).
        group: String,
        #[arg(long)]
        leader: String,
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum TargetCmd {
    /// Adds a target.
    Add {
        #[arg(long)]
        round: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        unit: String,
        /// regular, special, revisit, linked (or 常规巡察, 专项巡察, 回头看, 联动巡察).
        #[arg(long, default_value = "regular")]
        kind: String,
        /// Scope (required for special).
        #[arg(long, default_value = "")]
        scope: String,
        /// County linked targets: the city assignment.
        #[arg(long, default_value = "")]
        assignment: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Records feedback (反馈) to the unit.
    Feedback {
        /// Target: the unit's name (or 第七轮:单位名).
        target: String,
        /// Day (YYYY-MM-DD).
        #[arg(long)]
        on: String,
    },
    /// Records the unit's rectification report.
    Report {
        target: String,
        #[arg(long)]
        on: String,
    },
}

pub fn rounds_table(rounds: &[pb::Round], nodes: &NodeLabels) -> String {
    let mut t = table(&["轮次", "进驻", "撤离", "反馈", "状态", "修订", "归属"]);
    for r in rounds {
        let d = r.dates.clone().unwrap_or_default();
        t.add_row(vec![
            r.name.clone(),
            d.enter_on,
            d.leave_on,
            d.feedback_on,
            label::<RoundStatus>(r.status).into(),
            r.amendments.len().to_string(),
            r.meta.as_ref().map(|m| nodes.label(&m.owner)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

fn targets_table(targets: &[pb::Target], units: &HashMap<String, String>) -> String {
    let mut t = table(&["被巡察单位", "类型", "反馈", "整改报告应交", "已交", "线索"]);
    for x in targets {
        t.add_row(vec![
            units.get(&x.unit).cloned().unwrap_or_else(|| x.unit.clone()),
            label::<TargetKind>(x.kind).into(),
            x.feedback_on.clone(),
            x.report_due_on.clone(),
            x.report_submitted_on.clone(),
            x.lead_count.to_string(),
        ]);
    }
    t.to_string()
}

/// Names of units and persons held on the node, for readable tables.
pub async fn names(ctx: &Ctx) -> anyhow::Result<(HashMap<String, String>, HashMap<String, String>)> {
    let units = UnitServiceClient::new(ctx.channel.clone())
        .list_units(pb::ListUnitsRequest { owner: String::new() })
        .await?
        .into_inner();
    let persons = TalentPoolServiceClient::new(ctx.channel.clone())
        .list_persons(pb::ListPersonsRequest { owner: String::new(), leaders_only: false, include_inactive: true })
        .await?
        .into_inner();
    Ok((
        units.units.into_iter().map(|u| (u.id, u.name)).collect(),
        persons.persons.into_iter().map(|p| (p.id, p.fields.map(|f| f.name).unwrap_or_default())).collect(),
    ))
}

pub async fn round(ctx: &Ctx, c: RoundCmd) -> anyhow::Result<()> {
    let mut client = RoundServiceClient::new(ctx.channel.clone());
    let advance = |id: String, to: RoundStatus| pb::AdvanceRoundRequest { round: id, to: to as i32 };
    let nodes = NodeLabels::of(&ctx.channel).await?;
    let one = |r: &pb::Round| rounds_table(std::slice::from_ref(r), &nodes);
    let round_id = |text: String| async move { refs::round(&ctx.channel, &text).await };
    match c {
        RoundCmd::Create { term, number, name, enter, leave, feedback, report_months, min_members, max_members } => {
            let dates = Some(pb::RoundDates { enter_on: enter, leave_on: leave, feedback_on: feedback });
            let term = refs::term(&ctx.channel, &term).await?;
            let r = client
                .create_round(pb::CreateRoundRequest {
                    term,
                    number,
                    name,
                    dates,
                    report_due_months: report_months,
                    group_size_min: min_members,
                    group_size_max: max_members,
                })
                .await?
                .into_inner();
            print(ctx.format, &r, one)
        }
        RoundCmd::List { owner, term } => {
            let term = refs::term(&ctx.channel, &term).await?;
            let r = client.list_rounds(pb::ListRoundsRequest { owner, term }).await?.into_inner();
            print(ctx.format, &r, |r| rounds_table(&r.rounds, &nodes))
        }
        RoundCmd::Show { id } => {
            let id = round_id(id).await?;
            let plan = client.get_round(pb::GetRoundRequest { id }).await?.into_inner();
            let (units, persons) = names(ctx).await?;
            print(ctx.format, &plan, |p| {
                let name = |id: &String| persons.get(id).cloned().unwrap_or_else(|| id.clone());
                let mut groups = table(&["巡察组", "组长", "组员"]);
                for g in &p.groups {
                    groups.add_row(vec![
                        g.name.clone(),
                        name(&g.leader),
                        g.members.iter().map(name).collect::<Vec<_>>().join("、"),
                    ]);
                }
                let mut amendments = String::new();
                for a in p.round.iter().flat_map(|r| &r.amendments) {
                    amendments.push_str(&format!("\n修订:{}(原因:{})", a.change, a.reason));
                }
                format!(
                    "{}{amendments}\n{}\n{}",
                    p.round.as_ref().map(one).unwrap_or_default(),
                    groups,
                    targets_table(&p.targets, &units)
                )
            })
        }
        RoundCmd::Dates { id, enter, leave, feedback, reason } => {
            let id = round_id(id).await?;
            let dates = Some(pb::RoundDates { enter_on: enter, leave_on: leave, feedback_on: feedback });
            let r =
                client.change_round_dates(pb::ChangeRoundDatesRequest { round: id, dates, reason }).await?.into_inner();
            print(ctx.format, &r, one)
        }
        RoundCmd::Approve { id } => {
            let id = round_id(id).await?;
            print(ctx.format, &client.advance_round(advance(id, RoundStatus::Approved)).await?.into_inner(), one)
        }
        RoundCmd::Start { id } => {
            let id = round_id(id).await?;
            print(ctx.format, &client.advance_round(advance(id, RoundStatus::InProgress)).await?.into_inner(), one)
        }
        RoundCmd::Close { id } => {
            let id = round_id(id).await?;
            print(ctx.format, &client.advance_round(advance(id, RoundStatus::Closed)).await?.into_inner(), one)
        }
    }
}

pub async fn group(ctx: &Ctx, c: GroupCmd) -> anyhow::Result<()> {
    let mut client = RoundServiceClient::new(ctx.channel.clone());
    let g = match c {
        GroupCmd::Form { round, name, leader, members, reason } => {
            let round = refs::round(&ctx.channel, &round).await?;
            let leader = refs::person(&ctx.channel, &leader).await?;
            let members = refs::persons(&ctx.channel, &members).await?;
            client.form_group(pb::FormGroupRequest { round, name, leader, members, reason }).await?.into_inner()
        }
        GroupCmd::Change { group, leader, members, reason } => {
            let group = refs::group(&ctx.channel, &group).await?;
            let leader = refs::person(&ctx.channel, &leader).await?;
            let members = refs::persons(&ctx.channel, &members).await?;
            client.change_group(pb::ChangeGroupRequest { group, leader, members, reason }).await?.into_inner()
        }
    };
    let (_, persons) = names(ctx).await?;
    print(ctx.format, &g, |g| {
        let name = |id: &String| persons.get(id).cloned().unwrap_or_else(|| id.clone());
        let mut t = table(&["巡察组", "组长", "组员"]);
        t.add_row(vec![g.name.clone(), name(&g.leader), g.members.iter().map(name).collect::<Vec<_>>().join("、")]);
        t.to_string()
    })
}

pub async fn target(ctx: &Ctx, c: TargetCmd) -> anyhow::Result<()> {
    let mut client = RoundServiceClient::new(ctx.channel.clone());
    let t = match c {
        TargetCmd::Add { round, group, unit, kind, scope, assignment, reason } => {
            let kind = enum_arg::<TargetKind>("--kind", &kind)?;
            let round = refs::round(&ctx.channel, &round).await?;
            let group = refs::group_in(&ctx.channel, &round, &group).await?;
            let unit = refs::unit(&ctx.channel, &unit).await?;
            let assignment = refs::assignment(&ctx.channel, &assignment).await?;
            client
                .add_target(pb::AddTargetRequest { round, group, unit, kind, scope, assignment, reason })
                .await?
                .into_inner()
        }
        TargetCmd::Feedback { target, on } => {
            let target = refs::target(&ctx.channel, &target).await?;
            client.give_feedback(pb::GiveFeedbackRequest { target, on }).await?.into_inner()
        }
        TargetCmd::Report { target, on } => {
            let target = refs::target(&ctx.channel, &target).await?;
            client.submit_rectification_report(pb::SubmitRectificationReportRequest { target, on }).await?.into_inner()
        }
    };
    let (units, _) = names(ctx).await?;
    print(ctx.format, &t, |t| targets_table(std::slice::from_ref(t), &units))
}
