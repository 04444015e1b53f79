//! 轮次.

use super::*;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/rounds", get(rounds_page).post(create_round))
}

struct RoundRow {
    id: String,
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
                    id: r.id.to_string(),
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
