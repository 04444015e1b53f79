//! Rounds (轮次), their groups (巡察组) and targets, feedback and rectification reports.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::authz::Permission;
use crate::command::Decision;
use crate::common::add_months;
use crate::error::{DomainError, DomainResult, ensure, optional_text, required_text};
use crate::ids::*;
use crate::labels::Labelled;
use crate::model::*;
use crate::record::Record;
use crate::staffing::{availability_problem, bookings, may_staff, overlapping_bookings, recusal_reason};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRound {
    pub term: TermId,
    pub number: u32,
    pub name: String,
    pub dates: RoundDates,
    /// Months after feedback the rectification report is due; default 2.
    pub report_due_months: Option<u32>,
    pub group_size: Option<GroupSize>,
}

/// Changes the dates; after approval only as a recorded amendment (reason required).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRoundDates {
    pub round: RoundId,
    pub dates: RoundDates,
    pub reason: Option<String>,
}

/// Moves a round along its lifecycle: to approved, in progress, or closed. Feedback given and
/// rectifying are reached by the work itself (feedback to every target, the first item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceRound {
    pub round: RoundId,
    pub to: RoundStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormGroup {
    pub round: RoundId,
    pub name: String,
    pub leader: PersonId,
    pub members: Vec<PersonId>,
    /// Required once the round is approved (the change is an amendment).
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeGroup {
    pub group: GroupId,
    pub leader: PersonId,
    pub members: Vec<PersonId>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddTarget {
    pub round: RoundId,
    pub group: GroupId,
    pub unit: UnitId,
    pub kind: TargetKind,
    pub scope: Option<String>,
    /// For a county's linked target: the city assignment it carries out.
    pub assignment: Option<AssignmentId>,
    pub reason: Option<String>,
}

/// 反馈: the group delivers its findings to the unit's leadership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiveFeedback {
    pub target: TargetId,
    pub on: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRectificationReport {
    pub target: TargetId,
    pub on: NaiveDate,
}

pub const DEFAULT_REPORT_DUE_MONTHS: u32 = 2;

fn check_dates(dates: &RoundDates) -> DomainResult<()> {
    crate::validate::check_round_dates(dates)
}

pub fn round_of<'s>(d: &Decision<'s>, field: &str, id: RoundId) -> DomainResult<&'s Round> {
    d.state.rounds.get(&id).ok_or_else(|| DomainError::not_found(field, format!("轮次{id}")))
}

/// A change to the plan of `round`: free while draft, a recorded amendment (with a reason)
/// while approved or in progress, refused after feedback. Returns the amendment to record.
fn plan_change(
    d: &Decision,
    round: &Round,
    reason: &Option<String>,
    change: String,
) -> DomainResult<Option<Amendment>> {
    match round.status {
        RoundStatus::Draft => Ok(None),
        RoundStatus::Approved | RoundStatus::InProgress => {
            let reason = reason.as_deref().unwrap_or("");
            let reason = required_text("reason", reason, 500).map_err(|_| {
                DomainError::precondition(
                    "reason",
                    format!("「{}」{},变更计划须填写调整原因", round.name, round.status.label_zh()),
                )
            })?;
            Ok(Some(Amendment { at: d.at, actor: d.actor(), reason, change }))
        }
        _ => Err(DomainError::precondition(
            "round",
            format!("「{}」{},计划不能再变更", round.name, round.status.label_zh()),
        )),
    }
}

/// Saves `round` with `amendment` appended, when there is one.
fn save_amended(d: &mut Decision, round: &Round, amendment: Option<Amendment>) {
    if let Some(a) = amendment {
        let mut next = round.clone();
        next.meta = d.next_meta(&round.meta);
        let summary = format!("修订「{}」方案:{}", round.name, a.change);
        let reason = Some(a.reason.clone());
        next.amendments.push(a);
        d.save(Record::Round(next), "round.amended", summary, reason);
    }
}

