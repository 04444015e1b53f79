//! Rectification (整改): items with measures, deadlines and sign-off (销号) by the office only;
//! and supervision notices (督办) with their responses.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::authz::{Permission, Position};
use crate::command::Decision;
use crate::error::{DomainError, DomainResult, ensure, optional_text, required_text};
use crate::finding::finding_of;
use crate::ids::*;
use crate::labels::Labelled;
use crate::model::*;
use crate::record::Record;
use crate::round::{report_due_on, round_of, target_of};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRectificationItem {
    pub finding: FindingId,
    pub kind: RectificationKind,
    pub measures: Vec<String>,
    pub responsible_unit: String,
    pub responsible_person: Option<String>,
    /// Defaults to the round's report-due date (feedback + 2 months by default).
    pub deadline: Option<NaiveDate>,
}

/// Progress from the unit: a new status and/or a note and evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRectification {
    pub item: RectificationId,
    pub status: Option<RectificationStatus>,
    pub note: Option<String>,
    pub evidence: Option<String>,
}

/// 销号: only the office, only a done item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOffRectification {
    pub item: RectificationId,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueNotice {
    pub addressee: Addressee,
    pub subject: NoticeSubject,
    pub level: NoticeLevel,
    pub text: String,
    pub respond_by: NaiveDate,
    pub escalates: Option<NoticeId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RespondNotice {
    pub notice: NoticeId,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseNotice {
    pub notice: NoticeId,
}

pub fn add_item(d: &mut Decision, c: &AddRectificationItem) -> DomainResult<()> {
    let finding = finding_of(d, c.finding)?;
    d.authorize(Permission::RectificationPlan, finding)?;
    d.require_owned("finding", &finding.meta)?;
    ensure(matches!(finding.status, FindingStatus::FedBack | FindingStatus::Rectifying), || {
        DomainError::precondition("finding", format!("该问题{},反馈后才能整改", finding.status.label_zh()))
    })?;
    let target = target_of(d, "finding", finding.target)?;
    let round = round_of(d, "finding", finding.round)?;
    ensure(round.status != RoundStatus::Closed, || {
        DomainError::precondition("finding", format!("「{}」已结束", round.name))
    })?;
    ensure(!c.measures.is_empty(), || DomainError::invalid("measures", "请至少填写一项整改措施"))?;
    let measures = c
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| required_text(&format!("measures[{i}]"), m, 1000))
        .collect::<DomainResult<Vec<_>>>()?;
    let responsible_unit = required_text("responsible_unit", &c.responsible_unit, 80)?;
    let responsible_person = optional_text("responsible_person", c.responsible_person.as_deref().unwrap_or(""), 32)?;
    let no_feedback = || DomainError::precondition("finding", "该问题所在单位尚未反馈");
    let feedback = target.feedback_on.ok_or_else(no_feedback)?;
    let deadline = match c.deadline {
        Some(day) => day,
        None => report_due_on(round, target).ok_or_else(no_feedback)?,
    };
    ensure(deadline > feedback, || DomainError::invalid("deadline", format!("{deadline}不晚于反馈日期({feedback})")))?;
    let own = d.state.rectifications.values().filter(|i| &i.meta.owner == d.me).map(|i| &i.reference);
    let reference = Reference::next(own, chrono::Datelike::year(&d.today));
    let item = RectificationItem {
        id: d.fresh_id(),
        meta: d.new_meta(),
        reference,
        finding: finding.id,
        target: target.id,
        round: round.id,
        unit: target.unit,
        kind: c.kind,
        measures,
        responsible_unit: responsible_unit.clone(),
        responsible_person,
        deadline,
        status: RectificationStatus::Open,
        progress: Vec::new(),
        evidence: None,
        sign_off: None,
    };
    let summary = format!(
        "「{}」{}:{},责任单位{responsible_unit},期限{deadline}",
        finding.title,
        c.kind.label_zh(),
        c.measures.len()
    );
    d.save(Record::Rectification(item), "rectification.added", summary, None);
    if finding.status == FindingStatus::FedBack {
        let mut nf = finding.clone();
        nf.meta = d.next_meta(&finding.meta);
        nf.status = FindingStatus::Rectifying;
        d.save(Record::Finding(nf), "finding.rectifying", format!("问题「{}」进入整改", finding.title), None);
    }
    if round.status == RoundStatus::FeedbackGiven {
        let mut nr = round.clone();
        nr.meta = d.next_meta(&round.meta);
        nr.status = RoundStatus::Rectifying;
        d.save(Record::Round(nr), "round.rectifying", format!("「{}」进入整改阶段", round.name), None);
    }
    Ok(())
}

fn item_of<'s>(d: &Decision<'s>, id: RectificationId) -> DomainResult<&'s RectificationItem> {
    let item = d.state.rectifications.get(&id).ok_or_else(|| DomainError::not_found("item", "整改事项".to_string()))?;
    d.require_owned("item", &item.meta)?;
    Ok(item)
}

