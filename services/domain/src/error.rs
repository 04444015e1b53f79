//! The one error type of the domain. Every rejection names the field it is about and a reason a
//! person can act on; the api crate maps the kind onto a gRPC code.

use std::fmt;

/// What kind of rejection this is; decides the gRPC code at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The request itself is malformed (bad dates, empty name, unknown category, ...).
    InvalidArgument,
    /// The request is well formed but the records are not in a state that allows it.
    FailedPrecondition,
    /// The actor or node may not do this.
    PermissionDenied,
    /// A referenced record does not exist on this node.
    NotFound,
    /// A record with this identity already exists.
    AlreadyExists,
    /// The caller is not signed in (no session, or it ended).
    Unauthenticated,
}

/// A rejected command. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub struct DomainError {
    pub kind: ErrorKind,
    /// The request field the error is about, dotted (`group.members[2]`).
    pub field: String,
    pub reason: String,
    /// For a refused permission: its code (`rectification.sign_off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, field, reason)
    }
    pub fn precondition(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::FailedPrecondition, field, reason)
    }
    pub fn denied(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, field, reason)
    }
    pub fn not_found(field: impl Into<String>, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, field, format!("{what}不存在"))
    }
    pub fn exists(field: impl Into<String>, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::AlreadyExists, field, format!("{what}已存在"))
    }
    pub fn new(kind: ErrorKind, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { kind, field: field.into(), reason: reason.into(), permission: None }
    }
    /// A person lacks `permission` (named by its code) for this.
    pub fn denied_permission(permission: &str, reason: impl Into<String>) -> Self {
        Self {
            permission: Some(permission.to_string()),
            ..Self::new(ErrorKind::PermissionDenied, "permission", reason)
        }
    }
    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "authorization", reason)
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// Checks a condition and returns `err` when it does not hold.
pub fn ensure(cond: bool, err: impl FnOnce() -> DomainError) -> DomainResult<()> {
    if cond { Ok(()) } else { Err(err()) }
}

/// A required text field: trimmed, not empty, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> DomainResult<String> {
    let v = value.trim();
    ensure(!v.is_empty(), || DomainError::invalid(field, "不能为空"))?;
    ensure(v.chars().count() <= max, || DomainError::invalid(field, format!("不能超过{max}个字")))?;
    Ok(v.to_string())
}

/// An optional text field: trimmed; empty becomes `None`.
pub fn optional_text(field: &str, value: &str, max: usize) -> DomainResult<Option<String>> {
    if value.trim().is_empty() { Ok(None) } else { required_text(field, value, max).map(Some) }
}
