//! 轮次: the rounds, a new one, each round's next step in its lifecycle (批准, 进驻, 结束) and
//! its dates amended with a reason once approved.

use super::*;
use xuncha_domain::ids::RoundId;
use xuncha_domain::round::{AdvanceRound, ChangeRoundDates};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/rounds", get(rounds_page).post(create_round))
        .route("/rounds/advance", post(advance))
        .route("/rounds/dates", post(change_dates))
}

/// The step a person may take a round to next, with the button's words.
fn next_step(
    s: &xuncha_domain::State,
    who: &Principal,
    r: &xuncha_domain::model::Round,
) -> Option<(&'static str, &'static str)> {
    let (to, permission, label) = match r.status {
        RoundStatus::Draft => (RoundStatus::Approved, Permission::RoundApprove, "批准"),
        RoundStatus::Approved => (RoundStatus::InProgress, Permission::RoundPlan, "开始进驻"),
        RoundStatus::FeedbackGiven | RoundStatus::Rectifying => {
            (RoundStatus::Closed, Permission::RoundApprove, "结束本轮")
        }
        _ => return None,
    };
    who.may(s, permission, r).then_some((to.code(), label))
}

struct RoundRow {
    id: String,
    /// The round in addresses (its number).
    key: String,
    reference: String,
    name: String,
    term: String,
    enter_on: String,
    leave_on: String,
    feedback_on: String,
    status: &'static str,
    /// The lifecycle step offered: (status code, button words).
    next: Option<(&'static str, &'static str)>,
    may_amend: bool,
    /// The dates as the amendment form fills them (ISO).
    dates_iso: [String; 3],
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
    term: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    name: String,
    #[serde(flatten)]
    dates: DateFields,
}

/// A round's three dates as a form gives them (年-月-日), in the new-round and amendment forms.
#[derive(Default, Deserialize)]
struct DateFields {
    #[serde(default)]
    enter_on: String,
    #[serde(default)]
    leave_on: String,
    #[serde(default)]
    feedback_on: String,
}

impl DateFields {
    fn parse(&self) -> Result<RoundDates, DomainError> {
        Ok(RoundDates {
            enter_on: parse_date("enter_on", &self.enter_on)?,
            leave_on: parse_date("leave_on", &self.leave_on)?,
            feedback_on: parse_date("feedback_on", &self.feedback_on)?,
        })
    }
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
    let me = app.site.node.clone();
    let (rounds, terms) = app
        .api
        .engine()
        .read(move |s| {
            let mut rounds: Vec<_> = s.rounds.values().filter(|r| who.may(s, Permission::RoundRead, *r)).collect();
            rounds.sort_by_key(|r| std::cmp::Reverse((r.dates.enter_on, r.number)));
            let rows = rounds
                .into_iter()
                .map(|r| RoundRow {
                    id: r.id.to_string(),
                    key: round_key(s, &me, r),
                    reference: zh::round_ref(r.number),
                    name: r.name.clone(),
                    term: s.terms.get(&r.term).map(|t| t.name.clone()).unwrap_or_default(),
                    enter_on: zh::date(r.dates.enter_on),
                    leave_on: zh::date(r.dates.leave_on),
                    feedback_on: zh::date(r.dates.feedback_on),
                    status: r.status.label_zh(),
                    next: next_step(s, &who, r),
                    may_amend: !matches!(r.status, RoundStatus::Closed) && who.may(s, Permission::RoundPlan, r),
                    dates_iso: [r.dates.enter_on, r.dates.leave_on, r.dates.feedback_on].map(|d| d.to_string()),
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

fn round_command(f: &RoundForm) -> Result<Command, DomainError> {
    let term = TermId::parse("term", &f.term).map_err(|_| DomainError::invalid("term", "请选择届次"))?;
    let number: u32 = f.number.trim().parse().map_err(|_| DomainError::invalid("number", "请填写轮次序号(正整数)"))?;
    let dates = f.dates.parse()?;
    Ok(Command::CreateRound(CreateRound {
        term,
        number,
        name: f.name.trim().to_string(),
        dates,
        report_due_months: None,
        group_size: None::<GroupSize>,
    }))
}

async fn create_round(State(app): State<App>, posted: Posted<RoundForm>) -> Response {
    let Posted { signed, form: f } = posted;
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

fn round_of_form(text: &str) -> Result<RoundId, ApiError> {
    RoundId::parse("round", text).map_err(|_| ApiError::Domain(DomainError::invalid("round", "请从列表中选择轮次")))
}

async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render_rounds(app, signed, RoundForm::default(), None, Some(done)).await,
        Err(e) => render_rounds(app, signed, RoundForm::default(), Some(refusal(&e)), None).await,
    }
}

#[derive(Deserialize)]
struct AdvanceForm {
    #[serde(default)]
    round: String,
    #[serde(default)]
    to: String,
}

async fn advance(State(app): State<App>, posted: Posted<AdvanceForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let round = round_of_form(&f.round)?;
        let to = RoundStatus::parse_label(&f.to)
            .ok_or_else(|| ApiError::Domain(DomainError::invalid("to", "请选择轮次的下一步")))?;
        run(&app, &signed.who, Command::AdvanceRound(AdvanceRound { round, to })).await?;
        Ok(format!("轮次已{}。", to.label_zh().trim_start_matches('已')))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct DatesForm {
    #[serde(default)]
    round: String,
    #[serde(flatten)]
    dates: DateFields,
    #[serde(default)]
    reason: String,
}

async fn change_dates(State(app): State<App>, posted: Posted<DatesForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let round = round_of_form(&f.round)?;
        let dates = f.dates.parse().map_err(ApiError::Domain)?;
        let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
        run(&app, &signed.who, Command::ChangeRoundDates(ChangeRoundDates { round, dates, reason })).await?;
        Ok("已调整轮次日期。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}
