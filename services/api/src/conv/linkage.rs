//! Linkage plans, assignments with responses, secondments.

use xuncha_domain::DomainResult;
use xuncha_domain::linkage::{
    CreateLinkagePlan, DecideSecondment, IssueAssignment, ReportAssignmentProgress, RequestSecondment,
    RespondAssignment, ReviewLinkedReport, SubmitLinkedReport, assignment_stage,
};
use xuncha_domain::model::{
    AssignmentDecision, AssignmentResponse, AssignmentStage, LinkagePlan, LinkedAssignment, ReviewOutcome,
    RoundSummary, SecondmentDecision, SecondmentRequest,
};
use xuncha_proto::v1 as pb;

use super::common::window;
use super::{ToPb, date, enum_conv, id, ids, opt_text};

enum_conv!(
    pb::AssignmentStage,
    AssignmentStage,
    "assignment stage",
    [Issued, Declined, Accepted, InProgress, ReportSubmitted, Returned, Resubmitted, Completed]
);

impl ToPb for RoundSummary {
    type Pb = Option<pb::RoundSummary>;
    fn to_pb(&self) -> Option<pb::RoundSummary> {
        Some(pb::RoundSummary { round: self.round.to_string(), name: self.name.clone(), dates: self.dates.to_pb() })
    }
}

impl ToPb for LinkagePlan {
    type Pb = pb::LinkagePlan;
    fn to_pb(&self) -> pb::LinkagePlan {
        pb::LinkagePlan {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            round: self.round.to_pb(),
            name: self.name.clone(),
            linked_units: self.linked_units.iter().map(|u| u.to_string()).collect(),
        }
    }
}

impl ToPb for AssignmentResponse {
    type Pb = pb::AssignmentResponse;
    fn to_pb(&self) -> pb::AssignmentResponse {
        pb::AssignmentResponse {
            meta: self.meta.to_pb(),
            accepted: self.decision == AssignmentDecision::Accepted,
            decline_reason: self.decline_reason.clone().unwrap_or_default(),
            progress_percent: self.progress_percent,
            progress_note: self.progress_note.clone().unwrap_or_default(),
            report: self.report.as_ref().map(|r| pb::LinkedReport {
                revision: r.revision,
                summary: r.summary.clone(),
                units_inspected: r.units_inspected,
                problems_found: r.problems_found,
                submitted_on: r.submitted_on.to_string(),
            }),
        }
    }
}

/// An assignment with the county's answer held here and the stage both give.
pub fn assignment_pb(a: &LinkedAssignment, response: Option<&AssignmentResponse>) -> pb::LinkedAssignment {
    pb::LinkedAssignment {
        id: a.id.to_string(),
        meta: a.meta.to_pb(),
        plan: a.plan.to_string(),
        county: a.county.to_string(),
        round: a.round.to_pb(),
        counterpart_units: a.counterpart_units.clone(),
        tasks: a.tasks.clone(),
        due_on: a.due_on.to_string(),
        reviews: a
            .reviews
            .iter()
            .map(|v| pb::Review {
                revision: v.revision,
                accepted: v.outcome == ReviewOutcome::Accepted,
                comments: v.comments.clone().unwrap_or_default(),
                on: v.on.to_string(),
                by: v.by.clone(),
            })
            .collect(),
        response: response.map(ToPb::to_pb),
        stage: assignment_stage(a, response).to_pb(),
    }
}

/// A secondment request with the county's decision held here.
pub fn secondment_pb(r: &SecondmentRequest, d: Option<&SecondmentDecision>) -> pb::Secondment {
    pb::Secondment {
        id: r.id.to_string(),
        meta: r.meta.to_pb(),
        person: r.person.to_string(),
        county: r.county.to_string(),
        window: r.window.to_pb(),
        purpose: r.purpose.clone(),
        decision: match d {
            None => "pending",
            Some(d) if d.approved => "approved",
            Some(_) => "declined",
        }
        .into(),
        decision_reason: d.and_then(|d| d.reason.clone()).unwrap_or_default(),
    }
}

pub fn create_plan(r: &pb::CreateLinkagePlanRequest) -> DomainResult<CreateLinkagePlan> {
    Ok(CreateLinkagePlan {
        round: id("round", &r.round)?,
        name: r.name.clone(),
        linked_units: ids("linked_units", &r.linked_units)?,
    })
}

pub fn issue(r: &pb::IssueAssignmentRequest) -> DomainResult<IssueAssignment> {
    Ok(IssueAssignment {
        plan: id("plan", &r.plan)?,
        county: super::county("county", &r.county)?,
        tasks: r.tasks.clone(),
        due_on: date("due_on", &r.due_on)?,
    })
}

pub fn respond(r: &pb::RespondAssignmentRequest) -> DomainResult<RespondAssignment> {
    Ok(RespondAssignment {
        assignment: id("assignment", &r.assignment)?,
        accept: r.accept,
        reason: opt_text(&r.reason),
    })
}

pub fn progress(r: &pb::ReportAssignmentProgressRequest) -> DomainResult<ReportAssignmentProgress> {
    Ok(ReportAssignmentProgress {
        assignment: id("assignment", &r.assignment)?,
        percent: r.percent,
        note: opt_text(&r.note),
    })
}

pub fn submit(r: &pb::SubmitLinkedReportRequest) -> DomainResult<SubmitLinkedReport> {
    Ok(SubmitLinkedReport {
        assignment: id("assignment", &r.assignment)?,
        summary: r.summary.clone(),
        units_inspected: r.units_inspected,
        problems_found: r.problems_found,
    })
}

pub fn review(r: &pb::ReviewLinkedReportRequest) -> DomainResult<ReviewLinkedReport> {
    Ok(ReviewLinkedReport {
        assignment: id("assignment", &r.assignment)?,
        accept: r.accept,
        comments: opt_text(&r.comments),
    })
}

pub fn request_secondment(r: &pb::RequestSecondmentRequest) -> DomainResult<RequestSecondment> {
    Ok(RequestSecondment {
        person: id("person", &r.person)?,
        window: window("window", &r.window)?,
        purpose: r.purpose.clone(),
    })
}

pub fn decide_secondment(r: &pb::DecideSecondmentRequest) -> DomainResult<DecideSecondment> {
    Ok(DecideSecondment { request: id("request", &r.request)?, approve: r.approve, reason: opt_text(&r.reason) })
}