pub fn create_round(d: &mut Decision, c: &CreateRound) -> DomainResult<()> {
    let term = d.state.terms.get(&c.term).ok_or_else(|| DomainError::not_found("term", format!("届次{}", c.term)))?;
    d.authorize(Permission::RoundPlan, term)?;
    d.require_owned("term", &term.meta)?;
    let name = required_text("name", &c.name, 64)?;
    ensure(c.number >= 1, || DomainError::invalid("number", "轮次从1开始编号"))?;
    check_dates(&c.dates)?;
    ensure(term.window.contains(c.dates.enter_on), || {
        DomainError::invalid("dates.enter_on", format!("进驻日期{}不在届期{}之内", c.dates.enter_on, term.window))
    })?;
    ensure(!d.state.rounds.values().any(|r| r.term == c.term && r.number == c.number), || {
        DomainError::exists("number", format!("{}第{}轮", term.name, c.number))
    })?;
    let months = c.report_due_months.unwrap_or(DEFAULT_REPORT_DUE_MONTHS);
    ensure((1..=12).contains(&months), || DomainError::invalid("report_due_months", "须为1至12个月"))?;
    let size = c.group_size.unwrap_or_default();
    ensure(size.min >= 1 && size.min <= size.max && size.max <= 20, || {
        DomainError::invalid("group_size", format!("{}-{}人不是可用的组规模(1 ≤ 最少 ≤ 最多 ≤ 20)", size.min, size.max))
    })?;
    let round = Round {
        id: d.fresh_id(),
        meta: d.new_meta(),
        term: c.term,
        number: c.number,
        name: name.clone(),
        dates: c.dates,
        report_due_months: months,
        group_size: size,
        status: RoundStatus::Draft,
        amendments: Vec::new(),
    };
    let summary =
        format!("拟定「{name}」方案:进驻{},撤离{},反馈{}", c.dates.enter_on, c.dates.leave_on, c.dates.feedback_on);
    d.save(Record::Round(round), "round.planned", summary, None);
    Ok(())
}

pub fn change_round_dates(d: &mut Decision, c: &ChangeRoundDates) -> DomainResult<()> {
    let round = round_of(d, "round", c.round)?;
    d.authorize(Permission::RoundPlan, round)?;
    d.require_owned("round", &round.meta)?;
    check_dates(&c.dates)?;
    let change = format!(
        "日期由{}/{}/{}改为{}/{}/{}",
        round.dates.enter_on,
        round.dates.leave_on,
        round.dates.feedback_on,
        c.dates.enter_on,
        c.dates.leave_on,
        c.dates.feedback_on
    );
    let amendment = plan_change(d, round, &c.reason, change.clone())?;
    // The new window must not double-book anyone in the round's groups.
    let all = bookings(d.state);
    let window = c.dates.window();
    for g in d.state.groups_of_round(round.id) {
        for p in g.people() {
            let clash = overlapping_bookings(&all, p, &window, Some(g.id), d.me)
                .into_iter()
                .find(|b| !matches!(b.source, crate::staffing::BookingSource::Group { round, .. } if round == c.round));
            if let Some(b) = clash {
                let name = d.state.persons.get(&p).map(|x| x.name.as_str()).unwrap_or("?");
                return Err(DomainError::precondition(
                    "dates",
                    format!("{}的{name}已安排在{}({})", g.name, b.label, b.window),
                ));
            }
        }
    }
    let mut next = round.clone();
    next.meta = d.next_meta(&round.meta);
    next.dates = c.dates;
    let reason = amendment.as_ref().map(|a| a.reason.clone());
    let action = if amendment.is_some() { "round.amended" } else { "round.dates_changed" };
    next.amendments.extend(amendment);
    d.save(Record::Round(next.clone()), action, format!("「{}」{change}", round.name), reason);
    crate::linkage::refresh_round_summaries(d, &next);
    Ok(())
}

