//! The pages: each handler reads what the signed-in person may see, or carries out a form
//! through the same commands the gRPC services run, and renders a template.

use crate::Peer;
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use xuncha_api::ApiError;
use xuncha_domain::ids::TermId;
use xuncha_domain::labels::Labelled;
use xuncha_domain::model::{GroupSize, RoundDates, RoundStatus};
use xuncha_domain::round::CreateRound;
use xuncha_domain::{Caller, Command, DomainError, Permission, Principal};

use crate::session::{self, Signed};
use crate::{App, assets, zh};

pub(crate) fn routes(app: App) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/rounds", get(rounds_page).post(create_round))
        .route("/rectification", get(rectification_page))
        .route("/assets/{file}", get(assets::serve))
        .fallback(not_found)
        .layer(middleware::map_response(assets::security_headers))
        .with_state(app)
}

/// What every page's frame shows: the node, the person, the menu they may use.
pub(crate) struct Frame {
    pub site_name: String,
    pub person: String,
    pub csrf: String,
    pub menu: Vec<(&'static str, &'static str, bool)>,
    /// A county cut off from the city: since when, and how many changes wait.
    pub offline: Option<String>,
}

impl Frame {
    async fn of(app: &App, signed: &Signed, current: &str) -> Frame {
        let who = &signed.who;
        let mut menu = vec![("/", "总览", true)];
        if who.holds(Permission::RoundRead) {
            menu.push(("/rounds", "轮次", true));
        }
        if who.holds(Permission::RectificationRead) {
            menu.push(("/rectification", "整改台账", true));
        }
        for m in &mut menu {
            m.2 = m.0 == current;
        }
        Frame {
            site_name: app.site.name_zh.clone(),
            person: who.display_name.clone(),
            csrf: signed.csrf(),
            menu,
            offline: offline_banner(app).await,
        }
    }
}

/// On a county that syncs: while the city is out of reach, a line saying since when and how
/// many of the county's changes wait to go up.
async fn offline_banner(app: &App) -> Option<String> {
    let connected = app.site.sync.as_ref()?.borrow().connected;
    if connected {
        return None;
    }
    let statuses = app.api.engine().store().peer_statuses().await.ok()?;
    let city = statuses.iter().find(|p| p.node.is_city());
    let waiting = city.map(|c| c.lag).unwrap_or(0);
    let since = match city.and_then(|c| c.last_contact) {
        Some(t) => format!("上次联系:{}", zh::moment(t)),
        None => "尚未与市委巡察办联系过".to_string(),
    };
    Some(format!("与市委巡察办的连接已中断,本县工作照常进行。{since};待上报的变更:{waiting}条。"))
}

fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成出错,请联系运维人员").into_response()
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><meta charset=utf-8><title>未找到</title><p>没有这个页面。<a href=\"/\">返回总览</a>"),
    )
        .into_response()
}

fn forbidden(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(format!("<!doctype html><meta charset=utf-8><title>无权访问</title><p>{why}<a href=\"/\">返回总览</a>")),
    )
        .into_response()
}

/// A form post must come from our own pages and carry the session's CSRF token.
fn check_form(headers: &HeaderMap, signed: &Signed, csrf: &str) -> Result<(), Box<Response>> {
    if !session::same_origin(headers) || !session::csrf_matches(&signed.token, csrf) {
        return Err(Box::new(forbidden("表单已过期或来自其他网站,请刷新页面后重试。")));
    }
    Ok(())
}

/// A refusal as people read it: the field in Chinese, then the reason.
pub(crate) fn refusal(e: &ApiError) -> String {
    match e {
        ApiError::Domain(d) => domain_refusal(d),
        ApiError::Violations { violations, .. } => {
            violations.iter().map(|(f, r)| format!("{}:{r}", field_zh(f))).collect::<Vec<_>>().join(";")
        }
        ApiError::Unavailable { .. } => "市委巡察办的服务暂时不可用,请稍后再试。".into(),
        ApiError::Throttled { retry_after } => format!("尝试次数过多,请{}秒后再试。", retry_after.as_secs().max(1)),
        ApiError::Internal(_) => "系统出错,操作未完成,请联系运维人员。".into(),
    }
}

fn domain_refusal(d: &DomainError) -> String {
    let field = field_zh(&d.field);
    // A reason that names its field already needs no prefix.
    if d.reason.starts_with(&field) { d.reason.clone() } else { format!("{field}:{}", d.reason) }
}