pub fn update_item(d: &mut Decision, c: &UpdateRectification) -> DomainResult<()> {
    let item = item_of(d, c.item)?;
    d.authorize(Permission::RectificationReport, item)?;
    let note = optional_text("note", c.note.as_deref().unwrap_or(""), 2000)?;
    let evidence = optional_text("evidence", c.evidence.as_deref().unwrap_or(""), 2000)?;
    ensure(c.status.is_some() || note.is_some() || evidence.is_some(), || {
        DomainError::invalid("status", "请填写新状态、说明或佐证材料")
    })?;
    use RectificationStatus::*;
    if let Some(to) = c.status {
        let from = item.status;
        let allowed = matches!(
            (from, to),
            (Open, InProgress) | (Open | InProgress, Done) | (Done, InProgress) | (Open | InProgress, LongTerm)
        );
        ensure(allowed, || {
            DomainError::precondition("status", format!("{}的事项不能改为{}", from.label_zh(), to.label_zh()))
        })?;
        if to == Done {
            ensure(evidence.is_some() || item.evidence.is_some(), || {
                DomainError::invalid("evidence", "已完成的事项须附整改佐证材料")
            })?;
        }
        if to == LongTerm {
            ensure(note.is_some(), || DomainError::invalid("note", "请说明为何需长期整改"))?;
        }
    }
    let mut next = item.clone();
    next.meta = d.next_meta(&item.meta);
    if let Some(to) = c.status {
        next.status = to;
    }
    if let Some(text) = &note {
        next.progress.push(ProgressNote { on: d.today, by: d.actor_name(), text: text.clone() });
    }
    if evidence.is_some() {
        next.evidence = evidence;
    }
    let summary = match c.status {
        Some(to) => format!("整改事项{} → {}", item.status.label_zh(), to.label_zh()),
        None => "报告整改进展".into(),
    };
    d.save(Record::Rectification(next), "rectification.updated", summary, note);
    Ok(())
}

pub fn sign_off(d: &mut Decision, c: &SignOffRectification) -> DomainResult<()> {
    let item = item_of(d, c.item)?;
    d.authorize(Permission::RectificationSignOff, item)?;
    ensure(item.status == RectificationStatus::Done, || {
        DomainError::precondition("item", format!("该事项{},只有已完成的事项才能销号", item.status.label_zh()))
    })?;
    let note = optional_text("note", c.note.as_deref().unwrap_or(""), 1000)?;
    let mut next = item.clone();
    next.meta = d.next_meta(&item.meta);
    next.status = RectificationStatus::SignedOff;
    next.sign_off = Some(SignOff { on: d.today, by: d.actor_name(), note: note.clone() });
    d.save(Record::Rectification(next.clone()), "rectification.signed_off", "整改事项销号".into(), note);
    // The finding is signed off once every item for it is.
    let finding = &d.state.findings[&item.finding];
    let all_done = d
        .state
        .items_of_finding(finding.id)
        .map(|i| if i.id == next.id { &next } else { i })
        .all(|i| matches!(i.status, RectificationStatus::SignedOff | RectificationStatus::LongTerm));
    if all_done && finding.status != FindingStatus::SignedOff {
        let mut nf = finding.clone();
        nf.meta = d.next_meta(&finding.meta);
        nf.status = FindingStatus::SignedOff;
        d.save(Record::Finding(nf), "finding.signed_off", format!("问题「{}」整改完成销号", finding.title), None);
    }
    Ok(())
}

/// Overdue: past its deadline and still owed by the unit.
pub fn is_overdue(item: &RectificationItem, today: NaiveDate) -> bool {
    item.status.is_pending() && today > item.deadline
}