pub fn advance_round(d: &mut Decision, c: &AdvanceRound) -> DomainResult<()> {
    let round = round_of(d, "round", c.round)?;
    // Approving a plan and closing a round are the head's; the steps between are the office's.
    let permission = match c.to {
        RoundStatus::Approved | RoundStatus::Closed => Permission::RoundApprove,
        _ => Permission::RoundPlan,
    };
    d.authorize(permission, round)?;
    d.require_owned("round", &round.meta)?;
    let from = round.status;
    let bad = |why: String| DomainError::precondition("to", why);
    match (from, c.to) {
        (RoundStatus::Draft, RoundStatus::Approved) => {
            let groups: Vec<&Group> = d.state.groups_of_round(round.id).collect();
            ensure(!groups.is_empty(), || bad(format!("「{}」还没有组建巡察组", round.name)))?;
            for g in &groups {
                ensure(d.state.targets_of_group(g.id).next().is_some(), || bad(format!("{}还没有巡察对象", g.name)))?;
                check_composition(d, round, Some(g.id), g.leader, &g.members)?;
            }
        }
        (RoundStatus::Approved, RoundStatus::InProgress) => {}
        (RoundStatus::Rectifying | RoundStatus::FeedbackGiven, RoundStatus::Closed) => {
            // Every finding needs an answer before the round can close.
            let unanswered = d
                .state
                .findings
                .values()
                .filter(|f| f.round == round.id && d.state.items_of_finding(f.id).next().is_none())
                .count();
            ensure(unanswered == 0, || bad(format!("还有{unanswered}个问题没有整改事项")))?;
            let open: Vec<&RectificationItem> = d
                .state
                .items_of_round(round.id)
                .filter(|i| !matches!(i.status, RectificationStatus::SignedOff | RectificationStatus::LongTerm))
                .collect();
            ensure(open.is_empty(), || bad(format!("还有{}项整改事项未销号", open.len())))?;
        }
        (_, RoundStatus::FeedbackGiven | RoundStatus::Rectifying) => {
            return Err(DomainError::invalid("to", "“已反馈”和“整改中”由向每个巡察对象反馈、录入整改事项自动进入"));
        }
        _ => {
            return Err(bad(format!("「{}」{},不能改为{}", round.name, from.label_zh(), c.to.label_zh())));
        }
    }
    let mut next = round.clone();
    next.meta = d.next_meta(&round.meta);
    next.status = c.to;
    let summary = format!("「{}」{} → {}", round.name, from.label_zh(), c.to.label_zh());
    d.save(Record::Round(next), &format!("round.{}", c.to.code()), summary, None);
    Ok(())
}

/// Checks a group's leader and members against every rule of group formation.
fn check_composition(
    d: &Decision,
    round: &Round,
    group: Option<GroupId>,
    leader: PersonId,
    members: &[PersonId],
) -> DomainResult<()> {
    let window = round.dates.window();
    let size = round.group_size;
    let n = members.len() as u32;
    ensure(n >= size.min && n <= size.max, || {
        DomainError::invalid("members", format!("本轮每组除组长外应有{}至{}名组员,现有{n}名", size.min, size.max))
    })?;
    let mut seen = BTreeSet::new();
    seen.insert(leader);
    for (i, m) in members.iter().enumerate() {
        ensure(seen.insert(*m), || DomainError::invalid(format!("members[{i}]"), "重复选择(或已是组长)"))?;
    }
    let all = bookings(d.state);
    let targets: Vec<&Target> = group.map(|g| d.state.targets_of_group(g).collect()).unwrap_or_default();
    let mut has_specialist = false;
    let people = std::iter::once(("leader".to_string(), leader))
        .chain(members.iter().enumerate().map(|(i, m)| (format!("members[{i}]"), *m)));
    for (field, id) in people {
        let p = d.state.persons.get(&id).ok_or_else(|| DomainError::not_found(field.as_str(), format!("人员{id}")))?;
        if field == "leader" {
            ensure(p.leader_qualified, || {
                DomainError::precondition(field.as_str(), format!("{}不在组长库中", p.name))
            })?;
        }
        may_staff(d.state, d.me, p, &window).map_err(|e| DomainError::precondition(field.as_str(), e))?;
        if let Some(e) = availability_problem(p, &window) {
            return Err(DomainError::precondition(field.as_str(), e));
        }
        for t in &targets {
            if let Some(unit) = d.state.units.get(&t.unit)
                && let Some(r) = recusal_reason(d.state, p, unit, window.from)
            {
                return Err(DomainError::precondition(field.as_str(), format!("需回避:{r}")));
            }
        }
        if let Some(b) = overlapping_bookings(&all, id, &window, group, d.me).first() {
            return Err(DomainError::precondition(
                field.as_str(),
                format!("{}已被{}抽调({}),与本轮({})时间重叠", p.name, b.label, b.window, window),
            ));
        }
        has_specialist |= p.specialties.iter().any(|s| s.is_finance_or_audit());
    }
    ensure(has_specialist, || DomainError::precondition("members", "每组至少需要一名财务或审计专长的人员"))
}

