//! Commands, the envelope they travel in, and [`decide`]: state + command → records and ledger
//! events, or a typed error. Deterministic: time and fresh ids come from the envelope, so the
//! city's raft replicas reach the same decision.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{self, Session, SessionChange, SessionKey, signed_in};
use crate::authz::{Located, Permission, Principal, RoleCode};
use crate::common::{Actor, Meta, office_date};
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, EventId, IdSource, NodeId};
use crate::ledger::LedgerEvent;
use crate::record::Record;
use crate::request::{RequestId, RequestMark};
use crate::state::State;
use crate::{finding, linkage, rectification, roster, round, term};

/// Who sends a command. Never a name in a request: the edge turns a verified bearer token or
/// certificate into one of these, and the rules read the rest (roles, status) from the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// A signed-in person, by the key of their session.
    Session(SessionKey),
    /// Signing in: the edge verified the password of `account` at `epoch` (opens a session only).
    SigningIn { account: AccountId, epoch: u32 },
    /// An operator certificate (makes the first administrator only).
    Operator(String),
}

/// A command with the facts needed to decide it the same way everywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub caller: Caller,
    /// When the command was accepted (by the county node, or by the city leader).
    pub at: DateTime<Utc>,
    /// Seed for the ids the decision creates (a UUIDv7 made at acceptance).
    pub id_seed: Uuid,
    pub command: Command,
    /// The client's name for this write: a retry under the same id gets the first result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
}

impl Envelope {
    pub fn new(caller: Caller, command: Command) -> Self {
        Self { caller, at: Utc::now(), id_seed: Uuid::now_v7(), command, request: None }
    }

    pub fn with_request(self, request: Option<RequestId>) -> Self {
        Self { request, ..self }
    }
}

/// Everything a person can ask a node to change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    CreateTerm(term::CreateTerm),
    PlanUnits(term::PlanUnits),
    RegisterUnit(term::RegisterUnit),
    AddPerson(roster::AddPerson),
    UpdatePerson(roster::UpdatePerson),
    ImportPersons(roster::ImportPersons),
    AddCategory(finding::AddCategory),
    CreateRound(round::CreateRound),
    ChangeRoundDates(round::ChangeRoundDates),
    AdvanceRound(round::AdvanceRound),
    FormGroup(round::FormGroup),
    ChangeGroup(round::ChangeGroup),
    AddTarget(round::AddTarget),
    GiveFeedback(round::GiveFeedback),
    SubmitRectificationReport(round::SubmitRectificationReport),
    RecordFinding(finding::RecordFinding),
    HandOverLead(finding::HandOverLead),
    AcknowledgeLead(finding::AcknowledgeLead),
    ReportLeadResult(finding::ReportLeadResult),
    ReleaseLead(finding::ReleaseLead),
    AddRectificationItem(rectification::AddRectificationItem),
    UpdateRectification(rectification::UpdateRectification),
    SignOffRectification(rectification::SignOffRectification),
    IssueNotice(rectification::IssueNotice),
    RespondNotice(rectification::RespondNotice),
    CloseNotice(rectification::CloseNotice),
    CreateLinkagePlan(linkage::CreateLinkagePlan),
    IssueAssignment(linkage::IssueAssignment),
    RespondAssignment(linkage::RespondAssignment),
    ReportAssignmentProgress(linkage::ReportAssignmentProgress),
    SubmitLinkedReport(linkage::SubmitLinkedReport),
    ReviewLinkedReport(linkage::ReviewLinkedReport),
    RequestSecondment(linkage::RequestSecondment),
    DecideSecondment(linkage::DecideSecondment),
    BootstrapAdmin(account::BootstrapAdmin),
    AddAccount(account::AddAccount),
    SetAccountStatus(account::SetAccountStatus),
    ResetPassword(account::ResetPassword),
    ChangePassword(account::ChangePassword),
    GrantRole(account::GrantRole),
    RevokeRole(account::RevokeRole),
    OpenSession(account::OpenSession),
    TouchSession(account::TouchSession),
    CloseSession(account::CloseSession),
}

