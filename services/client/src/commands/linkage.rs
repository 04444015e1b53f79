use std::collections::HashMap;

use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::AssignmentStage;
use xuncha_proto::v1::linkage_service_client::LinkageServiceClient;

use crate::output::{print, table};
use crate::refs::{self, NodeLabels};
use crate::{Ctx, label};

#[derive(Subcommand, Debug, Clone)]
pub enum LinkageCmd {
    /// Creates a linkage plan for a city round (city).
    Plan {
        #[arg(long)]
        round: String,
        #[arg(long)]
        name: String,
        /// City units of the round inspected in linkage (repeatable).
        #[arg(long = "unit", required = true)]
        units: Vec<String>,
    },
    /// Lists linkage plans.
    Plans,
    /// Issues an assignment to a county (city).
    Assign {
        #[arg(long)]
        plan: String,
        /// County code.
        #[arg(long)]
        county: String,
        #[arg(long)]
        tasks: String,
        /// Due (YYYY-MM-DD).
        #[arg(long)]
        due: String,
    },
    /// Accepts or declines an assignment (county).
    Respond {
        assignment: String,
        /// Decline instead of accepting.
        #[arg(long)]
        decline: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reports progress (county).
    Progress {
        assignment: String,
        #[arg(long)]
        percent: u32,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Submits or resubmits the linked report (county).
    Report {
        assignment: String,
        #[arg(long)]
        summary: String,
        #[arg(long, default_value_t = 0)]
        units: u32,
        #[arg(long, default_value_t = 0)]
        problems: u32,
    },
    /// Reviews the latest report (city).
    Review {
        assignment: String,
        /// Return for rework instead of accepting.
        #[arg(long = "return")]
        send_back: bool,
        #[arg(long, default_value = "")]
        comments: String,
    },
    /// Lists assignments with their stage.
    List {
        #[arg(long, default_value = "")]
        county: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum SecondmentCmd {
    /// Asks a county for one of its pool persons (city).
    Request {
        #[arg(long)]
        person: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        purpose: String,
    },
    /// Approves or declines a request (county).
    Decide {
        request: String,
        #[arg(long)]
        decline: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lists secondments.
    List,
}

fn assignments_table(list: &[pb::LinkedAssignment], nodes: &NodeLabels) -> String {
    let mut t = table(&["县", "城市轮次", "任务", "期限", "阶段", "进度"]);
    for a in list {
        t.add_row(vec![
            nodes.county(&a.county),
            a.round.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            a.tasks.clone(),
            a.due_on.clone(),
            label::<AssignmentStage>(a.stage).into(),
            a.response.as_ref().map(|r| format!("{}%", r.progress_percent)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

fn secondments_table(list: &[pb::Secondment], nodes: &NodeLabels, persons: &HashMap<String, String>) -> String {
    let mut t = table(&["人员", "县", "期间", "事由", "决定"]);
    for s in list {
        let w = s.window.as_ref().map(|w| format!("{}~{}", w.from, w.to)).unwrap_or_default();
        let decision = match s.decision.as_str() {
            "" | "pending" => "待决定",
            "approved" => "同意",
            "declined" => "不同意",
            other => other,
        };
        let person = persons.get(&s.person).cloned().unwrap_or_else(|| s.person.clone());
        t.add_row(vec![person, nodes.county(&s.county), w, s.purpose.clone(), decision.to_string()]);
    }
    t.to_string()
}

/// A linkage plan's id from its name, its round (第七轮, the round's name) or its id.
async fn plan_id(ctx: &Ctx, text: &str) -> anyhow::Result<String> {
    if uuid::Uuid::parse_str(text.trim()).is_ok() {
        return Ok(text.trim().to_string());
    }
    let plans = LinkageServiceClient::new(ctx.channel.clone())
        .list_plans(pb::ListLinkagePlansRequest {})
        .await?
        .into_inner()
        .plans;
    let named: Vec<_> = plans.iter().filter(|p| p.name == text.trim()).collect();
    let found: Vec<_> = if named.is_empty() {
        let round = refs::round(&ctx.channel, text).await?;
        plans.iter().filter(|p| p.round.as_ref().is_some_and(|r| r.round == round)).collect()
    } else {
        named
    };
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("没有“{text}”的联动方案"),
        _ => anyhow::bail!("“{text}”对应多个联动方案,请写方案的全称"),
    }
}

/// A secondment request's id from the person's name (their undecided request) or its id.
async fn request_id(ctx: &Ctx, text: &str) -> anyhow::Result<String> {
    if uuid::Uuid::parse_str(text.trim()).is_ok() {
        return Ok(text.trim().to_string());
    }
    let person = refs::person(&ctx.channel, text).await?;
    let list = LinkageServiceClient::new(ctx.channel.clone())
        .list_secondments(pb::ListSecondmentsRequest {})
        .await?
        .into_inner()
        .secondments;
    let open: Vec<_> =
        list.iter().filter(|s| s.person == person && matches!(s.decision.as_str(), "" | "pending")).collect();
    match open.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("{text}没有待决定的抽调申请"),
        _ => anyhow::bail!("{text}有多个待决定的抽调申请,请用 --output json 查看后给出申请 id"),
    }
}

pub async fn linkage(ctx: &Ctx, c: LinkageCmd) -> anyhow::Result<()> {
    let mut client = LinkageServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    let a = match c {
        LinkageCmd::Plan { round, name, units } => {
            let round = refs::round(&ctx.channel, &round).await?;
            let units = refs::units(&ctx.channel, &units).await?;
            let p = client
                .create_plan(pb::CreateLinkagePlanRequest { round, name, linked_units: units })
                .await?
                .into_inner();
            return print(ctx.format, &p, |p| {
                format!("已制定联动方案「{}」,联动单位{}个", p.name, p.linked_units.len())
            });
        }
        LinkageCmd::Plans => {
            let r = client.list_plans(pb::ListLinkagePlansRequest {}).await?.into_inner();
            return print(ctx.format, &r, |r| {
                let mut t = table(&["方案", "城市轮次", "联动单位数"]);
                for p in &r.plans {
                    t.add_row(vec![
                        p.name.clone(),
                        p.round.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
                        p.linked_units.len().to_string(),
                    ]);
                }
                t.to_string()
            });
        }
        LinkageCmd::Assign { plan, county, tasks, due } => {
            let plan = plan_id(ctx, &plan).await?;
            client.issue_assignment(pb::IssueAssignmentRequest { plan, county, tasks, due_on: due }).await?.into_inner()
        }
        LinkageCmd::Respond { assignment, decline, reason } => {
            let assignment = refs::assignment(&ctx.channel, &assignment).await?;
            client
                .respond_assignment(pb::RespondAssignmentRequest { assignment, accept: !decline, reason })
                .await?
                .into_inner()
        }
        LinkageCmd::Progress { assignment, percent, note } => {
            let assignment = refs::assignment(&ctx.channel, &assignment).await?;
            client
                .report_progress(pb::ReportAssignmentProgressRequest { assignment, percent, note })
                .await?
                .into_inner()
        }
        LinkageCmd::Report { assignment, summary, units, problems } => {
            let assignment = refs::assignment(&ctx.channel, &assignment).await?;
            client
                .submit_report(pb::SubmitLinkedReportRequest {
                    assignment,
                    summary,
                    units_inspected: units,
                    problems_found: problems,
                })
                .await?
                .into_inner()
        }
        LinkageCmd::Review { assignment, send_back, comments } => {
            let assignment = refs::assignment(&ctx.channel, &assignment).await?;
            client
                .review_report(pb::ReviewLinkedReportRequest { assignment, accept: !send_back, comments })
                .await?
                .into_inner()
        }
        LinkageCmd::List { county } => {
            let r =
                client.list_assignments(pb::ListAssignmentsRequest { county, plan: String::new() }).await?.into_inner();
            return print(ctx.format, &r, |r| assignments_table(&r.assignments, &nodes));
        }
    };
    print(ctx.format, &a, |a| assignments_table(std::slice::from_ref(a), &nodes))
}

pub async fn secondment(ctx: &Ctx, c: SecondmentCmd) -> anyhow::Result<()> {
    let mut client = LinkageServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    let (_, persons) = super::rounds::names(ctx).await?;
    let s = match c {
        SecondmentCmd::Request { person, from, to, purpose } => {
            let person = refs::person(&ctx.channel, &person).await?;
            client
                .request_secondment(pb::RequestSecondmentRequest {
                    person,
                    window: Some(pb::DateWindow { from, to }),
                    purpose,
                })
                .await?
                .into_inner()
        }
        SecondmentCmd::Decide { request, decline, reason } => {
            let request = request_id(ctx, &request).await?;
            client
                .decide_secondment(pb::DecideSecondmentRequest { request, approve: !decline, reason })
                .await?
                .into_inner()
        }
        SecondmentCmd::List => {
            let r = client.list_secondments(pb::ListSecondmentsRequest {}).await?.into_inner();
            return print(ctx.format, &r, |r| secondments_table(&r.secondments, &nodes, &persons));
        }
    };
    print(ctx.format, &s, |s| secondments_table(std::slice::from_ref(s), &nodes, &persons))
}