pub fn form_group(d: &mut Decision, c: &FormGroup) -> DomainResult<()> {
    let round = round_of(d, "round", c.round)?;
    d.authorize(Permission::RoundPlan, round)?;
    d.require_owned("round", &round.meta)?;
    let name = required_text("name", &c.name, 32)?;
    ensure(!d.state.groups_of_round(round.id).any(|g| g.name == name), || {
        DomainError::exists("name", format!("{}的「{name}」", round.name))
    })?;
    let amendment = plan_change(d, round, &c.reason, format!("组建{name}"))?;
    check_composition(d, round, None, c.leader, &c.members)?;
    let group = Group {
        id: d.fresh_id(),
        meta: d.new_meta(),
        round: round.id,
        name: name.clone(),
        leader: c.leader,
        members: c.members.clone(),
    };
    let leader = d.state.persons.get(&c.leader).map(|p| p.name.clone()).unwrap_or_default();
    let summary = format!("组建「{}」{name}:组长{leader},组员{}名", round.name, c.members.len());
    d.save(Record::Group(group), "group.formed", summary, c.reason.clone());
    save_amended(d, round, amendment);
    Ok(())
}

pub fn change_group(d: &mut Decision, c: &ChangeGroup) -> DomainResult<()> {
    let group =
        d.state.groups.get(&c.group).ok_or_else(|| DomainError::not_found("group", format!("巡察组{}", c.group)))?;
    d.authorize(Permission::RoundPlan, group)?;
    d.require_owned("group", &group.meta)?;
    let round = round_of(d, "group", group.round)?;
    let amendment = plan_change(d, round, &c.reason, format!("调整{}成员", group.name))?;
    check_composition(d, round, Some(group.id), c.leader, &c.members)?;
    let mut next = group.clone();
    next.meta = d.next_meta(&group.meta);
    next.leader = c.leader;
    next.members = c.members.clone();
    let summary = format!("调整「{}」{}成员,组员{}名", round.name, group.name, c.members.len());
    d.save(Record::Group(next), "group.changed", summary, c.reason.clone());
    save_amended(d, round, amendment);
    Ok(())
}

