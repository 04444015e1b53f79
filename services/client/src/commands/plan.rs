use clap::Subcommand;
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::UnitKind;
use xuncha_proto::v1::unit_service_client::UnitServiceClient;

use crate::output::{print, table};
use xuncha_wire::labels::{self, Labelled};

use crate::refs::{self, NodeLabels};
use crate::{Ctx, label};

#[derive(Subcommand, Debug, Clone)]
pub enum UnitCmd {
    /// Registers a unit.
    Add {
        /// Full name.
        name: String,
        /// city_department, state_enterprise, county_department, township, village, community, other (or 市直部门, 乡镇, ...).
        #[arg(long)]
        kind: String,
        /// The parent unit by name (a village's township).
        #[arg(long, default_value = "")]
        parent: String,
    },
    /// Lists units.
    List {
        /// Only this owner's units (city, county/<code>).
        #[arg(long, default_value = "")]
        owner: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum TermCmd {
    /// Creates a term.
    Create {
        /// Name, e.g. 十四届县委.
        name: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day.
        #[arg(long)]
        to: String,
    },
    /// Adds units to or removes them from the term plan.
    Plan {
        /// The term by name, e.g. 十四届县委.
        term: String,
        /// Units to add, by name (repeatable).
        #[arg(long = "add", num_args = 1..)]
        add: Vec<String>,
        /// Units to remove, by name (repeatable).
        #[arg(long = "remove", num_args = 1..)]
        remove: Vec<String>,
    },
    /// Lists terms.
    List,
}

/// A domain enum from its Chinese label or English code, as a proto number.
pub fn enum_arg<E: Labelled>(flag: &str, text: &str) -> anyhow::Result<i32> {
    labels::parse::<E>(text)
        .map(Into::into)
        .ok_or_else(|| anyhow::anyhow!("{flag}: '{text}' is not one of {}", labels::choices::<E>()))
}

pub fn units_table(units: &[pb::Unit], nodes: &NodeLabels) -> String {
    let mut t = table(&["名称", "类型", "归属"]);
    for u in units {
        t.add_row(vec![
            u.name.clone(),
            label::<UnitKind>(u.kind).into(),
            u.meta.as_ref().map(|m| nodes.label(&m.owner)).unwrap_or_default(),
        ]);
    }
    t.to_string()
}

pub fn terms_table(terms: &[pb::Term]) -> String {
    let mut t = table(&["届次", "起止", "规划单位数"]);
    for x in terms {
        let w = x.window.as_ref().map(|w| format!("{}~{}", w.from, w.to)).unwrap_or_default();
        t.add_row(vec![x.name.clone(), w, x.planned_units.len().to_string()]);
    }
    t.to_string()
}

pub async fn unit(ctx: &Ctx, c: UnitCmd) -> anyhow::Result<()> {
    let mut client = UnitServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    match c {
        UnitCmd::Add { name, kind, parent } => {
            let kind = enum_arg::<UnitKind>("--kind", &kind)?;
            let parent = refs::unit(&ctx.channel, &parent).await?;
            let u = client.register_unit(pb::RegisterUnitRequest { name, kind, parent }).await?.into_inner();
            print(ctx.format, &u, |u| units_table(std::slice::from_ref(u), &nodes))
        }
        UnitCmd::List { owner } => {
            let r = client.list_units(pb::ListUnitsRequest { owner }).await?.into_inner();
            print(ctx.format, &r, |r| units_table(&r.units, &nodes))
        }
    }
}

pub async fn term(ctx: &Ctx, c: TermCmd) -> anyhow::Result<()> {
    let mut client = UnitServiceClient::new(ctx.channel.clone());
    match c {
        TermCmd::Create { name, from, to } => {
            let window = Some(pb::DateWindow { from, to });
            let t = client.create_term(pb::CreateTermRequest { name, window }).await?.into_inner();
            print(ctx.format, &t, |t| terms_table(std::slice::from_ref(t)))
        }
        TermCmd::Plan { term, add, remove } => {
            let term = refs::term(&ctx.channel, &term).await?;
            let add = refs::units(&ctx.channel, &add).await?;
            let remove = refs::units(&ctx.channel, &remove).await?;
            let t = client.plan_units(pb::PlanUnitsRequest { term, add, remove }).await?.into_inner();
            print(ctx.format, &t, |t| terms_table(std::slice::from_ref(t)))
        }
        TermCmd::List => {
            let r = client.list_terms(pb::ListTermsRequest {}).await?.into_inner();
            print(ctx.format, &r, |r| terms_table(&r.terms))
        }
    }
}
