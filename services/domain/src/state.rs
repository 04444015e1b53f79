//! The records a node holds, in memory, as the decisions see them. The store loads this at start
//! and keeps it in step with SQLite; decisions read it and never write it directly.

use std::collections::BTreeMap;

use crate::account::{Account, Session, SessionChange, SessionKey};
use crate::command::Outcome;
use crate::ids::*;
use crate::ledger::LedgerHeads;
use crate::model::*;
use crate::record::{Kind, Record};
use crate::request::Requests;

/// All records known on one node: its own and the replicas it received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub terms: BTreeMap<TermId, Term>,
    pub units: BTreeMap<UnitId, Unit>,
    pub persons: BTreeMap<PersonId, Person>,
    pub categories: BTreeMap<String, Category>,
    pub rounds: BTreeMap<RoundId, Round>,
    pub groups: BTreeMap<GroupId, Group>,
    pub targets: BTreeMap<TargetId, Target>,
    pub findings: BTreeMap<FindingId, Finding>,
    pub leads: BTreeMap<LeadId, Lead>,
    pub rectifications: BTreeMap<RectificationId, RectificationItem>,
    pub notices: BTreeMap<NoticeId, SupervisionNotice>,
    pub notice_responses: BTreeMap<NoticeId, NoticeResponse>,
    pub linkage_plans: BTreeMap<LinkagePlanId, LinkagePlan>,
    pub assignments: BTreeMap<AssignmentId, LinkedAssignment>,
    pub assignment_responses: BTreeMap<AssignmentId, AssignmentResponse>,
    pub secondment_requests: BTreeMap<SecondmentId, SecondmentRequest>,
    pub secondment_decisions: BTreeMap<SecondmentId, SecondmentDecision>,
    pub accounts: BTreeMap<AccountId, Account>,
    /// Open sign-in sessions, by the hash of their token (not records: never synced).
    pub sessions: BTreeMap<SessionKey, Session>,
    /// Requests decided lately, so that a retry is answered, not decided again (not synced).
    pub requests: Requests,
    /// The last link of each ledger chain held here (events are in SQLite, not in memory).
    pub ledger_heads: LedgerHeads,
    /// The counties' names as this node's configuration gives them (not records: never synced),
    /// so that a scope or a refusal names 安平县 rather than its code.
    pub county_names: BTreeMap<CountyCode, String>,
}

impl State {
    /// A node as people name it: 市委巡察办, or the county's configured name (its code where
    /// none is configured).
    pub fn node_label(&self, node: &NodeId) -> String {
        match node.county_of() {
            None if node.is_city() => "市委巡察办".into(),
            None => node.to_string(),
            Some(code) => self.county_label(&code),
        }
    }

    /// A county as people name it (its code where no name is configured).
    pub fn county_label(&self, code: &CountyCode) -> String {
        self.county_names.get(code).cloned().unwrap_or_else(|| format!("县(市、区){code}"))
    }

    /// Stores `record`, replacing any earlier version.
    pub fn put(&mut self, record: Record) {
        match record {
            Record::Term(r) => _ = self.terms.insert(r.id, r),
            Record::Unit(r) => _ = self.units.insert(r.id, r),
            Record::Person(r) => _ = self.persons.insert(r.id, r),
            Record::Category(r) => _ = self.categories.insert(r.code.clone(), r),
            Record::Round(r) => _ = self.rounds.insert(r.id, r),
            Record::Group(r) => _ = self.groups.insert(r.id, r),
            Record::Target(r) => _ = self.targets.insert(r.id, r),
            Record::Finding(r) => _ = self.findings.insert(r.id, r),
            Record::Lead(r) => _ = self.leads.insert(r.id, r),
            Record::Rectification(r) => _ = self.rectifications.insert(r.id, r),
            Record::Notice(r) => _ = self.notices.insert(r.id, r),
            Record::NoticeResponse(r) => _ = self.notice_responses.insert(r.id, r),
            Record::LinkagePlan(r) => _ = self.linkage_plans.insert(r.id, r),
            Record::Assignment(r) => _ = self.assignments.insert(r.id, r),
            Record::AssignmentResponse(r) => _ = self.assignment_responses.insert(r.id, r),
            Record::SecondmentRequest(r) => _ = self.secondment_requests.insert(r.id, r),
            Record::SecondmentDecision(r) => _ = self.secondment_decisions.insert(r.id, r),
            Record::Account(r) => _ = self.accounts.insert(r.id, r),
        }
    }

    /// Takes in what a decision produced (records and session changes), in order.
    pub fn apply(&mut self, outcome: &Outcome) {
        for record in &outcome.records {
            self.put(record.clone());
        }
        for change in &outcome.sessions {
            self.apply_session(change);
        }
        for event in &outcome.events {
            self.ledger_heads.advance(event);
        }
        if let Some(mark) = &outcome.request {
            self.requests.take(mark);
        }
    }

    pub fn apply_session(&mut self, change: &SessionChange) {
        match change {
            SessionChange::Put(s) => _ = self.sessions.insert(s.key.clone(), s.clone()),
            SessionChange::End(key) => _ = self.sessions.remove(key),
        }
    }

    /// Stores a replica received from its owner, unless this node already has that version or
    /// a newer one. Returns whether it was stored.
    pub fn put_if_newer(&mut self, record: Record) -> bool {
        let newer = self.version_of(record.kind(), &record.id_string()).is_none_or(|v| v < record.version());
        if newer {
            self.put(record);
        }
        newer
    }

