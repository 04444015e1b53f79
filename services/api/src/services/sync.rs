//! The city's side of sync: counties push their outbox (committed through raft before each
//! acknowledgement) and pull what is addressed to them. The county is whoever its certificate
//! says; every pushed change must be owned by it.

use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;
use xuncha_domain::record::{check_remote, check_remote_event};
use xuncha_domain::validate::check_record;
use xuncha_domain::{DomainError, NodeId};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::sync_service_server::SyncService;
use xuncha_replication::raft::{CityReplica, PushedChanges};
use xuncha_replication::sync::{from_pb, to_pb};
use xuncha_store::{
    Change, MAX_CHANGE_BYTES, MAX_CHANGES_PER_BATCH, Received, StoreError, applied_seq, changes_for, last_outbox_seq,
    owned_changes, parse_change,
};

use crate::access::peer;
use crate::error::ApiError;

pub struct SyncApi {
    replica: Arc<CityReplica>,
    /// Changes each county may push per second: one county catching up on a long backlog
    /// cannot take the city's whole write rate from the others and from staff.
    pushes: Arc<DefaultKeyedRateLimiter<NodeId>>,
}

/// Changes per second a county may push, and the burst it may push at once.
pub const COUNTY_PUSH_CHANGES_PER_SECOND: u32 = 5_000;
pub const COUNTY_PUSH_BURST: u32 = 10_000;

impl SyncApi {
    pub fn new(replica: Arc<CityReplica>) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(COUNTY_PUSH_CHANGES_PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(COUNTY_PUSH_BURST).expect("non-zero"));
        Self { replica, pushes: Arc::new(RateLimiter::keyed(quota)) }
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The calling county, from its certificate (the guard admitted only counties).
fn county<T>(req: &Request<T>) -> Result<NodeId, Status> {
    peer(req).county().ok_or_else(|| Status::permission_denied("a county certificate is required"))
}

fn internal(e: impl std::fmt::Display) -> Status {
    ApiError::Internal(e.to_string()).into()
}

/// Checks every change before anything is proposed, as far as it can be without the state:
/// it parses and is what it says, the sender owns it and may own its kind, it is addressed to
/// the city, and it keeps the domain's bounds. Applying checks the rest against the state
/// (`check_received`). One bad change refuses the batch.
fn check_batch(origin: &NodeId, changes: &[Change]) -> Result<(), Status> {
    let city = NodeId::city();
    if changes.len() > MAX_CHANGES_PER_BATCH as usize {
        return Err(Status::invalid_argument(format!(
            "changes: {} changes in one batch, more than {MAX_CHANGES_PER_BATCH}",
            changes.len()
        )));
    }
    for c in changes {
        if c.body.len() > MAX_CHANGE_BYTES {
            return Err(Status::invalid_argument(format!(
                "changes: change {}: {} {}: body of {} bytes, more than {MAX_CHANGE_BYTES}",
                c.seq,
                c.kind,
                c.id,
                c.body.len()
            )));
        }
        let parsed =
            parse_change(c).map_err(|e| Status::invalid_argument(format!("changes: change {}: {e}", c.seq)))?;
        let checked = match &parsed {
            Received::Event(event) => check_remote_event(origin, &city, event),
            Received::Record(record) => check_remote(origin, &city, record).and_then(|()| {
                check_record(record).map_err(|e| {
                    DomainError::invalid("changes", format!("{} {}: {}: {}", c.kind, c.id, e.field, e.reason))
                })
            }),
        };
        checked.map_err(|mut e| {
            e.reason = format!("change {}: {}", c.seq, e.reason);
            Status::from(ApiError::Domain(e))
        })?;
    }
    Ok(())
}

#[tonic::async_trait]
impl SyncService for SyncApi {
    async fn hello(&self, r: Request<pb::HelloRequest>) -> Result<Response<pb::HelloResponse>, Status> {
        let origin = county(&r)?;
        // Sessions are held with the leader: its state has every acknowledged push.
        self.replica.leadership().map_err(ApiError::from)?;
        self.replica.read_barrier().await.map_err(ApiError::from)?;
        let mut conn = self.replica.engine.store().readers().acquire().await.map_err(internal)?;
        let pushed = applied_seq(&mut conn, &origin).await.map_err(internal)?;
        let city_seq = last_outbox_seq(&mut conn).await.map_err(internal)?;
        tracing::debug!(county = %origin, pushed, pulled = r.get_ref().pulled, backlog = r.get_ref().backlog, "sync session");
        Ok(Response::new(pb::HelloResponse { pushed, city_seq }))
    }

    type PushStream = BoxStream<pb::PushAck>;

