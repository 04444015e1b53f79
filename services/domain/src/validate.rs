//! What every stored record satisfies, whoever made it: the bounds of docs/limits.md and the
//! invariants the commands keep (dates in order, numbers in range). A local decision's records
//! pass through [`check_record`] before they are committed, and so does every record a peer
//! sends, so a pushed record is held to exactly the rules of the command that makes it.
//!
//! [`check_received`] adds what only the receiver can check: who owns the record already held
//! under that id, and whether an answer answers something addressed to its sender.

use chrono::{Datelike, NaiveDate};

use crate::authz::Scope;
use crate::common::{DateWindow, Meta};
use crate::error::{DomainError, DomainResult, ensure};
use crate::ids::NodeId;
use crate::model::*;
use crate::record::{Kind, Record, check_remote};
use crate::state::State;

/// Longest name, title, code or login (characters).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest free text: a description, task, summary, note (characters).
pub const MAX_TEXT_CHARS: usize = 8000;
/// Most entries in a list inside one record (members, measures, notes, amendments, ...).
pub const MAX_LIST_ENTRIES: usize = 1000;
/// Most units in one term plan (a province's worth).
pub const MAX_PLANNED_UNITS: usize = 100_000;
/// Dates outside these years are typing errors, and keep date arithmetic far from its limits.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;
/// A group has at most this many people.
pub const MAX_GROUP_SIZE: u32 = 50;
/// A record's stored form (JSON) is at most this many bytes, so any record fits a sync batch.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Counts bytes written and stops at the limit, so a record is measured without being kept.
struct Budget(usize);