pub fn issue_notice(d: &mut Decision, c: &IssueNotice) -> DomainResult<()> {
    let text = required_text("text", &c.text, 2000)?;
    ensure(c.respond_by >= d.today, || DomainError::invalid("respond_by", format!("回复期限{}已过", c.respond_by)))?;
    let addressee_label = match &c.addressee {
        Addressee::County(code) => {
            d.require_city("督办县(市、区)巡察办")?;
            format!("{}巡察办", d.state.county_label(code))
        }
        Addressee::Unit(u) => {
            let unit = d.state.units.get(u).ok_or_else(|| DomainError::not_found("addressee", format!("单位{u}")))?;
            ensure(&unit.meta.owner == d.me, || {
                DomainError::invalid("addressee", "只能督办本级单位;督办县(市、区)须发给其巡察办")
            })?;
            unit.name.clone()
        }
    };
    let to = match &c.addressee {
        Addressee::County(code) => Position::owned(d.me, Some(code)),
        Addressee::Unit(u) => Position { unit: Some(*u), ..Position::node(d.me) },
    };
    d.authorize(Permission::NoticeIssue, &to)?;
    // The subject must be something the addressee answers for.
    let subject_owner = match &c.subject {
        NoticeSubject::Rectification(id) => Some(
            d.state
                .rectifications
                .get(id)
                .ok_or_else(|| DomainError::not_found("subject", "整改事项".to_string()))?
                .meta
                .owner
                .clone(),
        ),
        NoticeSubject::Target(id) => Some(
            d.state
                .targets
                .get(id)
                .ok_or_else(|| DomainError::not_found("subject", format!("巡察对象{id}")))?
                .meta
                .owner
                .clone(),
        ),
        NoticeSubject::Assignment(id) => {
            let a = d
                .state
                .assignments
                .get(id)
                .ok_or_else(|| DomainError::not_found("subject", format!("联动任务{id}")))?;
            ensure(matches!(&c.addressee, Addressee::County(code) if *code == a.county), || {
                DomainError::invalid("subject", "该联动任务属于其他县(市、区)")
            })?;
            None
        }
        NoticeSubject::General => None,
    };
    if let Some(owner) = subject_owner {
        let expected = match &c.addressee {
            Addressee::County(code) => NodeId::of_county(code),
            Addressee::Unit(_) => d.me.clone(),
        };
        ensure(owner == expected, || {
            DomainError::invalid("subject", format!("督办事项属于{},不属于被督办方", d.state.node_label(&owner)))
        })?;
    }
    if let Some(prev) = c.escalates {
        let earlier =
            d.state.notices.get(&prev).ok_or_else(|| DomainError::not_found("escalates", format!("督办通知{prev}")))?;
        ensure(earlier.addressee == c.addressee, || DomainError::invalid("escalates", "前一份督办通知发给了其他对象"))?;
        ensure(c.level > earlier.level, || {
            DomainError::invalid("level", format!("升级须高于{}", earlier.level.label_zh()))
        })?;
    }
    let notice = SupervisionNotice {
        id: d.fresh_id(),
        meta: d.new_meta(),
        addressee: c.addressee.clone(),
        subject: c.subject.clone(),
        level: c.level,
        text,
        respond_by: c.respond_by,
        escalates: c.escalates,
        status: NoticeStatus::Open,
    };
    let summary = format!("向{addressee_label}发出{},限{}前回复", c.level.label_zh(), c.respond_by);
    d.save(Record::Notice(notice), "notice.issued", summary, None);
    Ok(())
}

pub fn respond_notice(d: &mut Decision, c: &RespondNotice) -> DomainResult<()> {
    let notice = d
        .state
        .notices
        .get(&c.notice)
        .ok_or_else(|| DomainError::not_found("notice", format!("督办通知{}", c.notice)))?;
    let text = required_text("text", &c.text, 4000)?;
    match &notice.addressee {
        Addressee::County(code) => {
            ensure(d.me.county_code() == Some(code.as_str()), || {
                DomainError::denied("notice", "该督办通知发给其他县(市、区)")
            })?;
        }
        Addressee::Unit(_) => {
            d.require_owned("notice", &notice.meta)?;
        }
    }
    d.authorize(Permission::NoticeRespond, notice)?;
    ensure(notice.status == NoticeStatus::Open, || DomainError::precondition("notice", "该督办通知已办结"))?;
    let meta = match d.state.notice_responses.get(&notice.id) {
        Some(old) => d.next_meta(&old.meta),
        None => d.new_meta(),
    };
    let response = NoticeResponse { id: notice.id, meta, text, responded_on: d.today };
    d.save(Record::NoticeResponse(response), "notice.responded", format!("回复{}", notice.level.label_zh()), None);
    Ok(())
}

pub fn close_notice(d: &mut Decision, c: &CloseNotice) -> DomainResult<()> {
    let notice = d
        .state
        .notices
        .get(&c.notice)
        .ok_or_else(|| DomainError::not_found("notice", format!("督办通知{}", c.notice)))?;
    d.authorize(Permission::NoticeIssue, notice)?;
    d.require_owned("notice", &notice.meta)?;
    ensure(notice.status == NoticeStatus::Open, || DomainError::precondition("notice", "该督办通知已办结"))?;
    let mut next = notice.clone();
    next.meta = d.next_meta(&notice.meta);
    next.status = NoticeStatus::Closed;
    d.save(Record::Notice(next), "notice.closed", format!("{}办结", notice.level.label_zh()), None);
    Ok(())
}
