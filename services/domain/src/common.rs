//! Small value types shared by every record: metadata, actors, date windows.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::authz::RoleCode;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, NodeId};

/// Metadata every record carries: its single owner node and its version. Only the owner changes
/// the record; each change bumps the version, and replicas keep the highest version they saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub owner: NodeId,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// The person who made a change, as the ledger records it: their account, login name, name,
/// and the role they acted under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Absent for the first administrator's making (an operator certificate) and for ledgers
    /// written before accounts.
    #[serde(default)]
    pub account: Option<AccountId>,
    #[serde(default)]
    pub username: String,
    // Ledgers written before accounts called it `name`.
    #[serde(alias = "name")]
    pub display_name: String,
    #[serde(default)]
    pub role: Option<RoleCode>,
}

impl Actor {
    /// "name(role)" for tables.
    pub fn label_zh(&self) -> String {
        match self.role {
            Some(r) => format!("{}({})", self.display_name, r.label_zh()),
            None => self.display_name.clone(),
        }
    }
}

/// An inclusive range of calendar days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DateWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateWindow {
    pub fn new(field: &str, from: NaiveDate, to: NaiveDate) -> DomainResult<Self> {
        if from > to {
            return Err(DomainError::invalid(field, format!("开始日期{from}晚于结束日期{to}")));
        }
        Ok(Self { from, to })
    }

    pub fn overlaps(&self, other: &DateWindow) -> bool {
        self.from <= other.to && other.from <= self.to
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

impl std::fmt::Display for DateWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.from, self.to)
    }
}

/// Offices work on Beijing time; "today" for deadlines is the date there.
pub const OFFICE_UTC_OFFSET_HOURS: i64 = 8;

pub fn office_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(OFFICE_UTC_OFFSET_HOURS)).date_naive()
}

/// Adds calendar months, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29).
/// None past the calendar's end: total for any input, no loop.
pub fn add_months(day: NaiveDate, months: u32) -> Option<NaiveDate> {
    day.checked_add_months(chrono::Months::new(months))
}

/// Parses `YYYY-MM-DD` for a request field.
pub fn parse_date(field: &str, text: &str) -> DomainResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| DomainError::invalid(field, format!("'{text}' is not a date (YYYY-MM-DD)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_clamp_to_month_end() {
        let d = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(add_months(d, 2), NaiveDate::from_ymd_opt(2025, 2, 28));
        let d = NaiveDate::from_ymd_opt(2024, 11, 15).unwrap();
        assert_eq!(add_months(d, 2), NaiveDate::from_ymd_opt(2025, 1, 15));
    }

    #[test]
    fn windows_overlap_inclusively() {
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        let a = DateWindow::new("a", d(3, 1), d(3, 31)).unwrap();
        let b = DateWindow::new("b", d(3, 31), d(4, 30)).unwrap();
        let c = DateWindow::new("c", d(4, 1), d(4, 30)).unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert!(DateWindow::new("x", d(4, 1), d(3, 1)).is_err());
    }
}
