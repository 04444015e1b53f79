//! Every record as one enum, with its kind, key, metadata and audience (where it replicates).

use serde::{Deserialize, Serialize};

use crate::common::Meta;
use crate::ids::{CountyCode, NodeId};
use crate::model::*;

/// The kind of a record, as stored (`records.kind`) and sent in sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Term,
    Unit,
    Person,
    Category,
    Round,
    Group,
    Target,
    Finding,
    Lead,
    Rectification,
    Notice,
    NoticeResponse,
    LinkagePlan,
    Assignment,
    AssignmentResponse,
    SecondmentRequest,
    SecondmentDecision,
    Account,
}

impl Kind {
    pub const ALL: [Kind; 18] = [
        Kind::Term,
        Kind::Unit,
        Kind::Person,
        Kind::Category,
        Kind::Round,
        Kind::Group,
        Kind::Target,
        Kind::Finding,
        Kind::Lead,
        Kind::Rectification,
        Kind::Notice,
        Kind::NoticeResponse,
        Kind::LinkagePlan,
        Kind::Assignment,
        Kind::AssignmentResponse,
        Kind::SecondmentRequest,
        Kind::SecondmentDecision,
        Kind::Account,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Term => "term",
            Kind::Unit => "unit",
            Kind::Person => "person",
            Kind::Category => "category",
            Kind::Round => "round",
            Kind::Group => "group",
            Kind::Target => "target",
            Kind::Finding => "finding",
            Kind::Lead => "lead",
            Kind::Rectification => "rectification",
            Kind::Notice => "notice",
            Kind::NoticeResponse => "notice_response",
            Kind::LinkagePlan => "linkage_plan",
            Kind::Assignment => "assignment",
            Kind::AssignmentResponse => "assignment_response",
            Kind::SecondmentRequest => "secondment_request",
            Kind::SecondmentDecision => "secondment_decision",
            Kind::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds a county may own (and so push to the city).
    pub fn county_may_own(self) -> bool {
        !matches!(self, Kind::LinkagePlan | Kind::Assignment | Kind::SecondmentRequest)
    }

    /// Kinds only the city may own.
    pub fn city_may_own(self) -> bool {
        !matches!(self, Kind::AssignmentResponse | Kind::SecondmentDecision)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sync and outbox name of a ledger event (records use their kind's name).
pub const LEDGER_EVENT_KIND: &str = "ledger_event";

/// What one sync change carries: a record of a kind, or a ledger event. Parsed once at the
/// edge (the wire, the outbox), so an unknown kind never gets further than that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    Record(Kind),
    LedgerEvent,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Record(k) => k.as_str(),
            ChangeKind::LedgerEvent => LEDGER_EVENT_KIND,
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        if s == LEDGER_EVENT_KIND { Some(ChangeKind::LedgerEvent) } else { Kind::parse(s).map(ChangeKind::Record) }
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// As its name, so a change in a raft log entry reads as before.
impl Serialize for ChangeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChangeKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        ChangeKind::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown change kind {s:?}")))
    }
}

/// Where a record's changes go beyond its owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Stays on its node.
    Local,
    /// A county's record, copied to the city for oversight and as the county's off-site copy.
    City,
    /// A city record addressed to one county.
    County(CountyCode),
    /// A city record every county receives (categories).
    AllCounties,
}

/// Any record. The payload types live in [`crate::model`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Term(Term),
    Unit(Unit),
    Person(Person),
    Category(Category),
    Round(Round),
    Group(Group),
    Target(Target),
    Finding(Finding),
    Lead(Lead),
    Rectification(RectificationItem),
    Notice(SupervisionNotice),
    NoticeResponse(NoticeResponse),
    LinkagePlan(LinkagePlan),
    Assignment(LinkedAssignment),
    AssignmentResponse(AssignmentResponse),
    SecondmentRequest(SecondmentRequest),
    SecondmentDecision(SecondmentDecision),
    Account(crate::account::Account),
}

