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
use xuncha_domain::{Command, DomainError, Permission, Principal};

use crate::session::{self, NoFields, Posted, Signed};

mod account;
mod findings;
mod groups;
mod ledger;
mod linkage;
mod notices;
mod overview;
mod plan;
mod pool;
mod rectification;
mod rounds;
mod secondments;
use crate::{App, assets, zh};

pub(crate) fn routes(app: App) -> Router {
    Router::new()
        .route("/", get(overview::overview))
        .merge(account::routes())
        .merge(rounds::routes())
        .merge(groups::routes())
        .merge(findings::routes())
        .merge(ledger::routes())
        .merge(linkage::routes())
        .merge(plan::routes())
        .merge(rectification::routes())
        .merge(notices::routes())
        .merge(secondments::routes())
        .merge(pool::routes())
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
        if who.holds(Permission::PlanRead) {
            menu.push(("/plan", "规划", true));
        }
        if who.holds(Permission::RoundRead) {
            menu.push(("/rounds", "轮次", true));
        }
        if who.holds(Permission::LinkageRead) {
            menu.push(("/linkage", "上下联动", true));
            menu.push(("/secondments", "抽调", true));
        }
        if who.holds(Permission::FindingRead) {
            menu.push(("/findings", "问题与线索", true));
        }
        if who.holds(Permission::PoolRead) {
            menu.push(("/pool", "人才库", true));
        }
        if who.holds(Permission::RectificationRead) {
            menu.push(("/rectification", "整改台账", true));
            if who.holds(Permission::NoticeIssue) || who.holds(Permission::NoticeRespond) {
                menu.push(("/notices", "督办", true));
            }
        }
        if who.holds(Permission::LedgerRead) {
            menu.push(("/ledger", "台账", true));
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

#[derive(Template)]
#[template(
    source = "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>{{ title }}</title>\
              <link rel=\"stylesheet\" href=\"/assets/app.css\"><main><p>{{ why }}</p><p><a href=\"/\">返回总览</a></p></main>",
    ext = "html"
)]
struct MessagePage<'a> {
    title: &'a str,
    why: &'a str,
}

/// A short page saying why a request went no further.
fn message(status: StatusCode, title: &str, why: &str) -> Response {
    (status, page(MessagePage { title, why })).into_response()
}

async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "未找到", "没有这个页面。")
}

pub(crate) fn forbidden(why: &str) -> Response {
    message(StatusCode::FORBIDDEN, "无权访问", why)
}

pub(crate) fn bad_request(why: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "无法处理", why)
}

/// A record's number as this node's people cite it: 整改〔2026〕42号 for its own records, with
/// the owner's name before it for another node's (安平县整改〔2026〕3号).
pub(crate) fn cited(
    site: &crate::Site,
    owner: &xuncha_domain::NodeId,
    reference: xuncha_domain::model::Reference,
    word: &str,
) -> String {
    let number = reference.cite(word);
    if number.is_empty() || *owner == site.node { number } else { format!("{}{number}", site.node_name(owner)) }
}

/// A round in addresses: its number for this node's own rounds (`/groups?round=7`), the owner's
/// code before it for another node's (`anping-3`); its id only where the number is not unique
/// (two terms each with a round of that number), so that an address never names the wrong round.
pub(crate) fn round_key(
    s: &xuncha_domain::State,
    me: &xuncha_domain::NodeId,
    round: &xuncha_domain::model::Round,
) -> String {
    let same = s.rounds.values().filter(|r| r.meta.owner == round.meta.owner && r.number == round.number).count();
    if same != 1 {
        return round.id.to_string();
    }
    match (round.meta.owner == *me, round.meta.owner.county_code()) {
        (true, _) => round.number.to_string(),
        (false, Some(code)) => format!("{code}-{}", round.number),
        (false, None) => format!("city-{}", round.number),
    }
}

