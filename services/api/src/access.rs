//! The one layer that tells who calls each method and whether they may call it at all, before
//! any handler runs: node certificates for raft, sync and cluster work, a signed-in person
//! (`authorization: Bearer <token>`) holding the method's permission for staff work. It leaves
//! the [`Principal`] and the certificate's [`Peer`] in the request for the handler, which then
//! checks the record itself (scope). Methods not in the table are refused.

use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Status};
use xuncha_domain::{Permission, Principal, RequestId};
use xuncha_proto::v1 as pb;

use crate::auth::Authenticator;
use crate::error::ApiError;
use crate::identity::{Peer, identity_of_der};
use crate::revocation::Revoked;

/// Which node certificates a method admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Operators (the CLI and tools).
    Operator,
    /// Raft between replicas.
    Raft,
    /// Cluster operations: operators and replicas.
    Cluster,
    /// City-county sync: counties, always with a certificate.
    Sync,
}

impl Admit {
    fn admits(self, peer: &Peer) -> bool {
        matches!(
            (self, peer),
            (Admit::Operator | Admit::Raft | Admit::Cluster, Peer::Anonymous)
                | (Admit::Operator | Admit::Cluster, Peer::Operator(_))
                | (Admit::Raft | Admit::Cluster, Peer::Replica(_))
                | (Admit::Sync, Peer::County(_))
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Admit::Operator => "operator work (an operator certificate is required)",
            Admit::Raft => "raft between city replicas",
            Admit::Cluster => "cluster operations",
            Admit::Sync => "city-county sync (a county certificate is required)",
        }
    }
}

/// Who may call a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, reflection, sign-in).
    Open,
    /// Any signed-in person (their own session and account).
    SignedIn,
    /// A signed-in person holding the permission over some scope.
    Staff(Permission),
    /// A node certificate of these kinds.
    Certificate(Admit),
    /// A signed-in person holding the permission, or without a token, such a certificate.
    StaffOrCertificate(Permission, Admit),
}

/// The services under the access table.
const PACKAGE: &str = "/xuncha.v1.";

/// Who may call each `xuncha.v1` method (`Service/Method`).
pub fn access_of(service: &str, method: &str) -> Option<Access> {
    use Access::*;
    use Permission as P;
    use pb::{
        account_service_server as account, auth_server as auth, cluster_service_server as cluster,
        finding_service_server as finding, lead_service_server as lead, ledger_service_server as ledger,
        linkage_service_server as linkage, node_service_server as node, oversight_service_server as oversight,
        raft_service_server as raft, rectification_service_server as rect, round_service_server as round,
        supervision_service_server as sup, sync_service_server as sync, talent_pool_service_server as pool,
        unit_service_server as unit,
    };
    let is = |name: &str| service == name;
    let access = if is(unit::SERVICE_NAME) {
        match method {
            "RegisterUnit" | "CreateTerm" | "PlanUnits" => Staff(P::PlanManage),
            "ListUnits" | "ListTerms" => Staff(P::PlanRead),
            _ => return None,
        }
    } else if is(pool::SERVICE_NAME) {
        match method {
            "AddPerson" | "UpdatePerson" | "ImportPersons" => Staff(P::PoolManage),
            "ListPersons" | "SuggestMembers" | "ListConflicts" => Staff(P::PoolRead),
            _ => return None,
        }
    } else if is(round::SERVICE_NAME) {
        match method {
            "CreateRound" | "ChangeRoundDates" | "FormGroup" | "ChangeGroup" | "AddTarget" => Staff(P::RoundPlan),
            // Approving and closing need round.approve; the rule checks which step it is.
            "AdvanceRound" => Staff(P::RoundPlan),
            "GetRound" | "ListRounds" => Staff(P::RoundRead),
            "GiveFeedback" => Staff(P::FeedbackGive),
            "SubmitRectificationReport" => Staff(P::RectificationReport),
            _ => return None,
        }
    } else if is(finding::SERVICE_NAME) {
        match method {
            "ListCategories" => Staff(P::PlanRead),
            "AddCategory" => Staff(P::CategoryManage),
            "RecordFinding" => Staff(P::FindingRecord),
            "ListFindings" => Staff(P::FindingRead),
            _ => return None,
        }
    } else if is(lead::SERVICE_NAME) {
        match method {
            "HandOverLead" => Staff(P::LeadHandOver),
            "AcknowledgeLead" | "ReportLeadResult" => Staff(P::LeadReceive),
            "ReleaseLead" => Staff(P::LeadRelease),
            "ListLeads" => Staff(P::LeadRead),
            _ => return None,
        }
    } else if is(rect::SERVICE_NAME) {
        match method {
            "AddItem" => Staff(P::RectificationPlan),
            "UpdateItem" => Staff(P::RectificationReport),
            "SignOff" => Staff(P::RectificationSignOff),
            "ListItems" => Staff(P::RectificationRead),
            _ => return None,
        }
    } else if is(sup::SERVICE_NAME) {
        match method {
            "IssueNotice" | "CloseNotice" => Staff(P::NoticeIssue),
            "RespondNotice" => Staff(P::NoticeRespond),
            "ListNotices" => Staff(P::RectificationRead),
            _ => return None,
        }
    } else if is(linkage::SERVICE_NAME) {
        match method {
            "CreatePlan" | "IssueAssignment" | "RequestSecondment" => Staff(P::LinkageIssue),
            "RespondAssignment" | "ReportProgress" | "SubmitReport" => Staff(P::LinkageRespond),
            "ReviewReport" => Staff(P::LinkageReview),
            "DecideSecondment" => Staff(P::SecondmentDecide),
            "ListPlans" | "ListAssignments" | "ListSecondments" => Staff(P::LinkageRead),
            _ => return None,
        }
    } else if is(oversight::SERVICE_NAME) {
        match method {
            "GetCoverage" | "GetOversight" | "ListOverdue" => Staff(P::OversightRead),
            _ => return None,
        }
    } else if is(ledger::SERVICE_NAME) {
        match method {
            "ListEvents" | "Export" => Staff(P::LedgerRead),
            "VerifyLedger" => StaffOrCertificate(P::LedgerRead, Admit::Operator),
            _ => return None,
        }
    } else if is(node::SERVICE_NAME) {
        match method {
            "GetStatus" => StaffOrCertificate(P::NodeRead, Admit::Operator),
            "Backup" => StaffOrCertificate(P::BackupTake, Admit::Operator),
            _ => return None,
        }
    } else if is(cluster::SERVICE_NAME) {
        match method {
            "GetClusterStatus" => StaffOrCertificate(P::ClusterRead, Admit::Cluster),
            "Initialize" | "AddLearner" | "Promote" | "RemoveReplica" | "Snapshot" => {
                StaffOrCertificate(P::ClusterManage, Admit::Cluster)
            }
            _ => return None,
        }
    } else if is(raft::SERVICE_NAME) {
        match method {
            "AppendEntries" | "Vote" | "InstallSnapshot" | "Forward" | "ReadIndex" => Certificate(Admit::Raft),
            _ => return None,
        }
    } else if is(sync::SERVICE_NAME) {
        match method {
            "Hello" | "Push" | "Pull" | "Restore" => Certificate(Admit::Sync),
            _ => return None,
        }
    } else if is(auth::SERVICE_NAME) {
        match method {
            "Login" => Open,
            "Logout" | "WhoAmI" | "ChangePassword" => SignedIn,
            _ => return None,
        }
    } else if is(account::SERVICE_NAME) {
        match method {
            "Bootstrap" => Certificate(Admit::Operator),
            "ListAccounts" => Staff(P::AccountRead),
            "ListRoles" => SignedIn,
            "AddAccount" | "SetStatus" | "ResetPassword" | "Grant" | "Revoke" => Staff(P::AccountManage),
            _ => return None,
        }
    } else {
        return None;
    };
    Some(access)
}

