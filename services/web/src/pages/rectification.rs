//! 整改台账: problem → measures → responsible → deadline → status, overdue first; progress by
//! the unit, 销号 by the office, 督办 notices that escalate (督办 → 约谈 → 问责), and the
//! table as an XLSX file.

use super::*;
use xuncha_api::conv::rectification::RECTIFICATION_WORD;
use xuncha_api::exports;
use xuncha_api::tabular::SheetWriter;
use xuncha_domain::ids::RectificationId;
use xuncha_domain::model::{
    Addressee, NoticeLevel, NoticeStatus, NoticeSubject, RectificationItem, RectificationStatus,
};
use xuncha_domain::rectification::{IssueNotice, SignOffRectification, UpdateRectification};
use xuncha_domain::{Command, State as DomainState};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/rectification", get(rectification_page))
        .route("/rectification.xlsx", get(export))
        .route("/rectification/print", get(print))
        .route("/rectification/progress", post(report_progress))
        .route("/rectification/sign-off", post(sign_off))
        .route("/rectification/notice", post(issue_notice))
}

struct RectificationRow {
    item: String,
    /// 整改〔2026〕42号, after the owner's name when another node owns it.
    reference: String,
    round: String,
    unit: String,
    problem: String,
    measures: Vec<String>,
    responsible: String,
    deadline: String,
    status: &'static str,
    overdue: bool,
    /// The notices pressing on the item, newest last: "督办(限2026年12月20日前回复)".
    notices: Vec<String>,
    may_report: bool,
    may_sign_off: bool,
    /// The level a new notice would have (督办, or the next step up), if one may be issued.
    next_notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "rectification.html")]
struct RectificationPage {
    frame: Frame,
    rows: Vec<RectificationRow>,
    only_overdue: bool,
    total: usize,
    overdue: usize,
    page: usize,
    pages: usize,
    /// What the pager's links keep of the filter.
    pager_tail: &'static str,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Default, Deserialize)]
struct LedgerQuery {
    #[serde(default)]
    overdue: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

async fn rectification_page(State(app): State<App>, signed: Signed, Query(q): Query<LedgerQuery>) -> Response {
    render(&app, &signed, q, None, None).await
}

fn late(i: &RectificationItem, today: NaiveDate) -> bool {
    i.status.is_pending() && i.deadline < today
}

/// The notices on `item`, oldest first.
fn notices_on(
    s: &DomainState,
    item: RectificationId,
) -> impl Iterator<Item = &xuncha_domain::model::SupervisionNotice> {
    let mut list: Vec<_> = s.notices.values().filter(|n| n.subject == NoticeSubject::Rectification(item)).collect();
    list.sort_by_key(|n| (n.level, n.respond_by));
    list.into_iter()
}

/// The level of the next notice on `item`: 督办 first, then one step above the highest yet.
fn next_level(s: &DomainState, item: RectificationId) -> Option<NoticeLevel> {
    match notices_on(s, item).map(|n| n.level).max() {
        None => Some(NoticeLevel::Supervision),
        Some(NoticeLevel::Supervision) => Some(NoticeLevel::Admonition),
        Some(NoticeLevel::Admonition) => Some(NoticeLevel::Accountability),
        Some(NoticeLevel::Accountability) => None,
    }
}

/// Who a notice on `item` goes to from this node: a county's item to its office, this node's
/// own item to the inspected unit.
fn addressee_of(app: &App, item: &RectificationItem) -> Addressee {
    match item.meta.owner.county_code() {
        Some(code) if app.site.is_city() => {
            Addressee::County(xuncha_domain::ids::CountyCode::parse("addressee", code).expect("a node's own code"))
        }
        _ => Addressee::Unit(item.unit),
    }
}

async fn render(app: &App, signed: &Signed, q: LedgerQuery, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::RectificationRead) {
        return forbidden("您没有查看整改台账的权限。");
    }
    let frame = Frame::of(app, signed, "/rectification").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let only_overdue = q.overdue.is_some_and(|v| v == "1");
    let page_no = q.page.unwrap_or(1).max(1);
    let site = app.site.clone();
    let (rows, total, overdue) = app
        .api
        .engine()
        .read(move |s| {
            let mut items: Vec<_> =
                s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
            let overdue = items.iter().filter(|i| late(i, today)).count();
            if only_overdue {
                items.retain(|i| late(i, today));
            }
            // Overdue first, then by deadline: what needs chasing comes to the top.
            items.sort_by_key(|i| (!late(i, today), i.deadline));
            let total = items.len();
            let rows = items
                .into_iter()
                .skip((page_no - 1) * PAGE_ROWS)
                .take(PAGE_ROWS)
                .map(|i| RectificationRow {
                    item: i.id.to_string(),
                    reference: cited(&site, &i.meta.owner, i.reference, RECTIFICATION_WORD),
                    round: s.rounds.get(&i.round).map(|r| zh::round_ref(r.number)).unwrap_or_default(),
                    unit: s.units.get(&i.unit).map(|u| u.name.clone()).unwrap_or_default(),
                    problem: s.findings.get(&i.finding).map(|f| f.title.clone()).unwrap_or_default(),
                    measures: i.measures.clone(),
                    responsible: match &i.responsible_person {
                        Some(p) => format!("{}({p})", i.responsible_unit),
                        None => i.responsible_unit.clone(),
                    },
                    deadline: zh::date(i.deadline),
                    status: i.status.label_zh(),
                    overdue: late(i, today),
                    notices: notices_on(s, i.id)
                        .map(|n| {
                            let state = if n.status == NoticeStatus::Open { "" } else { ",已办结" };
                            format!("{}(限{}前回复{state})", n.level.label_zh(), zh::date(n.respond_by))
                        })
                        .collect(),
                    may_report: i.status.is_pending() && who.may(s, Permission::RectificationReport, i),
                    may_sign_off: i.status == RectificationStatus::Done
                        && who.may(s, Permission::RectificationSignOff, i),
                    next_notice: if i.status.is_pending() && who.holds(Permission::NoticeIssue) {
                        next_level(s, i.id).map(|l| l.label_zh())
                    } else {
                        None
                    },
                })
                .collect();
            (rows, total, overdue)
        })
        .await;
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let pager_tail = if only_overdue { "&overdue=1" } else { "" };
    let body = page(RectificationPage {
        frame,
        rows,
        only_overdue,
        total,
        overdue,
        page: page_no,
        pages,
        pager_tail,
        error,
        done,
    });
    (status, body).into_response()
}

/// The item a form acts on, as the form names it.
fn item_of(text: &str) -> Result<RectificationId, ApiError> {
    RectificationId::parse("item", text)
        .map_err(|_| ApiError::Domain(DomainError::invalid("item", "请从台账中选择整改事项")))
}

/// Renders the ledger after a form: what was done, or why not.
async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, LedgerQuery::default(), None, Some(done)).await,
        Err(e) => render(app, signed, LedgerQuery::default(), Some(refusal(&e)), None).await,
    }
}

