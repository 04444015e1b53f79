//! 上下联动: at the city, linkage plans for a round and the assignments issued from them to
//! counties, each county's answer, progress and report, and the review (通过 or 退回); at a
//! county, the city's assignments to it with the steps it takes: accept or decline, progress,
//! the report.

use super::*;
use xuncha_domain::ids::{AssignmentId, CountyCode, LinkagePlanId, RoundId, UnitId};
use xuncha_domain::linkage::{
    CreateLinkagePlan, IssueAssignment, ReportAssignmentProgress, RespondAssignment, ReviewLinkedReport,
    SubmitLinkedReport, assignment_stage,
};
use xuncha_domain::model::{AssignmentStage, ReviewOutcome};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/linkage", get(linkage_page))
        .route("/linkage/plan", post(create_plan))
        .route("/linkage/issue", post(issue))
        .route("/linkage/respond", post(respond))
        .route("/linkage/progress", post(progress))
        .route("/linkage/report", post(report))
        .route("/linkage/review", post(review))
}

struct AssignmentRow {
    id: String,
    county: String,
    plan: String,
    round: String,
    counterparts: String,
    tasks: String,
    due_on: String,
    stage: &'static str,
    progress: u32,
    report: Option<String>,
    reviews: Vec<String>,
    /// County side: the steps open to it now.
    may_answer: bool,
    may_progress: bool,
    may_report: bool,
    /// City side: a report awaits review.
    may_review: bool,
}

struct Choice {
    value: String,
    label: String,
    checked: bool,
}

#[derive(Default, Deserialize)]
struct LinkageQuery {
    /// The round a new plan is for (its targets are offered).
    #[serde(default)]
    round: String,
}

#[derive(Template)]
#[template(path = "linkage.html")]
struct LinkagePage {
    frame: Frame,
    is_city: bool,
    rows: Vec<AssignmentRow>,
    may_issue: bool,
    rounds: Vec<Choice>,
    round: String,
    units: Vec<Choice>,
    plans: Vec<Choice>,
    counties: Vec<Choice>,
    error: Option<String>,
    done: Option<String>,
}

async fn linkage_page(State(app): State<App>, signed: Signed, Query(q): Query<LinkageQuery>) -> Response {
    render(&app, &signed, q, None, None).await
}