/// The access a request path needs: `None` for a `xuncha.v1` method not in the table;
/// anything outside `xuncha.v1` (health, reflection) is open.
pub fn access_of_path(path: &str) -> Option<Access> {
    let Some(rest) = path.strip_prefix(PACKAGE) else { return Some(Access::Open) };
    let (service, method) = rest.split_once('/')?;
    access_of(&format!("xuncha.v1.{service}"), method)
}

/// The certificate identity of an HTTP request, from the TLS connection.
fn peer_of_http<B>(req: &http::Request<B>, revoked: &Revoked) -> Result<Peer, Status> {
    let Some(tls) = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>() else {
        return Ok(Peer::Anonymous);
    };
    match tls.peer_certs() {
        None => Ok(Peer::Anonymous),
        Some(certs) => {
            let leaf = certs.first().ok_or_else(|| Status::unauthenticated("empty client certificate chain"))?;
            let peer = identity_of_der(leaf.as_ref()).map_err(Status::permission_denied)?;
            if let Some(print) = revoked.refuses(leaf.as_ref()) {
                let mut refused = Status::permission_denied(format!(
                    "the certificate of {} (sha256 {print}) is revoked",
                    peer.label()
                ));
                refused.metadata_mut().insert(
                    xuncha_replication::revocation::REVOKED_METADATA,
                    tonic::metadata::MetadataValue::from_static("1"),
                );
                return Err(refused);
            }
            Ok(peer)
        }
    }
}

fn client_ip<B>(req: &http::Request<B>) -> Option<IpAddr> {
    let tcp = req
        .extensions()
        .get::<TcpConnectInfo>()
        .or_else(|| req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>().map(|t| t.get_ref()));
    tcp.and_then(|t| t.remote_addr()).map(|a| a.ip())
}

/// The client's address, for the sign-in throttle.
pub fn client_address<T>(req: &Request<T>) -> Option<IpAddr> {
    req.remote_addr().map(|a| a.ip())
}