pub fn add_target(d: &mut Decision, c: &AddTarget) -> DomainResult<()> {
    let round = round_of(d, "round", c.round)?;
    d.authorize(Permission::RoundPlan, round)?;
    d.require_owned("round", &round.meta)?;
    let group =
        d.state.groups.get(&c.group).ok_or_else(|| DomainError::not_found("group", format!("巡察组{}", c.group)))?;
    ensure(group.round == round.id, || DomainError::invalid("group", format!("{}属于另一轮巡察", group.name)))?;
    let unit = d.state.units.get(&c.unit).ok_or_else(|| DomainError::not_found("unit", format!("单位{}", c.unit)))?;
    ensure(&unit.meta.owner == d.me, || {
        DomainError::invalid(
            "unit",
            format!("「{}」由{}登记,须由其巡察", unit.name, d.state.node_label(&unit.meta.owner)),
        )
    })?;
    ensure(!d.state.targets_of_round(round.id).any(|t| t.unit == unit.id), || {
        DomainError::exists("unit", format!("「{}」作为{}的巡察对象", unit.name, round.name))
    })?;
    let scope = optional_text("scope", c.scope.as_deref().unwrap_or(""), 500)?;
    if c.kind == TargetKind::Special {
        ensure(scope.is_some(), || DomainError::invalid("scope", "专项巡察须写明巡察范围"))?;
    }
    let amendment = plan_change(d, round, &c.reason, format!("增加巡察对象{}", unit.name))?;
    for p in group.people() {
        let person = d.state.persons.get(&p);
        if let Some(person) = person
            && let Some(r) = recusal_reason(d.state, person, unit, round.dates.enter_on)
        {
            return Err(DomainError::precondition("unit", format!("{}需回避:{r}", group.name)));
        }
    }
    let mut inherited = Vec::new();
    if c.kind == TargetKind::Revisit {
        let earlier: Vec<&Target> = d
            .state
            .targets
            .values()
            .filter(|t| t.unit == unit.id && t.round != round.id && t.meta.owner == *d.me)
            .collect();
        ensure(!earlier.is_empty(), || {
            DomainError::precondition("unit", format!("「{}」此前未被巡察过,无法“回头看”", unit.name))
        })?;
        inherited =
            d.state.findings.values().filter(|f| earlier.iter().any(|t| t.id == f.target)).map(|f| f.id).collect();
    }
    match (c.kind, &c.assignment) {
        (_, Some(a)) => {
            let code = d.require_county("承接联动任务")?;
            let assignment = d
                .state
                .assignments
                .get(a)
                .ok_or_else(|| DomainError::not_found("assignment", format!("联动任务{a}")))?;
            ensure(assignment.county == code, || DomainError::denied("assignment", "该联动任务属于其他县(市、区)"))?;
            let accepted =
                d.state.assignment_responses.get(a).is_some_and(|r| r.decision == AssignmentDecision::Accepted);
            ensure(accepted, || DomainError::precondition("assignment", "请先接收联动任务,再安排联动巡察对象"))?;
            ensure(c.kind == TargetKind::Linked, || {
                DomainError::invalid("kind", "承接联动任务的巡察对象须为联动巡察")
            })?;
        }
        (TargetKind::Linked, None) if !d.me.is_city() => {
            return Err(DomainError::invalid(
                "assignment",
                "a county's linked inspection names the city assignment it carries out",
            ));
        }
        _ => {}
    }
    let target = Target {
        id: d.fresh_id(),
        meta: d.new_meta(),
        round: round.id,
        group: group.id,
        unit: unit.id,
        kind: c.kind,
        scope,
        assignment: c.assignment,
        inherited_findings: inherited.clone(),
        feedback_on: None,
        report_submitted_on: None,
        lead_count: 0,
    };
    let mut summary = format!("「{}」{}{}:{}", round.name, group.name, c.kind.label_zh(), unit.name);
    if c.kind == TargetKind::Revisit {
        summary.push_str(&format!(",继承既往问题{}个", inherited.len()));
    }
    d.save(Record::Target(target), "target.added", summary, c.reason.clone());
    save_amended(d, round, amendment);
    Ok(())
}

pub fn target_of<'s>(d: &Decision<'s>, field: &str, id: TargetId) -> DomainResult<&'s Target> {
    d.state.targets.get(&id).ok_or_else(|| DomainError::not_found(field, format!("巡察对象{id}")))
}

