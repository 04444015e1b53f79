//! Typed record ids (UUIDv7, made where the record is created) and node ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses a request field; the error names the field.
            pub fn parse(field: &str, text: &str) -> DomainResult<Self> {
                parse_uuid(field, text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

id_type!(/// A committee term (届).
    TermId);
id_type!(/// An inspected unit (被巡察单位).
    UnitId);
id_type!(/// A person in a talent pool (巡察人才库).
    PersonId);
id_type!(/// An inspection round (轮次).
    RoundId);
id_type!(/// An inspection group (巡察组).
    GroupId);
id_type!(/// One unit inspected in one round by one group.
    TargetId);
id_type!(/// A finding (问题).
    FindingId);
id_type!(/// A problem lead handed over (问题线索).
    LeadId);
id_type!(/// A rectification item (整改事项).
    RectificationId);
id_type!(/// A supervision notice (督办); its response shares the id.
    NoticeId);
id_type!(/// A linkage plan (联动方案).
    LinkagePlanId);
id_type!(/// A linked assignment to one county; the county's response shares the id.
    AssignmentId);
id_type!(/// A secondment request (抽调); the county's decision shares the id.
    SecondmentId);
id_type!(/// A ledger event (台账).
    EventId);
id_type!(/// A staff account (账号).
    AccountId);

fn parse_uuid(field: &str, text: &str) -> DomainResult<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| DomainError::invalid(field, format!("'{text}' is not a valid id (UUID)")))
}

/// Hands out fresh ids deterministically from one seed, so a command applied on every raft
/// replica creates the same ids everywhere. The seed is a UUIDv7 made by whoever proposes the
/// command; successive ids keep its timestamp prefix and count up in the random part.
#[derive(Clone, Debug)]
pub struct IdSource {
    seed: u128,
    next: u128,
}

impl IdSource {
    pub fn new(seed: Uuid) -> Self {
        Self { seed: seed.as_u128(), next: 0 }
    }

    pub fn next_uuid(&mut self) -> Uuid {
        // The low 62 bits are random in a v7 id; wrapping inside them keeps version and variant.
        const RANDOM_MASK: u128 = (1u128 << 62) - 1;
        let low = (self.seed & RANDOM_MASK).wrapping_add(self.next) & RANDOM_MASK;
        self.next += 1;
        Uuid::from_u128((self.seed & !RANDOM_MASK) | low)
    }

    pub fn next_id<T: From<Uuid>>(&mut self) -> T {
        T::from(self.next_uuid())
    }
}

/// A county's code (`c01`, `anping`): short lowercase ASCII, used in node ids, certificates and
/// file names. Checked when made or read, so a record or change cannot carry a malformed one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountyCode(String);

impl CountyCode {
    pub fn parse(field: &str, code: &str) -> DomainResult<Self> {
        validate_county_code(field, code)?;
        Ok(Self(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CountyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CountyCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate_county_code("county", &s)?;
        Ok(Self(s))
    }
}

impl From<CountyCode> for String {
    fn from(c: CountyCode) -> String {
        c.0
    }
}

impl PartialEq<str> for CountyCode {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CountyCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Which node owns a record or sent a change: the city cluster (`city`) or one county
/// (`county/<code>`). A node's own id comes from its configuration; a peer's from its certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl NodeId {
    pub const CITY: &'static str = "city";

    pub fn city() -> Self {
        Self(Self::CITY.to_string())
    }

    pub fn county(code: &str) -> DomainResult<Self> {
        validate_county_code("county", code)?;
        Ok(Self(format!("county/{code}")))
    }

    pub fn of_county(code: &CountyCode) -> Self {
        Self(format!("county/{code}"))
    }

    pub fn parse(field: &str, text: &str) -> DomainResult<Self> {
        let t = text.trim();
        if t == Self::CITY {
            return Ok(Self::city());
        }
        match t.strip_prefix("county/") {
            Some(code) => {
                validate_county_code(field, code)?;
                Ok(Self(t.to_string()))
            }
            None => Err(DomainError::invalid(
                field,
                format!("'{text}' is not a node id; expected 'city' or 'county/<code>'"),
            )),
        }
    }

    pub fn is_city(&self) -> bool {
        self.0 == Self::CITY
    }

    /// The county code, for a county node.
    pub fn county_code(&self) -> Option<&str> {
        self.0.strip_prefix("county/")
    }

    /// The county, typed, for a county node (its code was checked when the id was made).
    pub fn county_of(&self) -> Option<CountyCode> {
        self.county_code().map(|c| CountyCode(c.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// County codes are short lowercase ASCII (`c01`, `anping`), used in certificates and file names.
pub fn validate_county_code(field: &str, code: &str) -> DomainResult<()> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(field, format!("'{code}' is not a county code: use 1-32 of a-z, 0-9 and '-'")))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for NodeId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("node", &s)
    }
}

impl From<NodeId> for String {
    fn from(n: NodeId) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn county_codes_are_checked_when_read_too() {
        let c: CountyCode = serde_json::from_str("\"anping\"").unwrap();
        assert_eq!(c, "anping");
        assert_eq!(NodeId::of_county(&c).county_of(), Some(c));
        for bad in ["\"\"", "\"AnPing\"", "\"-x\"", "\"county/x\"", "\"a b\""] {
            assert!(serde_json::from_str::<CountyCode>(bad).is_err(), "{bad}");
        }
        assert_eq!(CountyCode::parse("county", &"x".repeat(33)).unwrap_err().field, "county");
    }

    #[test]
    fn id_source_is_deterministic_and_keeps_v7() {
        let seed = Uuid::now_v7();
        let mut a = IdSource::new(seed);
        let mut b = IdSource::new(seed);
        let xs: Vec<Uuid> = (0..5).map(|_| a.next_uuid()).collect();
        let ys: Vec<Uuid> = (0..5).map(|_| b.next_uuid()).collect();
        assert_eq!(xs, ys);
        for x in &xs {
            assert_eq!(x.get_version_num(), 7);
        }
        let unique: std::collections::BTreeSet<_> = xs.iter().collect();
        assert_eq!(unique.len(), 5);
    }

    #[test]
    fn node_ids_parse() {
        assert!(NodeId::parse("n", "city").unwrap().is_city());
        assert_eq!(NodeId::parse("n", "county/c01").unwrap().county_code(), Some("c01"));
        assert!(NodeId::parse("n", "county/C01").is_err());
        assert!(NodeId::parse("n", "province").is_err());
    }
}
