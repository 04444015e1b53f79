//! Who may sit in which group: availability, recusal (回避), overlapping bookings across tiers,
//! and the `suggest` helper that proposes members and explains each choice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::common::DateWindow;
use crate::ids::*;
use crate::labels::Labelled;
use crate::model::*;
use crate::state::State;

/// How long a person stays recused from a unit after leaving a post there.
pub const RECUSAL_YEARS_AFTER_POST: u32 = 3;

/// Why `person` may not inspect `unit` in a round starting `from`, if they may not.
pub fn recusal_reason(state: &State, person: &Person, unit: &Unit, from: NaiveDate) -> Option<String> {
    if person.home_unit == Some(unit.id) || (person.home_unit.is_none() && person.work_unit == unit.name) {
        return Some(format!("{}在{}工作", person.name, unit.name));
    }
    if person.declared_conflicts.contains(&unit.id) {
        return Some(format!("{}申报了与{}的回避关系", person.name, unit.name));
    }
    let cutoff = from.checked_sub_months(Months::new(12 * RECUSAL_YEARS_AFTER_POST)).unwrap_or(from);
    for post in &person.past_posts {
        if post.unit == unit.id && post.until.is_none_or(|u| u >= cutoff) {
            let until = post.until.map(|u| u.to_string()).unwrap_or_else(|| "今".into());
            return Some(format!(
                "{}曾在{}任职(至{until}),离任未满{RECUSAL_YEARS_AFTER_POST}年",
                person.name, unit.name
            ));
        }
    }
    // A unit under one the person works in (a village under their township) is recused too.
    if let (Some(home), Some(parent)) = (person.home_unit, unit.parent)
        && home == parent
    {
        let parent_name = state.units.get(&parent).map(|u| u.name.as_str()).unwrap_or("?");
        return Some(format!("{}在{}的上级单位{}工作", person.name, unit.name, parent_name));
    }
    None
}

/// Why `person` cannot be booked for `window` at all, if they cannot.
pub fn availability_problem(person: &Person, window: &DateWindow) -> Option<String> {
    if !person.active {
        return Some(format!("{}已停用(出库)", person.name));
    }
    person.unavailable.iter().find(|w| w.overlaps(window)).map(|w| format!("{}在{w}期间不可抽调", person.name))
}

/// What booked a person for a window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BookingSource {
    Group { group: GroupId, round: RoundId },
    Secondment { request: SecondmentId },
}

/// A person engaged for a window, by a group or a secondment, on some node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub person: PersonId,
    pub window: DateWindow,
    pub source: BookingSource,
    /// The node that made the booking.
    pub owner: NodeId,
    /// Readable: "第七轮 第一巡察组".
    pub label: String,
}

/// Every booking known on this node: group memberships (of any tier it has copies of) and
/// secondment requests that were not declined.
pub fn bookings(state: &State) -> Vec<Booking> {
    let mut out = Vec::new();
    for g in state.groups.values() {
        let Some(round) = state.rounds.get(&g.round) else {
            continue;
        };
        for person in g.people() {
            out.push(Booking {
                person,
                window: round.dates.window(),
                source: BookingSource::Group { group: g.id, round: round.id },
                owner: g.meta.owner.clone(),
                label: format!("{} {}", round.name, g.name),
            });
        }
    }
    for r in state.secondment_requests.values() {
        let declined = state.secondment_decisions.get(&r.id).is_some_and(|d| !d.approved);
        if !declined {
            out.push(Booking {
                person: r.person,
                window: r.window,
                source: BookingSource::Secondment { request: r.id },
                owner: r.meta.owner.clone(),
                label: format!("抽调:{}", r.purpose),
            });
        }
    }
    out
}

/// The bookings of `person` that overlap `window`, leaving out `except` (the group being
/// changed) and the secondment that lets the city use a county person (it is the same job).
pub fn overlapping_bookings<'b>(
    all: &'b [Booking],
    person: PersonId,
    window: &DateWindow,
    except: Option<GroupId>,
    me: &NodeId,
) -> Vec<&'b Booking> {
    all.iter()
        .filter(|b| b.person == person && b.window.overlaps(window))
        .filter(|b| !matches!(b.source, BookingSource::Group { group, .. } if Some(group) == except))
        .filter(|b| !(matches!(b.source, BookingSource::Secondment { .. }) && &b.owner == me && me.is_city()))
        .collect()
}

