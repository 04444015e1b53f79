//! Linked inspection (上下联动): the city's linkage plan and per-county assignments, the
//! counties' responses and reports, the city's review; and secondment (抽调) of county persons.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::authz::{Permission, Position};
use crate::command::Decision;
use crate::common::DateWindow;
use crate::error::{DomainError, DomainResult, ensure, optional_text, required_text};
use crate::ids::*;
use crate::model::*;
use crate::record::Record;
use crate::round::round_of;
use crate::staffing::{availability_problem, bookings, overlapping_bookings};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLinkagePlan {
    pub round: RoundId,
    pub name: String,
    /// City units of the round inspected in linkage.
    pub linked_units: Vec<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueAssignment {
    pub plan: LinkagePlanId,
    pub county: CountyCode,
    pub tasks: String,
    pub due_on: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RespondAssignment {
    pub assignment: AssignmentId,
    pub accept: bool,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAssignmentProgress {
    pub assignment: AssignmentId,
    pub percent: u32,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitLinkedReport {
    pub assignment: AssignmentId,
    pub summary: String,
    pub units_inspected: u32,
    pub problems_found: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewLinkedReport {
    pub assignment: AssignmentId,
    pub accept: bool,
    pub comments: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSecondment {
    pub person: PersonId,
    pub window: DateWindow,
    pub purpose: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideSecondment {
    pub request: SecondmentId,
    pub approve: bool,
    pub reason: Option<String>,
}

fn summary_of(round: &Round) -> RoundSummary {
    RoundSummary { round: round.id, name: round.name.clone(), dates: round.dates }
}

pub fn create_plan(d: &mut Decision, c: &CreateLinkagePlan) -> DomainResult<()> {
    d.require_city("制定联动方案")?;
    let round = round_of(d, "round", c.round)?;
    d.authorize(Permission::LinkageIssue, round)?;
    d.require_owned("round", &round.meta)?;
    ensure(round.status != RoundStatus::Closed, || DomainError::precondition("round", "该轮次已结束"))?;
    let name = required_text("name", &c.name, 80)?;
    ensure(!c.linked_units.is_empty(), || DomainError::invalid("linked_units", "请选择联动巡察的市直单位"))?;
    for (i, u) in c.linked_units.iter().enumerate() {
        ensure(d.state.targets_of_round(round.id).any(|t| t.unit == *u), || {
            DomainError::invalid(format!("linked_units[{i}]"), format!("该单位不是{}的巡察对象", round.name))
        })?;
    }
    let plan = LinkagePlan {
        id: d.fresh_id(),
        meta: d.new_meta(),
        round: summary_of(round),
        name: name.clone(),
        linked_units: c.linked_units.clone(),
    };
    d.save(
        Record::LinkagePlan(plan),
        "linkage.planned",
        format!("印发「{name}」,联动单位{}个", c.linked_units.len()),
        None,
    );
    Ok(())
}

pub fn issue_assignment(d: &mut Decision, c: &IssueAssignment) -> DomainResult<()> {
    d.require_city("下达联动任务")?;
    d.authorize(Permission::LinkageIssue, &Position::owned(d.me, Some(&c.county)))?;
    let plan =
        d.state.linkage_plans.get(&c.plan).ok_or_else(|| DomainError::not_found("plan", "联动方案".to_string()))?;
    ensure(!d.state.assignments.values().any(|a| a.plan == plan.id && a.county == c.county), || {
        DomainError::exists("county", format!("「{}」已向{}下达过联动任务", plan.name, d.state.county_label(&c.county)))
    })?;
    let tasks = required_text("tasks", &c.tasks, 4000)?;
    ensure(c.due_on >= d.today, || DomainError::invalid("due_on", format!("完成期限{}已过", c.due_on)))?;
    let counterpart_units =
        plan.linked_units.iter().filter_map(|u| d.state.units.get(u)).map(|u| u.name.clone()).collect();
    let a = LinkedAssignment {
        id: d.fresh_id(),
        meta: d.new_meta(),
        plan: plan.id,
        county: c.county.clone(),
        round: plan.round.clone(),
        counterpart_units,
        tasks,
        due_on: c.due_on,
        reviews: Vec::new(),
    };
    d.save(
        Record::Assignment(a),
        "assignment.issued",
        format!("向{}下达联动任务({}),{}前完成", c.county, plan.name, c.due_on),
        None,
    );
    Ok(())
}

/// Keeps the city round summary inside linkage plans and assignments current after the round
/// changes, so counties see the new dates.
pub fn refresh_round_summaries(d: &mut Decision, round: &Round) {
    let summary = summary_of(round);
    let plans: Vec<LinkagePlan> =
        d.state.linkage_plans.values().filter(|p| p.round.round == round.id).cloned().collect();
    for plan in plans {
        let mut np = plan.clone();
        np.meta = d.next_meta(&plan.meta);
        np.round = summary.clone();
        d.save(Record::LinkagePlan(np), "linkage.round_updated", format!("「{}」轮次日期更新", plan.name), None);
        let assignments: Vec<LinkedAssignment> =
            d.state.assignments.values().filter(|a| a.plan == plan.id).cloned().collect();
        for a in assignments {
            let mut na = a.clone();
            na.meta = d.next_meta(&a.meta);
            na.round = summary.clone();
            d.save(
                Record::Assignment(na),
                "assignment.round_updated",
                format!("{}联动任务轮次日期更新", a.county),
                None,
            );
        }
    }
}

/// An assignment addressed to this county.
fn my_assignment<'s>(d: &Decision<'s>, id: AssignmentId) -> DomainResult<&'s LinkedAssignment> {
    let code = d.require_county("答复联动任务")?;
    let a =
        d.state.assignments.get(&id).ok_or_else(|| DomainError::not_found("assignment", format!("联动任务{id}")))?;
    ensure(a.county == code, || DomainError::denied("assignment", "该联动任务属于其他县(市、区)"))?;
    Ok(a)
}

pub fn respond_assignment(d: &mut Decision, c: &RespondAssignment) -> DomainResult<()> {
    let a = my_assignment(d, c.assignment)?;
    d.authorize(Permission::LinkageRespond, a)?;
    ensure(!d.state.assignment_responses.contains_key(&a.id), || {
        DomainError::precondition("assignment", "该联动任务已答复过")
    })?;
    let reason = optional_text("reason", c.reason.as_deref().unwrap_or(""), 1000)?;
    if !c.accept {
        ensure(reason.is_some(), || DomainError::invalid("reason", "拒绝须说明理由"))?;
    }
    let r = AssignmentResponse {
        id: a.id,
        meta: d.new_meta(),
        decision: if c.accept { AssignmentDecision::Accepted } else { AssignmentDecision::Declined },
        decline_reason: if c.accept { None } else { reason.clone() },
        progress_percent: 0,
        progress_note: None,
        report: None,
    };
    let summary = if c.accept { "接收联动任务".to_string() } else { "拒绝联动任务".to_string() };
    d.save(
        Record::AssignmentResponse(r),
        if c.accept { "assignment.accepted" } else { "assignment.declined" },
        summary,
        reason,
    );
    Ok(())
}

fn accepted_response<'s>(d: &Decision<'s>, a: &LinkedAssignment) -> DomainResult<&'s AssignmentResponse> {
    let r = d
        .state
        .assignment_responses
        .get(&a.id)
        .ok_or_else(|| DomainError::precondition("assignment", "请先接收联动任务"))?;
    ensure(r.decision == AssignmentDecision::Accepted, || DomainError::precondition("assignment", "该联动任务已拒绝"))?;
    Ok(r)
}

pub fn report_progress(d: &mut Decision, c: &ReportAssignmentProgress) -> DomainResult<()> {
    let a = my_assignment(d, c.assignment)?;
    d.authorize(Permission::LinkageRespond, a)?;
    let r = accepted_response(d, a)?;
    ensure(c.percent <= 100, || DomainError::invalid("percent", "应在0到100之间"))?;
    ensure(c.percent >= r.progress_percent, || {
        DomainError::invalid("percent", format!("进度已是{}%,不能回退", r.progress_percent))
    })?;
    let note = optional_text("note", c.note.as_deref().unwrap_or(""), 2000)?;
    let mut next = r.clone();
    next.meta = d.next_meta(&r.meta);
    next.progress_percent = c.percent;
    next.progress_note = note.clone().or(r.progress_note.clone());
    d.save(Record::AssignmentResponse(next), "assignment.progress", format!("联动任务进度{}%", c.percent), note);
    Ok(())
}

pub fn submit_report(d: &mut Decision, c: &SubmitLinkedReport) -> DomainResult<()> {
    let a = my_assignment(d, c.assignment)?;
    d.authorize(Permission::LinkageRespond, a)?;
    let r = accepted_response(d, a)?;
    let summary = required_text("summary", &c.summary, 8000)?;
    let revision = match &r.report {
        None => 1,
        Some(rep) => match a.reviews.iter().find(|v| v.revision == rep.revision) {
            Some(v) if v.outcome == ReviewOutcome::Returned => rep.revision + 1,
            Some(_) => {
                return Err(DomainError::precondition("assignment", "报告已审核通过"));
            }
            None => {
                return Err(DomainError::precondition(
                    "assignment",
                    format!("第{}稿报告正在等待市委巡察办审核", rep.revision),
                ));
            }
        },
    };
    let mut next = r.clone();
    next.meta = d.next_meta(&r.meta);
    next.progress_percent = 100;
    next.report = Some(LinkedReport {
        revision,
        summary,
        units_inspected: c.units_inspected,
        problems_found: c.problems_found,
        submitted_on: d.today,
    });
    let text = if revision == 1 {
        "报送联动巡察报告".to_string()
    } else {
        format!("重新报送联动巡察报告(第{revision}稿)")
    };
    d.save(Record::AssignmentResponse(next), "assignment.report_submitted", text, None);
    Ok(())
}

pub fn review_report(d: &mut Decision, c: &ReviewLinkedReport) -> DomainResult<()> {
    d.require_city("审核联动报告")?;
    let a = d
        .state
        .assignments
        .get(&c.assignment)
        .ok_or_else(|| DomainError::not_found("assignment", format!("联动任务{}", c.assignment)))?;
    d.authorize(Permission::LinkageReview, a)?;
    d.require_owned("assignment", &a.meta)?;
    let report = d
        .state
        .assignment_responses
        .get(&a.id)
        .and_then(|r| r.report.as_ref())
        .ok_or_else(|| DomainError::precondition("assignment", format!("{}尚未报送报告", a.county)))?;
    ensure(!a.reviews.iter().any(|v| v.revision == report.revision), || {
        DomainError::precondition("assignment", format!("第{}稿已审核过", report.revision))
    })?;
    let comments = optional_text("comments", c.comments.as_deref().unwrap_or(""), 4000)?;
    if !c.accept {
        ensure(comments.is_some(), || DomainError::invalid("comments", "退回报告须填写意见"))?;
    }
    let outcome = if c.accept { ReviewOutcome::Accepted } else { ReviewOutcome::Returned };
    let mut next = a.clone();
    next.meta = d.next_meta(&a.meta);
    next.reviews.push(Review {
        revision: report.revision,
        outcome,
        comments: comments.clone(),
        on: d.today,
        by: d.actor_name(),
    });
    let text = format!("审核{}联动报告第{}稿:{}", a.county, report.revision, if c.accept { "通过" } else { "退回" });
    d.save(Record::Assignment(next), "assignment.reviewed", text, comments);
    Ok(())
}

/// Where a linked assignment stands, from the city's record and the county's answer.
pub fn assignment_stage(a: &LinkedAssignment, r: Option<&AssignmentResponse>) -> AssignmentStage {
    let Some(r) = r else {
        return AssignmentStage::Issued;
    };
    if r.decision == AssignmentDecision::Declined {
        return AssignmentStage::Declined;
    }
    match &r.report {
        None if r.progress_percent > 0 => AssignmentStage::InProgress,
        None => AssignmentStage::Accepted,
        Some(rep) => match a.reviews.iter().find(|v| v.revision == rep.revision) {
            Some(v) if v.outcome == ReviewOutcome::Accepted => AssignmentStage::Completed,
            Some(_) => AssignmentStage::Returned,
            None if rep.revision > 1 => AssignmentStage::Resubmitted,
            None => AssignmentStage::ReportSubmitted,
        },
    }
}

pub fn request_secondment(d: &mut Decision, c: &RequestSecondment) -> DomainResult<()> {
    d.require_city("申请抽调")?;
    let p =
        d.state.persons.get(&c.person).ok_or_else(|| DomainError::not_found("person", format!("人员{}", c.person)))?;
    d.authorize(Permission::LinkageIssue, p)?;
    let county = p
        .meta
        .owner
        .county_of()
        .ok_or_else(|| DomainError::invalid("person", format!("{}已在市级人才库中,无需抽调", p.name)))?;
    DateWindow::new("window", c.window.from, c.window.to)?;
    if let Some(why) = availability_problem(p, &c.window) {
        return Err(DomainError::precondition("person", why));
    }
    let purpose = required_text("purpose", &c.purpose, 200)?;
    let pending = d.state.secondment_requests.values().any(|r| {
        r.person == p.id
            && r.window.overlaps(&c.window)
            && d.state.secondment_decisions.get(&r.id).is_none_or(|x| x.approved)
    });
    ensure(!pending, || DomainError::exists("person", format!("{}在重叠时段的抽调申请", p.name)))?;
    // Bookings the city already knows of; one made at the county meanwhile shows as a conflict.
    let all = bookings(d.state);
    if let Some(b) = overlapping_bookings(&all, p.id, &c.window, None, d.me).first() {
        return Err(DomainError::precondition(
            "person",
            format!("{}在{}已有安排:{}({})", p.name, b.window, b.label, d.state.node_label(&b.owner)),
        ));
    }
    let req = SecondmentRequest {
        id: d.fresh_id(),
        meta: d.new_meta(),
        person: p.id,
        county: county.clone(),
        window: c.window,
        purpose: purpose.clone(),
    };
    d.save(
        Record::SecondmentRequest(req),
        "secondment.requested",
        format!("商请{}抽调{}({},{purpose})", d.state.county_label(&county), p.name, c.window),
        None,
    );
    Ok(())
}

pub fn decide_secondment(d: &mut Decision, c: &DecideSecondment) -> DomainResult<()> {
    let code = d.require_county("答复抽调申请")?;
    let req = d
        .state
        .secondment_requests
        .get(&c.request)
        .ok_or_else(|| DomainError::not_found("request", "抽调申请".to_string()))?;
    d.authorize(Permission::SecondmentDecide, req)?;
    ensure(req.county == code, || DomainError::denied("request", "该抽调申请属于其他县(市、区)"))?;
    ensure(!d.state.secondment_decisions.contains_key(&req.id), || {
        DomainError::precondition("request", "该抽调申请已有决定")
    })?;
    let reason = optional_text("reason", c.reason.as_deref().unwrap_or(""), 1000)?;
    let name = d.state.persons.get(&req.person).map(|p| p.name.clone()).unwrap_or_default();
    if c.approve {
        let all = bookings(d.state);
        let own =
            overlapping_bookings(&all, req.person, &req.window, None, d.me).into_iter().find(|b| &b.owner == d.me);
        if let Some(b) = own {
            return Err(DomainError::precondition(
                "request",
                format!("{name}在{}已有本县的安排:{}", b.window, b.label),
            ));
        }
    } else {
        ensure(reason.is_some(), || DomainError::invalid("reason", "拒绝须说明理由"))?;
    }
    let decision = SecondmentDecision {
        id: req.id,
        meta: d.new_meta(),
        approved: c.approve,
        reason: reason.clone(),
        decided_on: d.today,
    };
    let text = format!("{}市委抽调{name}", if c.approve { "同意" } else { "不同意" });
    d.save(Record::SecondmentDecision(decision), "secondment.decided", text, reason);
    Ok(())
}
