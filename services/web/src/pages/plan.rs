//! 规划: each term plan (届次) with its coverage (全覆盖: planned units inspected, under
//! inspection, not yet reached), charted per node at the city; a new term, units added to or
//! taken from a plan, and new units registered.

use super::*;
use crate::charts::{BarChart, Segment};
use xuncha_domain::common::DateWindow;
use xuncha_domain::ids::{TermId, UnitId};
use xuncha_domain::model::UnitKind;
use xuncha_domain::oversight::coverage;
use xuncha_domain::term::{CreateTerm, PlanUnits, RegisterUnit};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/plan", get(plan_page))
        .route("/plan/term", post(create_term))
        .route("/plan/units", post(plan_units))
        .route("/plan/unit", post(register_unit))
}

struct TermView {
    id: String,
    owner: String,
    name: String,
    window: String,
    planned: usize,
    covered: usize,
    in_progress: usize,
    percent: u32,
    /// The first of the units not yet reached, and how many there are in all.
    uncovered: Vec<String>,
    uncovered_total: usize,
    own: bool,
    /// This node's units not in the plan, for adding (the first of them, by name).
    unplanned: Vec<(String, String)>,
    unplanned_total: usize,
}

/// Units a page lists by name before it says how many more there are.
const LISTED_UNITS: usize = 200;

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    frame: Frame,
    terms: Vec<TermView>,
    chart: Option<BarChart>,
    may_manage: bool,
    kinds: Vec<&'static str>,
    error: Option<String>,
    done: Option<String>,
}

async fn plan_page(State(app): State<App>, signed: Signed) -> Response {
    render(&app, &signed, None, None).await
}

async fn render(app: &App, signed: &Signed, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::PlanRead) {
        return forbidden("您没有查看巡察规划的权限。");
    }
    let frame = Frame::of(app, signed, "/plan").await;
    let who = signed.who.clone();
    let site = app.site.clone();
    let terms = app
        .api
        .engine()
        .read(move |s| {
            let mut terms: Vec<_> = s.terms.values().filter(|t| who.may(s, Permission::PlanRead, *t)).collect();
            // This node's first, then by node, the latest term first.
            terms.sort_by_key(|t| {
                (t.meta.owner != site.node, t.meta.owner.to_string(), std::cmp::Reverse(t.window.from))
            });
            let unit_name = |u: &UnitId| s.units.get(u).map(|x| x.name.clone()).unwrap_or_default();
            terms
                .into_iter()
                .map(|t| {
                    let c = coverage(s, t);
                    let own = t.meta.owner == site.node;
                    let mut unplanned: Vec<_> = if own {
                        s.units
                            .values()
                            .filter(|u| u.meta.owner == site.node && !t.planned_units.contains(&u.id))
                            .map(|u| (u.id.to_string(), u.name.clone()))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    unplanned.sort_by(|a, b| a.1.cmp(&b.1));
                    let unplanned_total = unplanned.len();
                    unplanned.truncate(LISTED_UNITS);
                    TermView {
                        id: t.id.to_string(),
                        owner: site.node_name(&t.meta.owner),
                        name: t.name.clone(),
                        window: zh::window(&t.window),
                        planned: c.planned,
                        covered: c.covered,
                        in_progress: c.in_progress,
                        percent: c.percent.round() as u32,
                        uncovered: c.uncovered.iter().take(LISTED_UNITS).map(unit_name).collect(),
                        uncovered_total: c.uncovered.len(),
                        own,
                        unplanned,
                        unplanned_total,
                    }
                })
                .collect::<Vec<_>>()
        })
        .await;
    let chart = (terms.len() > 1).then(|| {
        let mut chart = BarChart::new("各届次规划覆盖情况", vec![("covered", "已覆盖"), ("active", "正在巡察")]);
        for t in terms.iter().filter(|t| t.planned > 0) {
            let planned = t.planned as f64;
            chart.bar(
                format!("{}{}", t.owner, t.name),
                vec![
                    Segment::new(t.covered as f64 / planned, "covered", format!("已覆盖{}个单位", t.covered)),
                    Segment::new(t.in_progress as f64 / planned, "active", format!("正在巡察{}个单位", t.in_progress)),
                ],
                format!("{}%({}/{})", t.percent, t.covered, t.planned),
            );
        }
        chart
    });
    let kinds = UnitKind::VARIANTS.iter().map(|(_, zh, _)| *zh).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let may_manage = signed.who.holds(Permission::PlanManage);
    (status, page(PlanPage { frame, terms, chart, may_manage, kinds, error, done })).into_response()
}

async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, None, Some(done)).await,
        Err(e) => render(app, signed, Some(refusal(&e)), None).await,
    }
}

#[derive(Deserialize)]
struct TermForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

async fn create_term(State(app): State<App>, posted: Posted<TermForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let from = parse_date("starts_on", &f.from).map_err(ApiError::Domain)?;
        let to = parse_date("ends_on", &f.to).map_err(ApiError::Domain)?;
        let window = DateWindow::new("window", from, to).map_err(ApiError::Domain)?;
        run(&app, &signed.who, Command::CreateTerm(CreateTerm { name: f.name.trim().to_string(), window })).await?;
        Ok(format!("已新建届次「{}」。", f.name.trim()))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct UnitsForm {
    #[serde(default)]
    term: String,
    /// `add_<id>` / `remove_<id>` checkboxes.
    #[serde(flatten)]
    chosen: std::collections::BTreeMap<String, String>,
}

async fn plan_units(State(app): State<App>, posted: Posted<UnitsForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let term =
            TermId::parse("term", &f.term).map_err(|_| ApiError::Domain(DomainError::invalid("term", "请选择届次")))?;
        let ids = |prefix: &str| -> Vec<UnitId> {
            f.chosen
                .keys()
                .filter_map(|k| k.strip_prefix(prefix))
                .filter_map(|id| UnitId::parse("units", id).ok())
                .collect()
        };
        let (add, remove) = (ids("add_"), ids("remove_"));
        let (added, removed) = (add.len(), remove.len());
        run(&app, &signed.who, Command::PlanUnits(PlanUnits { term, add, remove })).await?;
        Ok(format!("规划已更新:增加{added}个单位,移出{removed}个单位。"))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct UnitForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

async fn register_unit(State(app): State<App>, posted: Posted<UnitForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let kind = UnitKind::parse_label(&f.kind)
            .ok_or_else(|| ApiError::Domain(DomainError::invalid("unit_kind", "请选择单位类别")))?;
        let command = Command::RegisterUnit(RegisterUnit { name: f.name.trim().to_string(), kind, parent: None });
        run(&app, &signed.who, command).await?;
        Ok(format!("已登记单位「{}」。", f.name.trim()))
    }
    .await;
    after(&app, &signed, outcome).await
}
