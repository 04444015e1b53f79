//! Property test: random command sequences, accepted or refused, never break a lifecycle
//! invariant, and every accepted command bumps each record it writes by exactly one version.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use xuncha_domain::account::{Account, AccountStatus, Session, SessionKey};
use xuncha_domain::authz::{Grant, Scope};
use xuncha_domain::common::DateWindow;
use xuncha_domain::finding::{AcknowledgeLead, HandOverLead, RecordFinding, ReportLeadResult};
use xuncha_domain::ids::CountyCode;
use xuncha_domain::model::*;
use xuncha_domain::rectification::{AddRectificationItem, SignOffRectification, UpdateRectification};
use xuncha_domain::roster::{AddPerson, PersonDraft, UpdatePerson};
use xuncha_domain::round::*;
use xuncha_domain::term::{CreateTerm, PlanUnits, RegisterUnit};
use xuncha_domain::{Caller, Command, DomainError, Envelope, NodeId, Outcome, RoleCode, State, decide};

/// Who acts: one signed-in account per role. The harness gives the group leader every round
/// and the liaison every unit as their scope, so these tests reach deep states; scopes are
/// tested on their own elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Office,
    Group,
    Unit,
    DisciplineCommission,
    OrganisationDepartment,
    Operator,
}

impl Role {
    fn code(self) -> RoleCode {
        match self {
            Role::Office => RoleCode::OfficeHead,
            Role::Group => RoleCode::GroupLeader,
            Role::Unit => RoleCode::UnitLiaison,
            Role::DisciplineCommission => RoleCode::DisciplineCommission,
            Role::OrganisationDepartment => RoleCode::OrganisationDepartment,
            Role::Operator => RoleCode::Operator,
        }
    }
}

struct World {
    state: State,
    me: NodeId,
    now: DateTime<Utc>,
    seq: u64,
}

fn key_of(role: Role) -> SessionKey {
    SessionKey::parse("key", &format!("{:064x}", role as u8 + 1)).unwrap()
}

fn account_id(role: Role) -> xuncha_domain::ids::AccountId {
    xuncha_domain::ids::AccountId(uuid::Uuid::from_u128(role as u128 + 1))
}

impl World {
    fn new() -> Self {
        let mut state = State::default();
        for c in xuncha_domain::finding::seed_categories() {
            state.put(xuncha_domain::Record::Category(c));
        }
        let me = NodeId::county("c01").unwrap();
        let now: DateTime<Utc> = "2026-06-01T02:00:00Z".parse().unwrap();
        let roles = [
            Role::Office,
            Role::Group,
            Role::Unit,
            Role::DisciplineCommission,
            Role::OrganisationDepartment,
            Role::Operator,
        ];
        for role in roles {
            state.put(xuncha_domain::Record::Account(Account {
                id: account_id(role),
                meta: xuncha_domain::Meta { owner: me.clone(), version: 1, updated_at: now },
                username: format!("user{}", role as u8),
                display_name: format!("测试员{}", role as u8),
                status: AccountStatus::Active,
                password_hash: "$argon2id$test".into(),
                epoch: 0,
                must_change_password: false,
                grants: vec![],
            }));
            state.sessions.insert(
                key_of(role),
                Session {
                    key: key_of(role),
                    account: account_id(role),
                    epoch: 0,
                    opened_at: now,
                    last_seen: now,
                    expires_at: now + Duration::days(3650),
                    idle_timeout_s: 3600,
                    client: String::new(),
                },
            );
        }
        Self { state, me, now, seq: 0 }
    }

    /// Sets the role's grants: the county for office roles, every round or unit for the others.
    fn grant(&mut self, role: Role) {
        let code = role.code();
        let scopes: Vec<Scope> = match role {
            Role::Group => self.state.rounds.keys().map(|r| Scope::Round(*r)).collect(),
            Role::Unit => self.state.units.keys().map(|u| Scope::Unit(*u)).collect(),
            _ => vec![Scope::County(CountyCode::parse("county", "c01").unwrap())],
        };
        let account = self.state.accounts.get_mut(&account_id(role)).unwrap();
        account.grants = scopes.into_iter().map(|s| Grant::new(code, s)).collect();
    }