/// The round an address names (see [`round_key`]); an id is taken too.
pub(crate) fn round_by_key(
    s: &xuncha_domain::State,
    me: &xuncha_domain::NodeId,
    key: &str,
) -> Option<xuncha_domain::ids::RoundId> {
    let key = key.trim();
    if let Ok(id) = xuncha_domain::ids::RoundId::parse("round", key) {
        return s.rounds.contains_key(&id).then_some(id);
    }
    let (owner, number) = match key.rsplit_once('-') {
        Some(("city", n)) => (xuncha_domain::NodeId::city(), n),
        Some((code, n)) => (xuncha_domain::NodeId::county(code).ok()?, n),
        None => (me.clone(), key),
    };
    let number: u32 = number.parse().ok()?;
    let mut found = s.rounds.values().filter(|r| r.meta.owner == owner && r.number == number);
    match (found.next(), found.next()) {
        (Some(r), None) => Some(r.id),
        _ => None,
    }
}

/// Rows per page of a ledger table.
pub(crate) const PAGE_ROWS: usize = 100;

/// A file to save: an XLSX workbook under its Chinese name (RFC 6266 `filename*`).
fn xlsx_download(file_name: &str, bytes: Vec<u8>) -> Response {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let disposition = format!(
        "attachment; filename=\"export.xlsx\"; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, NON_ALPHANUMERIC)
    );
    (
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// A finished table as a download named 标题-节点-日期.xlsx. The workbook is closed off the
/// async threads (it goes through a temporary file); a failure says why in Chinese and is logged.
pub(crate) async fn workbook_download(
    app: &App,
    title: &str,
    sheet: Result<xuncha_api::tabular::SheetWriter, xuncha_api::tabular::ExportError>,
) -> Response {
    use xuncha_api::tabular::ExportError;
    let bytes = match sheet {
        Ok(sheet) => tokio::task::spawn_blocking(move || sheet.into_bytes())
            .await
            .unwrap_or_else(|e| Err(ExportError::Io(std::io::Error::other(e)))),
        Err(e) => Err(e),
    };
    match bytes {
        Ok(bytes) => xlsx_download(&format!("{title}-{}-{}.xlsx", app.site.name_zh, app.api.today()), bytes),
        Err(e) => {
            tracing::error!(error = %e, table = title, "an export failed");
            match e {
                ExportError::TooManyRows => bad_request(&e.to_string()),
                _ => bad_request(&format!("导出{title}出错,请缩小范围后重试或联系运维人员。")),
            }
        }
    }
}

/// Rows a print view lists; more are counted and left to the XLSX export.
pub(crate) const PRINT_ROWS: usize = 2000;

#[derive(Template)]
#[template(path = "print.html")]
struct PrintPage<'a> {
    site_name: &'a str,
    title: &'a str,
    /// What the filters chose, in words ("操作人:王丽;2026年12月1日起").
    scope: &'a str,
    columns: &'a [&'a str],
    rows: Vec<Vec<String>>,
    total: usize,
    printed_by: &'a str,
    printed_at: String,
    back: &'a str,
}

/// What a table's filters select as an A4 page to print, with the site, who printed it and when.
pub(crate) fn print_view(
    app: &App,
    signed: &Signed,
    title: &str,
    scope: &str,
    columns: &[&str],
    rows: Result<xuncha_api::tabular::PrintRows, xuncha_api::tabular::ExportError>,
    back: &str,
) -> Response {
    match rows {
        Ok(r) => page(PrintPage {
            site_name: &app.site.name_zh,
            title,
            scope,
            columns,
            total: r.total,
            rows: r.rows,
            printed_by: &signed.who.display_name,
            printed_at: zh::moment(Utc::now()),
            back,
        }),
        Err(e) => {
            tracing::error!(error = %e, table = title, "a print view failed");
            bad_request(&format!("生成{title}打印页出错,请联系运维人员。"))
        }
    }
}