/// Runs `$body` with `$r` bound to the payload of any variant.
macro_rules! each_variant {
    ($rec:expr, $r:ident => $body:expr) => {
        match $rec {
            Record::Term($r) => $body,
            Record::Unit($r) => $body,
            Record::Person($r) => $body,
            Record::Category($r) => $body,
            Record::Round($r) => $body,
            Record::Group($r) => $body,
            Record::Target($r) => $body,
            Record::Finding($r) => $body,
            Record::Lead($r) => $body,
            Record::Rectification($r) => $body,
            Record::Notice($r) => $body,
            Record::NoticeResponse($r) => $body,
            Record::LinkagePlan($r) => $body,
            Record::Assignment($r) => $body,
            Record::AssignmentResponse($r) => $body,
            Record::SecondmentRequest($r) => $body,
            Record::SecondmentDecision($r) => $body,
            Record::Account($r) => $body,
        }
    };
}

impl Record {
    pub fn kind(&self) -> Kind {
        match self {
            Record::Term(_) => Kind::Term,
            Record::Unit(_) => Kind::Unit,
            Record::Person(_) => Kind::Person,
            Record::Category(_) => Kind::Category,
            Record::Round(_) => Kind::Round,
            Record::Group(_) => Kind::Group,
            Record::Target(_) => Kind::Target,
            Record::Finding(_) => Kind::Finding,
            Record::Lead(_) => Kind::Lead,
            Record::Rectification(_) => Kind::Rectification,
            Record::Notice(_) => Kind::Notice,
            Record::NoticeResponse(_) => Kind::NoticeResponse,
            Record::LinkagePlan(_) => Kind::LinkagePlan,
            Record::Assignment(_) => Kind::Assignment,
            Record::AssignmentResponse(_) => Kind::AssignmentResponse,
            Record::SecondmentRequest(_) => Kind::SecondmentRequest,
            Record::SecondmentDecision(_) => Kind::SecondmentDecision,
            Record::Account(_) => Kind::Account,
        }
    }

    /// The record's id as text (a UUID; the code for categories).
    pub fn id_string(&self) -> String {
        match self {
            Record::Category(c) => c.code.clone(),
            Record::Term(r) => r.id.to_string(),
            Record::Unit(r) => r.id.to_string(),
            Record::Person(r) => r.id.to_string(),
            Record::Round(r) => r.id.to_string(),
            Record::Group(r) => r.id.to_string(),
            Record::Target(r) => r.id.to_string(),
            Record::Finding(r) => r.id.to_string(),
            Record::Lead(r) => r.id.to_string(),
            Record::Rectification(r) => r.id.to_string(),
            Record::Notice(r) => r.id.to_string(),
            Record::NoticeResponse(r) => r.id.to_string(),
            Record::LinkagePlan(r) => r.id.to_string(),
            Record::Assignment(r) => r.id.to_string(),
            Record::AssignmentResponse(r) => r.id.to_string(),
            Record::SecondmentRequest(r) => r.id.to_string(),
            Record::SecondmentDecision(r) => r.id.to_string(),
            Record::Account(r) => r.id.to_string(),
        }
    }

    pub fn meta(&self) -> &Meta {
        each_variant!(self, r => &r.meta)
    }

    pub fn meta_mut(&mut self) -> &mut Meta {
        each_variant!(self, r => &mut r.meta)
    }

    pub fn owner(&self) -> &NodeId {
        &self.meta().owner
    }

    pub fn version(&self) -> u64 {
        self.meta().version
    }

    /// Where changes of this record go. Decided from the record alone so every replica agrees.
    pub fn audience(&self) -> Audience {
        let owner = self.owner();
        if !owner.is_city() {
            return match self {
                // Leads leave a county only when it marks them for the city.
                Record::Lead(l) if !l.released_to_city => Audience::Local,
                _ => Audience::City,
            };
        }
        match self {
            Record::Assignment(a) => Audience::County(a.county.clone()),
            Record::SecondmentRequest(s) => Audience::County(s.county.clone()),
            Record::Notice(n) => match &n.addressee {
                Addressee::County(c) => Audience::County(c.clone()),
                Addressee::Unit(_) => Audience::Local,
            },
            Record::Person(p) => match &p.from_county {
                Some(c) => Audience::County(c.clone()),
                None => Audience::Local,
            },
            Record::Category(_) => Audience::AllCounties,
            _ => Audience::Local,
        }
    }
}