/// One person booked twice for overlapping windows by different nodes. Both bookings stay;
/// the offices resolve it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub person: PersonId,
    pub person_name: String,
    pub first: Booking,
    pub second: Booking,
}

/// Overlapping bookings of one person made by different nodes (city vs county).
pub fn booking_conflicts(state: &State) -> Vec<Conflict> {
    let all = bookings(state);
    let mut by_person: BTreeMap<PersonId, Vec<&Booking>> = BTreeMap::new();
    for b in &all {
        by_person.entry(b.person).or_default().push(b);
    }
    let mut out = Vec::new();
    for (person, list) in by_person {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                if a.owner != b.owner && a.window.overlaps(&b.window) {
                    out.push(Conflict {
                        person,
                        person_name: state.persons.get(&person).map(|p| p.name.clone()).unwrap_or_default(),
                        first: (*a).clone(),
                        second: (*b).clone(),
                    });
                }
            }
        }
    }
    out
}

/// May this node put `person` in one of its groups for `window`? City groups use the city pool
/// and county persons the county agreed to second; a county uses its own pool.
pub fn may_staff(state: &State, me: &NodeId, person: &Person, window: &DateWindow) -> Result<(), String> {
    if &person.meta.owner == me {
        return Ok(());
    }
    if me.is_city() {
        let seconded = state.secondment_requests.values().any(|r| {
            r.person == person.id
                && r.window.from <= window.from
                && window.to <= r.window.to
                && state.secondment_decisions.get(&r.id).is_some_and(|d| d.approved)
        });
        if seconded {
            return Ok(());
        }
        return Err(format!("{}属于{},需经县方同意抽调后方可编组", person.name, person.meta.owner));
    }
    Err(format!("{}不在本县人才库", person.name))
}

/// A suggested group: chosen people with reasons, and why the others were not chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub leader: Option<Choice>,
    pub members: Vec<Choice>,
    pub not_chosen: Vec<Choice>,
    /// Problems with the suggestion as a whole (e.g. too few eligible people).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub person: PersonId,
    pub name: String,
    pub reasons: Vec<String>,
}

/// What to suggest for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestRequest {
    pub round: RoundId,
    /// The group being changed, whose current members do not count as bookings.
    pub group: Option<GroupId>,
    /// Units the group will inspect (for recusal); the group's targets are added.
    pub units: Vec<UnitId>,
    /// A leader already chosen; otherwise one is suggested.
    pub leader: Option<PersonId>,
    /// How many members; defaults to the round's maximum group size.
    pub size: Option<u32>,
}

fn age_band(birth_year: i32) -> i32 {
    birth_year / 10 * 10
}