/// Findings and feedback belong to a round whose groups have entered (进驻) and not yet closed.
pub fn require_groups_entered(round: &Round, why: &str) -> DomainResult<()> {
    ensure(
        matches!(round.status, RoundStatus::InProgress | RoundStatus::FeedbackGiven | RoundStatus::Rectifying),
        || DomainError::precondition("target", format!("「{}」{},{why}", round.name, round.status.label_zh())),
    )
}

pub fn give_feedback(d: &mut Decision, c: &GiveFeedback) -> DomainResult<()> {
    let target = target_of(d, "target", c.target)?;
    d.authorize(Permission::FeedbackGive, target)?;
    d.require_owned("target", &target.meta)?;
    let round = round_of(d, "target", target.round)?;
    require_groups_entered(round, "巡察组进驻后才能反馈")?;
    ensure(target.feedback_on.is_none(), || DomainError::precondition("target", "已向该单位反馈过"))?;
    ensure(c.on >= round.dates.enter_on, || {
        DomainError::invalid("on", format!("{}早于进驻日期({})", c.on, round.dates.enter_on))
    })?;
    ensure(c.on <= d.today, || DomainError::invalid("on", format!("{}晚于今天", c.on)))?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    next.feedback_on = Some(c.on);
    let unit = d.state.units.get(&target.unit).map(|u| u.name.clone()).unwrap_or_default();
    let findings: Vec<Finding> = d.state.findings_of_target(target.id).cloned().collect();
    let summary = format!("向{unit}反馈巡察情况,问题{}个", findings.len());
    d.save(Record::Target(next), "target.feedback_given", summary, None);
    for f in findings.into_iter().filter(|f| f.status == FindingStatus::Recorded) {
        let mut nf = f.clone();
        nf.meta = d.next_meta(&f.meta);
        nf.status = FindingStatus::FedBack;
        d.save(Record::Finding(nf), "finding.fed_back", format!("问题「{}」已反馈", f.title), None);
    }
    let all_given = d.state.targets_of_round(round.id).all(|t| t.id == target.id || t.feedback_on.is_some());
    if all_given && round.status == RoundStatus::InProgress {
        // Items for targets fed back earlier may already exist: then rectification is under way.
        let rectifying = d.state.items_of_round(round.id).next().is_some();
        let mut nr = round.clone();
        nr.meta = d.next_meta(&round.meta);
        nr.status = if rectifying { RoundStatus::Rectifying } else { RoundStatus::FeedbackGiven };
        d.save(Record::Round(nr), "round.feedback_given", format!("「{}」全部反馈完毕", round.name), None);
    }
    Ok(())
}

/// The day a target's rectification report is due: feedback + the round's months.
pub fn report_due_on(round: &Round, target: &Target) -> Option<NaiveDate> {
    target.feedback_on.and_then(|f| add_months(f, round.report_due_months))
}

pub fn submit_rectification_report(d: &mut Decision, c: &SubmitRectificationReport) -> DomainResult<()> {
    let target = target_of(d, "target", c.target)?;
    d.authorize(Permission::RectificationReport, target)?;
    d.require_owned("target", &target.meta)?;
    let feedback = target.feedback_on.ok_or_else(|| DomainError::precondition("target", "该单位尚未反馈巡察意见"))?;
    ensure(target.report_submitted_on.is_none(), || DomainError::precondition("target", "整改报告已登记过"))?;
    ensure(c.on >= feedback && c.on <= d.today, || {
        DomainError::invalid("on", format!("{}须在反馈日期({feedback})与今天之间", c.on))
    })?;
    let mut next = target.clone();
    next.meta = d.next_meta(&target.meta);
    next.report_submitted_on = Some(c.on);
    let unit = d.state.units.get(&target.unit).map(|u| u.name.clone()).unwrap_or_default();
    d.save(Record::Target(next), "target.report_submitted", format!("{unit}报送整改报告"), None);
    Ok(())
}