/// The Chinese name of a request field, as the forms label it.
fn field_zh(field: &str) -> String {
    // The most specific part names it: `dates.leave_on` is the leave date.
    let last = field.rsplit('.').next().unwrap_or(field);
    let head = last.split('[').next().unwrap_or(last);
    let zh = match head {
        "username" => "登录名",
        "password" => "密码",
        "name" => "名称",
        "number" => "轮次序号",
        "term" => "届次",
        "dates" => "日期",
        "enter_on" => "进驻日期",
        "leave_on" => "撤离日期",
        "feedback_on" => "反馈日期",
        "group_size" => "每组人数",
        "report_due_months" => "整改报告期限",
        "round" => "轮次",
        "permission" => "权限",
        "old_password" => "原密码",
        "new_password" => "新密码",
        _ => return field.to_string(),
    };
    zh.to_string()
}

// ---- 登录 ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    site_name: String,
    csrf: String,
    username: String,
    error: Option<String>,
}

async fn login_page(State(app): State<App>) -> Response {
    login_form(&app, String::new(), None, StatusCode::OK)
}

fn login_form(app: &App, username: String, error: Option<String>, status: StatusCode) -> Response {
    let csrf = session::random_token();
    let cookie = session::set_cookie(&session::login_cookie_name(&app.cookie), &csrf, Some(3600));
    let body = page(LoginPage { site_name: app.site.name_zh.clone(), csrf, username, error });
    (status, [(header::SET_COOKIE, cookie)], body).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(app): State<App>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = session::cookie_value(&headers, &session::login_cookie_name(&app.cookie));
    if !session::same_origin(&headers) || expected.as_ref().is_none_or(|e| e.is_empty() || *e != f.csrf) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "a sign-in form was refused: stale or from another origin");
        let why = Some("登录表单已过期,请重新输入。".to_string());
        return login_form(&app, f.username, why, StatusCode::FORBIDDEN);
    }
    match app.api.auth().login(&f.username, &f.password, Some(peer.ip())).await {
        Ok(signed) => {
            let max_age = (signed.expires_at - Utc::now()).num_seconds().max(0);
            let cookie = session::set_cookie(&app.cookie, &signed.token, Some(max_age));
            let clear = session::set_cookie(&session::login_cookie_name(&app.cookie), "", Some(0));
            let mut r = Redirect::to("/").into_response();
            r.headers_mut().append(header::SET_COOKIE, cookie);
            r.headers_mut().append(header::SET_COOKIE, clear);
            r
        }
        Err(e) => {
            let status = match &e {
                ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let why = match &e {
                ApiError::Domain(d) => d.reason.clone(),
                other => refusal(other),
            };
            login_form(&app, f.username, Some(why), status)
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn logout(State(app): State<App>, signed: Signed, headers: HeaderMap, Form(f): Form<CsrfOnly>) -> Response {
    if let Err(r) = check_form(&headers, &signed, &f.csrf) {
        return *r;
    }
    if let Err(e) = app.api.auth().logout(&signed.who).await {
        tracing::warn!(error = %e, "signing out failed");
    }
    let clear = session::set_cookie(&app.cookie, "", Some(0));
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

// ---- 总览 ----

struct CountyRow {
    name: String,
    last_contact: String,
    backlog: u64,
    refused: String,
}

struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    figures: Vec<Figure>,
    counties: Vec<CountyRow>,
    is_city: bool,
}

async fn overview(State(app): State<App>, signed: Signed) -> Response {
    let frame = Frame::of(&app, &signed, "/").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let figures = app
        .api
        .engine()
        .read(move |s| {
            let rounds = s.rounds.values().filter(|r| who.may(s, Permission::RoundRead, *r)).count();
            let open_rounds = s
                .rounds
                .values()
                .filter(|r| who.may(s, Permission::RoundRead, *r))
                .filter(|r| !matches!(r.status, RoundStatus::Closed))
                .count();
            let items: Vec<_> =
                s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
            let done = items.iter().filter(|i| !i.status.is_pending()).count();
            let overdue = items.iter().filter(|i| i.status.is_pending() && i.deadline < today).count();
            vec![
                Figure { label: "轮次", value: rounds.to_string() },
                Figure { label: "进行中的轮次", value: open_rounds.to_string() },
                Figure { label: "整改事项", value: items.len().to_string() },
                Figure {
                    label: "整改完成率",
                    value: if items.is_empty() { "—".into() } else { format!("{}%", done * 100 / items.len()) },
                },
                Figure { label: "逾期未完成", value: overdue.to_string() },
            ]
        })
        .await;
    let counties = if app.site.is_city() { county_rows(&app).await } else { Vec::new() };
    page(OverviewPage { frame, figures, counties, is_city: app.site.is_city() })
}

async fn county_rows(app: &App) -> Vec<CountyRow> {
    let statuses = app.api.engine().store().peer_statuses().await.unwrap_or_default();
    statuses
        .into_iter()
        .filter_map(|p| {
            let code = p.node.county_code()?.to_string();
            Some(CountyRow {
                name: app.site.county_names.get(&code).cloned().unwrap_or(code),
                last_contact: p.last_contact.map(zh::moment).unwrap_or_else(|| "从未联系".into()),
                backlog: p.backlog,
                refused: p.refused.map(|r| r.0).unwrap_or_default(),
            })
        })
        .collect()
}

// ---- 轮次 ----

struct RoundRow {
    reference: String,
    name: String,
    term: String,
    enter_on: String,
    leave_on: String,
    feedback_on: String,
    status: &'static str,
}

struct TermOption {
    value: String,
    name: String,
}

#[derive(Template)]
#[template(path = "rounds.html")]
struct RoundsPage {
    frame: Frame,
    rounds: Vec<RoundRow>,
    may_plan: bool,
    terms: Vec<TermOption>,
    form: RoundForm,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Default, Deserialize)]
struct RoundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    term: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    enter_on: String,
    #[serde(default)]
    leave_on: String,
    #[serde(default)]
    feedback_on: String,
}

async fn rounds_page(State(app): State<App>, signed: Signed) -> Response {
    if !signed.who.holds(Permission::RoundRead) {
        return forbidden("您没有查看轮次的权限。");
    }
    render_rounds(&app, &signed, RoundForm::default(), None, None).await
}

async fn render_rounds(
    app: &App,
    signed: &Signed,
    form: RoundForm,
    error: Option<String>,
    done: Option<String>,
) -> Response {
    let frame = Frame::of(app, signed, "/rounds").await;
    let who = signed.who.clone();
    let (rounds, terms) = app
        .api
        .engine()
        .read(move |s| {
            let mut rounds: Vec<_> = s.rounds.values().filter(|r| who.may(s, Permission::RoundRead, *r)).collect();
            rounds.sort_by_key(|r| std::cmp::Reverse((r.dates.enter_on, r.number)));
            let rows = rounds
                .into_iter()
                .map(|r| RoundRow {
                    reference: zh::round_ref(r.number),
                    name: r.name.clone(),
                    term: s.terms.get(&r.term).map(|t| t.name.clone()).unwrap_or_default(),
                    enter_on: zh::date(r.dates.enter_on),
                    leave_on: zh::date(r.dates.leave_on),
                    feedback_on: zh::date(r.dates.feedback_on),
                    status: r.status.label_zh(),
                })
                .collect();
            let terms = s
                .terms
                .values()
                .filter(|t| who.may(s, Permission::PlanRead, *t))
                .map(|t| TermOption { value: t.id.to_string(), name: t.name.clone() })
                .collect();
            (rows, terms)
        })
        .await;
    let may_plan = signed.who.holds(Permission::RoundPlan);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(RoundsPage { frame, rounds, may_plan, terms, form, error, done })).into_response()
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| DomainError::invalid(field, "请填写日期(年-月-日)"))
}

