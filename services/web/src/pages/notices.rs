//! 督办: the notices this node issued and those addressed to it, side by side with their
//! answers. The addressee (a county office for the city's notices, an inspected unit for a
//! node's own) answers here; the issuer reads the answer and closes the notice (办结), or
//! presses on with a notice one level up from the 整改台账. A general notice, about no one
//! item, is issued here too.

use super::*;
use xuncha_api::conv::rectification::RECTIFICATION_WORD;
use xuncha_domain::ids::{CountyCode, NoticeId, UnitId};
use xuncha_domain::model::{Addressee, NoticeLevel, NoticeStatus, NoticeSubject, SupervisionNotice};
use xuncha_domain::rectification::{CloseNotice, IssueNotice, RespondNotice};
use xuncha_domain::{NodeId, State as DomainState};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/notices", get(notices_page).post(issue))
        .route("/notices/respond", post(respond))
        .route("/notices/close", post(close))
}

/// Notices a page lists before asking for the filter (open ones come first).
const LISTED_NOTICES: usize = 500;

struct NoticeRow {
    id: String,
    level: &'static str,
    issuer: String,
    addressee: String,
    subject: String,
    text: String,
    respond_by: String,
    /// Open, unanswered and past its date.
    late: bool,
    /// The answer and its date, if there is one.
    answer: Option<(String, String)>,
    status: &'static str,
    may_respond: bool,
    may_close: bool,
}

/// One choice in the general notice's addressee list.
struct AddresseeChoice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    frame: Frame,
    rows: Vec<NoticeRow>,
    open_only: bool,
    total: usize,
    open: usize,
    more: usize,
    addressees: Vec<AddresseeChoice>,
    levels: Vec<&'static str>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Default, Deserialize)]
struct NoticesQuery {
    #[serde(default)]
    open: Option<String>,
}

async fn notices_page(State(app): State<App>, signed: Signed, Query(q): Query<NoticesQuery>) -> Response {
    render(&app, &signed, q.open.is_some_and(|v| v == "1"), None, None).await
}

/// Whether this node is the notice's addressee: the county office it was sent to, or, for a
/// notice to an inspected unit, the node that inspected the unit (its liaison signs in there).
pub(super) fn addressed_here(me: &NodeId, n: &SupervisionNotice) -> bool {
    match &n.addressee {
        Addressee::County(code) => me.county_code() == Some(code.as_str()),
        Addressee::Unit(_) => n.meta.owner == *me,
    }
}

fn addressee_label(site: &crate::Site, s: &DomainState, a: &Addressee) -> String {
    match a {
        Addressee::County(code) => format!("{}巡察办", site.node_name(&NodeId::of_county(code))),
        Addressee::Unit(u) => s.units.get(u).map(|x| x.name.clone()).unwrap_or_else(|| "(未知单位)".into()),
    }
}

/// What a notice presses on, as the office cites it.
fn subject_label(site: &crate::Site, s: &DomainState, subject: &NoticeSubject) -> String {
    match subject {
        NoticeSubject::Rectification(id) => match s.rectifications.get(id) {
            Some(i) => {
                let problem = s.findings.get(&i.finding).map(|f| f.title.as_str()).unwrap_or_default();
                format!("{} {problem}", cited(site, &i.meta.owner, i.reference, RECTIFICATION_WORD))
            }
            None => "整改事项".into(),
        },
        NoticeSubject::Target(id) => match s.targets.get(id) {
            Some(t) => {
                let round = s.rounds.get(&t.round).map(|r| zh::round_ref(r.number)).unwrap_or_default();
                let unit = s.units.get(&t.unit).map(|u| u.name.as_str()).unwrap_or_default();
                format!("{round}对{unit}的巡察")
            }
            None => "巡察对象".into(),
        },
        NoticeSubject::Assignment(id) => match s.assignments.get(id) {
            Some(a) => format!("{}联动任务", a.round.name),
            None => "联动任务".into(),
        },
        NoticeSubject::General => "一般督办事项".into(),
    }
}

