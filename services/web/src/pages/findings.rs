//! 问题与线索: the findings of the rounds the person may see, by category, with the leads
//! handed over from them (移交 → 接收 → 结果); recording a finding against a target, and
//! each step of a lead's handover.

use super::*;
use xuncha_api::conv::finding::FINDING_WORD;
use xuncha_api::tabular::{ExportError, PrintRows, RowSink, SheetWriter};
use xuncha_domain::finding::{AcknowledgeLead, HandOverLead, RecordFinding, ReportLeadResult};
use xuncha_domain::ids::{FindingId, LeadId, TargetId};
use xuncha_domain::model::LeadStatus;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/findings", get(findings_page).post(record_finding))
        .route("/findings.xlsx", get(export))
        .route("/findings/print", get(print))
        .route("/findings/hand-over", post(hand_over))
        .route("/findings/acknowledge", post(acknowledge))
        .route("/findings/result", post(report_result))
}

struct LeadRow {
    id: String,
    receiver: String,
    summary: String,
    status: &'static str,
    handed_over_on: String,
    acknowledged_by: String,
    result: String,
    may_acknowledge: bool,
    may_report: bool,
}

struct FindingRow {
    id: String,
    reference: String,
    round: String,
    unit: String,
    category: String,
    title: String,
    description: String,
    status: &'static str,
    leads: Vec<LeadRow>,
    may_hand_over: bool,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Default, Deserialize)]
struct FindingForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    frame: Frame,
    rows: Vec<FindingRow>,
    total: usize,
    page: usize,
    pages: usize,
    targets: Vec<Choice>,
    categories: Vec<Choice>,
    form: FindingForm,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Default, Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: Option<usize>,
}

async fn findings_page(State(app): State<App>, signed: Signed, Query(q): Query<PageQuery>) -> Response {
    render(&app, &signed, q.page.unwrap_or(1), FindingForm::default(), None, None).await
}

async fn render(
    app: &App,
    signed: &Signed,
    page_no: usize,
    form: FindingForm,
    error: Option<String>,
    done: Option<String>,
) -> Response {
    if !signed.who.holds(Permission::FindingRead) {
        return forbidden("您没有查看问题与线索的权限。");
    }
    let frame = Frame::of(app, signed, "/findings").await;
    let who = signed.who.clone();
    let page_no = page_no.max(1);
    let me = app.site.node.clone();
    let site = app.site.clone();
    let (rows, total, targets, categories) = app
        .api
        .engine()
        .read(move |s| {
            let findings = visible_findings(s, &who);
            let total = findings.len();
            let shown: Vec<_> = findings.into_iter().skip((page_no - 1) * PAGE_ROWS).take(PAGE_ROWS).collect();
            // The page's leads in one pass over the leads, not one per row.
            let mut leads_of: std::collections::BTreeMap<FindingId, Vec<&xuncha_domain::model::Lead>> =
                shown.iter().map(|f| (f.id, Vec::new())).collect();
            for l in s.leads.values() {
                if let Some(list) = leads_of.get_mut(&l.finding)
                    && who.may(s, Permission::LeadRead, l)
                {
                    list.push(l);
                }
            }
            let rows = shown
                .into_iter()
                .map(|f| {
                    let leads = leads_of
                        .remove(&f.id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|l| LeadRow {
                            id: l.id.to_string(),
                            receiver: l.receiver.label_zh(),
                            summary: l.summary.clone(),
                            status: l.status.label_zh(),
                            handed_over_on: zh::date(l.handed_over_on),
                            acknowledged_by: l.acknowledged_by.clone().unwrap_or_default(),
                            result: l.result.clone().unwrap_or_default(),
                            may_acknowledge: l.status == LeadStatus::HandedOver
                                && who.may(s, Permission::LeadReceive, l),
                            may_report: l.status == LeadStatus::Acknowledged && who.may(s, Permission::LeadReceive, l),
                        })
                        .collect();
                    FindingRow {
                        id: f.id.to_string(),
                        reference: cited(&site, &f.meta.owner, f.reference, FINDING_WORD),
                        round: s.rounds.get(&f.round).map(|r| zh::round_ref(r.number)).unwrap_or_default(),
                        unit: s.units.get(&f.unit).map(|u| u.name.clone()).unwrap_or_default(),
                        category: s.categories.get(&f.category).map(|c| c.name.clone()).unwrap_or_default(),
                        title: f.title.clone(),
                        description: f.description.clone(),
                        status: f.status.label_zh(),
                        leads,
                        may_hand_over: who.may(s, Permission::LeadHandOver, f),
                    }
                })
                .collect();
            // Where the person may record: the targets of rounds still on site or giving feedback.
            let mut targets: Vec<_> = s
                .targets
                .values()
                .filter(|t| t.meta.owner == me && who.may(s, Permission::FindingRecord, *t))
                .filter(|t| t.feedback_on.is_none())
                .filter_map(|t| {
                    let round = s.rounds.get(&t.round)?;
                    // Findings are recorded while the groups are on site.
                    xuncha_domain::round::require_groups_entered(round, "").ok()?;
                    let unit = s.units.get(&t.unit)?;
                    let group = s.groups.get(&t.group).map(|g| g.name.as_str()).unwrap_or_default();
                    let label = format!("{} · {}({group})", zh::round_ref(round.number), unit.name);
                    Some((std::cmp::Reverse(round.number), label, t.id))
                })
                .collect();
            targets.sort();
            let targets = targets.into_iter().map(|(_, label, id)| Choice { value: id.to_string(), label }).collect();
            let mut categories: Vec<_> = s.categories.values().filter(|c| c.active).collect();
            categories.sort_by(|a, b| (a.group, &a.code).cmp(&(b.group, &b.code)));
            let categories = categories
                .into_iter()
                .map(|c| Choice { value: c.code.clone(), label: format!("{}:{}", c.group.label_zh(), c.name) })
                .collect();
            (rows, total, targets, categories)
        })
        .await;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let body = page(FindingsPage { frame, rows, total, page: page_no, pages, targets, categories, form, error, done });
    (status, body).into_response()
}

