//! Read-side rules: coverage of the term plan (全覆盖), overdue rectification, linked progress,
//! per-node summaries for the city's oversight. Pure functions over the state.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::linkage::assignment_stage;
use crate::model::*;
use crate::rectification::is_overdue;
use crate::round::report_due_on;
use crate::state::State;

/// Coverage of one term plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub term: TermId,
    pub term_name: String,
    pub owner: NodeId,
    pub planned: usize,
    /// Planned units inspected at least once in the term (feedback given).
    pub covered: usize,
    /// Planned units under inspection now, not yet covered.
    pub in_progress: usize,
    pub percent: f64,
    pub uncovered: Vec<UnitId>,
}

/// A unit counts as covered once a round of the term gave it feedback: the inspection is done.
pub fn coverage(state: &State, term: &Term) -> Coverage {
    let rounds: BTreeSet<RoundId> = state.rounds.values().filter(|r| r.term == term.id).map(|r| r.id).collect();
    let mut covered = BTreeSet::new();
    let mut active = BTreeSet::new();
    for t in state.targets.values().filter(|t| rounds.contains(&t.round) && term.planned_units.contains(&t.unit)) {
        if t.feedback_on.is_some() {
            covered.insert(t.unit);
        } else if state.rounds.get(&t.round).is_some_and(|r| r.status != RoundStatus::Draft) {
            active.insert(t.unit);
        }
    }
    let planned = term.planned_units.len();
    let percent = if planned == 0 { 0.0 } else { (covered.len() as f64 * 10000.0 / planned as f64).round() / 100.0 };
    Coverage {
        term: term.id,
        term_name: term.name.clone(),
        owner: term.meta.owner.clone(),
        planned,
        covered: covered.len(),
        in_progress: active.difference(&covered).count(),
        percent,
        uncovered: term.planned_units.iter().filter(|u| !covered.contains(u)).copied().collect(),
    }
}

/// Counts of rectification items by status, with overdue ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationSummary {
    pub total: usize,
    pub open: usize,
    pub in_progress: usize,
    pub done: usize,
    pub signed_off: usize,
    pub long_term: usize,
    pub overdue: usize,
}

pub fn summarize_items<'a>(
    items: impl Iterator<Item = &'a RectificationItem>,
    today: NaiveDate,
) -> RectificationSummary {
    let mut s = RectificationSummary::default();
    for i in items {
        s.total += 1;
        match i.status {
            RectificationStatus::Open => s.open += 1,
            RectificationStatus::InProgress => s.in_progress += 1,
            RectificationStatus::Done => s.done += 1,
            RectificationStatus::SignedOff => s.signed_off += 1,
            RectificationStatus::LongTerm => s.long_term += 1,
        }
        if is_overdue(i, today) {
            s.overdue += 1;
        }
    }
    s
}

/// An item past its deadline, with how late it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueItem {
    pub item: RectificationId,
    pub owner: NodeId,
    pub days_overdue: i64,
}

pub fn overdue_items(state: &State, today: NaiveDate) -> Vec<OverdueItem> {
    let mut out: Vec<OverdueItem> = state
        .rectifications
        .values()
        .filter(|i| is_overdue(i, today))
        .map(|i| OverdueItem { item: i.id, owner: i.meta.owner.clone(), days_overdue: (today - i.deadline).num_days() })
        .collect();
    out.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then(a.item.cmp(&b.item)));
    out
}

/// A target whose rectification report is past due and not in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueReport {
    pub target: TargetId,
    pub owner: NodeId,
    pub due_on: NaiveDate,
}

pub fn overdue_reports(state: &State, today: NaiveDate) -> Vec<OverdueReport> {
    state
        .targets
        .values()
        .filter(|t| t.report_submitted_on.is_none())
        .filter_map(|t| {
            let due = report_due_on(state.rounds.get(&t.round)?, t)?;
            (today > due).then(|| OverdueReport { target: t.id, owner: t.meta.owner.clone(), due_on: due })
        })
        .collect()
}

/// One node's standing, as the city oversees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeOversight {
    pub node: NodeId,
    pub rounds: usize,
    pub rounds_open: usize,
    pub targets: usize,
    pub findings: usize,
    pub leads: u32,
    pub rectification: RectificationSummary,
    pub overdue_reports: usize,
    pub coverage: Vec<Coverage>,
    /// Linked assignments to this county by stage.
    pub assignments: BTreeMap<AssignmentStage, usize>,
}

/// The standing of every node whose records this node holds (the city: all counties).
pub fn oversight(state: &State, today: NaiveDate) -> Vec<NodeOversight> {
    let mut nodes: BTreeSet<NodeId> = state.rounds.values().map(|r| r.meta.owner.clone()).collect();
    nodes.extend(state.terms.values().map(|t| t.meta.owner.clone()));
    for a in state.assignments.values() {
        nodes.insert(NodeId::of_county(&a.county));
    }
    let reports = overdue_reports(state, today);
    nodes
        .into_iter()
        .map(|node| {
            let owned = |m: &crate::common::Meta| m.owner == node;
            let mut assignments = BTreeMap::new();
            for a in state.assignments.values().filter(|a| node.county_code() == Some(a.county.as_str())) {
                *assignments.entry(assignment_stage(a, state.assignment_responses.get(&a.id))).or_default() += 1;
            }
            NodeOversight {
                rounds: state.rounds.values().filter(|r| owned(&r.meta)).count(),
                rounds_open: state
                    .rounds
                    .values()
                    .filter(|r| owned(&r.meta) && r.status != RoundStatus::Closed)
                    .count(),
                targets: state.targets.values().filter(|t| owned(&t.meta)).count(),
                findings: state.findings.values().filter(|f| owned(&f.meta)).count(),
                leads: state.targets.values().filter(|t| owned(&t.meta)).map(|t| t.lead_count).sum(),
                rectification: summarize_items(state.rectifications.values().filter(|i| owned(&i.meta)), today),
                overdue_reports: reports.iter().filter(|r| r.owner == node).count(),
                coverage: state.terms.values().filter(|t| owned(&t.meta)).map(|t| coverage(state, t)).collect(),
                assignments,
                node,
            }
        })
        .collect()
}
