//! The tonic services of `xuncha.v1`, one file per service.

mod auth;
mod cluster;
mod findings;
mod leads;
mod ledger;
mod linkage;
mod node;
mod oversight;
mod raft;
mod rectification;
mod rounds;
mod supervision;
mod sync;
mod talent;
mod units;

use tonic::{Response, Status};
use xuncha_domain::{Command, DomainResult, Record};

pub(crate) use crate::access::principal;
use crate::backend::{Api, pick};
use xuncha_domain::{Caller, Principal};

pub use auth::{AccountApi, AuthApi};
pub use cluster::{ClusterApi, status_pb};
pub use findings::FindingApi;
pub use leads::LeadApi;
pub use ledger::LedgerApi;
pub use linkage::LinkageApi;
pub use node::NodeApi;
pub use oversight::OversightApi;
pub use raft::RaftApi;
pub use rectification::RectificationApi;
pub use rounds::RoundApi;
pub use supervision::SupervisionApi;
pub use sync::SyncApi;
pub use talent::TalentApi;
pub use units::UnitApi;

impl Api {
    /// The common shape of a write: check the request, carry out the command as the signed-in
    /// person, return the record it changed.
    pub(crate) async fn write<T: Clone>(
        &self,
        who: &Principal,
        command: impl FnOnce() -> DomainResult<Command>,
        f: impl Fn(&Record) -> Option<&T>,
    ) -> Result<T, Status> {
        let command = command().map_err(bad)?;
        let outcome = self.execute_for(who, command).await?;
        Ok(pick(&outcome, f)?)
    }

    /// Carries out `command` as the signed-in person, under the request id their call named.
    pub(crate) async fn execute_for(
        &self,
        who: &Principal,
        command: Command,
    ) -> Result<xuncha_domain::Outcome, Status> {
        Ok(self.execute_as(who, command).await?)
    }
}

/// The caller a signed-in person's command runs as.
pub(crate) fn caller_of(who: &Principal) -> Result<Caller, Status> {
    who.session.clone().map(Caller::Session).ok_or_else(|| Status::unauthenticated("请先登录"))
}

pub(crate) fn ok<T>(value: T) -> Result<Response<T>, Status> {
    Ok(Response::new(value))
}

/// A refused request as a `Status` (the orphan rule keeps `From` out of reach).
pub(crate) fn bad(e: xuncha_domain::DomainError) -> Status {
    crate::error::ApiError::Domain(e).into()
}
