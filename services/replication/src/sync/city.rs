//! The city's side of sync: counties push their outbox (committed through raft before each
//! acknowledgement) and pull what is addressed to them. The county is whoever its certificate
//! says (the caller passes it in); every pushed change must be owned by it or be its answer to
//! a record addressed to it. The gRPC service in `xuncha-api` is a thin adapter over this.

use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_stream::{Stream, StreamExt};
use tracing::Instrument;
use xuncha_domain::record::{check_remote, check_remote_event};
use xuncha_domain::validate::check_record;
use xuncha_domain::{DomainError, NodeId};
use xuncha_proto::v1 as pb;
use xuncha_store::{Change, MAX_CHANGE_BYTES, MAX_CHANGES_PER_BATCH, Received, StoreError, parse_change};

use super::{from_pb, to_pb};
use crate::raft::{CityReplica, PushedChanges, ReplicaError};

/// Changes per second a county may push, and the burst it may push at once.
pub const COUNTY_PUSH_CHANGES_PER_SECOND: u32 = 5_000;
pub const COUNTY_PUSH_BURST: u32 = 10_000;

/// Why the city does not serve a sync call.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The call or a change in it is refused (naming the change); nothing of the batch applied.
    #[error(transparent)]
    Refused(DomainError),
    /// This replica cannot hold the session now (not the leader, no quorum).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The city's storage failed.
    #[error("storage: {0}")]
    Store(String),
    /// The county's stream broke.
    #[error("the county's stream broke: {}", .0.message())]
    Stream(tonic::Status),
}

impl From<DomainError> for SyncError {
    fn from(e: DomainError) -> Self {
        SyncError::Refused(e)
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => SyncError::Refused(d),
            other => SyncError::Store(other.to_string()),
        }
    }
}

/// A stream of sync answers.
pub type SyncStream<T> = Pin<Box<dyn Stream<Item = Result<T, SyncError>> + Send>>;

/// The city's sync sessions with counties, on one replica.
pub struct CitySync {
    replica: Arc<CityReplica>,
    /// Changes each county may push per second: one county catching up on a long backlog
    /// cannot take the city's whole write rate from the others and from staff.
    pushes: Arc<DefaultKeyedRateLimiter<NodeId>>,
}

/// Checks every change before anything is proposed, as far as it can be without the state:
/// it parses and is what it says, the sender owns it and may own its kind, it is addressed to
/// the city, and it keeps the domain's bounds. Applying checks the rest against the state
/// (`check_received`). One bad change refuses the batch.
fn check_batch(origin: &NodeId, changes: &[Change]) -> Result<(), DomainError> {
    let city = NodeId::city();
    if changes.len() > MAX_CHANGES_PER_BATCH as usize {
        return Err(DomainError::invalid(
            "changes",
            format!("{} changes in one batch, more than {MAX_CHANGES_PER_BATCH}", changes.len()),
        ));
    }
    for c in changes {
        if c.body.len() > MAX_CHANGE_BYTES {
            return Err(DomainError::invalid(
                "changes",
                format!(
                    "change {}: {} {}: body of {} bytes, more than {MAX_CHANGE_BYTES}",
                    c.seq,
                    c.kind,
                    c.id,
                    c.body.len()
                ),
            ));
        }
        let parsed = parse_change(c).map_err(|e| DomainError::invalid("changes", format!("change {}: {e}", c.seq)))?;
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
            e
        })?;
    }
    Ok(())
}

