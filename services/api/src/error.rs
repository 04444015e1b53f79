//! The one place errors become gRPC `Status`: the code from the error's kind, the field and
//! reason in a google.rpc.BadRequest detail, and "field: reason" as the message.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use xuncha_domain::{DomainError, ErrorKind};
use xuncha_store::{ExecuteError, StoreError};

pub use xuncha_wire::LEADER_METADATA;
use xuncha_wire::PERMISSION_KEY;

/// Everything a service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A rule refused the request; nothing changed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Several problems with one request (an imported file's rows).
    #[error("{field}: {} problems", violations.len())]
    Violations { field: String, violations: Vec<(String, String)> },
    /// This replica cannot serve now; retry on the leader (if known) or later.
    #[error("unavailable: {reason}")]
    Unavailable { reason: String, leader: Option<String> },
    /// Too many failed sign-ins: try again after `retry_after`.
    #[error("throttled for {retry_after:?}")]
    Throttled { retry_after: std::time::Duration },
    /// A fault of this node (storage, corruption). The request may not have been applied.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ApiError::Domain(DomainError::invalid(field, reason))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => ApiError::Domain(d),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ExecuteError> for ApiError {
    fn from(e: ExecuteError) -> Self {
        match e {
            ExecuteError::Rejected(d) => ApiError::Domain(d),
            ExecuteError::Store(s) => s.into(),
        }
    }
}

fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::Domain(d) => {
                let mut details = ErrorDetails::with_bad_request_violation(d.field.clone(), d.reason.clone());
                if let Some(permission) = &d.permission {
                    // The permission refused, for clients to show and tests to check.
                    let meta: std::collections::HashMap<String, String> =
                        [(PERMISSION_KEY.to_string(), permission.clone())].into_iter().collect();
                    details.set_error_info(xuncha_wire::REFUSED_REASON, xuncha_wire::ERROR_DOMAIN, meta);
                }
                Status::with_error_details(code_of(d.kind), d.to_string(), details)
            }
            ApiError::Violations { field, violations } => {
                let mut details = ErrorDetails::new();
                for (f, reason) in &violations {
                    details.add_bad_request_violation(f.clone(), reason.clone());
                }
                let first = violations.first().map(|(f, r)| format!("; first: {f}: {r}")).unwrap_or_default();
                let msg = format!("{field}: {} problems{first}", violations.len());
                Status::with_error_details(Code::InvalidArgument, msg, details)
            }
            ApiError::Unavailable { reason, leader } => {
                let mut status = Status::unavailable(reason);
                if let Some(l) = leader
                    && let Ok(v) = l.parse()
                {
                    status.metadata_mut().insert(LEADER_METADATA, v);
                }
                status
            }
            ApiError::Throttled { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                let mut details = ErrorDetails::new();
                details.set_retry_info(Some(retry_after));
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("登录失败次数过多,请{secs}秒后再试"),
                    details,
                )
            }
            ApiError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                Status::internal(msg)
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
