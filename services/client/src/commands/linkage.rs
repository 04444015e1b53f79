use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::AssignmentStage;
use xuncha_proto::v1::linkage_service_client::LinkageServiceClient;

use crate::output::{print, table};
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

fn assignments_table(list: &[pb::LinkedAssignment]) -> String {
    let mut t = table(&["ID", "县", "城市轮次", "任务", "期限", "阶段", "进度"]);
    for a in list {
        t.add_row(vec![
            a.id.clone(),
            a.county.clone(),
            a.round.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            a.tasks.clone(),
            a.due_on.clone(),
            label::<AssignmentStage>(a.stage).into(),
            a.response.as_ref().map(|r| format!("{}%", r.progress_percent)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

fn secondments_table(list: &[pb::Secondment]) -> String {
    let mut t = table(&["ID", "人员", "县", "期间", "事由", "决定"]);
    for s in list {
        let w = s.window.as_ref().map(|w| format!("{}~{}", w.from, w.to)).unwrap_or_default();
        t.add_row(vec![s.id.clone(), s.person.clone(), s.county.clone(), w, s.purpose.clone(), s.decision.clone()]);
    }
    t.to_string()
}

pub async fn linkage(ctx: &Ctx, c: LinkageCmd) -> anyhow::Result<()> {
    let mut client = LinkageServiceClient::new(ctx.channel.clone());
    let a = match c {
        LinkageCmd::Plan { round, name, units } => {
            let p = client
                .create_plan(pb::CreateLinkagePlanRequest { round, name, linked_units: units })
                .await?
                .into_inner();
            return print(ctx.format, &p, |p| {
                format!("联动方案 {} 「{}」,联动单位{}个", p.id, p.name, p.linked_units.len())
            });
        }
        LinkageCmd::Plans => {
            let r = client.list_plans(pb::ListLinkagePlansRequest {}).await?.into_inner();
            return print(ctx.format, &r, |r| {
                let mut t = table(&["ID", "方案", "城市轮次", "联动单位数"]);
                for p in &r.plans {
                    t.add_row(vec![
                        p.id.clone(),
                        p.name.clone(),
                        p.round.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
                        p.linked_units.len().to_string(),
                    ]);
                }
                t.to_string()
            });
        }
        LinkageCmd::Assign { plan, county, tasks, due } => {
            client.issue_assignment(pb::IssueAssignmentRequest { plan, county, tasks, due_on: due }).await?.into_inner()
        }
        LinkageCmd::Respond { assignment, decline, reason } => client
            .respond_assignment(pb::RespondAssignmentRequest { assignment, accept: !decline, reason })
            .await?
            .into_inner(),
        LinkageCmd::Progress { assignment, percent, note } => client
            .report_progress(pb::ReportAssignmentProgressRequest { assignment, percent, note })
            .await?
            .into_inner(),
        LinkageCmd::Report { assignment, summary, units, problems } => client
            .submit_report(pb::SubmitLinkedReportRequest {
                assignment,
                summary,
                units_inspected: units,
                problems_found: problems,
            })
            .await?
            .into_inner(),
        LinkageCmd::Review { assignment, send_back, comments } => client
            .review_report(pb::ReviewLinkedReportRequest { assignment, accept: !send_back, comments })
            .await?
            .into_inner(),
        LinkageCmd::List { county } => {
            let r =
                client.list_assignments(pb::ListAssignmentsRequest { county, plan: String::new() }).await?.into_inner();
            return print(ctx.format, &r, |r| assignments_table(&r.assignments));
        }
    };
    print(ctx.format, &a, |a| assignments_table(std::slice::from_ref(a)))
}

pub async fn secondment(ctx: &Ctx, c: SecondmentCmd) -> anyhow::Result<()> {
    let mut client = LinkageServiceClient::new(ctx.channel.clone());
    let s = match c {
        SecondmentCmd::Request { person, from, to, purpose } => client
            .request_secondment(pb::RequestSecondmentRequest {
                person,
                window: Some(pb::DateWindow { from, to }),
                purpose,
            })
            .await?
            .into_inner(),
        SecondmentCmd::Decide { request, decline, reason } => client
            .decide_secondment(pb::DecideSecondmentRequest { request, approve: !decline, reason })
            .await?
            .into_inner(),
        SecondmentCmd::List => {
            let r = client.list_secondments(pb::ListSecondmentsRequest {}).await?.into_inner();
            return print(ctx.format, &r, |r| secondments_table(&r.secondments));
        }
    };
    print(ctx.format, &s, |s| secondments_table(std::slice::from_ref(s)))
}