async fn render(app: &App, signed: &Signed, q: LinkageQuery, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::LinkageRead) {
        return forbidden("您没有查看上下联动的权限。");
    }
    let frame = Frame::of(app, signed, "/linkage").await;
    let who = signed.who.clone();
    let site = app.site.clone();
    let chosen_round = RoundId::parse("round", &q.round).ok();
    let (rows, rounds, units, plans) = app
        .api
        .engine()
        .read(move |s| {
            let county_name = |c: &CountyCode| site.node_name(&xuncha_domain::NodeId::of_county(c));
            let mut list: Vec<_> = s.assignments.values().filter(|a| who.may(s, Permission::LinkageRead, *a)).collect();
            list.sort_by_key(|a| (std::cmp::Reverse(a.due_on), a.county.to_string()));
            let rows = list
                .into_iter()
                .map(|a| {
                    let response = s.assignment_responses.get(&a.id);
                    let stage = assignment_stage(a, response);
                    let mine = site.node.county_code() == Some(a.county.as_str());
                    let respond = mine && who.may(s, Permission::LinkageRespond, a);
                    AssignmentRow {
                        id: a.id.to_string(),
                        county: county_name(&a.county),
                        // A county holds the assignment, not the city's plan.
                        plan: s
                            .linkage_plans
                            .get(&a.plan)
                            .map(|p| p.name.clone())
                            .unwrap_or_else(|| "市委巡察办下达".into()),
                        round: a.round.name.clone(),
                        counterparts: a.counterpart_units.join("、"),
                        tasks: a.tasks.clone(),
                        due_on: zh::date(a.due_on),
                        stage: stage.label_zh(),
                        progress: response.map(|r| r.progress_percent).unwrap_or(0),
                        report: response.and_then(|r| r.report.as_ref()).map(|rep| {
                            format!(
                                "第{}稿({}报送):{};巡察{}个单位,发现问题{}个",
                                rep.revision,
                                zh::date(rep.submitted_on),
                                rep.summary,
                                rep.units_inspected,
                                rep.problems_found
                            )
                        }),
                        reviews: a
                            .reviews
                            .iter()
                            .map(|v| {
                                let outcome = match v.outcome {
                                    ReviewOutcome::Accepted => "通过",
                                    ReviewOutcome::Returned => "退回",
                                };
                                let comments = v.comments.as_deref().map(|c| format!(":{c}")).unwrap_or_default();
                                format!("第{}稿{outcome}({},{}){comments}", v.revision, zh::date(v.on), v.by)
                            })
                            .collect(),
                        may_answer: respond && stage == AssignmentStage::Issued,
                        may_progress: respond
                            && matches!(stage, AssignmentStage::Accepted | AssignmentStage::InProgress),
                        may_report: respond
                            && matches!(
                                stage,
                                AssignmentStage::Accepted | AssignmentStage::InProgress | AssignmentStage::Returned
                            ),
                        may_review: site.is_city()
                            && matches!(stage, AssignmentStage::ReportSubmitted | AssignmentStage::Resubmitted)
                            && who.may(s, Permission::LinkageReview, a),
                    }
                })
                .collect();
            // The city's forms: its open rounds, the chosen round's targets, its plans.
            let mut rounds: Vec<_> = s
                .rounds
                .values()
                .filter(|r| r.meta.owner == site.node && r.status != RoundStatus::Closed)
                .filter(|r| who.may(s, Permission::LinkageIssue, *r))
                .collect();
            rounds.sort_by_key(|r| std::cmp::Reverse(r.number));
            let rounds = rounds
                .into_iter()
                .map(|r| Choice {
                    value: r.id.to_string(),
                    label: format!("{} {}", zh::round_ref(r.number), r.name),
                    checked: Some(r.id) == chosen_round,
                })
                .collect();
            let units = chosen_round
                .map(|round| {
                    s.targets_of_round(round)
                        .filter_map(|t| s.units.get(&t.unit))
                        .map(|u| Choice { value: u.id.to_string(), label: u.name.clone(), checked: false })
                        .collect()
                })
                .unwrap_or_default();
            let plans = s
                .linkage_plans
                .values()
                .filter(|p| p.meta.owner == site.node)
                .map(|p| Choice {
                    value: p.id.to_string(),
                    label: format!("{}({})", p.name, p.round.name),
                    checked: false,
                })
                .collect();
            (rows, rounds, units, plans)
        })
        .await;
    let counties = app
        .site
        .county_names
        .iter()
        .map(|(code, name)| Choice { value: code.clone(), label: name.clone(), checked: false })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let body = page(LinkagePage {
        frame,
        is_city: app.site.is_city(),
        rows,
        may_issue: app.site.is_city() && signed.who.holds(Permission::LinkageIssue),
        rounds,
        round: q.round,
        units,
        plans,
        counties,
        error,
        done,
    });
    (status, body).into_response()
}

async fn after(app: &App, signed: &Signed, outcome: Result<String, ApiError>) -> Response {
    match outcome {
        Ok(done) => render(app, signed, LinkageQuery::default(), None, Some(done)).await,
        Err(e) => render(app, signed, LinkageQuery::default(), Some(refusal(&e)), None).await,
    }
}

fn invalid(field: &str, why: &str) -> ApiError {
    ApiError::Domain(DomainError::invalid(field, why))
}

fn assignment_of(text: &str) -> Result<AssignmentId, ApiError> {
    AssignmentId::parse("assignment", text).map_err(|_| invalid("assignment", "请从列表中选择联动任务"))
}

fn text_of(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    round: String,
    #[serde(default)]
    name: String,
    /// `unit_<id>` checkboxes.
    #[serde(flatten)]
    chosen: std::collections::BTreeMap<String, String>,
}