impl Command {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::CreateTerm(_) => "create_term",
            Command::PlanUnits(_) => "plan_units",
            Command::RegisterUnit(_) => "register_unit",
            Command::AddPerson(_) => "add_person",
            Command::UpdatePerson(_) => "update_person",
            Command::ImportPersons(_) => "import_persons",
            Command::AddCategory(_) => "add_category",
            Command::CreateRound(_) => "create_round",
            Command::ChangeRoundDates(_) => "change_round_dates",
            Command::AdvanceRound(_) => "advance_round",
            Command::FormGroup(_) => "form_group",
            Command::ChangeGroup(_) => "change_group",
            Command::AddTarget(_) => "add_target",
            Command::GiveFeedback(_) => "give_feedback",
            Command::SubmitRectificationReport(_) => "submit_rectification_report",
            Command::RecordFinding(_) => "record_finding",
            Command::HandOverLead(_) => "hand_over_lead",
            Command::AcknowledgeLead(_) => "acknowledge_lead",
            Command::ReportLeadResult(_) => "report_lead_result",
            Command::ReleaseLead(_) => "release_lead",
            Command::AddRectificationItem(_) => "add_rectification_item",
            Command::UpdateRectification(_) => "update_rectification",
            Command::SignOffRectification(_) => "sign_off_rectification",
            Command::IssueNotice(_) => "issue_notice",
            Command::RespondNotice(_) => "respond_notice",
            Command::CloseNotice(_) => "close_notice",
            Command::CreateLinkagePlan(_) => "create_linkage_plan",
            Command::IssueAssignment(_) => "issue_assignment",
            Command::RespondAssignment(_) => "respond_assignment",
            Command::ReportAssignmentProgress(_) => "report_assignment_progress",
            Command::SubmitLinkedReport(_) => "submit_linked_report",
            Command::ReviewLinkedReport(_) => "review_linked_report",
            Command::RequestSecondment(_) => "request_secondment",
            Command::DecideSecondment(_) => "decide_secondment",
            Command::BootstrapAdmin(_) => "bootstrap_admin",
            Command::AddAccount(_) => "add_account",
            Command::SetAccountStatus(_) => "set_account_status",
            Command::ResetPassword(_) => "reset_password",
            Command::ChangePassword(_) => "change_password",
            Command::GrantRole(_) => "grant_role",
            Command::RevokeRole(_) => "revoke_role",
            Command::OpenSession(_) => "open_session",
            Command::TouchSession(_) => "touch_session",
            Command::CloseSession(_) => "close_session",
        }
    }

    /// Which caller may send it: bootstrap by an operator certificate, a session opened by
    /// signing in, everything else by a signed-in person.
    fn admits(&self, caller: &Caller) -> bool {
        match self {
            Command::BootstrapAdmin(_) => matches!(caller, Caller::Operator(_)),
            Command::OpenSession(_) => matches!(caller, Caller::SigningIn { .. }),
            _ => matches!(caller, Caller::Session(_)),
        }
    }
}

/// What a decision produced: new versions of records, one ledger event per change, and
/// changes to the sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub records: Vec<Record>,
    pub events: Vec<LedgerEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionChange>,
    /// The request this decided, remembered so that a retry is not decided again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestMark>,
}

impl Outcome {
    /// The id of the first record the command wrote (what a create returns to the caller).
    pub fn primary_id(&self) -> Option<String> {
        self.records.first().map(Record::id_string)
    }
}