impl std::io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.checked_sub(buf.len()).ok_or_else(|| std::io::Error::other("over budget"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stored_size(record: &Record) -> DomainResult<()> {
    serde_json::to_writer(Budget(MAX_RECORD_BYTES), record)
        .map_err(|_| DomainError::invalid("record", format!("记录超过{} KiB", MAX_RECORD_BYTES >> 10)))
}

fn name(field: &str, v: &str) -> DomainResult<()> {
    chars(field, v, MAX_NAME_CHARS)
}

fn text(field: &str, v: &str) -> DomainResult<()> {
    chars(field, v, MAX_TEXT_CHARS)
}

fn chars(field: &str, v: &str, max: usize) -> DomainResult<()> {
    // Bytes bound characters from above: the cheap test first.
    ensure(v.len() <= max || v.chars().count() <= max, || DomainError::invalid(field, format!("最多{max}个字符")))
}

fn some_text(field: &str, v: &Option<String>) -> DomainResult<()> {
    v.as_deref().map_or(Ok(()), |v| text(field, v))
}

fn list<T>(field: &str, v: &[T], max: usize) -> DomainResult<()> {
    ensure(v.len() <= max, || DomainError::invalid(field, format!("最多{max}项")))
}

fn date(field: &str, d: NaiveDate) -> DomainResult<()> {
    ensure(YEARS.contains(&d.year()), || {
        DomainError::invalid(field, format!("{d} is outside {}–{}", YEARS.start(), YEARS.end()))
    })
}

fn window(field: &str, w: &DateWindow) -> DomainResult<()> {
    date(field, w.from)?;
    date(field, w.to)?;
    ensure(w.from <= w.to, || DomainError::invalid(field, format!("{} is after {}", w.from, w.to)))
}

fn meta(m: &Meta) -> DomainResult<()> {
    ensure(m.version >= 1, || DomainError::invalid("meta.version", "版本号从1开始"))
}

/// The round's dates: in order and in range.
pub fn check_round_dates(d: &RoundDates) -> DomainResult<()> {
    date("dates.enter_on", d.enter_on)?;
    date("dates.leave_on", d.leave_on)?;
    date("dates.feedback_on", d.feedback_on)?;
    ensure(d.enter_on <= d.leave_on, || {
        DomainError::invalid("dates.leave_on", format!("撤离日期{}早于进驻日期{}", d.leave_on, d.enter_on))
    })?;
    ensure(d.leave_on <= d.feedback_on, || {
        DomainError::invalid("dates.feedback_on", format!("反馈日期{}早于撤离日期{}", d.feedback_on, d.leave_on))
    })
}

fn summary(s: &RoundSummary) -> DomainResult<()> {
    name("round.name", &s.name)?;
    check_round_dates(&s.dates)
}

/// Checks one record against the bounds and invariants every stored record keeps.
pub fn check_record(record: &Record) -> DomainResult<()> {
    meta(record.meta())?;
    fields(record)?;
    stored_size(record)
}

fn fields(record: &Record) -> DomainResult<()> {
    match record {
        Record::Term(t) => {
            name("name", &t.name)?;
            window("window", &t.window)?;
            ensure(t.planned_units.len() <= MAX_PLANNED_UNITS, || {
                DomainError::invalid("planned_units", format!("最多{MAX_PLANNED_UNITS}个单位"))
            })
        }
        Record::Unit(u) => name("name", &u.name),
        Record::Person(p) => {
            name("name", &p.name)?;
            name("work_unit", &p.work_unit)?;
            ensure(YEARS.contains(&p.birth_year), || DomainError::invalid("birth_year", "outside 1900–2200"))?;
            list("past_posts", &p.past_posts, MAX_LIST_ENTRIES)?;
            for post in &p.past_posts {
                post.until.map_or(Ok(()), |d| date("past_posts.until", d))?;
            }
            ensure(p.declared_conflicts.len() <= MAX_LIST_ENTRIES, || {
                DomainError::invalid("declared_conflicts", format!("最多{MAX_LIST_ENTRIES}项"))
            })?;
            list("unavailable", &p.unavailable, MAX_LIST_ENTRIES)?;
            p.unavailable.iter().try_for_each(|w| window("unavailable", w))?;
            Ok(())
        }
        Record::Category(c) => {
            name("code", &c.code)?;
            name("name", &c.name)
        }
        Record::Round(r) => {
            name("name", &r.name)?;
            ensure(r.number <= 1000, || DomainError::invalid("number", "不能超过1000"))?;
            check_round_dates(&r.dates)?;
            ensure((1..=12).contains(&r.report_due_months), || {
                DomainError::invalid("report_due_months", "须为1至12个月")
            })?;
            let size = &r.group_size;
            ensure(size.min >= 1 && size.min <= size.max && size.max <= MAX_GROUP_SIZE, || {
                DomainError::invalid("group_size", format!("1 ≤ min ≤ max ≤ {MAX_GROUP_SIZE}"))
            })?;
            list("amendments", &r.amendments, MAX_LIST_ENTRIES)?;
            for a in &r.amendments {
                text("amendments.reason", &a.reason)?;
                text("amendments.change", &a.change)?;
                name("amendments.actor", &a.actor.display_name)?;
            }
            Ok(())
        }
        Record::Group(g) => {
            name("name", &g.name)?;
            list("members", &g.members, MAX_GROUP_SIZE as usize)
        }
        Record::Target(t) => {
            some_text("scope", &t.scope)?;
            list("inherited_findings", &t.inherited_findings, MAX_LIST_ENTRIES)?;
            t.feedback_on.map_or(Ok(()), |d| date("feedback_on", d))?;
            t.report_submitted_on.map_or(Ok(()), |d| date("report_submitted_on", d))
        }
        Record::Finding(f) => {
            name("category", &f.category)?;
            ensure(f.tags.len() <= 50, || DomainError::invalid("tags", "最多50个标签"))?;
            f.tags.iter().try_for_each(|t| name("tags", t))?;
            name("title", &f.title)?;
            text("description", &f.description)
        }
        Record::Lead(l) => {
            if let LeadReceiver::Department(d) = &l.receiver {
                name("receiver", d)?;
            }
            text("summary", &l.summary)?;
            date("handed_over_on", l.handed_over_on)?;
            l.acknowledged_by.as_deref().map_or(Ok(()), |v| name("acknowledged_by", v))?;
            some_text("result", &l.result)
        }
        Record::Rectification(r) => {
            list("measures", &r.measures, MAX_LIST_ENTRIES)?;
            r.measures.iter().try_for_each(|m| text("measures", m))?;
            name("responsible_unit", &r.responsible_unit)?;
            r.responsible_person.as_deref().map_or(Ok(()), |v| name("responsible_person", v))?;
            date("deadline", r.deadline)?;
            list("progress", &r.progress, MAX_LIST_ENTRIES)?;
            for n in &r.progress {
                date("progress.on", n.on)?;
                name("progress.by", &n.by)?;
                text("progress.text", &n.text)?;
            }
            some_text("evidence", &r.evidence)?;
            if let Some(s) = &r.sign_off {
                date("sign_off.on", s.on)?;
                name("sign_off.by", &s.by)?;
                some_text("sign_off.note", &s.note)?;
            }
            Ok(())
        }
        Record::Notice(n) => {
            text("text", &n.text)?;
            date("respond_by", n.respond_by)
        }
        Record::NoticeResponse(r) => {
            text("text", &r.text)?;
            date("responded_on", r.responded_on)
        }
        Record::LinkagePlan(p) => {
            summary(&p.round)?;
            name("name", &p.name)?;
            list("linked_units", &p.linked_units, MAX_LIST_ENTRIES)
        }
        Record::Assignment(a) => {
            summary(&a.round)?;
            list("counterpart_units", &a.counterpart_units, MAX_LIST_ENTRIES)?;
            a.counterpart_units.iter().try_for_each(|u| name("counterpart_units", u))?;
            text("tasks", &a.tasks)?;
            date("due_on", a.due_on)?;
            list("reviews", &a.reviews, MAX_LIST_ENTRIES)?;
            for r in &a.reviews {
                some_text("reviews.comments", &r.comments)?;
                date("reviews.on", r.on)?;
                name("reviews.by", &r.by)?;
            }
            Ok(())
        }
        Record::AssignmentResponse(r) => {
            some_text("decline_reason", &r.decline_reason)?;
            ensure(r.progress_percent <= 100, || DomainError::invalid("progress_percent", "0 to 100"))?;
            some_text("progress_note", &r.progress_note)?;
            if let Some(report) = &r.report {
                text("report.summary", &report.summary)?;
                date("report.submitted_on", report.submitted_on)?;
            }
            Ok(())
        }
        Record::SecondmentRequest(s) => {
            window("window", &s.window)?;
            text("purpose", &s.purpose)
        }
        Record::SecondmentDecision(s) => {
            some_text("reason", &s.reason)?;
            date("decided_on", s.decided_on)
        }
        Record::Account(a) => {
            ensure(!a.username.is_empty() && a.username.len() <= 64, || {
                DomainError::invalid("username", "1 to 64 characters")
            })?;
            name("display_name", &a.display_name)?;
            ensure(a.password_hash.len() <= 512, || DomainError::invalid("password_hash", "最多512字节"))?;
            list("grants", &a.grants, 100)
        }
    }
}

/// What `me` checks before storing `record` received from `origin`, beyond [`check_remote`]
/// (the claimed owner, the kinds that tier may own, the audience) and [`check_record`]:
/// - a record held here under that id keeps its owner: nobody takes over another's record;
/// - an answer (assignment response, secondment decision, notice response) answers a record
///   addressed to its sender;
/// - a county's account holds roles within that county only.
///
/// `in_batch` says whether a record arrives in the same batch (and so is the sender's own).
pub fn check_received(
    state: &State,
    origin: &NodeId,
    me: &NodeId,
    record: &Record,
    in_batch: &dyn Fn(Kind, &str) -> bool,
) -> DomainResult<()> {
    check_remote(origin, me, record)?;
    let (kind, id) = (record.kind(), record.id_string());
    let refused = |why: String| DomainError::denied("changes", format!("{kind} {id}: {why}"));
    if let Some(held) = state.get(kind, &id)
        && held.owner() != origin
    {
        return Err(refused(format!(
            "此记录属于{}({}),{origin}不能修改",
            state.node_label(held.owner()),
            held.owner()
        )));
    }
    check_record(record).map_err(|e| refused(format!("{}: {}", e.field, e.reason)))?;
    let Some(county) = origin.county_code() else {
        return Ok(());
    };
    let addressed = |to: Option<&str>, what: &str| -> DomainResult<()> {
        match to {
            Some(c) if c == county => Ok(()),
            Some(c) => Err(refused(format!("答复的{what}发给了county/{c}"))),
            None => Err(refused(format!("答复的{what}本节点没有"))),
        }
    };
    match record {
        Record::AssignmentResponse(r) => addressed(state.assignments.get(&r.id).map(|a| a.county.as_str()), "联动任务"),
        Record::SecondmentDecision(r) => {
            addressed(state.secondment_requests.get(&r.id).map(|s| s.county.as_str()), "抽调申请")
        }
        Record::NoticeResponse(r) => {
            let to = state.notices.get(&r.id).map(|n| match &n.addressee {
                Addressee::County(c) => c.as_str(),
                Addressee::Unit(_) => "",
            });
            addressed(to, "督办通知")
        }
        Record::Account(a) => {
            for g in &a.grants {
                let within = match &g.scope {
                    Scope::City => false,
                    Scope::County(c) => c == county,
                    Scope::Round(r) => owned_by(state, in_batch, origin, Kind::Round, &r.to_string()),
                    Scope::Group(g) => owned_by(state, in_batch, origin, Kind::Group, &g.to_string()),
                    Scope::Unit(u) => owned_by(state, in_batch, origin, Kind::Unit, &u.to_string()),
                };
                ensure(within, || refused(format!("授予{}的范围超出county/{county}", g.role.code())))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether the record is `origin`'s: arriving in its batch, or held here as its own.
fn owned_by(state: &State, in_batch: &dyn Fn(Kind, &str) -> bool, origin: &NodeId, kind: Kind, id: &str) -> bool {
    in_batch(kind, id) || state.get(kind, id).is_some_and(|r| r.owner() == origin)
}