/// Checks a replica of `record` received from `origin` before this node stores it: only the
/// owner sends its records, only kinds that tier may own, and only what is addressed here.
pub fn check_remote(origin: &NodeId, me: &NodeId, record: &Record) -> crate::DomainResult<()> {
    use crate::DomainError;
    let kind = record.kind();
    if record.owner() != origin {
        return Err(DomainError::denied(
            "changes",
            format!("{origin}发来的{kind} {}属于{}", record.id_string(), record.owner()),
        ));
    }
    let allowed = if origin.is_city() { kind.city_may_own() } else { kind.county_may_own() };
    if !allowed {
        return Err(DomainError::denied("changes", format!("{origin} may not own a {kind}")));
    }
    if !record.audience().reaches(me) {
        return Err(DomainError::denied("changes", format!("{kind} {} is not addressed to {me}", record.id_string())));
    }
    Ok(())
}

/// The same check for a ledger event received from `origin`.
pub fn check_remote_event(origin: &NodeId, me: &NodeId, event: &crate::LedgerEvent) -> crate::DomainResult<()> {
    use crate::DomainError;
    if &event.node != origin {
        return Err(DomainError::denied("changes", format!("{origin} sent an event made on {}", event.node)));
    }
    if !event.audience.reaches(me) {
        return Err(DomainError::denied("changes", format!("event {} is not addressed to {me}", event.id)));
    }
    Ok(())
}

impl Audience {
    /// Whether changes with this audience are meant for node `node`.
    pub fn reaches(&self, node: &NodeId) -> bool {
        match (self, node.county_code()) {
            (Audience::City, None) => true,
            (Audience::AllCounties, Some(_)) => true,
            (Audience::County(c), Some(mine)) => c == mine,
            _ => false,
        }
    }

    /// The text stored in the outbox's audience column and matched when serving pulls.
    pub fn as_column(&self) -> String {
        match self {
            Audience::Local => "local".into(),
            Audience::City => "city".into(),
            Audience::County(c) => format!("county/{c}"),
            Audience::AllCounties => "all".into(),
        }
    }
}

macro_rules! accessors {
    ($($name:ident => $variant:ident($t:ty)),* $(,)?) => {
        impl Record {
            $(
                #[doc = concat!("The payload if this is a `", stringify!($variant), "`.")]
                pub fn $name(&self) -> Option<&$t> {
                    match self {
                        Record::$variant(x) => Some(x),
                        _ => None,
                    }
                }
            )*
        }
    };
}

accessors!(
    as_term => Term(Term),
    as_unit => Unit(Unit),
    as_person => Person(Person),
    as_category => Category(Category),
    as_round => Round(Round),
    as_group => Group(Group),
    as_target => Target(Target),
    as_finding => Finding(Finding),
    as_lead => Lead(Lead),
    as_rectification => Rectification(RectificationItem),
    as_notice => Notice(SupervisionNotice),
    as_notice_response => NoticeResponse(NoticeResponse),
    as_linkage_plan => LinkagePlan(LinkagePlan),
    as_assignment => Assignment(LinkedAssignment),
    as_assignment_response => AssignmentResponse(AssignmentResponse),
    as_secondment_request => SecondmentRequest(SecondmentRequest),
    as_secondment_decision => SecondmentDecision(SecondmentDecision),
    as_account => Account(crate::account::Account),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_kinds_read_back_as_what_they_are_and_nothing_else_parses() {
        let all = Kind::ALL.into_iter().map(ChangeKind::Record).chain([ChangeKind::LedgerEvent]);
        for kind in all {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ChangeKind>(&json).unwrap(), kind);
        }
        for bad in ["", "Round", "rounds", "ledger", "round "] {
            assert_eq!(ChangeKind::parse(bad), None, "{bad:?}");
            assert!(serde_json::from_str::<ChangeKind>(&format!("\"{bad}\"")).is_err());
        }
    }
}