/// Decides `envelope` against `state` on node `me`.
pub fn decide(state: &State, me: &NodeId, envelope: &Envelope) -> DomainResult<Outcome> {
    if !envelope.command.admits(&envelope.caller) {
        return Err(match envelope.caller {
            Caller::Session(_) => DomainError::denied("caller", "此操作不能以登录身份办理,须由节点之间的同步完成"),
            _ => DomainError::unauthenticated("请先登录".to_string()),
        });
    }
    let mut d = Decision::new(state, me, envelope)?;
    match &envelope.command {
        Command::CreateTerm(c) => term::create_term(&mut d, c),
        Command::PlanUnits(c) => term::plan_units(&mut d, c),
        Command::RegisterUnit(c) => term::register_unit(&mut d, c),
        Command::AddPerson(c) => roster::add_person(&mut d, c),
        Command::UpdatePerson(c) => roster::update_person(&mut d, c),
        Command::ImportPersons(c) => roster::import_persons(&mut d, c),
        Command::AddCategory(c) => finding::add_category(&mut d, c),
        Command::CreateRound(c) => round::create_round(&mut d, c),
        Command::ChangeRoundDates(c) => round::change_round_dates(&mut d, c),
        Command::AdvanceRound(c) => round::advance_round(&mut d, c),
        Command::FormGroup(c) => round::form_group(&mut d, c),
        Command::ChangeGroup(c) => round::change_group(&mut d, c),
        Command::AddTarget(c) => round::add_target(&mut d, c),
        Command::GiveFeedback(c) => round::give_feedback(&mut d, c),
        Command::SubmitRectificationReport(c) => round::submit_rectification_report(&mut d, c),
        Command::RecordFinding(c) => finding::record_finding(&mut d, c),
        Command::HandOverLead(c) => finding::hand_over_lead(&mut d, c),
        Command::AcknowledgeLead(c) => finding::acknowledge_lead(&mut d, c),
        Command::ReportLeadResult(c) => finding::report_lead_result(&mut d, c),
        Command::ReleaseLead(c) => finding::release_lead(&mut d, c),
        Command::AddRectificationItem(c) => rectification::add_item(&mut d, c),
        Command::UpdateRectification(c) => rectification::update_item(&mut d, c),
        Command::SignOffRectification(c) => rectification::sign_off(&mut d, c),
        Command::IssueNotice(c) => rectification::issue_notice(&mut d, c),
        Command::RespondNotice(c) => rectification::respond_notice(&mut d, c),
        Command::CloseNotice(c) => rectification::close_notice(&mut d, c),
        Command::CreateLinkagePlan(c) => linkage::create_plan(&mut d, c),
        Command::IssueAssignment(c) => linkage::issue_assignment(&mut d, c),
        Command::RespondAssignment(c) => linkage::respond_assignment(&mut d, c),
        Command::ReportAssignmentProgress(c) => linkage::report_progress(&mut d, c),
        Command::SubmitLinkedReport(c) => linkage::submit_report(&mut d, c),
        Command::ReviewLinkedReport(c) => linkage::review_report(&mut d, c),
        Command::RequestSecondment(c) => linkage::request_secondment(&mut d, c),
        Command::DecideSecondment(c) => linkage::decide_secondment(&mut d, c),
        Command::BootstrapAdmin(c) => account::bootstrap_admin(&mut d, c),
        Command::AddAccount(c) => account::add_account(&mut d, c),
        Command::SetAccountStatus(c) => account::set_account_status(&mut d, c),
        Command::ResetPassword(c) => account::reset_password(&mut d, c),
        Command::ChangePassword(c) => account::change_password(&mut d, c),
        Command::GrantRole(c) => account::grant_role(&mut d, c),
        Command::RevokeRole(c) => account::revoke_role(&mut d, c),
        Command::OpenSession(c) => account::open_session(&mut d, c),
        Command::TouchSession(c) => account::touch_session(&mut d, c),
        Command::CloseSession(c) => account::close_session(&mut d, c),
    }?;
    // The invariants every stored record keeps, the same a peer's pushed record is held to.
    for r in &d.out.records {
        crate::validate::check_record(r)?;
    }
    let mut out = d.out;
    state.ledger_heads.link(&mut out.events);
    Ok(out)
}

/// The working context of one decision: reads the state, collects the outcome.
pub struct Decision<'a> {
    pub state: &'a State,
    pub me: &'a NodeId,
    pub caller: &'a Caller,
    /// The signed-in person, when the caller is a session.
    principal: Option<Principal>,
    /// The role the person acted under (the first grant that allowed the command).
    role_used: Option<RoleCode>,
    pub at: DateTime<Utc>,
    /// Today's date in the office's time zone, for deadlines.
    pub today: NaiveDate,
    ids: IdSource,
    out: Outcome,
}

impl<'a> Decision<'a> {
    /// The context for `envelope`; a session caller must be signed in at the envelope's time
    /// (the session open and unexpired, the account active and unchanged).
    pub fn new(state: &'a State, me: &'a NodeId, envelope: &'a Envelope) -> DomainResult<Self> {
        let principal = match &envelope.caller {
            Caller::Session(key) => Some(signed_in(state, key, envelope.at, None)?),
            _ => None,
        };
        Ok(Self {
            state,
            me,
            caller: &envelope.caller,
            principal,
            role_used: None,
            at: envelope.at,
            today: office_date(envelope.at),
            ids: IdSource::new(envelope.id_seed),
            out: Outcome::default(),
        })
    }