fn round_command(f: &RoundForm) -> Result<Command, DomainError> {
    let term = TermId::parse("term", &f.term).map_err(|_| DomainError::invalid("term", "请选择届次"))?;
    let number: u32 = f.number.trim().parse().map_err(|_| DomainError::invalid("number", "请填写轮次序号(正整数)"))?;
    let dates = RoundDates {
        enter_on: parse_date("enter_on", &f.enter_on)?,
        leave_on: parse_date("leave_on", &f.leave_on)?,
        feedback_on: parse_date("feedback_on", &f.feedback_on)?,
    };
    Ok(Command::CreateRound(CreateRound {
        term,
        number,
        name: f.name.trim().to_string(),
        dates,
        report_due_months: None,
        group_size: None::<GroupSize>,
    }))
}

async fn create_round(
    State(app): State<App>,
    signed: Signed,
    headers: HeaderMap,
    Form(f): Form<RoundForm>,
) -> Response {
    if let Err(r) = check_form(&headers, &signed, &f.csrf) {
        return *r;
    }
    let outcome = match round_command(&f) {
        Ok(command) => run(&app, &signed.who, command).await,
        Err(e) => Err(ApiError::Domain(e)),
    };
    match outcome {
        Ok(_) => {
            let done = format!("已创建{}「{}」。", zh::round_ref(f.number.trim().parse().unwrap_or(0)), f.name.trim());
            render_rounds(&app, &signed, RoundForm::default(), None, Some(done)).await
        }
        Err(e) => render_rounds(&app, &signed, f, Some(refusal(&e)), None).await,
    }
}