/// What the layer decided: the caller's identities.
async fn admit(
    auth: &Arc<Authenticator>,
    path: &str,
    peer: Result<Peer, Status>,
    token: Option<&str>,
) -> Result<(Peer, Option<Principal>), Status> {
    let access =
        access_of_path(path).ok_or_else(|| Status::unimplemented(format!("{path}: no such method on this node")))?;
    let peer = peer?;
    let signed_in = |permission: Option<Permission>| async move {
        let token = token.ok_or_else(|| {
            Status::from(ApiError::from(xuncha_domain::DomainError::unauthenticated(
                "请先登录(authorization: Bearer <令牌>)",
            )))
        })?;
        let who = auth.authenticate(token).await.map_err(Status::from)?;
        if who.must_change_password && !path.starts_with("/xuncha.v1.Auth/") {
            return Err(Status::from(ApiError::from(xuncha_domain::DomainError::precondition(
                "password",
                "密码已被重置,请先修改密码(xuncha passwd)",
            ))));
        }
        if let Some(p) = permission
            && !who.holds(p)
        {
            let refusal = auth.backend().engine().read(|s| who.refusal(s, p)).await;
            return Err(Status::from(ApiError::from(refusal)));
        }
        Ok(Some(who))
    };
    let principal = match access {
        Access::Open => None,
        Access::SignedIn => signed_in(None).await?,
        Access::Staff(p) => signed_in(Some(p)).await?,
        Access::Certificate(admit) | Access::StaffOrCertificate(_, admit) if token.is_none() => {
            if !admit.admits(&peer) {
                return Err(Status::permission_denied(format!("{} may not use {}", peer.label(), admit.describe())));
            }
            None
        }
        Access::StaffOrCertificate(p, _) => signed_in(Some(p)).await?,
        Access::Certificate(admit) => {
            // A token on a node-only method: the certificate decides, the token is ignored.
            if !admit.admits(&peer) {
                return Err(Status::permission_denied(format!("{} may not use {}", peer.label(), admit.describe())));
            }
            None
        }
    };
    Ok((peer, principal))
}

/// The layer, given to the server builder.
#[derive(Clone)]
pub struct AccessLayer {
    auth: Arc<Authenticator>,
    revoked: Revoked,
}

impl AccessLayer {
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth, revoked: Revoked::default() }
    }

    /// Refuses calls presenting a certificate on `revoked` (checked on every call).
    pub fn with_revoked(self, revoked: Revoked) -> Self {
        Self { revoked, ..self }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = AccessService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AccessService { inner, auth: self.auth.clone(), revoked: self.revoked.clone() }
    }
}

#[derive(Clone)]
pub struct AccessService<S> {
    inner: S,
    auth: Arc<Authenticator>,
    revoked: Revoked,
}

impl<S, B> tower::Service<http::Request<B>> for AccessService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The ready service handles this request; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let path = req.uri().path().to_string();
        let peer = peer_of_http(&req, &self.revoked);
        let token = xuncha_wire::bearer_in_headers(req.headers()).map(str::to_string);
        let address = client_ip(&req);
        let request_id = request_id_in(req.headers());
        Box::pin(async move {
            let admitted = match request_id {
                Ok(request_id) => admit(&auth, &path, peer, token.as_deref()).await.map(|a| (a, request_id)),
                Err(status) => Err(status),
            };
            match admitted {
                Ok(((peer, principal), request_id)) => {
                    req.extensions_mut().insert(peer);
                    if let Some(mut who) = principal {
                        who.request = request_id;
                        req.extensions_mut().insert(who);
                    }
                    req.extensions_mut().insert(ClientAddress(address));
                    inner.call(req).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// The write's request id (`xuncha-request-id`), checked.
fn request_id_in(headers: &http::HeaderMap) -> Result<Option<RequestId>, Status> {
    let Some(value) = headers.get(xuncha_wire::REQUEST_ID) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default();
    RequestId::parse(xuncha_wire::REQUEST_ID, text).map(Some).map_err(|e| Status::from(ApiError::from(e)))
}

/// The client's address as the layer saw it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub Option<IpAddr>);

/// The signed-in person the layer admitted (staff methods always have one).
pub fn principal<T>(req: &Request<T>) -> Result<Principal, Status> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::from(ApiError::from(xuncha_domain::DomainError::unauthenticated("请先登录"))))
}

/// The certificate identity the layer saw.
pub fn peer<T>(req: &Request<T>) -> Peer {
    req.extensions().get::<Peer>().cloned().unwrap_or(Peer::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_of_every_service_has_an_access_rule() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(xuncha_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut seen = 0;
        for file in set.file.iter().filter(|f| f.package() == "xuncha.v1") {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/xuncha.v1.{}/{}", service.name(), method.name());
                    assert!(access_of_path(&path).is_some(), "{path} has no access rule");
                    seen += 1;
                }
            }
        }
        assert!(seen > 70, "only {seen} methods found");
        assert_eq!(access_of_path("/xuncha.v1.UnitService/DropEverything"), None);
        assert_eq!(access_of_path("/grpc.health.v1.Health/Check"), Some(Access::Open));
    }
}