    /// The signed-in person; refused for other callers.
    pub fn principal(&self) -> DomainResult<&Principal> {
        self.principal.as_ref().ok_or_else(|| DomainError::unauthenticated("请先登录".to_string()))
    }

    /// The caller's session key.
    pub fn session_key(&self) -> DomainResult<SessionKey> {
        self.principal()?.session.clone().ok_or_else(|| DomainError::unauthenticated("请先登录".to_string()))
    }

    /// Requires that the signed-in person may do `permission` on `at` (a grant whose role
    /// permits it and whose scope covers the record), and remembers the role for the ledger.
    pub fn authorize(&mut self, permission: Permission, at: &impl Located) -> DomainResult<()> {
        let role = self.principal()?.authorize(self.state, permission, at)?;
        self.role_used.get_or_insert(role);
        Ok(())
    }

    /// The person acting, as the ledger records them.
    pub fn actor(&self) -> Actor {
        match (&self.principal, self.caller) {
            (Some(p), _) => Actor {
                account: Some(p.account),
                username: p.username.clone(),
                display_name: p.display_name.clone(),
                role: self.role_used,
            },
            (None, Caller::Operator(name)) => {
                Actor {
                    account: None, username: String::new(), display_name: format!("运维证书 {name}"), role: None
                }
            }
            (None, _) => Actor { account: None, username: String::new(), display_name: String::new(), role: None },
        }
    }

    /// The acting person's name, for notes written into records.
    pub fn actor_name(&self) -> String {
        self.actor().display_name
    }

    pub fn put_session(&mut self, session: Session) {
        self.out.sessions.push(SessionChange::Put(session));
    }

    pub fn end_session(&mut self, key: SessionKey) {
        self.out.sessions.push(SessionChange::End(key));
    }

    /// Metadata for a record this node creates now.
    pub fn new_meta(&self) -> Meta {
        Meta { owner: self.me.clone(), version: 1, updated_at: self.at }
    }

    /// Metadata for the next version of a record this node owns.
    pub fn next_meta(&self, meta: &Meta) -> Meta {
        Meta { owner: meta.owner.clone(), version: meta.version + 1, updated_at: self.at }
    }

    /// Only a record's owner may change it.
    pub fn require_owned(&self, field: &str, meta: &Meta) -> DomainResult<()> {
        if &meta.owner == self.me {
            Ok(())
        } else {
            Err(DomainError::denied(
                field,
                format!(
                    "该记录属于{},只能由其修改(本节点为{})",
                    self.state.node_label(&meta.owner),
                    self.state.node_label(self.me)
                ),
            ))
        }
    }

    pub fn require_city(&self, what: &str) -> DomainResult<()> {
        if self.me.is_city() {
            Ok(())
        } else {
            Err(DomainError::precondition("node", format!("{what}由市委巡察办办理")))
        }
    }

    pub fn require_county(&self, what: &str) -> DomainResult<&'a str> {
        self.me.county_code().ok_or_else(|| DomainError::precondition("node", format!("{what}由县(市、区)巡察办办理")))
    }

    /// A record id that no record of this node has yet (ids are made by the caller).
    pub fn fresh_id<T: From<Uuid>>(&mut self) -> T {
        self.ids.next_id()
    }

    /// Saves a new version of `record` and its ledger event.
    pub fn save(&mut self, record: Record, action: &str, summary: String, reason: Option<String>) {
        let event = LedgerEvent {
            id: self.ids.next_id::<EventId>(),
            node: self.me.clone(),
            at: self.at,
            actor: self.actor(),
            action: action.to_string(),
            subject_kind: record.kind(),
            subject_id: record.id_string(),
            subject_version: record.version(),
            summary,
            reason,
            audience: record.audience(),
            chain: None,
        };
        // A decision that touches a record twice keeps the last version.
        let key = (record.kind(), record.id_string());
        self.out.records.retain(|r| (r.kind(), r.id_string()) != key);
        self.out.records.push(record);
        self.out.events.push(event);
    }
}