    fn exec(&mut self, role: Role, command: Command) -> Result<Outcome, DomainError> {
        self.grant(role);
        self.seq += 1;
        let seed = uuid::Builder::from_unix_timestamp_millis(
            1_700_000_000_000 + self.seq,
            &self.seq.to_le_bytes().repeat(2)[..10].try_into().unwrap(),
        )
        .into_uuid();
        let env =
            Envelope { caller: Caller::Session(key_of(role)), at: self.now, id_seed: seed, command, request: None };
        let out = decide(&self.state, &self.me, &env)?;
        let mut keys = BTreeSet::new();
        for r in &out.records {
            let before = self.state.version_of(r.kind(), &r.id_string()).unwrap_or(0);
            assert_eq!(r.version(), before + 1, "{} {} must move one version", r.kind(), r.id_string());
            assert_eq!(r.owner(), &self.me);
            assert!(keys.insert((r.kind(), r.id_string())), "a record appears twice in one outcome");
            assert!(
                out.events.iter().any(|e| e.subject_id == r.id_string() && e.subject_version == r.version()),
                "every change has its ledger event"
            );
        }
        for e in &out.events {
            assert_eq!(e.actor.account, Some(account_id(role)), "the ledger names the signed-in account");
            assert!(e.actor.role.is_some(), "{} was done without an authorized role", e.action);
        }
        self.state.apply(&out);
        self.now += Duration::hours(6);
        Ok(out)
    }

    fn today(&self) -> NaiveDate {
        xuncha_domain::common::office_date(self.now)
    }
}

fn day(offset: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(offset)
}

fn nth<K: Clone, V>(m: &BTreeMap<K, V>, i: usize) -> Option<K> {
    if m.is_empty() { None } else { m.keys().nth(i % m.len()).cloned() }
}

/// A base world: units, a term, and a pool with leaders and specialists.
fn base() -> World {
    let mut w = World::new();
    let mut units = Vec::new();
    for i in 0..8 {
        let kind = if i < 5 { UnitKind::CountyDepartment } else { UnitKind::Township };
        let out = w
            .exec(Role::Office, Command::RegisterUnit(RegisterUnit { name: format!("单位{i}"), kind, parent: None }))
            .unwrap();
        units.push(out.records[0].as_unit().unwrap().id);
    }
    let out = w
        .exec(
            Role::Office,
            Command::CreateTerm(CreateTerm {
                name: "十四届".into(),
                window: DateWindow { from: day(-400), to: day(800) },
            }),
        )
        .unwrap();
    let term = out.records[0].as_term().unwrap().id;
    w.exec(Role::Office, Command::PlanUnits(PlanUnits { term, add: units.clone(), remove: vec![] })).unwrap();
    for i in 0..24 {
        let specialties: BTreeSet<Specialty> = [if i % 4 == 0 {
            Specialty::Finance
        } else if i % 4 == 1 {
            Specialty::Audit
        } else {
            Specialty::Law
        }]
        .into();
        let draft = PersonDraft {
            name: format!("人员{i}"),
            gender: None,
            birth_year: 1970 + i,
            rank: [Rank::DivisionHead, Rank::SectionHead, Rank::Staff][i as usize % 3],
            source: PoolSource::InspectionOffice,
            work_unit: "巡察办".into(),
            home_unit: if i % 6 == 0 { Some(units[i as usize % units.len()]) } else { None },
            past_posts: vec![],
            declared_conflicts: BTreeSet::new(),
            specialties,
            leader_qualified: i % 3 == 0,
            active: true,
            unavailable: vec![],
            from_county: None,
        };
        w.exec(Role::Office, Command::AddPerson(AddPerson { person: draft })).unwrap();
    }
    w
}

