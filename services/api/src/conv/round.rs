//! Rounds and groups.

use xuncha_domain::model::{Amendment, Group, GroupSize, Round, RoundDates, RoundStatus};
use xuncha_domain::round::{AdvanceRound, ChangeGroup, ChangeRoundDates, CreateRound, FormGroup};
use xuncha_domain::{DomainError, DomainResult};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, date, enum_conv, id, ids, opt_text, timestamp};

enum_conv!(
    pb::RoundStatus,
    RoundStatus,
    "round status",
    [Draft, Approved, InProgress, FeedbackGiven, Rectifying, Closed]
);

pub fn dates(field: &str, d: &Option<pb::RoundDates>) -> DomainResult<RoundDates> {
    let d = d.as_ref().ok_or_else(|| DomainError::invalid(field, "is required"))?;
    Ok(RoundDates {
        enter_on: date(&format!("{field}.enter_on"), &d.enter_on)?,
        leave_on: date(&format!("{field}.leave_on"), &d.leave_on)?,
        feedback_on: date(&format!("{field}.feedback_on"), &d.feedback_on)?,
    })
}

impl ToPb for RoundDates {
    type Pb = Option<pb::RoundDates>;
    fn to_pb(&self) -> Option<pb::RoundDates> {
        Some(pb::RoundDates {
            enter_on: self.enter_on.to_string(),
            leave_on: self.leave_on.to_string(),
            feedback_on: self.feedback_on.to_string(),
        })
    }
}

impl ToPb for Amendment {
    type Pb = pb::Amendment;
    fn to_pb(&self) -> pb::Amendment {
        pb::Amendment {
            at: Some(timestamp(self.at)),
            actor: Some(self.actor.to_pb()),
            reason: self.reason.clone(),
            change: self.change.clone(),
        }
    }
}

impl ToPb for Round {
    type Pb = pb::Round;
    fn to_pb(&self) -> pb::Round {
        pb::Round {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            term: self.term.to_string(),
            number: self.number,
            name: self.name.clone(),
            dates: self.dates.to_pb(),
            report_due_months: self.report_due_months,
            group_size_min: self.group_size.min,
            group_size_max: self.group_size.max,
            status: self.status.to_pb(),
            amendments: self.amendments.iter().map(ToPb::to_pb).collect(),
        }
    }
}

impl ToPb for Group {
    type Pb = pb::Group;
    fn to_pb(&self) -> pb::Group {
        pb::Group {
            id: self.id.to_string(),
            meta: self.meta.to_pb(),
            round: self.round.to_string(),
            name: self.name.clone(),
            leader: self.leader.to_string(),
            members: self.members.iter().map(|m| m.to_string()).collect(),
        }
    }
}

pub fn create_round(r: &pb::CreateRoundRequest) -> DomainResult<CreateRound> {
    let group_size = match (r.group_size_min, r.group_size_max) {
        (0, 0) => None,
        (min, max) => Some(GroupSize { min, max }),
    };
    Ok(CreateRound {
        term: id("term", &r.term)?,
        number: r.number,
        name: r.name.clone(),
        dates: dates("dates", &r.dates)?,
        report_due_months: if r.report_due_months == 0 { None } else { Some(r.report_due_months) },
        group_size,
    })
}

pub fn change_round_dates(r: &pb::ChangeRoundDatesRequest) -> DomainResult<ChangeRoundDates> {
    Ok(ChangeRoundDates {
        round: id("round", &r.round)?,
        dates: dates("dates", &r.dates)?,
        reason: opt_text(&r.reason),
    })
}

pub fn advance_round(r: &pb::AdvanceRoundRequest) -> DomainResult<AdvanceRound> {
    Ok(AdvanceRound { round: id("round", &r.round)?, to: RoundStatus::from_pb("to", r.to)? })
}

pub fn form_group(r: &pb::FormGroupRequest) -> DomainResult<FormGroup> {
    Ok(FormGroup {
        round: id("round", &r.round)?,
        name: r.name.clone(),
        leader: id("leader", &r.leader)?,
        members: ids("members", &r.members)?,
        reason: opt_text(&r.reason),
    })
}

pub fn change_group(r: &pb::ChangeGroupRequest) -> DomainResult<ChangeGroup> {
    Ok(ChangeGroup {
        group: id("group", &r.group)?,
        leader: id("leader", &r.leader)?,
        members: ids("members", &r.members)?,
        reason: opt_text(&r.reason),
    })
}