/// The findings `who` may read: the latest round first, then by unit and title. Sort keys are
/// taken once (the round's number looked up once per finding, not per comparison).
fn visible_findings<'s>(s: &'s xuncha_domain::State, who: &Principal) -> Vec<&'s xuncha_domain::model::Finding> {
    let mut findings: Vec<_> = s
        .findings
        .values()
        .filter(|f| who.may(s, Permission::FindingRead, *f))
        .map(|f| (std::cmp::Reverse(s.rounds.get(&f.round).map(|r| r.number)), f.unit, f.title.as_str(), f))
        .collect();
    findings.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    findings.into_iter().map(|k| k.3).collect()
}

/// The columns of the findings' export and print view.
const FINDING_COLUMNS: [&str; 9] =
    ["编号", "节点", "轮次", "被巡察单位", "类别", "问题", "具体情况", "状态", "问题线索"];

/// Every finding `who` may read, with its leads in words, into `sink`.
fn finding_rows(
    s: &xuncha_domain::State,
    who: &Principal,
    site: &crate::Site,
    sink: &mut dyn RowSink,
) -> Result<(), ExportError> {
    let mut leads_of: std::collections::HashMap<FindingId, Vec<String>> = std::collections::HashMap::new();
    for l in s.leads.values().filter(|l| who.may(s, Permission::LeadRead, *l)) {
        leads_of.entry(l.finding).or_default().push(format!("移交{}({})", l.receiver.label_zh(), l.status.label_zh()));
    }
    for f in visible_findings(s, who) {
        sink.push_row(&[
            f.reference.cite(FINDING_WORD),
            site.node_name(&f.meta.owner),
            s.rounds.get(&f.round).map(|r| r.name.clone()).unwrap_or_default(),
            s.units.get(&f.unit).map(|u| u.name.clone()).unwrap_or_default(),
            s.categories.get(&f.category).map(|c| c.name.clone()).unwrap_or_default(),
            f.title.clone(),
            f.description.clone(),
            f.status.label_zh().to_string(),
            leads_of.remove(&f.id).unwrap_or_default().join(";"),
        ])?;
    }
    Ok(())
}