#[derive(Deserialize)]
struct ProgressForm {
    #[serde(default)]
    item: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

async fn report_progress(State(app): State<App>, posted: Posted<ProgressForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let item = item_of(&f.item)?;
        let status = match f.status.as_str() {
            "" => None,
            s => Some(
                RectificationStatus::parse_label(s)
                    .ok_or_else(|| ApiError::Domain(DomainError::invalid("status", "请选择整改状态")))?,
            ),
        };
        let note = Some(f.note.trim().to_string()).filter(|n| !n.is_empty());
        run(
            &app,
            &signed.who,
            Command::UpdateRectification(UpdateRectification { item, status, note, evidence: None }),
        )
        .await?;
        Ok("已记录整改进展。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct SignOffForm {
    #[serde(default)]
    item: String,
    #[serde(default)]
    note: String,
}

async fn sign_off(State(app): State<App>, posted: Posted<SignOffForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let item = item_of(&f.item)?;
        let note = Some(f.note.trim().to_string()).filter(|n| !n.is_empty());
        run(&app, &signed.who, Command::SignOffRectification(SignOffRectification { item, note })).await?;
        Ok("已销号。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct NoticeForm {
    #[serde(default)]
    item: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    respond_by: String,
}

async fn issue_notice(State(app): State<App>, posted: Posted<NoticeForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let id = item_of(&f.item)?;
        let respond_by = parse_date("respond_by", &f.respond_by).map_err(ApiError::Domain)?;
        let found = app
            .api
            .engine()
            .read(move |s| {
                let item = s.rectifications.get(&id)?.clone();
                let earlier = notices_on(s, id).last().map(|n| n.id);
                Some((item, next_level(s, id), earlier))
            })
            .await;
        let Some((item, level, escalates)) = found else {
            return Err(ApiError::Domain(DomainError::not_found("item", "台账中没有这个整改事项")));
        };
        let level = level
            .ok_or_else(|| ApiError::Domain(DomainError::precondition("level", "这一事项已经问责,不能再升级督办")))?;
        let command = Command::IssueNotice(IssueNotice {
            addressee: addressee_of(&app, &item),
            subject: NoticeSubject::Rectification(id),
            level,
            text: f.text.trim().to_string(),
            respond_by,
            escalates,
        });
        run(&app, &signed.who, command).await?;
        Ok(format!("已发出{},限{}前回复。", level.label_zh(), zh::date(respond_by)))
    }
    .await;
    after(&app, &signed, outcome).await
}

/// The 整改台账 the person may read, as an XLSX workbook.
async fn export(State(app): State<App>, signed: Signed) -> Response {
    if !signed.who.holds(Permission::RectificationRead) {
        return forbidden("您没有查看整改台账的权限。");
    }
    let who = signed.who.clone();
    let today = app.api.today();
    let site = app.site.clone();
    let workbook = app
        .api
        .engine()
        .read(move |s| {
            let name = |n: &xuncha_domain::NodeId| site.node_name(n);
            let mut sheet = SheetWriter::new("整改台账", &exports::RECTIFICATION_COLUMNS)?;
            exports::rectification_rows(s, &who, today, &name, &mut sheet)?;
            Ok::<_, xuncha_api::tabular::ExportError>(sheet)
        })
        .await;
    workbook_download(&app, "整改台账", workbook).await
}

/// The whole 整改台账 as an A4 page to print: the export's columns and rows.
async fn print(State(app): State<App>, signed: Signed) -> Response {
    if !signed.who.holds(Permission::RectificationRead) {
        return forbidden("您没有查看整改台账的权限。");
    }
    let who = signed.who.clone();
    let today = app.api.today();
    let site = app.site.clone();
    let rows = app
        .api
        .engine()
        .read(move |s| {
            let name = |n: &xuncha_domain::NodeId| site.node_name(n);
            let mut rows = xuncha_api::tabular::PrintRows::new(PRINT_ROWS);
            exports::rectification_rows(s, &who, today, &name, &mut rows)?;
            Ok(rows)
        })
        .await;
    print_view(&app, &signed, "整改台账", "", &exports::RECTIFICATION_COLUMNS, rows, "/rectification")
}