async fn create_plan(State(app): State<App>, posted: Posted<PlanForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let round = RoundId::parse("round", &f.round).map_err(|_| invalid("round", "请选择轮次"))?;
        let linked_units = f
            .chosen
            .keys()
            .filter_map(|k| k.strip_prefix("unit_"))
            .filter_map(|id| UnitId::parse("linked_units", id).ok())
            .collect();
        let command =
            Command::CreateLinkagePlan(CreateLinkagePlan { round, name: f.name.trim().to_string(), linked_units });
        run(&app, &signed.who, command).await?;
        Ok(format!("已印发「{}」。", f.name.trim()))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct IssueForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    county: String,
    #[serde(default)]
    tasks: String,
    #[serde(default)]
    due_on: String,
}

async fn issue(State(app): State<App>, posted: Posted<IssueForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let plan = LinkagePlanId::parse("plan", &f.plan).map_err(|_| invalid("plan", "请选择联动方案"))?;
        let county = CountyCode::parse("county", &f.county).map_err(|_| invalid("county", "请选择县(市、区)"))?;
        let due_on = parse_date("due_on", &f.due_on).map_err(ApiError::Domain)?;
        let name = app.site.node_name(&xuncha_domain::NodeId::of_county(&county));
        let command =
            Command::IssueAssignment(IssueAssignment { plan, county, tasks: f.tasks.trim().to_string(), due_on });
        run(&app, &signed.who, command).await?;
        Ok(format!("已向{name}下达联动任务,{}前完成。", zh::date(due_on)))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct RespondForm {
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    accept: String,
    #[serde(default)]
    reason: String,
}

async fn respond(State(app): State<App>, posted: Posted<RespondForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let assignment = assignment_of(&f.assignment)?;
        let accept = f.accept == "1";
        let command = Command::RespondAssignment(RespondAssignment { assignment, accept, reason: text_of(&f.reason) });
        run(&app, &signed.who, command).await?;
        Ok(if accept { "已接收联动任务。" } else { "已拒绝联动任务。" }.to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct ProgressForm {
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    percent: String,
    #[serde(default)]
    note: String,
}

async fn progress(State(app): State<App>, posted: Posted<ProgressForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let assignment = assignment_of(&f.assignment)?;
        let percent = f.percent.trim().parse().map_err(|_| invalid("percent", "请填写0到100的整数"))?;
        let command =
            Command::ReportAssignmentProgress(ReportAssignmentProgress { assignment, percent, note: text_of(&f.note) });
        run(&app, &signed.who, command).await?;
        Ok(format!("已报送进度{percent}%。"))
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct ReportForm {
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    units_inspected: String,
    #[serde(default)]
    problems_found: String,
}

async fn report(State(app): State<App>, posted: Posted<ReportForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let assignment = assignment_of(&f.assignment)?;
        let count = |field: &str, text: &str| text.trim().parse::<u32>().map_err(|_| invalid(field, "请填写整数"));
        let command = Command::SubmitLinkedReport(SubmitLinkedReport {
            assignment,
            summary: f.summary.trim().to_string(),
            units_inspected: count("units_inspected", &f.units_inspected)?,
            problems_found: count("problems_found", &f.problems_found)?,
        });
        run(&app, &signed.who, command).await?;
        Ok("已报送联动巡察报告。".to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}

#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    accept: String,
    #[serde(default)]
    comments: String,
}

async fn review(State(app): State<App>, posted: Posted<ReviewForm>) -> Response {
    let Posted { signed, form: f } = posted;
    let outcome = async {
        let assignment = assignment_of(&f.assignment)?;
        let accept = f.accept == "1";
        let command =
            Command::ReviewLinkedReport(ReviewLinkedReport { assignment, accept, comments: text_of(&f.comments) });
        run(&app, &signed.who, command).await?;
        Ok(if accept { "报告已审核通过。" } else { "报告已退回。" }.to_string())
    }
    .await;
    after(&app, &signed, outcome).await
}