    async fn push(&self, r: Request<Streaming<pb::PushBatch>>) -> Result<Response<Self::PushStream>, Status> {
        let origin = county(&r)?;
        self.replica.leadership().map_err(ApiError::from)?;
        let replica = self.replica.clone();
        let pushes = self.pushes.clone();
        // The county's trace (the RPC span is its child): each commit joins it.
        let trace = xuncha_replication::trace::current_context();
        let mut batches = r.into_inner();
        let acks = async_stream::try_stream! {
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                let changes = batch.changes.into_iter().map(from_pb).collect::<Result<Vec<_>, _>>()
                    .map_err(|_| Status::invalid_argument("changes: a body is not UTF-8"))?;
                check_batch(&origin, &changes)?;
                // Over its rate the county waits here; the stream's flow control holds it back.
                let n = NonZeroU32::new(changes.len().max(1) as u32).expect("non-zero");
                pushes.until_key_n_ready(&origin, n).await.map_err(|e| Status::invalid_argument(format!("changes: {e}")))?;
                let span = tracing::info_span!("sync.commit", county = %origin, changes = changes.len());
                xuncha_replication::trace::set_parent(&span, &trace);
                let context = span.in_scope(xuncha_replication::trace::current_context);
                let pushed = PushedChanges {
                    origin: origin.clone(),
                    changes,
                    reached: batch.reached,
                    pulled: batch.pulled,
                    backlog: batch.backlog,
                    at: chrono::Utc::now(),
                    trace: context,
                };
                let applied = replica.write_changes(pushed).instrument(span).await.map_err(ApiError::from)?.map_err(ApiError::from)?;
                yield pb::PushAck { applied: applied.applied_seq, new_changes: applied.new_changes, duplicates: applied.duplicates };
            }
        };
        Ok(Response::new(Box::pin(acks)))
    }

    type PullStream = BoxStream<pb::PullBatch>;

    async fn pull(&self, r: Request<pb::PullRequest>) -> Result<Response<Self::PullStream>, Status> {
        let peer = county(&r)?;
        let q = r.into_inner();
        if !q.county.is_empty() && Some(q.county.as_str()) != peer.county_code() {
            return Err(Status::permission_denied(format!(
                "county: {peer} may pull only its own changes, not county/{}",
                q.county
            )));
        }
        let engine = self.replica.engine.clone();
        let batch = if q.batch == 0 { 500 } else { q.batch.min(MAX_CHANGES_PER_BATCH) };
        let wait = Duration::from_millis(q.wait_ms.min(60_000) as u64);
        let batches = async_stream::try_stream! {
            let mut after = q.after;
            let mut waited = false;
            let mut outbox = engine.watch_outbox();
            loop {
                outbox.borrow_and_update();
                let (changes, reached) = {
                    let mut conn = engine.store().readers().acquire().await.map_err(internal)?;
                    changes_for(&mut conn, &peer, after, batch).await.map_err(internal)?
                };
                if changes.is_empty() && reached == after {
                    // Caught up: wait once for something new, then end the stream.
                    if waited || wait.is_zero() {
                        break;
                    }
                    waited = true;
                    let _ = tokio::time::timeout(wait, outbox.changed()).await;
                    continue;
                }
                after = reached;
                waited = true;
                yield pb::PullBatch { changes: changes.into_iter().map(to_pb).collect(), reached };
            }
        };
        Ok(Response::new(Box::pin(batches)))
    }

    type RestoreStream = BoxStream<pb::RestoreBatch>;

    async fn restore(&self, r: Request<pb::RestoreRequest>) -> Result<Response<Self::RestoreStream>, Status> {
        let origin = county(&r)?;
        self.replica.leadership().map_err(ApiError::from)?;
        self.replica.read_barrier().await.map_err(ApiError::from)?;
        let engine = self.replica.engine.clone();
        let batches = async_stream::try_stream! {
            let mut after = String::new();
            loop {
                let page = {
                    let mut conn = engine.store().readers().acquire().await.map_err(internal)?;
                    owned_changes(&mut conn, &origin, &after, 1000).await.map_err(internal)?
                };
                if page.is_empty() {
                    let mut conn = engine.store().readers().acquire().await.map_err(internal)?;
                    let pushed = applied_seq(&mut conn, &origin).await.map_err(|e: StoreError| internal(e))?;
                    yield pb::RestoreBatch { changes: vec![], pushed, done: true };
                    break;
                }
                after = page.last().map(|(c, _)| c.clone()).unwrap_or_default();
                yield pb::RestoreBatch { changes: page.into_iter().map(|(_, c)| to_pb(c)).collect(), pushed: 0, done: false };
            }
        };
        Ok(Response::new(Box::pin(batches)))
    }
}