    /// The version held for a record, if any.
    pub fn version_of(&self, kind: Kind, id: &str) -> Option<u64> {
        self.get(kind, id).map(|r| r.version())
    }

    /// A record by kind and textual id, cloned.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Record> {
        if kind == Kind::Category {
            return self.categories.get(id).cloned().map(Record::Category);
        }
        let uuid = uuid::Uuid::parse_str(id).ok()?;
        Some(match kind {
            Kind::Term => Record::Term(self.terms.get(&TermId(uuid))?.clone()),
            Kind::Unit => Record::Unit(self.units.get(&UnitId(uuid))?.clone()),
            Kind::Person => Record::Person(self.persons.get(&PersonId(uuid))?.clone()),
            Kind::Category => unreachable!("handled above"),
            Kind::Round => Record::Round(self.rounds.get(&RoundId(uuid))?.clone()),
            Kind::Group => Record::Group(self.groups.get(&GroupId(uuid))?.clone()),
            Kind::Target => Record::Target(self.targets.get(&TargetId(uuid))?.clone()),
            Kind::Finding => Record::Finding(self.findings.get(&FindingId(uuid))?.clone()),
            Kind::Lead => Record::Lead(self.leads.get(&LeadId(uuid))?.clone()),
            Kind::Rectification => Record::Rectification(self.rectifications.get(&RectificationId(uuid))?.clone()),
            Kind::Notice => Record::Notice(self.notices.get(&NoticeId(uuid))?.clone()),
            Kind::NoticeResponse => Record::NoticeResponse(self.notice_responses.get(&NoticeId(uuid))?.clone()),
            Kind::LinkagePlan => Record::LinkagePlan(self.linkage_plans.get(&LinkagePlanId(uuid))?.clone()),
            Kind::Assignment => Record::Assignment(self.assignments.get(&AssignmentId(uuid))?.clone()),
            Kind::AssignmentResponse => {
                Record::AssignmentResponse(self.assignment_responses.get(&AssignmentId(uuid))?.clone())
            }
            Kind::SecondmentRequest => {
                Record::SecondmentRequest(self.secondment_requests.get(&SecondmentId(uuid))?.clone())
            }
            Kind::SecondmentDecision => {
                Record::SecondmentDecision(self.secondment_decisions.get(&SecondmentId(uuid))?.clone())
            }
            Kind::Account => Record::Account(self.accounts.get(&AccountId(uuid))?.clone()),
        })
    }

    /// Every record, in a stable order (kind, then id).
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        fn all<'a, K, V: Clone + 'a>(m: &'a BTreeMap<K, V>, f: fn(V) -> Record) -> impl Iterator<Item = Record> + 'a {
            m.values().cloned().map(f)
        }
        all(&self.terms, Record::Term)
            .chain(all(&self.units, Record::Unit))
            .chain(all(&self.persons, Record::Person))
            .chain(all(&self.categories, Record::Category))
            .chain(all(&self.rounds, Record::Round))
            .chain(all(&self.groups, Record::Group))
            .chain(all(&self.targets, Record::Target))
            .chain(all(&self.findings, Record::Finding))
            .chain(all(&self.leads, Record::Lead))
            .chain(all(&self.rectifications, Record::Rectification))
            .chain(all(&self.notices, Record::Notice))
            .chain(all(&self.notice_responses, Record::NoticeResponse))
            .chain(all(&self.linkage_plans, Record::LinkagePlan))
            .chain(all(&self.assignments, Record::Assignment))
            .chain(all(&self.assignment_responses, Record::AssignmentResponse))
            .chain(all(&self.secondment_requests, Record::SecondmentRequest))
            .chain(all(&self.secondment_decisions, Record::SecondmentDecision))
            .chain(all(&self.accounts, Record::Account))
    }

    /// How many records are held.
    pub fn record_count(&self) -> usize {
        self.terms.len()
            + self.units.len()
            + self.persons.len()
            + self.categories.len()
            + self.rounds.len()
            + self.groups.len()
            + self.targets.len()
            + self.findings.len()
            + self.leads.len()
            + self.rectifications.len()
            + self.notices.len()
            + self.notice_responses.len()
            + self.linkage_plans.len()
            + self.assignments.len()
            + self.assignment_responses.len()
            + self.secondment_requests.len()
            + self.secondment_decisions.len()
            + self.accounts.len()
    }

    pub fn groups_of_round(&self, round: RoundId) -> impl Iterator<Item = &Group> {
        self.groups.values().filter(move |g| g.round == round)
    }

    pub fn targets_of_round(&self, round: RoundId) -> impl Iterator<Item = &Target> {
        self.targets.values().filter(move |t| t.round == round)
    }

    pub fn targets_of_group(&self, group: GroupId) -> impl Iterator<Item = &Target> {
        self.targets.values().filter(move |t| t.group == group)
    }

    pub fn findings_of_target(&self, target: TargetId) -> impl Iterator<Item = &Finding> {
        self.findings.values().filter(move |f| f.target == target)
    }

    pub fn items_of_finding(&self, finding: FindingId) -> impl Iterator<Item = &RectificationItem> {
        self.rectifications.values().filter(move |i| i.finding == finding)
    }

    pub fn items_of_round(&self, round: RoundId) -> impl Iterator<Item = &RectificationItem> {
        self.rectifications.values().filter(move |i| i.round == round)
    }
}
