//! Proto <-> domain conversions, one file per type. Requests become domain commands through
//! free functions that name the offending field on bad input; records become messages through
//! [`ToPb`]. Generated types stay out of the domain.

pub mod account;
pub mod common;
pub mod finding;
pub mod lead;
pub mod ledger;
pub mod linkage;
pub mod notice;
pub mod person;
pub mod rectification;
pub mod round;
pub mod target;
pub mod term;
pub mod unit;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;
use xuncha_domain::common::parse_date;
use xuncha_domain::{DomainError, DomainResult};

/// A domain value as its proto message.
pub trait ToPb {
    type Pb;
    fn to_pb(&self) -> Self::Pb;
}

/// A domain enum from a proto enum's number; `UNSPECIFIED` and unknown numbers are refused.
pub trait FromPb: Sized {
    fn from_pb(field: &str, value: i32) -> DomainResult<Self>;
}

/// Maps a proto enum onto a domain enum with the same variant names.
macro_rules! enum_conv {
    ($pb:ty, $dom:ty, $what:literal, [$($v:ident),* $(,)?]) => {
        impl crate::conv::ToPb for $dom {
            type Pb = i32;
            fn to_pb(&self) -> i32 {
                match self { $(<$dom>::$v => <$pb>::$v as i32),* }
            }
        }
        impl crate::conv::FromPb for $dom {
            fn from_pb(field: &str, value: i32) -> xuncha_domain::DomainResult<Self> {
                match <$pb>::try_from(value) {
                    $(Ok(<$pb>::$v) => Ok(<$dom>::$v),)*
                    _ => Err(xuncha_domain::DomainError::invalid(field, format!("{} must be set to a valid {}", value, $what))),
                }
            }
        }
    };
}
pub(crate) use enum_conv;

/// A required id field.
pub fn id<T: From<Uuid>>(field: &str, text: &str) -> DomainResult<T> {
    if text.trim().is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    Uuid::parse_str(text.trim())
        .map(T::from)
        .map_err(|_| DomainError::invalid(field, format!("'{text}' is not a valid id (UUID)")))
}

/// An optional id field: empty means none.
pub fn opt_id<T: From<Uuid>>(field: &str, text: &str) -> DomainResult<Option<T>> {
    if text.trim().is_empty() { Ok(None) } else { id(field, text).map(Some) }
}

/// A list of ids; errors name the index (`members[2]`).
pub fn ids<T: From<Uuid>>(field: &str, texts: &[String]) -> DomainResult<Vec<T>> {
    texts.iter().enumerate().map(|(i, t)| id(&format!("{field}[{i}]"), t)).collect()
}

/// A required date field.
pub fn date(field: &str, text: &str) -> DomainResult<NaiveDate> {
    if text.trim().is_empty() {
        return Err(DomainError::invalid(field, "is required (YYYY-MM-DD)"));
    }
    parse_date(field, text)
}

/// An optional date field.
pub fn opt_date(field: &str, text: &str) -> DomainResult<Option<NaiveDate>> {
    if text.trim().is_empty() { Ok(None) } else { parse_date(field, text).map(Some) }
}

/// Empty text means none.
/// A county code from the wire, checked here so the domain only sees well-formed ones.
pub fn county(field: &str, text: &str) -> DomainResult<xuncha_domain::ids::CountyCode> {
    xuncha_domain::ids::CountyCode::parse(field, text.trim())
}

pub fn opt_county(field: &str, text: &str) -> DomainResult<Option<xuncha_domain::ids::CountyCode>> {
    if text.trim().is_empty() { Ok(None) } else { county(field, text).map(Some) }
}

pub fn opt_text(text: &str) -> Option<String> {
    if text.trim().is_empty() { None } else { Some(text.to_string()) }
}

pub fn date_text(day: Option<NaiveDate>) -> String {
    day.map(|d| d.to_string()).unwrap_or_default()
}

pub fn timestamp(at: DateTime<Utc>) -> xuncha_proto::Timestamp {
    xuncha_proto::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

pub fn from_timestamp(t: &xuncha_proto::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
}
