//! 抽调: the city asks a county to second one of its people (from the county's pool) for a
//! period; the county's office agrees or refuses with a reason. Both sides read the requests and
//! the answers here; they travel by sync.

use super::*;
use xuncha_domain::NodeId;
use xuncha_domain::common::DateWindow;
use xuncha_domain::ids::{PersonId, SecondmentId};
use xuncha_domain::linkage::{DecideSecondment, RequestSecondment};

pub(super) fn routes() -> Router<App> {
    Router::new().route("/secondments", get(secondments_page).post(request)).route("/secondments/decide", post(decide))
}

/// County people the request form offers before asking for a name to narrow them.
const LISTED_PEOPLE: usize = 300;

struct RequestRow {
    id: String,
    person: String,
    county: String,
    window: String,
    purpose: String,
    answer: String,
    may_decide: bool,
}

struct PersonChoice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "secondments.html")]
struct SecondmentsPage {
    frame: Frame,
    rows: Vec<RequestRow>,
    /// City side: the county people who may be asked for (the name filter narrows them).
    people: Vec<PersonChoice>,
    more_people: usize,
    may_request: bool,
    q: String,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Default, Deserialize)]
struct SecondmentsQuery {
    /// Narrows the people offered to those whose name or unit holds this.
    #[serde(default)]
    q: String,
}

async fn secondments_page(State(app): State<App>, signed: Signed, Query(q): Query<SecondmentsQuery>) -> Response {
    render(&app, &signed, q.q, None, None).await
}

async fn render(app: &App, signed: &Signed, q: String, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::LinkageRead) {
        return forbidden("您没有查看抽调申请的权限。");
    }
    let frame = Frame::of(app, signed, "/secondments").await;
    let who = signed.who.clone();
    let site = app.site.clone();
    let may_request = site.is_city() && who.holds(Permission::LinkageIssue);
    let filter = q.trim().to_string();
    let (rows, (people, more_people)) = app
        .api
        .engine()
        .read(move |s| {
            let me = &site.node;
            let mut requests: Vec<_> =
                s.secondment_requests.values().filter(|r| who.may(s, Permission::LinkageRead, *r)).collect();
            // Undecided first, then by the start of the period.
            requests.sort_by_key(|r| (s.secondment_decisions.contains_key(&r.id), r.window.from));
            let rows = requests
                .into_iter()
                .map(|r| {
                    let decision = s.secondment_decisions.get(&r.id);
                    let person = s.persons.get(&r.person);
                    RequestRow {
                        id: r.id.to_string(),
                        person: person.map(|p| format!("{}({})", p.name, p.work_unit)).unwrap_or_default(),
                        county: site.node_name(&NodeId::of_county(&r.county)),
                        window: zh::window(&r.window),
                        purpose: r.purpose.clone(),
                        answer: match decision {
                            None => "待答复".into(),
                            Some(d) if d.approved => format!("已同意({})", zh::date(d.decided_on)),
                            Some(d) => {
                                format!("未同意:{}({})", d.reason.clone().unwrap_or_default(), zh::date(d.decided_on))
                            }
                        },
                        may_decide: decision.is_none()
                            && me.county_code() == Some(r.county.as_str())
                            && who.may(s, Permission::SecondmentDecide, r),
                    }
                })
                .collect();
            let people = if may_request {
                let mut people: Vec<_> = s
                    .persons
                    .values()
                    .filter(|p| p.active && p.meta.owner.county_code().is_some())
                    .filter(|p| filter.is_empty() || p.name.contains(&filter) || p.work_unit.contains(&filter))
                    .collect();
                people.sort_by(|a, b| (a.meta.owner.as_str(), &a.name).cmp(&(b.meta.owner.as_str(), &b.name)));
                let more = people.len().saturating_sub(LISTED_PEOPLE);
                let choices = people
                    .into_iter()
                    .take(LISTED_PEOPLE)
                    .map(|p| PersonChoice {
                        value: p.id.to_string(),
                        label: format!(
                            "{}({},{},{})",
                            p.name,
                            site.node_name(&p.meta.owner),
                            p.work_unit,
                            p.rank.label_zh()
                        ),
                    })
                    .collect();
                (choices, more)
            } else {
                (Vec::new(), 0)
            };
            (rows, people)
        })
        .await;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = page(SecondmentsPage { frame, rows, people, more_people, may_request, q, error, done });
    (status, body).into_response()
}

async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, String::new(), None, Some(done)).await,
        Err(e) => render(app, signed, String::new(), Some(refusal(&e)), None).await,
    }
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    purpose: String,
}

async fn request(State(app): State<App>, posted: Posted<RequestForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let person = PersonId::parse("person", &f.person)
            .map_err(|_| ApiError::Domain(DomainError::invalid("person", "请选择要抽调的人员")))?;
        let from = parse_date("starts_on", &f.from).map_err(ApiError::Domain)?;
        let to = parse_date("ends_on", &f.to).map_err(ApiError::Domain)?;
        let window = DateWindow::new("ends_on", from, to).map_err(ApiError::Domain)?;
        let purpose = f.purpose.trim().to_string();
        run(&app, &signed.who, Command::RequestSecondment(RequestSecondment { person, window, purpose })).await?;
        Ok(format!("已发出抽调申请({})。", zh::window(&window)))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    approve: String,
    #[serde(default)]
    reason: String,
}

async fn decide(State(app): State<App>, posted: Posted<DecideForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let request = SecondmentId::parse("request", &f.request)
            .map_err(|_| ApiError::Domain(DomainError::invalid("request", "请从列表中选择抽调申请")))?;
        let approve = f.approve == "1";
        let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
        run(&app, &signed.who, Command::DecideSecondment(DecideSecondment { request, approve, reason })).await?;
        Ok(if approve { "已同意抽调。" } else { "已答复不同意抽调。" }.to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}