/// Carries out `command` as the signed-in person.
async fn run(app: &App, who: &Principal, command: Command) -> Result<xuncha_domain::Outcome, ApiError> {
    let session =
        who.session.clone().ok_or_else(|| ApiError::Internal("a page was served without a session".into()))?;
    app.api.execute(Caller::Session(session), command).await
}

// ---- 整改台账 ----

struct RectificationRow {
    round: String,
    unit: String,
    problem: String,
    measures: Vec<String>,
    responsible: String,
    deadline: String,
    status: &'static str,
    overdue: bool,
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
}

/// Rows per page of a ledger table.
const PAGE_ROWS: usize = 100;

#[derive(Deserialize)]
struct LedgerQuery {
    #[serde(default)]
    overdue: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

async fn rectification_page(State(app): State<App>, signed: Signed, Query(q): Query<LedgerQuery>) -> Response {
    if !signed.who.holds(Permission::RectificationRead) {
        return forbidden("您没有查看整改台账的权限。");
    }
    let frame = Frame::of(&app, &signed, "/rectification").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let only_overdue = q.overdue.is_some_and(|v| v == "1");
    let page_no = q.page.unwrap_or(1).max(1);
    let (rows, total, overdue) = app
        .api
        .engine()
        .read(move |s| {
            let late = |i: &xuncha_domain::model::RectificationItem| i.status.is_pending() && i.deadline < today;
            let mut items: Vec<_> =
                s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
            let overdue = items.iter().filter(|i| late(i)).count();
            if only_overdue {
                items.retain(|i| late(i));
            }
            // Overdue first, then by deadline: what needs chasing comes to the top.
            items.sort_by_key(|i| (!late(i), i.deadline));
            let total = items.len();
            let rows = items
                .into_iter()
                .skip((page_no - 1) * PAGE_ROWS)
                .take(PAGE_ROWS)
                .map(|i| RectificationRow {
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
                    overdue: late(i),
                })
                .collect();
            (rows, total, overdue)
        })
        .await;
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    page(RectificationPage { frame, rows, only_overdue, total, overdue, page: page_no, pages })
}

// ---- 修改密码 ----

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    frame: Frame,
    must: bool,
    error: Option<String>,
    done: bool,
}

async fn password_page(State(app): State<App>, signed: Signed) -> Response {
    let frame = Frame::of(&app, &signed, "/password").await;
    page(PasswordPage { frame, must: signed.who.must_change_password, error: None, done: false })
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    old_password: String,
    new_password: String,
    repeat: String,
}

async fn change_password(
    State(app): State<App>,
    signed: Signed,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Err(r) = check_form(&headers, &signed, &f.csrf) {
        return *r;
    }
    let frame = Frame::of(&app, &signed, "/password").await;
    let must = signed.who.must_change_password;
    if f.new_password != f.repeat {
        let error = Some("两次输入的新密码不一致。".to_string());
        return (StatusCode::UNPROCESSABLE_ENTITY, page(PasswordPage { frame, must, error, done: false }))
            .into_response();
    }
    match app.api.auth().change_password(&signed.who, &f.old_password, &f.new_password).await {
        Ok(()) => page(PasswordPage { frame, must: false, error: None, done: true }),
        Err(e) => {
            let error = Some(refusal(&e));
            (StatusCode::UNPROCESSABLE_ENTITY, page(PasswordPage { frame, must, error, done: false })).into_response()
        }
    }
}