/// Every finding the person may read, as an XLSX workbook.
async fn export(State(app): State<App>, signed: Signed) -> Response {
    if !signed.who.holds(Permission::FindingRead) {
        return forbidden("您没有查看问题与线索的权限。");
    }
    let (who, site) = (signed.who.clone(), app.site.clone());
    let workbook = app
        .api
        .engine()
        .read(move |s| {
            let mut sheet = SheetWriter::new("问题与线索", &FINDING_COLUMNS)?;
            finding_rows(s, &who, &site, &mut sheet)?;
            Ok::<_, ExportError>(sheet)
        })
        .await;
    workbook_download(&app, "问题与线索", workbook).await
}

/// Every finding the person may read, as an A4 page to print.
async fn print(State(app): State<App>, signed: Signed) -> Response {
    if !signed.who.holds(Permission::FindingRead) {
        return forbidden("您没有查看问题与线索的权限。");
    }
    let (who, site) = (signed.who.clone(), app.site.clone());
    let rows = app
        .api
        .engine()
        .read(move |s| {
            let mut rows = PrintRows::new(PRINT_ROWS);
            finding_rows(s, &who, &site, &mut rows)?;
            Ok(rows)
        })
        .await;
    print_view(&app, &signed, "问题清单", "", &FINDING_COLUMNS, rows, "/findings")
}

async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, 1, FindingForm::default(), None, Some(done)).await,
        Err(e) => render(app, signed, 1, FindingForm::default(), Some(refusal(&e)), None).await,
    }
}

fn invalid(field: &str, why: &str) -> ApiError {
    ApiError::Domain(DomainError::invalid(field, why))
}

async fn record_finding(State(app): State<App>, posted: Posted<FindingForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let target = TargetId::parse("target", &f.target).map_err(|_| invalid("target", "请选择被巡察单位"))?;
        let command = Command::RecordFinding(RecordFinding {
            target,
            category: f.category.trim().to_string(),
            tags: Default::default(),
            title: f.title.trim().to_string(),
            description: f.description.trim().to_string(),
        });
        run(&app, &signed.who, command).await?;
        Ok(format!("已记录问题「{}」。", f.title.trim()))
    }
    .await;
    match outcome {
        Ok(done) => render(&app, &signed, 1, FindingForm::default(), None, Some(done)).await,
        Err(e) => render(&app, &signed, 1, f, Some(refusal(&e)), None).await,
    }
}

#[derive(Deserialize)]
struct HandOverForm {
    #[serde(default)]
    finding: String,
    #[serde(default)]
    summary: String,
}

async fn hand_over(State(app): State<App>, posted: Posted<HandOverForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let finding = FindingId::parse("finding", &f.finding).map_err(|_| invalid("finding", "请选择问题"))?;
        let command =
            Command::HandOverLead(HandOverLead { finding, summary: f.summary.trim().to_string(), receiver: None });
        run(&app, &signed.who, command).await?;
        Ok("已按问题类别移交线索。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct LeadForm {
    #[serde(default)]
    lead: String,
    #[serde(default)]
    text: String,
}

async fn acknowledge(State(app): State<App>, posted: Posted<LeadForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let lead = LeadId::parse("lead", &f.lead).map_err(|_| invalid("lead", "请选择线索"))?;
        run(&app, &signed.who, Command::AcknowledgeLead(AcknowledgeLead { lead, by: f.text.trim().to_string() }))
            .await?;
        Ok("已登记接收。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

async fn report_result(State(app): State<App>, posted: Posted<LeadForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let lead = LeadId::parse("lead", &f.lead).map_err(|_| invalid("lead", "请选择线索"))?;
        run(&app, &signed.who, Command::ReportLeadResult(ReportLeadResult { lead, result: f.text.trim().to_string() }))
            .await?;
        Ok("已登记办理结果。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}