impl CitySync {
    pub fn new(replica: Arc<CityReplica>) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(COUNTY_PUSH_CHANGES_PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(COUNTY_PUSH_BURST).expect("non-zero"));
        Self { replica, pushes: Arc::new(RateLimiter::keyed(quota)) }
    }

    /// Opens a session: the county's changes the city holds, and the city's last change.
    pub async fn hello(&self, origin: &NodeId, q: &pb::HelloRequest) -> Result<pb::HelloResponse, SyncError> {
        // Sessions are held with the leader: its state has every acknowledged push.
        self.replica.leadership()?;
        self.replica.read_barrier().await?;
        let store = self.replica.engine.store();
        let pushed = store.applied_seq(origin).await?;
        let city_seq = store.last_outbox_seq().await?;
        tracing::debug!(county = %origin, pushed, pulled = q.pulled, backlog = q.backlog, "sync session");
        Ok(pb::HelloResponse { pushed, city_seq })
    }

    /// Commits each pushed batch through raft and acknowledges it, in order.
    pub fn push<S>(&self, origin: NodeId, mut batches: S) -> Result<SyncStream<pb::PushAck>, SyncError>
    where
        S: Stream<Item = Result<pb::PushBatch, tonic::Status>> + Send + Unpin + 'static,
    {
        self.replica.leadership()?;
        let replica = self.replica.clone();
        let pushes = self.pushes.clone();
        // The county's trace (the RPC span is its child): each commit joins it.
        let trace = crate::trace::current_context();
        let acks = async_stream::try_stream! {
            while let Some(batch) = batches.next().await {
                let batch = batch.map_err(SyncError::Stream)?;
                let changes = batch.changes.into_iter().map(from_pb).collect::<Result<Vec<_>, _>>()
                    .map_err(|e| DomainError::invalid("changes", e))?;
                check_batch(&origin, &changes)?;
                // Over its rate the county waits here; the stream's flow control holds it back.
                let n = NonZeroU32::new(changes.len().max(1) as u32).expect("non-zero");
                pushes.until_key_n_ready(&origin, n).await.map_err(|e| DomainError::invalid("changes", e.to_string()))?;
                let span = tracing::info_span!("sync.commit", county = %origin, changes = changes.len());
                crate::trace::set_parent(&span, &trace);
                let context = span.in_scope(crate::trace::current_context);
                let pushed = PushedChanges {
                    origin: origin.clone(),
                    changes,
                    reached: batch.reached,
                    pulled: batch.pulled,
                    backlog: batch.backlog,
                    at: chrono::Utc::now(),
                    trace: context,
                };
                let applied = replica.write_changes(pushed).instrument(span).await??;
                yield pb::PushAck { applied: applied.applied_seq, new_changes: applied.new_changes, duplicates: applied.duplicates };
            }
        };
        Ok(Box::pin(acks))
    }

    /// Streams the city's changes addressed to county `peer` after `q.after`, waiting up to
    /// `q.wait_ms` once for more when caught up.
    pub fn pull(&self, peer: NodeId, q: pb::PullRequest) -> Result<SyncStream<pb::PullBatch>, SyncError> {
        if !q.county.is_empty() && Some(q.county.as_str()) != peer.county_code() {
            return Err(DomainError::denied(
                "county",
                format!("{peer} may pull only its own changes, not county/{}", q.county),
            )
            .into());
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
                let (changes, reached) = engine.store().changes_for(&peer, after, batch).await?;
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
        Ok(Box::pin(batches))
    }

    /// Streams back everything county `origin` owns (its off-site copy), then its cursor.
    pub async fn restore(&self, origin: NodeId) -> Result<SyncStream<pb::RestoreBatch>, SyncError> {
        self.replica.leadership()?;
        self.replica.read_barrier().await?;
        let engine = self.replica.engine.clone();
        let batches = async_stream::try_stream! {
            let mut after = String::new();
            loop {
                let page = engine.store().owned_changes(&origin, &after, 1000).await?;
                if page.is_empty() {
                    let pushed = engine.store().applied_seq(&origin).await?;
                    yield pb::RestoreBatch { changes: vec![], pushed, done: true };
                    break;
                }
                after = page.last().map(|(c, _)| c.clone()).unwrap_or_default();
                yield pb::RestoreBatch { changes: page.into_iter().map(|(_, c)| to_pb(c)).collect(), pushed: 0, done: false };
            }
        };
        Ok(Box::pin(batches))
    }
}