#[derive(Clone, Debug)]
enum Op {
    CreateRound { number: u8, enter: i16, len: u8, fb: u8 },
    ChangeDates { round: usize, enter: i16, len: u8, fb: u8, reason: bool },
    Advance { round: usize, to: u8 },
    FormGroup { round: usize, leader: usize, members: Vec<usize>, reason: bool },
    ChangeGroup { group: usize, leader: usize, members: Vec<usize>, reason: bool },
    AddTarget { round: usize, group: usize, unit: usize, kind: u8, reason: bool },
    Feedback { target: usize, day: i16 },
    Report { target: usize, day: i16 },
    Finding { target: usize, category: usize },
    HandOver { finding: usize },
    Ack { lead: usize, role: u8 },
    LeadResult { lead: usize },
    AddItem { finding: usize, deadline: Option<i16>, mechanism: bool },
    UpdateItem { item: usize, status: u8, evidence: bool, note: bool },
    SignOff { item: usize, role: u8 },
    Deactivate { person: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let idx = || 0usize..64;
    // Weighted so that sequences reach deep states (groups, findings, sign-off) often.
    prop_oneof![
        2 => (1u8..6, -120i16..60, 5u8..45, 0u8..30).prop_map(|(number, enter, len, fb)| Op::CreateRound { number, enter, len, fb }),
        1 => (idx(), -120i16..60, 5u8..45, 0u8..30, any::<bool>()).prop_map(|(round, enter, len, fb, reason)| Op::ChangeDates { round, enter, len, fb, reason }),
        4 => (idx(), 0u8..7).prop_map(|(round, to)| Op::Advance { round, to }),
        4 => (idx(), idx(), prop::collection::vec(idx(), 3..8), any::<bool>()).prop_map(|(round, leader, members, reason)| Op::FormGroup { round, leader, members, reason }),
        1 => (idx(), idx(), prop::collection::vec(idx(), 3..8), any::<bool>()).prop_map(|(group, leader, members, reason)| Op::ChangeGroup { group, leader, members, reason }),
        4 => (idx(), idx(), idx(), 0u8..4, any::<bool>()).prop_map(|(round, group, unit, kind, reason)| Op::AddTarget { round, group, unit, kind, reason }),
        3 => (idx(), -10i16..120).prop_map(|(target, day)| Op::Feedback { target, day }),
        1 => (idx(), -10i16..120).prop_map(|(target, day)| Op::Report { target, day }),
        4 => (idx(), idx()).prop_map(|(target, category)| Op::Finding { target, category }),
        2 => idx().prop_map(|finding| Op::HandOver { finding }),
        2 => (idx(), 0u8..6).prop_map(|(lead, role)| Op::Ack { lead, role }),
        1 => idx().prop_map(|lead| Op::LeadResult { lead }),
        3 => (idx(), prop::option::of(-20i16..200), any::<bool>()).prop_map(|(finding, deadline, mechanism)| Op::AddItem { finding, deadline, mechanism }),
        6 => (idx(), 0u8..5, any::<bool>(), any::<bool>()).prop_map(|(item, status, evidence, note)| Op::UpdateItem { item, status, evidence, note }),
        5 => (idx(), 0u8..6).prop_map(|(item, role)| Op::SignOff { item, role }),
        1 => idx().prop_map(|person| Op::Deactivate { person }),
    ]
}

const ROLES: [Role; 6] =
    [Role::Office, Role::Group, Role::Unit, Role::DisciplineCommission, Role::OrganisationDepartment, Role::Operator];
const STATUSES: [RoundStatus; 7] = [
    RoundStatus::Draft,
    RoundStatus::Approved,
    RoundStatus::InProgress,
    RoundStatus::FeedbackGiven,
    RoundStatus::Rectifying,
    RoundStatus::Closed,
    RoundStatus::Closed,
];

fn dates(enter: i16, len: u8, fb: u8) -> RoundDates {
    let e = day(enter as i64);
    RoundDates {
        enter_on: e,
        leave_on: e + Duration::days(len as i64 - 5),
        feedback_on: e + Duration::days(len as i64 + fb as i64 - 10),
    }
}

fn reason(r: bool) -> Option<String> {
    r.then(|| "工作需要".to_string())
}

/// A leader from the leader pool and a run of members starting at `members[0]`, `members.len()`
/// long (3-7: sometimes outside the allowed size).
fn staff(
    s: &State,
    leader: usize,
    members: &[usize],
) -> Option<(xuncha_domain::ids::PersonId, Vec<xuncha_domain::ids::PersonId>)> {
    let leaders: Vec<_> = s.persons.values().filter(|p| p.leader_qualified).map(|p| p.id).collect();
    let leader = *leaders.get(leader % leaders.len().max(1))?;
    let others: Vec<_> = s.persons.keys().copied().filter(|p| *p != leader).collect();
    let start = members[0];
    Some((leader, (0..members.len()).map(|k| others[(start + k * 5) % others.len()]).collect()))
}

/// Turns an op into a command against the current records; `None` if there is nothing to act on.
fn command(w: &World, op: &Op) -> Option<(Role, Command)> {
    let s = &w.state;
    let person = |i: usize| nth(&s.persons, i);
    let term = *s.terms.keys().next()?;
    Some(match op.clone() {
        Op::CreateRound { number, enter, len, fb } => (
            Role::Office,
            Command::CreateRound(CreateRound {
                term,
                number: number as u32,
                name: format!("第{number}轮"),
                dates: dates(enter, len, fb),
                report_due_months: None,
                group_size: None,
            }),
        ),
        Op::ChangeDates { round, enter, len, fb, reason: r } => (
            Role::Office,
            Command::ChangeRoundDates(ChangeRoundDates {
                round: nth(&s.rounds, round)?,
                dates: dates(enter, len, fb),
                reason: reason(r),
            }),
        ),
        Op::Advance { round, to } => {
            let round = nth(&s.rounds, round)?;
            // Mostly the natural next step, sometimes any status.
            let to = match (to, s.rounds[&round].status) {
                (0..4, RoundStatus::Draft) => RoundStatus::Approved,
                (0..4, RoundStatus::Approved) => RoundStatus::InProgress,
                (0..4, _) => RoundStatus::Closed,
                (n, _) => STATUSES[n as usize],
            };
            (Role::Office, Command::AdvanceRound(AdvanceRound { round, to }))
        }
        Op::FormGroup { round, leader, members, reason: r } => {
            let (leader, members) = staff(s, leader, &members)?;
            (
                Role::Office,
                Command::FormGroup(FormGroup {
                    round: nth(&s.rounds, round)?,
                    name: format!("组{}", s.groups.len()),
                    leader,
                    members,
                    reason: reason(r),
                }),
            )
        }
        Op::ChangeGroup { group, leader, members, reason: r } => {
            let (leader, members) = staff(s, leader, &members)?;
            (
                Role::Office,
                Command::ChangeGroup(ChangeGroup { group: nth(&s.groups, group)?, leader, members, reason: reason(r) }),
            )
        }
        Op::AddTarget { round, group, unit, kind, reason: r } => {
            let round = nth(&s.rounds, round)?;
            // A group of that round when there is one, else any group (refused).
            let own: Vec<_> = s.groups_of_round(round).map(|g| g.id).collect();
            let group = if own.is_empty() || group % 8 == 7 { nth(&s.groups, group)? } else { own[group % own.len()] };
            (
                Role::Office,
                Command::AddTarget(AddTarget {
                    round,
                    group,
                    unit: nth(&s.units, unit)?,
                    kind: [TargetKind::Regular, TargetKind::Special, TargetKind::Revisit, TargetKind::Regular]
                        [kind as usize],
                    scope: (kind == 1).then(|| "专项".into()),
                    assignment: None,
                    reason: reason(r),
                }),
            )
        }
        Op::Feedback { target, day: d } => {
            // Mostly today (valid once the group entered), sometimes an arbitrary day.
            let on = if d % 4 == 0 { day(d as i64) } else { w.today() };
            (Role::Group, Command::GiveFeedback(GiveFeedback { target: nth(&s.targets, target)?, on }))
        }
        Op::Report { target, day: d } => {
            let on = (day(d as i64) + Duration::days(30)).min(w.today());
            (
                Role::Unit,
                Command::SubmitRectificationReport(SubmitRectificationReport { target: nth(&s.targets, target)?, on }),
            )
        }
        Op::Finding { target, category } => (
            Role::Group,
            Command::RecordFinding(RecordFinding {
                target: nth(&s.targets, target)?,
                category: nth(&s.categories, category)?,
                tags: BTreeSet::new(),
                title: "问题".into(),
                description: "描述".into(),
            }),
        ),
        Op::HandOver { finding } => (
            Role::Group,
            Command::HandOverLead(HandOverLead {
                finding: nth(&s.findings, finding)?,
                summary: "线索".into(),
                receiver: None,
            }),
        ),
        Op::Ack { lead, role } => (
            if role < 2 { Role::DisciplineCommission } else { ROLES[role as usize] },
            Command::AcknowledgeLead(AcknowledgeLead { lead: nth(&s.leads, lead)?, by: "接收人".into() }),
        ),
        Op::LeadResult { lead } => (
            Role::Office,
            Command::ReportLeadResult(ReportLeadResult { lead: nth(&s.leads, lead)?, result: "已处置".into() }),
        ),
        Op::AddItem { finding, deadline, mechanism } => (
            Role::Unit,
            Command::AddRectificationItem(AddRectificationItem {
                finding: nth(&s.findings, finding)?,
                kind: if mechanism { RectificationKind::Mechanism } else { RectificationKind::Measure },
                measures: vec!["措施".into()],
                responsible_unit: "单位".into(),
                responsible_person: None,
                deadline: deadline.map(|d| day(d as i64)),
            }),
        ),
        Op::UpdateItem { item, status, evidence, note } => (
            Role::Unit,
            Command::UpdateRectification(UpdateRectification {
                item: nth(&s.rectifications, item)?,
                status: Some(
                    [
                        RectificationStatus::Open,
                        RectificationStatus::InProgress,
                        RectificationStatus::Done,
                        RectificationStatus::SignedOff,
                        RectificationStatus::LongTerm,
                    ][status as usize],
                ),
                note: note.then(|| "进展".into()),
                evidence: (evidence || status % 2 == 0).then(|| "佐证".into()),
            }),
        ),
        Op::SignOff { item, role } => (
            if role < 3 { Role::Office } else { ROLES[role as usize] },
            Command::SignOffRectification(SignOffRectification { item: nth(&s.rectifications, item)?, note: None }),
        ),
        Op::Deactivate { person: p } => {
            let id = person(p)?;
            let x = &s.persons[&id];
            let draft = PersonDraft {
                name: x.name.clone(),
                gender: x.gender,
                birth_year: x.birth_year,
                rank: x.rank,
                source: x.source,
                work_unit: x.work_unit.clone(),
                home_unit: x.home_unit,
                past_posts: x.past_posts.clone(),
                declared_conflicts: x.declared_conflicts.clone(),
                specialties: x.specialties.clone(),
                leader_qualified: x.leader_qualified,
                active: false,
                unavailable: x.unavailable.clone(),
                from_county: None,
            };
            (Role::Office, Command::UpdatePerson(UpdatePerson { id, person: draft }))
        }
    })
}

/// Every invariant of DOMAIN.md's lifecycles that the state must keep.
fn check_invariants(s: &State) -> Result<(), String> {
    let settled =
        |i: &RectificationItem| matches!(i.status, RectificationStatus::SignedOff | RectificationStatus::LongTerm);
    for r in s.rounds.values() {
        let d = r.dates;
        if !(d.enter_on <= d.leave_on && d.leave_on <= d.feedback_on) {
            return Err(format!("round {} dates out of order", r.name));
        }
        if r.status == RoundStatus::Draft && !r.amendments.is_empty() {
            return Err(format!("draft round {} has amendments", r.name));
        }
        let targets: Vec<&Target> = s.targets_of_round(r.id).collect();
        if r.status >= RoundStatus::Approved && s.groups_of_round(r.id).next().is_none() {
            return Err(format!("round {} approved without groups", r.name));
        }
        if r.status >= RoundStatus::FeedbackGiven && targets.iter().any(|t| t.feedback_on.is_none()) {
            return Err(format!("round {} past feedback with a target lacking feedback", r.name));
        }
        if r.status == RoundStatus::Closed && s.items_of_round(r.id).any(|i| !settled(i)) {
            return Err(format!("closed round {} has unsettled items", r.name));
        }
    }
    for g in s.groups.values() {
        let r = &s.rounds[&g.round];
        let n = g.members.len() as u32;
        if n < r.group_size.min || n > r.group_size.max {
            return Err(format!("group {} has {n} members", g.name));
        }
        let people: BTreeSet<_> = g.people().collect();
        if people.len() != g.members.len() + 1 {
            return Err(format!("group {} lists someone twice", g.name));
        }
        for h in s.groups.values().filter(|h| h.id != g.id) {
            let w = s.rounds[&h.round].dates.window();
            if w.overlaps(&r.dates.window()) && h.people().any(|p| people.contains(&p)) {
                return Err(format!("a person is in {} and {} with overlapping windows", g.name, h.name));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for t in s.targets.values() {
        let g = s.groups.get(&t.group).ok_or("target without group")?;
        if g.round != t.round {
            return Err("target's group is of another round".into());
        }
        if !seen.insert((t.round, t.unit)) {
            return Err("a unit is a target twice in one round".into());
        }
        let leads = s.leads.values().filter(|l| l.target == t.id).count() as u32;
        if leads != t.lead_count {
            return Err(format!("target counts {} leads, holds {leads}", t.lead_count));
        }
        if t.report_submitted_on.is_some() && t.feedback_on.is_none() {
            return Err("report before feedback".into());
        }
    }
    for f in s.findings.values() {
        let t = &s.targets[&f.target];
        let items: Vec<&RectificationItem> = s.items_of_finding(f.id).collect();
        if f.status != FindingStatus::Recorded && t.feedback_on.is_none() {
            return Err("finding fed back before its target's feedback".into());
        }
        if f.status >= FindingStatus::Rectifying && items.is_empty() {
            return Err("rectifying finding without items".into());
        }
        if f.status == FindingStatus::SignedOff && !items.iter().all(|i| settled(i)) {
            return Err("signed-off finding with unsettled items".into());
        }
        if f.status < FindingStatus::Rectifying && !items.is_empty() {
            return Err("items exist for a finding not in rectification".into());
        }
    }
    for i in s.rectifications.values() {
        if (i.status == RectificationStatus::SignedOff) != i.sign_off.is_some() {
            return Err("sign-off record does not match status".into());
        }
        if matches!(i.status, RectificationStatus::Done | RectificationStatus::SignedOff) && i.evidence.is_none() {
            return Err("done item without evidence".into());
        }
    }
    for l in s.leads.values() {
        if l.status == LeadStatus::ResultReported && (l.result.is_none() || l.acknowledged_by.is_none()) {
            return Err("lead result without acknowledgement".into());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_every_invariant(ops in prop::collection::vec(op(), 1..160)) {
        let mut w = base();
        let mut accepted = 0;
        for op in &ops {
            let Some((role, cmd)) = command(&w, op) else { continue };
            w.grant(role);
            let before = w.state.clone();
            // PROP_STATS=1 prints what was accepted, to check the generator reaches deep states.
            let name = cmd.name();
            match w.exec(role, cmd) {
                Ok(_) => { accepted += 1; if std::env::var("PROP_STATS").is_ok() { eprintln!("OK {name}"); } }
                Err(_) => prop_assert_eq!(&w.state, &before, "a refused command changed nothing"),
            }
            if let Err(e) = check_invariants(&w.state) {
                prop_assert!(false, "after {:?}: {}", op, e);
            }
        }
        let _ = accepted;
    }
}

/// The property test must reach deep states, not just bounce off refusals: a scripted path
/// through the same harness goes from plan to a closed round.
#[test]
fn scripted_round_reaches_closed() {
    let mut w = base();
    let term = *w.state.terms.keys().next().unwrap();
    let out = w
        .exec(
            Role::Office,
            Command::CreateRound(CreateRound {
                term,
                number: 1,
                name: "第一轮".into(),
                dates: dates(0, 30, 20),
                report_due_months: None,
                group_size: None,
            }),
        )
        .unwrap();
    let round = out.records[0].as_round().unwrap().id;
    let persons: Vec<_> = w.state.persons.keys().copied().collect();
    let leader = persons.iter().copied().find(|p| w.state.persons[p].leader_qualified).unwrap();
    let members: Vec<_> =
        persons.iter().copied().filter(|p| *p != leader && w.state.persons[p].home_unit.is_none()).take(4).collect();
    let out = w
        .exec(Role::Office, Command::FormGroup(FormGroup { round, name: "一组".into(), leader, members, reason: None }))
        .unwrap();
    let group = out.records[0].as_group().unwrap().id;
    let unit = *w.state.units.keys().nth(1).unwrap();
    let out = w
        .exec(
            Role::Office,
            Command::AddTarget(AddTarget {
                round,
                group,
                unit,
                kind: TargetKind::Regular,
                scope: None,
                assignment: None,
                reason: None,
            }),
        )
        .unwrap();
    let target = out.records[0].as_target().unwrap().id;
    w.exec(Role::Office, Command::AdvanceRound(AdvanceRound { round, to: RoundStatus::Approved })).unwrap();
    w.exec(Role::Office, Command::AdvanceRound(AdvanceRound { round, to: RoundStatus::InProgress })).unwrap();
    let out = w
        .exec(
            Role::Group,
            Command::RecordFinding(RecordFinding {
                target,
                category: "style.formalism".into(),
                tags: BTreeSet::new(),
                title: "t".into(),
                description: "d".into(),
            }),
        )
        .unwrap();
    let finding = out.records[0].as_finding().unwrap().id;
    w.exec(Role::Group, Command::GiveFeedback(GiveFeedback { target, on: day(40) })).unwrap();
    assert_eq!(w.state.rounds[&round].status, RoundStatus::FeedbackGiven);
    let out = w
        .exec(
            Role::Unit,
            Command::AddRectificationItem(AddRectificationItem {
                finding,
                kind: RectificationKind::Measure,
                measures: vec!["m".into()],
                responsible_unit: "u".into(),
                responsible_person: None,
                deadline: None,
            }),
        )
        .unwrap();
    let item = out.records[0].as_rectification().unwrap().id;
    assert_eq!(w.state.rectifications[&item].deadline, xuncha_domain::common::add_months(day(40), 2).unwrap());
    assert_eq!(w.state.rounds[&round].status, RoundStatus::Rectifying);
    w.exec(
        Role::Unit,
        Command::UpdateRectification(UpdateRectification {
            item,
            status: Some(RectificationStatus::Done),
            note: None,
            evidence: Some("e".into()),
        }),
    )
    .unwrap();
    let err = w.exec(Role::Unit, Command::SignOffRectification(SignOffRectification { item, note: None })).unwrap_err();
    assert_eq!(err.kind, xuncha_domain::ErrorKind::PermissionDenied);
    w.exec(Role::Office, Command::SignOffRectification(SignOffRectification { item, note: None })).unwrap();
    assert_eq!(w.state.findings[&finding].status, FindingStatus::SignedOff);
    w.exec(Role::Office, Command::AdvanceRound(AdvanceRound { round, to: RoundStatus::Closed })).unwrap();
    check_invariants(&w.state).unwrap();
}