/// A refusal as people read it: the field in Chinese, then the reason.
pub(crate) fn refusal(e: &ApiError) -> String {
    match e {
        ApiError::Domain(d) => domain_refusal(d),
        ApiError::Violations { violations, .. } => {
            violations.iter().map(|(f, r)| format!("{}:{}", field_zh(f), without_ids(r))).collect::<Vec<_>>().join(";")
        }
        ApiError::Unavailable { .. } => "市委巡察办的服务暂时不可用,请稍后再试。".into(),
        ApiError::Throttled { retry_after } => format!("尝试次数过多,请{}秒后再试。", retry_after.as_secs().max(1)),
        ApiError::Internal(_) => "系统出错,操作未完成,请联系运维人员。".into(),
    }
}

fn domain_refusal(d: &DomainError) -> String {
    let field = field_zh(&d.field);
    // The API names a record it cannot find by its id; people are shown none ("轮次不存在").
    let reason = without_ids(&d.reason);
    // A reason that names its field already needs no prefix.
    if reason.starts_with(&field) { reason } else { format!("{field}:{reason}") }
}

/// `text` with every record id (a hyphenated UUID) left out.
fn without_ids(text: &str) -> String {
    const LEN: usize = 36;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        let candidate = rest.get(..LEN).filter(|c| c.as_bytes()[8] == b'-');
        if let Some(id) = candidate.filter(|c| uuid::Uuid::try_parse(c).is_ok()) {
            rest = &rest[id.len()..];
            continue;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
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
        "target" => "被巡察单位",
        "category" => "问题类别",
        "title" => "问题",
        "description" => "具体情况",
        "summary" => "线索摘要",
        "lead" => "问题线索",
        "finding" => "问题",
        "by" => "接收人",
        "result" => "办理结果",
        "item" => "整改事项",
        "status" => "状态",
        "note" => "说明",
        "text" => "内容",
        "respond_by" => "回复期限",
        "level" => "督办级别",
        "subject" => "督办事项",
        "addressee" => "督办对象",
        "escalates" => "上一级督办",
        "leader" => "组长",
        "members" => "组员",
        "unit" => "巡察对象",
        "reason" => "调整原因",
        "kind" => "巡察方式",
        "scope" => "专项巡察范围",
        "to" => "下一步",
        "content" => "文件",
        "persons" => "人员",
        "starts_on" => "开始日期",
        "ends_on" => "结束日期",
        "window" => "届期",
        "unit_kind" => "单位类别",
        "units" => "单位",
        "plan" => "联动方案",
        "county" => "县(市、区)",
        "tasks" => "任务要求",
        "due_on" => "完成期限",
        "linked_units" => "联动单位",
        "assignment" => "联动任务",
        "percent" => "进度",
        "comments" => "审核意见",
        "units_inspected" => "巡察单位数",
        "problems_found" => "发现问题数",
        "person" => "人员",
        "purpose" => "用途",
        "request" => "抽调申请",
        _ => return field.to_string(),
    };
    zh.to_string()
}

/// Carries out `command` as the signed-in person, as their gRPC calls are.
async fn run(app: &App, who: &Principal, command: Command) -> Result<xuncha_domain::Outcome, ApiError> {
    app.api.execute_as(who, command).await
}

pub(crate) fn parse_date(field: &str, text: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| DomainError::invalid(field, "请填写日期(年-月-日)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_shown_to_people_name_no_record_ids() {
        let id = "0190d7a4-5b2e-7c3d-9e8f-0a1b2c3d4e5f";
        assert_eq!(without_ids(&format!("轮次{id}不存在")), "轮次不存在");
        assert_eq!(without_ids("整改〔2026〕42号"), "整改〔2026〕42号");
        // A near miss (no hyphens) is left as it is, and text after an id survives intact.
        assert_eq!(without_ids("0190d7a45b2e7c3d9e8f0a1b2c3d4e5f"), "0190d7a45b2e7c3d9e8f0a1b2c3d4e5f");
        let d = DomainError::not_found("round", format!("轮次{id}"));
        assert_eq!(domain_refusal(&d), "轮次不存在", "the reason names its field already");
    }
}