/// Proposes a leader and members for a group of `req.round`: hard constraints first
/// (availability, recusal, no overlap, the pool this node may use), then a balance of source,
/// rank and age, with at least one finance or audit specialist.
pub fn suggest(state: &State, me: &NodeId, req: &SuggestRequest) -> Result<Suggestion, String> {
    let round = state.rounds.get(&req.round).ok_or("the round does not exist")?;
    let window = round.dates.window();
    let mut units: BTreeSet<UnitId> = req.units.iter().copied().collect();
    if let Some(g) = req.group {
        units.extend(state.targets_of_group(g).map(|t| t.unit));
    }
    let all = bookings(state);
    let size = req.size.unwrap_or(round.group_size.max) as usize;

    let mut eligible: Vec<&Person> = Vec::new();
    let mut not_chosen = Vec::new();
    for p in state.persons.values() {
        let mut problems = Vec::new();
        if let Err(e) = may_staff(state, me, p, &window) {
            // Persons of other nodes are not candidates at all; say nothing about them.
            if &p.meta.owner != me && !me.is_city() {
                continue;
            }
            problems.push(e);
        }
        if let Some(e) = availability_problem(p, &window) {
            problems.push(e);
        }
        for u in &units {
            if let Some(unit) = state.units.get(u)
                && let Some(r) = recusal_reason(state, p, unit, window.from)
            {
                problems.push(format!("需回避:{r}"));
            }
        }
        for b in overlapping_bookings(&all, p.id, &window, req.group, me) {
            problems.push(format!("时间冲突:已在{}({})", b.label, b.window));
        }
        if problems.is_empty() {
            eligible.push(p);
        } else {
            not_chosen.push(Choice { person: p.id, name: p.name.clone(), reasons: problems });
        }
    }

    // Workload: people who served in fewer groups come first among equals.
    let mut served: BTreeMap<PersonId, usize> = BTreeMap::new();
    for b in &all {
        *served.entry(b.person).or_default() += 1;
    }

    let leader = match req.leader {
        Some(id) => {
            let p = state.persons.get(&id).ok_or("the leader does not exist")?;
            Some(Choice { person: id, name: p.name.clone(), reasons: vec!["已指定为组长".into()] })
        }
        None => eligible
            .iter()
            .filter(|p| p.leader_qualified)
            .min_by_key(|p| (p.rank, served.get(&p.id).copied().unwrap_or(0), p.id))
            .map(|p| Choice {
                person: p.id,
                name: p.name.clone(),
                reasons: vec![format!(
                    "组长库成员,职级{},担任过{}次巡察任务",
                    p.rank.label_zh(),
                    served.get(&p.id).copied().unwrap_or(0)
                )],
            }),
    };
    let mut warnings = Vec::new();
    if leader.is_none() {
        warnings.push("没有符合条件的组长库成员".into());
    }
    let leader_id = leader.as_ref().map(|c| c.person);
    let mut chosen: Vec<&Person> = leader_id.and_then(|id| state.persons.get(&id)).into_iter().collect();
    let mut members = Vec::new();
    let mut pool: Vec<&Person> = eligible.into_iter().filter(|p| Some(p.id) != leader_id).collect();

    while members.len() < size && !pool.is_empty() {
        let has_specialist = chosen.iter().any(|p| p.specialties.iter().any(|s| s.is_finance_or_audit()));
        let score = |p: &Person| -> i64 {
            let specialist = p.specialties.iter().any(|s| s.is_finance_or_audit());
            let same_source = chosen.iter().filter(|c| c.source == p.source).count() as i64;
            let same_rank = chosen.iter().filter(|c| c.rank == p.rank).count() as i64;
            let same_age = chosen.iter().filter(|c| age_band(c.birth_year) == age_band(p.birth_year)).count() as i64;
            let load = served.get(&p.id).copied().unwrap_or(0) as i64;
            (if specialist && !has_specialist { 1000 } else { 0 })
                - 30 * same_source
                - 20 * same_rank
                - 10 * same_age
                - load
        };
        let (idx, best) = pool
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| (score(p), std::cmp::Reverse(p.id)))
            .map(|(i, p)| (i, *p))
            .expect("pool is not empty");
        let mut reasons = Vec::new();
        if best.specialties.iter().any(|s| s.is_finance_or_audit()) && !has_specialist {
            reasons.push("具备财务/审计专长,满足每组至少一名的要求".to_string());
        }
        let sources: BTreeSet<_> = chosen.iter().map(|c| c.source).collect();
        if !sources.contains(&best.source) {
            reasons.push(format!("来源{},组内尚无", best.source.label_zh()));
        }
        let ranks: BTreeSet<_> = chosen.iter().map(|c| c.rank).collect();
        if !ranks.contains(&best.rank) {
            reasons.push(format!("职级{},优化职级结构", best.rank.label_zh()));
        }
        let bands: BTreeSet<_> = chosen.iter().map(|c| age_band(c.birth_year)).collect();
        if !bands.contains(&age_band(best.birth_year)) {
            reasons.push(format!("{}后,优化年龄结构", age_band(best.birth_year) % 100));
        }
        if reasons.is_empty() {
            reasons
                .push(format!("符合全部硬性条件,任务量较少(参加过{}次)", served.get(&best.id).copied().unwrap_or(0)));
        }
        members.push(Choice { person: best.id, name: best.name.clone(), reasons });
        chosen.push(best);
        pool.remove(idx);
    }
    for p in pool {
        not_chosen.push(Choice {
            person: p.id,
            name: p.name.clone(),
            reasons: vec!["符合条件,但已选人员在来源、职级、年龄结构上更均衡".into()],
        });
    }
    if members.len() < round.group_size.min as usize {
        warnings.push(format!("符合条件的人员只有{}名,少于每组最少{}名", members.len(), round.group_size.min));
    }
    if !chosen.iter().any(|p| p.specialties.iter().any(|s| s.is_finance_or_audit())) {
        warnings.push("没有符合条件的财务/审计专业人员".into());
    }
    not_chosen.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Suggestion { leader, members, not_chosen, warnings })
}

/// The year a person turns, for display.
pub fn age_on(person: &Person, day: NaiveDate) -> i32 {
    day.year().saturating_sub(person.birth_year)
}
