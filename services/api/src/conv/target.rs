//! Targets, feedback and rectification reports.

use xuncha_domain::DomainResult;
use xuncha_domain::model::{Round, Target, TargetKind};
use xuncha_domain::round::{AddTarget, GiveFeedback, SubmitRectificationReport, report_due_on};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, date, date_text, enum_conv, id, opt_id, opt_text};

enum_conv!(pb::TargetKind, TargetKind, "target kind", [Regular, Special, Revisit, Linked]);

/// A target as a message; `round` fills in the report-due date.
pub fn target_pb(t: &Target, round: Option<&Round>) -> pb::Target {
    pb::Target {
        id: t.id.to_string(),
        meta: t.meta.to_pb(),
        round: t.round.to_string(),
        group: t.group.to_string(),
        unit: t.unit.to_string(),
        kind: t.kind.to_pb(),
        scope: t.scope.clone().unwrap_or_default(),
        assignment: t.assignment.map(|a| a.to_string()).unwrap_or_default(),
        inherited_findings: t.inherited_findings.iter().map(|f| f.to_string()).collect(),
        feedback_on: date_text(t.feedback_on),
        report_submitted_on: date_text(t.report_submitted_on),
        lead_count: t.lead_count,
        report_due_on: date_text(round.and_then(|r| report_due_on(r, t))),
    }
}

pub fn add_target(r: &pb::AddTargetRequest) -> DomainResult<AddTarget> {
    Ok(AddTarget {
        round: id("round", &r.round)?,
        group: id("group", &r.group)?,
        unit: id("unit", &r.unit)?,
        kind: TargetKind::from_pb("kind", r.kind)?,
        scope: opt_text(&r.scope),
        assignment: opt_id("assignment", &r.assignment)?,
        reason: opt_text(&r.reason),
    })
}

pub fn give_feedback(r: &pb::GiveFeedbackRequest) -> DomainResult<GiveFeedback> {
    Ok(GiveFeedback { target: id("target", &r.target)?, on: date("on", &r.on)? })
}

pub fn submit_report(r: &pb::SubmitRectificationReportRequest) -> DomainResult<SubmitRectificationReport> {
    Ok(SubmitRectificationReport { target: id("target", &r.target)?, on: date("on", &r.on)? })
}
