//! What the services run on: a county's local engine, or (in the replication crate) a city
//! replica that puts writes through raft. Services see only [`Api`].

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use tonic::Request;
use xuncha_domain::common::office_date;
use xuncha_domain::{Caller, Command, DomainError, Envelope, Outcome, Principal, Record, RequestId, State};
use xuncha_store::Engine;

use crate::auth::{AuthSettings, Authenticator};
use crate::error::{ApiError, ApiResult};

/// Metadata key a client sets to `stale` to read any replica's state without a read barrier.
pub const CONSISTENCY_METADATA: &str = xuncha_wire::CONSISTENCY;

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Sees every write acknowledged before the read started (the city confirms leadership).
    Linearizable,
    /// This replica's state as it is (dashboards).
    Stale,
}

impl Consistency {
    pub fn of<T>(request: &Request<T>) -> Self {
        match request.metadata().get(CONSISTENCY_METADATA).and_then(|v| v.to_str().ok()) {
            Some("stale") => Consistency::Stale,
            _ => Consistency::Linearizable,
        }
    }
}

/// A node the services can run on.
#[tonic::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The engine holding this node's state.
    fn engine(&self) -> &Arc<Engine>;
    /// Carries out a command and returns its outcome once it is durable.
    async fn execute(&self, envelope: Envelope) -> ApiResult<Outcome>;
    /// Waits until a read at `consistency` may be served from the local state.
    async fn read_barrier(&self, consistency: Consistency) -> ApiResult<()>;
    /// The raft replica id of a city replica; 0 on a county.
    fn replica_id(&self) -> u64 {
        0
    }
}

/// A county node: commands commit to its own SQLite, reads are always current.
pub struct LocalBackend {
    engine: Arc<Engine>,
}

impl LocalBackend {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[tonic::async_trait]
impl Backend for LocalBackend {
    fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    async fn execute(&self, envelope: Envelope) -> ApiResult<Outcome> {
        Ok(self.engine.execute(&envelope).await?)
    }

    async fn read_barrier(&self, _: Consistency) -> ApiResult<()> {
        Ok(())
    }
}

/// The handle every service holds.
#[derive(Clone)]
pub struct Api {
    backend: Arc<dyn Backend>,
    auth: Arc<Authenticator>,
    started_at: DateTime<Utc>,
    /// Offices' names for nodes ("county/anping" → 安平县), as configured.
    node_names: Arc<std::collections::BTreeMap<String, String>>,
}

impl Api {
    /// Fails on bad sign-in settings (the message names the field).
    pub fn new(backend: Arc<dyn Backend>, auth: AuthSettings) -> ApiResult<Self> {
        let auth = Arc::new(Authenticator::new(backend.clone(), auth)?);
        Ok(Self { backend, auth, started_at: Utc::now(), node_names: Default::default() })
    }

    /// The names offices use for nodes ("city" → 市委巡察办, "county/anping" → 安平县).
    pub fn with_node_names(mut self, names: std::collections::BTreeMap<String, String>) -> Self {
        self.node_names = Arc::new(names);
        self
    }

    pub fn node_names(&self) -> &std::collections::BTreeMap<String, String> {
        &self.node_names
    }

    /// Signing in and telling who calls.
    pub fn auth(&self) -> &Arc<Authenticator> {
        &self.auth
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn engine(&self) -> &Arc<Engine> {
        self.backend.engine()
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Carries out `command` for `caller`.
    pub async fn execute(&self, caller: Caller, command: Command) -> ApiResult<Outcome> {
        self.execute_request(caller, None, command).await
    }

    /// Carries out `command` as the signed-in person `who` (a gRPC call's or a web page's),
    /// under the request id their call named, if any.
    pub async fn execute_as(&self, who: &Principal, command: Command) -> ApiResult<Outcome> {
        let session = who.session.clone().ok_or_else(|| ApiError::Domain(DomainError::unauthenticated("请先登录")))?;
        self.execute_request(Caller::Session(session), who.request.clone(), command).await
    }

    /// Carries out `command` for `caller` once per `request` id (a retry gets the first result).
    pub async fn execute_request(
        &self,
        caller: Caller,
        request: Option<RequestId>,
        command: Command,
    ) -> ApiResult<Outcome> {
        let name = command.name();
        let outcome = self.backend.execute(Envelope::new(caller, command).with_request(request)).await;
        if let Err(e) = &outcome {
            tracing::debug!(command = name, error = %e, "command refused");
        }
        outcome
    }

    /// Reads the state after the barrier the request asks for.
    pub async fn read<T, R>(&self, request: &Request<T>, f: impl FnOnce(&State) -> R) -> ApiResult<R> {
        self.backend.read_barrier(Consistency::of(request)).await?;
        Ok(self.engine().read(f).await)
    }

    /// The read barrier alone, for reads that go to SQLite.
    pub async fn barrier<T>(&self, request: &Request<T>) -> ApiResult<()> {
        self.backend.read_barrier(Consistency::of(request)).await
    }

    /// Today in the office's time zone.
    pub fn today(&self) -> NaiveDate {
        office_date(Utc::now())
    }
}

/// The first record of `outcome` that `f` picks: the record a command created or changed.
pub fn pick<T: Clone>(outcome: &Outcome, f: impl Fn(&Record) -> Option<&T>) -> ApiResult<T> {
    outcome
        .records
        .iter()
        .find_map(f)
        .cloned()
        .ok_or_else(|| ApiError::Internal("the outcome lacks the record it changed".into()))
}
