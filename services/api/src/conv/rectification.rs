//! Rectification items and summaries.

use chrono::NaiveDate;
use xuncha_domain::DomainResult;
use xuncha_domain::model::{RectificationItem, RectificationKind, RectificationStatus};
use xuncha_domain::oversight::RectificationSummary;
use xuncha_domain::rectification::{AddRectificationItem, SignOffRectification, UpdateRectification, is_overdue};
use xuncha_proto::v1 as pb;

use super::{FromPb, ToPb, enum_conv, id, opt_date, opt_text};

enum_conv!(pb::RectificationKind, RectificationKind, "rectification kind", [Measure, Mechanism]);
enum_conv!(
    pb::RectificationStatus,
    RectificationStatus,
    "rectification status",
    [Open, InProgress, Done, SignedOff, LongTerm]
);

/// An item as a message, with overdue computed for `today`.
/// The word a rectification item's number is cited with.
pub const RECTIFICATION_WORD: &str = "整改";

pub fn item_pb(i: &RectificationItem, today: NaiveDate) -> pb::RectificationItem {
    let overdue = is_overdue(i, today);
    pb::RectificationItem {
        id: i.id.to_string(),
        reference: i.reference.cite(RECTIFICATION_WORD),
        meta: i.meta.to_pb(),
        finding: i.finding.to_string(),
        target: i.target.to_string(),
        round: i.round.to_string(),
        unit: i.unit.to_string(),
        kind: i.kind.to_pb(),
        measures: i.measures.clone(),
        responsible_unit: i.responsible_unit.clone(),
        responsible_person: i.responsible_person.clone().unwrap_or_default(),
        deadline: i.deadline.to_string(),
        status: i.status.to_pb(),
        progress: i
            .progress
            .iter()
            .map(|p| pb::ProgressNote { on: p.on.to_string(), by: p.by.clone(), text: p.text.clone() })
            .collect(),
        evidence: i.evidence.clone().unwrap_or_default(),
        sign_off: i.sign_off.as_ref().map(|s| pb::SignOff {
            on: s.on.to_string(),
            by: s.by.clone(),
            note: s.note.clone().unwrap_or_default(),
        }),
        overdue,
        days_overdue: if overdue { (today - i.deadline).num_days() } else { 0 },
    }
}

impl ToPb for RectificationSummary {
    type Pb = pb::RectificationSummary;
    fn to_pb(&self) -> pb::RectificationSummary {
        pb::RectificationSummary {
            total: self.total as u32,
            open: self.open as u32,
            in_progress: self.in_progress as u32,
            done: self.done as u32,
            signed_off: self.signed_off as u32,
            long_term: self.long_term as u32,
            overdue: self.overdue as u32,
        }
    }
}

pub fn add_item(r: &pb::AddRectificationItemRequest) -> DomainResult<AddRectificationItem> {
    Ok(AddRectificationItem {
        finding: id("finding", &r.finding)?,
        kind: RectificationKind::from_pb("kind", r.kind)?,
        measures: r.measures.clone(),
        responsible_unit: r.responsible_unit.clone(),
        responsible_person: opt_text(&r.responsible_person),
        deadline: opt_date("deadline", &r.deadline)?,
    })
}

pub fn update_item(r: &pb::UpdateRectificationRequest) -> DomainResult<UpdateRectification> {
    Ok(UpdateRectification {
        item: id("item", &r.item)?,
        status: if r.status == 0 { None } else { Some(RectificationStatus::from_pb("status", r.status)?) },
        note: opt_text(&r.note),
        evidence: opt_text(&r.evidence),
    })
}

pub fn sign_off(r: &pb::SignOffRectificationRequest) -> DomainResult<SignOffRectification> {
    Ok(SignOffRectification { item: id("item", &r.item)?, note: opt_text(&r.note) })
}