async fn render(app: &App, signed: &Signed, open_only: bool, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::RectificationRead) {
        return forbidden("您没有查看督办的权限。");
    }
    let frame = Frame::of(app, signed, "/notices").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let site = app.site.clone();
    let may_issue = who.holds(Permission::NoticeIssue);
    let (rows, total, open, more, addressees) = app
        .api
        .engine()
        .read(move |s| {
            let me = &site.node;
            let mut notices: Vec<_> =
                s.notices.values().filter(|n| who.may(s, Permission::RectificationRead, *n)).collect();
            let open = notices.iter().filter(|n| n.status == NoticeStatus::Open).count();
            if open_only {
                notices.retain(|n| n.status == NoticeStatus::Open);
            }
            // Open first, the earliest reply date first: what is due comes to the top.
            notices.sort_by_key(|n| (n.status != NoticeStatus::Open, n.respond_by, std::cmp::Reverse(n.level)));
            let total = notices.len();
            let rows = notices
                .into_iter()
                .take(LISTED_NOTICES)
                .map(|n| {
                    let answer = s.notice_responses.get(&n.id);
                    let is_open = n.status == NoticeStatus::Open;
                    let may_close = is_open && n.meta.owner == *me && who.may(s, Permission::NoticeIssue, n);
                    // The issuer closes a notice; the answer is the addressee's (the unit's liaison).
                    let may_respond =
                        is_open && !may_close && addressed_here(me, n) && who.may(s, Permission::NoticeRespond, n);
                    NoticeRow {
                        id: n.id.to_string(),
                        level: n.level.label_zh(),
                        issuer: site.node_name(&n.meta.owner),
                        addressee: addressee_label(&site, s, &n.addressee),
                        subject: subject_label(&site, s, &n.subject),
                        text: n.text.clone(),
                        respond_by: zh::date(n.respond_by),
                        late: is_open && answer.is_none() && n.respond_by < today,
                        answer: answer.map(|a| (a.text.clone(), zh::date(a.responded_on))),
                        status: if !is_open {
                            "已办结"
                        } else if answer.is_some() {
                            "已回复,待办结"
                        } else {
                            "待回复"
                        },
                        may_respond,
                        may_close,
                    }
                })
                .collect();
            let addressees = if may_issue { addressee_choices(&site, s) } else { Vec::new() };
            (rows, total, open, total.saturating_sub(LISTED_NOTICES), addressees)
        })
        .await;
    let levels =
        [NoticeLevel::Supervision, NoticeLevel::Admonition, NoticeLevel::Accountability].map(|l| l.label_zh()).to_vec();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = page(NoticesPage { frame, rows, open_only, total, open, more, addressees, levels, error, done });
    (status, body).into_response()
}

/// Whom a general notice may go to from this node: at the city, every county's office; and the
/// units this node has inspected (a target of one of its rounds).
fn addressee_choices(site: &crate::Site, s: &DomainState) -> Vec<AddresseeChoice> {
    let mut out: Vec<AddresseeChoice> = Vec::new();
    if site.is_city() {
        for (code, name) in &site.county_names {
            out.push(AddresseeChoice { value: format!("county:{code}"), label: format!("{name}巡察办") });
        }
    }
    let inspected: std::collections::BTreeSet<UnitId> =
        s.targets.values().filter(|t| t.meta.owner == site.node).map(|t| t.unit).collect();
    let mut units: Vec<_> = inspected.iter().filter_map(|u| s.units.get(u)).collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(units.into_iter().map(|u| AddresseeChoice { value: format!("unit:{}", u.id), label: u.name.clone() }));
    out
}

/// Renders the list after a form: what was done, or why not.
async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, false, None, Some(done)).await,
        Err(e) => render(app, signed, false, Some(refusal(&e)), None).await,
    }
}

fn notice_of(text: &str) -> Result<NoticeId, ApiError> {
    NoticeId::parse("notice", text)
        .map_err(|_| ApiError::Domain(DomainError::invalid("notice", "请从列表中选择督办通知")))
}

#[derive(Deserialize)]
struct IssueForm {
    #[serde(default)]
    addressee: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    respond_by: String,
}

async fn issue(State(app): State<App>, posted: Posted<IssueForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let invalid = |field: &str, why: &str| ApiError::Domain(DomainError::invalid(field, why));
        let addressee = match f.addressee.split_once(':') {
            Some(("county", code)) => Addressee::County(
                CountyCode::parse("addressee", code).map_err(|_| invalid("addressee", "请选择督办对象"))?,
            ),
            Some(("unit", id)) => {
                Addressee::Unit(UnitId::parse("addressee", id).map_err(|_| invalid("addressee", "请选择督办对象"))?)
            }
            _ => return Err(invalid("addressee", "请选择督办对象")),
        };
        let level = NoticeLevel::parse_label(&f.level).ok_or_else(|| invalid("level", "请选择督办级别"))?;
        let respond_by = parse_date("respond_by", &f.respond_by).map_err(ApiError::Domain)?;
        let command = Command::IssueNotice(IssueNotice {
            addressee,
            subject: NoticeSubject::General,
            level,
            text: f.text.trim().to_string(),
            respond_by,
            escalates: None,
        });
        run(&app, &signed.who, command).await?;
        Ok(format!("已发出{},限{}前回复。", level.label_zh(), zh::date(respond_by)))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct RespondForm {
    #[serde(default)]
    notice: String,
    #[serde(default)]
    text: String,
}

async fn respond(State(app): State<App>, posted: Posted<RespondForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let notice = notice_of(&f.notice)?;
        run(&app, &signed.who, Command::RespondNotice(RespondNotice { notice, text: f.text.trim().to_string() }))
            .await?;
        Ok("已回复督办。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    notice: String,
}

async fn close(State(app): State<App>, posted: Posted<CloseForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let notice = notice_of(&f.notice)?;
        run(&app, &signed.who, Command::CloseNotice(CloseNotice { notice })).await?;
        Ok("督办已办结。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}
