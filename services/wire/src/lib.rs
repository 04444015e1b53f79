//! What xuncha clients and servers share on the wire, with no server code: the metadata keys,
//! the bearer token a signed-in client sends, a reader of error statuses for people, and the
//! Chinese labels of the API's enums. The CLI depends on this and `xuncha-proto` only.

pub mod labels;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Status};
use tonic_types::StatusExt;

/// Metadata key of the bearer token: `authorization: Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";

/// Metadata key carrying the leader's gRPC address when a city follower cannot serve a request.
pub const LEADER: &str = "xuncha-leader";
pub const LEADER_METADATA: &str = LEADER;

/// The google.rpc.ErrorInfo of a refusal that names a permission: its domain, its reason, and
/// the metadata key holding the permission code.
pub const ERROR_DOMAIN: &str = "xuncha.gov";
pub const REFUSED_REASON: &str = "PERMISSION_REFUSED";
pub const PERMISSION_KEY: &str = "permission";

/// Metadata key a client sets to `stale` to read any city replica's state without a read barrier.
pub const CONSISTENCY: &str = "xuncha-consistency";

/// Metadata key of a write's request id: a retry under the same id gets the first result and
/// is never applied twice.
pub const REQUEST_ID: &str = "xuncha-request-id";

/// The token in `metadata`, if it carries `authorization: Bearer <token>`.
pub fn bearer_token(metadata: &MetadataMap) -> Option<&str> {
    bearer_of(metadata.get(AUTHORIZATION)?.to_str().ok()?)
}

/// The same, from the HTTP headers of a request (for server layers).
pub fn bearer_in_headers(headers: &tonic::codegen::http::HeaderMap) -> Option<&str> {
    bearer_of(headers.get(AUTHORIZATION)?.to_str().ok()?)
}

fn bearer_of(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Adds `authorization: Bearer <token>` to every request, and with [`Bearer::numbering`] a
/// request id `<base>.<n>` counting the calls: a tonic interceptor for clients of a signed-in
/// person. Clones share the count.
#[derive(Clone)]
pub struct Bearer {
    token: Option<AsciiMetadataValue>,
    requests: Option<RequestNumbers>,
}

/// Request ids `<base>.1`, `<base>.2`, ... in the order calls are made.
#[derive(Clone)]
struct RequestNumbers {
    base: String,
    next: Arc<AtomicU64>,
}

/// The longest base [`Bearer::numbering`] takes (the server takes ids of up to 100 characters).
pub const MAX_REQUEST_BASE_CHARS: usize = 80;

impl Bearer {
    /// A token as [`Login`](xuncha_proto::v1::auth_client::AuthClient::login) returned it.
    pub fn new(token: &str) -> Result<Self, Status> {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("the token has characters a header cannot carry"))?;
        Ok(Self { token: Some(value), requests: None })
    }

    /// No token (signing in, or node-to-node calls).
    pub fn none() -> Self {
        Self { token: None, requests: None }
    }

    /// Numbers every call from 1 under `base` (letters, digits, `.`, `_`, `:`, `-`). Calling it
    /// again with the same base restarts the count, so a command run again from the start
    /// repeats its request ids and the node answers what it already did instead of doing it
    /// twice.
    pub fn numbering(self, base: &str) -> Result<Self, Status> {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if base.is_empty() || base.len() > MAX_REQUEST_BASE_CHARS || !base.chars().all(ok) {
            return Err(Status::invalid_argument(format!(
                "request id: 1 to {MAX_REQUEST_BASE_CHARS} letters, digits or . _ : -"
            )));
        }
        Ok(Self {
            requests: Some(RequestNumbers { base: base.to_string(), next: Arc::new(AtomicU64::new(1)) }),
            ..self
        })
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.token {
            request.metadata_mut().insert(AUTHORIZATION, v.clone());
        }
        if let Some(r) = &self.requests {
            let n = r.next.fetch_add(1, Ordering::Relaxed);
            let id = format!("{}.{n}", r.base).parse().map_err(|_| Status::internal("request id"))?;
            request.metadata_mut().insert(REQUEST_ID, id);
        }
        Ok(request)
    }
}

/// A gRPC error for people: code, message, every field problem, the permission refused, and
/// the leader to retry on.
pub fn describe(status: &Status) -> String {
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request()
        && bad.field_violations.len() > 1
    {
        for v in &bad.field_violations {
            out.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    if let Some(p) = refused_permission(status) {
        out.push_str(&format!("\n  permission: {p}"));
    }
    if let Some(leader) = leader_of(status) {
        out.push_str(&format!("\n  leader: {leader}"));
    }
    out
}

/// The permission a PERMISSION_DENIED names (its google.rpc.ErrorInfo), if any.
pub fn refused_permission(status: &Status) -> Option<String> {
    status.get_details_error_info().and_then(|i| i.metadata.get(PERMISSION_KEY).cloned())
}

/// The leader's address a follower named, if any.
pub fn leader_of(status: &Status) -> Option<String> {
    status.metadata().get(LEADER).and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_goes_into_metadata_and_back() {
        use tonic::service::Interceptor;
        let mut b = Bearer::new("xct_abc").unwrap();
        let req = b.call(Request::new(())).unwrap();
        assert_eq!(bearer_token(req.metadata()), Some("xct_abc"));
        let req = Bearer::none().call(Request::new(())).unwrap();
        assert_eq!(bearer_token(req.metadata()), None);
        let mut m = MetadataMap::new();
        m.insert(AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer_token(&m), None);
    }

    #[test]
    fn calls_are_numbered_and_numbering_again_repeats_the_ids() {
        use tonic::service::Interceptor;
        let id = |b: &mut Bearer| {
            let req = b.call(Request::new(())).unwrap();
            req.metadata().get(REQUEST_ID).map(|v| v.to_str().unwrap().to_string())
        };
        let b = Bearer::new("xct_abc").unwrap().numbering("run-7").unwrap();
        let mut first = b.clone();
        let mut shared = b.clone();
        assert_eq!(id(&mut first).as_deref(), Some("run-7.1"));
        assert_eq!(id(&mut shared).as_deref(), Some("run-7.2"), "clones share the count");
        let mut again = b.numbering("run-7").unwrap();
        assert_eq!(id(&mut again).as_deref(), Some("run-7.1"));
        assert_eq!(id(&mut Bearer::none()), None);
        assert!(Bearer::none().numbering("no spaces").is_err());
        assert!(Bearer::none().numbering(&"x".repeat(81)).is_err());
    }
}
