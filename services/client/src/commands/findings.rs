use std::collections::HashMap;

use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::finding_service_client::FindingServiceClient;
use xuncha_proto::v1::lead_service_client::LeadServiceClient;
use xuncha_proto::v1::{CategoryGroup, FindingStatus, LeadRoute, LeadStatus};

use super::plan::enum_arg;
use crate::output::{print, table};
use crate::{Ctx, label, refs};

#[derive(Subcommand, Debug, Clone)]
pub enum FindingCmd {
    /// Records a finding at a target.
    Record {
        /// The target: its unit's name (or 第七轮:单位名).
        #[arg(long)]
        target: String,
        /// Category code (see `category list`).
        #[arg(long)]
        category: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: String,
        /// Extra tags (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Lists findings.
    List {
        #[arg(long, default_value = "")]
        round: String,
        /// A target (a revisit lists the findings it inherited too).
        #[arg(long, default_value = "")]
        target: String,
        #[arg(long, default_value = "")]
        unit: String,
        #[arg(long, default_value = "")]
        category: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum CategoryCmd {
    /// Lists categories.
    List,
    /// Adds a category.
    Add {
        /// Code (a-z, 0-9, '.', '_').
        code: String,
        #[arg(long)]
        name: String,
        /// three_big_problems, six_disciplines, four_styles, cadre_selection, other.
        #[arg(long)]
        group: String,
        /// discipline_commission, organisation_department, functional_department.
        #[arg(long)]
        route: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum LeadCmd {
    /// Hands over a lead, routed by the finding's category.
    Handover {
        /// The finding: its number (问题〔2026〕42号) or id.
        #[arg(long)]
        finding: String,
        #[arg(long)]
        summary: String,
        /// Send to this functional department instead of the category's route.
        #[arg(long)]
        department: Option<String>,
    },
    /// The receiving body acknowledges.
    Ack {
        /// The lead: its finding's number (问题〔2026〕42号).
        lead: String,
        /// Who at the body.
        #[arg(long)]
        by: String,
    },
    /// The receiving body reports the result.
    Result {
        /// The lead: its finding's number.
        lead: String,
        #[arg(long)]
        result: String,
    },
    /// Releases a county lead to the city.
    Release {
        /// The lead: its finding's number.
        lead: String,
    },
    /// Lists leads held here.
    List {
        #[arg(long, default_value = "")]
        round: String,
    },
}

/// Category names by code.
async fn category_names(ctx: &Ctx) -> anyhow::Result<HashMap<String, String>> {
    let mut client = FindingServiceClient::new(ctx.channel.clone());
    let r = client.list_categories(pb::ListCategoriesRequest {}).await?.into_inner();
    Ok(r.categories.into_iter().map(|c| (c.code, c.name)).collect())
}

fn findings_table(findings: &[pb::Finding], categories: &HashMap<String, String>) -> String {
    let mut t = table(&["编号", "问题", "类别", "状态"]);
    for f in findings {
        t.add_row(vec![
            f.reference.clone(),
            f.title.clone(),
            categories.get(&f.category).cloned().unwrap_or_else(|| f.category.clone()),
            label::<FindingStatus>(f.status).into(),
        ]);
    }
    format!("{t}\n共{}个问题", findings.len())
}

/// Findings' numbers by id: a lead is cited by its finding's number.
async fn finding_numbers(ctx: &Ctx) -> anyhow::Result<HashMap<String, String>> {
    let mut client = FindingServiceClient::new(ctx.channel.clone());
    let r = client.list_findings(pb::ListFindingsRequest::default()).await?.into_inner();
    Ok(r.findings.into_iter().map(|f| (f.id, f.reference)).collect())
}

fn leads_table(leads: &[pb::Lead], numbers: &HashMap<String, String>) -> String {
    let mut t = table(&["问题编号", "移交", "接收单位", "状态", "接收人", "结果", "已报市"]);
    for l in leads {
        let receiver =
            l.receiver
                .as_ref()
                .map(|r| {
                    if r.department.is_empty() { label::<LeadRoute>(r.route).to_string() } else { r.department.clone() }
                })
                .unwrap_or_default();
        t.add_row(vec![
            numbers.get(&l.finding).cloned().unwrap_or_default(),
            l.handed_over_on.clone(),
            receiver,
            label::<LeadStatus>(l.status).into(),
            l.acknowledged_by.clone(),
            l.result.clone(),
            if l.released_to_city { "是" } else { "" }.into(),
        ]);
    }
    t.to_string()
}

pub async fn finding(ctx: &Ctx, c: FindingCmd) -> anyhow::Result<()> {
    let mut client = FindingServiceClient::new(ctx.channel.clone());
    let categories = category_names(ctx).await?;
    match c {
        FindingCmd::Record { target, category, title, description, tags } => {
            let target = refs::target(&ctx.channel, &target).await?;
            let f = client
                .record_finding(pb::RecordFindingRequest { target, category, tags, title, description })
                .await?
                .into_inner();
            print(ctx.format, &f, |f| findings_table(std::slice::from_ref(f), &categories))
        }
        FindingCmd::List { round, target, unit, category } => {
            let round = if round.is_empty() { round } else { refs::round(&ctx.channel, &round).await? };
            let target = refs::target(&ctx.channel, &target).await?;
            let unit = refs::unit(&ctx.channel, &unit).await?;
            let r = client.list_findings(pb::ListFindingsRequest { round, target, unit, category }).await?.into_inner();
            print(ctx.format, &r, |r| findings_table(&r.findings, &categories))
        }
    }
}

pub async fn category(ctx: &Ctx, c: CategoryCmd) -> anyhow::Result<()> {
    let mut client = FindingServiceClient::new(ctx.channel.clone());
    let render = |cs: &[pb::Category]| {
        let mut t = table(&["代码", "类别", "分组", "线索移交"]);
        for c in cs {
            t.add_row(vec![
                c.code.clone(),
                c.name.clone(),
                label::<CategoryGroup>(c.group).into(),
                label::<LeadRoute>(c.route).into(),
            ]);
        }
        t.to_string()
    };
    match c {
        CategoryCmd::List => {
            let r = client.list_categories(pb::ListCategoriesRequest {}).await?.into_inner();
            print(ctx.format, &r, |r| render(&r.categories))
        }
        CategoryCmd::Add { code, name, group, route } => {
            let group = enum_arg::<CategoryGroup>("--group", &group)?;
            let route = enum_arg::<LeadRoute>("--route", &route)?;
            let c = client.add_category(pb::AddCategoryRequest { code, name, group, route }).await?.into_inner();
            print(ctx.format, &c, |c| render(std::slice::from_ref(c)))
        }
    }
}

pub async fn lead(ctx: &Ctx, c: LeadCmd) -> anyhow::Result<()> {
    let mut client = LeadServiceClient::new(ctx.channel.clone());
    let l = match c {
        LeadCmd::Handover { finding, summary, department } => {
            let finding = crate::refs::finding(&ctx.channel, &finding).await?;
            let receiver = department
                .map(|d| pb::LeadReceiver { route: pb::LeadRoute::FunctionalDepartment as i32, department: d });
            client.hand_over_lead(pb::HandOverLeadRequest { finding, summary, receiver }).await?.into_inner()
        }
        LeadCmd::Ack { lead, by } => {
            let lead = refs::lead(&ctx.channel, &lead).await?;
            client.acknowledge_lead(pb::AcknowledgeLeadRequest { lead, by }).await?.into_inner()
        }
        LeadCmd::Result { lead, result } => {
            let lead = refs::lead(&ctx.channel, &lead).await?;
            client.report_lead_result(pb::ReportLeadResultRequest { lead, result }).await?.into_inner()
        }
        LeadCmd::Release { lead } => {
            let lead = refs::lead(&ctx.channel, &lead).await?;
            client.release_lead(pb::ReleaseLeadRequest { lead }).await?.into_inner()
        }
        LeadCmd::List { round } => {
            let round = if round.is_empty() { round } else { refs::round(&ctx.channel, &round).await? };
            let r = client.list_leads(pb::ListLeadsRequest { round, status: 0 }).await?.into_inner();
            let numbers = finding_numbers(ctx).await?;
            return print(ctx.format, &r, |r| leads_table(&r.leads, &numbers));
        }
    };
    let numbers = finding_numbers(ctx).await?;
    print(ctx.format, &l, |l| leads_table(std::slice::from_ref(l), &numbers))
}
