//! County-initiated sync with the city (see ARCHITECTURE.md, "Records, ownership and sync").
//!
//! A session finds the city leader, exchanges cursors (`Hello`), pushes the county's outbox
//! after the city's cursor in batches the city commits through raft before acknowledging, then
//! pulls the city's changes addressed to the county, applying each batch with its cursor in one
//! transaction. Cursors are durable on both sides and both sides dedupe by (origin, sequence),
//! so a session cut at any byte resumes without losing or doubling anything.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;
use xuncha_domain::ids::EventId;
use xuncha_domain::{Actor, Audience, ChangeKind, Kind, LEDGER_EVENT_KIND, LedgerEvent, NodeId};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::sync_service_client::SyncServiceClient;
use xuncha_store::{Change, Engine};

use crate::tls::NodeTls;

/// Metadata key naming the leader when a city replica cannot serve a sync session.
pub const LEADER_METADATA: &str = "xuncha-leader";

pub mod city;

pub fn to_pb(c: Change) -> pb::Change {
    pb::Change {
        seq: c.seq,
        kind: c.kind.as_str().to_string(),
        id: c.id,
        version: c.version,
        body: c.body.into_bytes(),
    }
}

/// A change as received; the error names the change and what is wrong with it.
pub fn from_pb(c: pb::Change) -> Result<Change, String> {
    let Some(kind) = ChangeKind::parse(&c.kind) else {
        let shown: String = c.kind.chars().take(40).collect();
        return Err(format!("change {}: kind {shown:?} is neither a record kind nor {LEDGER_EVENT_KIND}", c.seq));
    };
    let body =
        String::from_utf8(c.body).map_err(|_| format!("change {}: {kind} {}: body is not UTF-8", c.seq, c.id))?;
    Ok(Change { seq: c.seq, kind, id: c.id, version: c.version, body })
}

/// How a county reaches the city.
#[derive(Clone)]
pub struct SyncOptions {
    /// Every city replica's address; the session finds the leader among them.
    pub city: Vec<String>,
    /// mTLS: the county's identity is its certificate; the city's must name the city and not
    /// be revoked.
    pub tls: NodeTls,
    /// Changes per batch.
    pub batch: u32,
    /// How long a pull waits for new city changes before the session reports in again.
    pub idle_wait: Duration,
    /// Pause after a failed session.
    pub retry: Duration,
}

impl SyncOptions {
    pub fn new(city: Vec<String>, tls: NodeTls) -> Self {
        Self { city, tls, batch: 500, idle_wait: Duration::from_secs(5), retry: Duration::from_millis(500) }
    }
}

/// What the county's sync is doing, for status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    pub connected: bool,
    pub leader: Option<String>,
    pub last_error: Option<String>,
    /// Sessions opened so far.
    pub sessions: u64,
    /// The city's cursor of this county's changes, as last acknowledged.
    pub pushed: u64,
    /// This county's cursor of the city's changes.
    pub pulled: u64,
    /// The city refused a pushed change: pushing waits (pulling goes on) until the node
    /// restarts, since retrying the same change would be refused the same way.
    pub push_refused: Option<String>,
}

/// A running sync loop.
pub struct SyncHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    pub state: watch::Receiver<SyncState>,
}

impl SyncHandle {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts syncing `engine` (a county) with the city until stopped.
pub fn start(engine: Arc<Engine>, opts: SyncOptions) -> SyncHandle {
    let (stop, stopped) = watch::channel(false);
    let (state_tx, state) = watch::channel(SyncState::default());
    let task = tokio::spawn(run(engine, opts, stopped, state_tx));
    SyncHandle { stop, task, state }
}

async fn run(
    engine: Arc<Engine>,
    opts: SyncOptions,
    mut stopped: watch::Receiver<bool>,
    state: watch::Sender<SyncState>,
) {
    let mut hint: Option<String> = None;
    loop {
        let result = tokio::select! {
            r = session(&engine, &opts, &mut hint, &state) => r,
            _ = stopped.changed() => return,
        };
        if let Err(e) = result {
            tracing::debug!(error = %format!("{e:#}"), "sync session ended");
            state.send_modify(|s| {
                s.connected = false;
                s.last_error = Some(format!("{e:#}"));
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.retry) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// A sync client for one city replica: only a city replica's certificate is accepted, so
/// another county's (or an operator's) certificate from the same CA cannot pose as the city.
pub fn client(addr: &str, tls: &NodeTls) -> anyhow::Result<SyncServiceClient<Channel>> {
    // The URI is plain: TLS is the connector's.
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(3))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10));
    let channel = tls.channel(endpoint, crate::raft::CITY_SERVER_NAME)?;
    Ok(SyncServiceClient::new(channel)
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(xuncha_store::MAX_SYNC_MESSAGE_BYTES)
        .max_encoding_message_size(xuncha_store::MAX_SYNC_MESSAGE_BYTES))
}

fn leader_of(status: &tonic::Status) -> Option<String> {
    status.metadata().get(LEADER_METADATA).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Finds the leader among the city replicas (following a hint first) and opens a session.
pub async fn find_leader(
    opts: &SyncOptions,
    hint: &mut Option<String>,
    hello: pb::HelloRequest,
) -> anyhow::Result<(SyncServiceClient<Channel>, String, pb::HelloResponse)> {
    let mut candidates: Vec<String> = hint.iter().cloned().chain(opts.city.iter().cloned()).collect();
    let mut tried = Vec::new();
    let mut errors = Vec::new();
    while let Some(addr) = candidates.first().cloned() {
        candidates.remove(0);
        if tried.contains(&addr) {
            continue;
        }
        tried.push(addr.clone());
        let mut c = client(&addr, &opts.tls)?;
        let mut req = tonic::Request::new(hello);
        req.set_timeout(Duration::from_secs(5));
        match c.hello(req).await {
            Ok(r) => {
                *hint = Some(addr.clone());
                return Ok((c, addr, r.into_inner()));
            }
            Err(s) => {
                if let Some(leader) = leader_of(&s) {
                    candidates.insert(0, leader);
                }
                if s.code() == tonic::Code::PermissionDenied {
                    bail!("{addr} refused this county: {}", s.message());
                }
                errors.push(format!("{addr}: {}", s.message()));
            }
        }
    }
    *hint = None;
    bail!("no city leader reachable ({})", errors.join("; "))
}

/// The county's cursors: of the city's changes applied here, and its own changes the city
/// still lacks after `pushed`.
async fn cursors(engine: &Engine, pushed: u64) -> anyhow::Result<(u64, u64)> {
    let store = engine.store();
    let pulled = store.applied_seq(&NodeId::city()).await?;
    let backlog = store.pending_for(&NodeId::city(), pushed).await?;
    Ok((pulled, backlog))
}

async fn session(
    engine: &Engine,
    opts: &SyncOptions,
    hint: &mut Option<String>,
    state: &watch::Sender<SyncState>,
) -> anyhow::Result<()> {
    let city = NodeId::city();
    let known_pushed = state.borrow().pushed;
    let (pulled, backlog) = cursors(engine, known_pushed).await?;
    let (mut client, leader, hello) = find_leader(opts, hint, pb::HelloRequest { pulled, backlog }).await?;
    let mut pushed = hello.pushed;
    state.send_modify(|s| {
        s.connected = true;
        s.leader = Some(leader.clone());
        s.last_error = None;
        s.sessions += 1;
        s.pushed = pushed;
        s.pulled = pulled;
    });
    let mut outbox = engine.watch_outbox();
    let mut refusal_on_record = known_refusal(engine).await?;
    loop {
        outbox.borrow_and_update();
        if state.borrow().push_refused.is_none() {
            match push(engine, &mut client, pushed, opts.batch).await {
                Ok(reached) => {
                    if refusal_on_record {
                        engine.store().note_refusal(&city, chrono::Utc::now(), None).await?;
                        refusal_on_record = false;
                    }
                    pushed = reached;
                }
                Err(e) => match refusal_of(&e) {
                    Some(status) => refused(engine, status, state).await?,
                    None => return Err(e),
                },
            }
        }
        let (pulled, backlog) = cursors(engine, pushed).await?;
        engine.store().note_peer(&city, chrono::Utc::now(), pushed, backlog).await?;
        state.send_modify(|s| {
            s.pushed = pushed;
            s.pulled = pulled;
        });
        // Wait for the city's changes, or for local ones to push.
        let wait = if backlog > 0 { 0 } else { opts.idle_wait.as_millis() as u32 };
        tokio::select! {
            r = pull(engine, &mut client, pulled, wait, opts.batch) => {
                let pulled = r?;
                state.send_modify(|s| s.pulled = pulled);
            }
            _ = outbox.changed() => {}
        }
    }
}

/// The city's answer when it refused a change for what it is (not for being busy or away, nor
/// this county's certificate being revoked: that is retried like a lost link, and succeeds once
/// the renewed certificate is in place).
fn refusal_of(e: &anyhow::Error) -> Option<&tonic::Status> {
    let status = e.downcast_ref::<tonic::Status>()?;
    if status.metadata().contains_key(crate::revocation::REVOKED_METADATA) {
        return None;
    }
    use tonic::Code::*;
    matches!(status.code(), PermissionDenied | InvalidArgument | FailedPrecondition).then_some(status)
}

/// Whether a refusal is on record for the city link.
async fn known_refusal(engine: &Engine) -> anyhow::Result<bool> {
    Ok(engine.store().peer_statuses().await?.iter().any(|p| p.node.is_city() && p.refused.is_some()))
}

/// Shows a refused push everywhere an operator looks: sync status, the city link's status
/// (and so `xuncha status` and the metrics), the log, and the ledger (about the refused
/// record, when the city's answer names a change of this node's outbox).
async fn refused(engine: &Engine, status: &tonic::Status, state: &watch::Sender<SyncState>) -> anyhow::Result<()> {
    let city = NodeId::city();
    let now = chrono::Utc::now();
    let why: String = status.message().chars().take(1000).collect();
    tracing::error!(code = ?status.code(), reason = %why, "the city refused a pushed change; pushing waits until restart");
    engine.store().note_refusal(&city, now, Some(&why)).await?;
    let subject = match refused_seq(&why) {
        Some(seq) => engine.store().outbox_row(seq).await?,
        None => None,
    };
    if let Some((kind, id, version)) = subject
        && let Some(kind) = Kind::parse(&kind)
    {
        engine
            .commit_event(LedgerEvent {
                id: EventId(uuid::Uuid::now_v7()),
                node: engine.node().clone(),
                at: now,
                actor: Actor { account: None, username: String::new(), display_name: "同步".into(), role: None },
                action: "sync.refused".into(),
                subject_kind: kind,
                subject_id: id,
                subject_version: version,
                summary: "市级拒收本县推送的变更,推送暂停".into(),
                reason: Some(why.clone()),
                audience: Audience::Local,
                chain: None,
            })
            .await?;
    }
    state.send_modify(|s| s.push_refused = Some(why));
    Ok(())
}

/// The change a refusal names ("... change 42: ..."), if it does.
fn refused_seq(message: &str) -> Option<u64> {
    let rest = &message[message.find("change ")? + "change ".len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Pushes everything after `pushed`; returns the city's cursor. Always sends at least one
/// batch, so the city hears from the county (its last contact, lag and backlog).
async fn push(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    pushed: u64,
    batch: u32,
) -> anyhow::Result<u64> {
    let span = tracing::info_span!("sync.push", from = pushed, to = tracing::field::Empty);
    let reached = push_batches(engine, client, pushed, batch).instrument(span.clone()).await?;
    span.record("to", reached);
    Ok(reached)
}

async fn push_batches(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    mut pushed: u64,
    batch: u32,
) -> anyhow::Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::PushBatch>(2);
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    crate::trace::inject_current(request.metadata_mut());
    let mut acks = client.push(request).await?.into_inner();
    let city = NodeId::city();
    loop {
        let (changes, reached, pulled, backlog) = {
            let store = engine.store();
            let (changes, reached) = store.changes_for(&city, pushed, batch).await?;
            let pulled = store.applied_seq(&city).await?;
            let backlog = store.pending_for(&city, reached).await?;
            (changes, reached, pulled, backlog)
        };
        let last = reached == pushed;
        let msg = pb::PushBatch { changes: changes.into_iter().map(to_pb).collect(), reached, pulled, backlog };
        tx.send(msg).await.context("the push stream closed")?;
        let ack = acks.next().await.context("the city closed the push stream")??;
        pushed = ack.applied;
        if last || backlog == 0 {
            return Ok(pushed);
        }
    }
}

/// Pulls the city's changes after `after` (waiting up to `wait_ms` if none); applies each
/// batch with its cursor in one transaction. Returns the cursor reached.
async fn pull(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    after: u64,
    wait_ms: u32,
    batch: u32,
) -> anyhow::Result<u64> {
    pull_batches(engine, client, after, wait_ms, batch).instrument(tracing::info_span!("sync.pull", from = after)).await
}

async fn pull_batches(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    mut after: u64,
    wait_ms: u32,
    batch: u32,
) -> anyhow::Result<u64> {
    let mut request = tonic::Request::new(pb::PullRequest { after, wait_ms, county: String::new(), batch });
    crate::trace::inject_current(request.metadata_mut());
    let mut stream = client.pull(request).await?.into_inner();
    let city = NodeId::city();
    while let Some(b) = stream.next().await {
        let b = b?;
        let changes = b.changes.into_iter().map(from_pb).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::msg)?;
        let applied = engine.apply_remote(&city, &changes, b.reached).await?;
        after = applied.applied_seq;
    }
    Ok(after)
}

/// Rebuilds a county that lost its disk from the city's copy: its own records and ledger up
/// to its last sync. The normal sync then pulls what the city addressed to it.
pub async fn restore(engine: &Engine, opts: &SyncOptions) -> anyhow::Result<(u64, u64)> {
    let mut hint = None;
    let (mut client, _, _) = find_leader(opts, &mut hint, pb::HelloRequest::default()).await?;
    let mut stream = client.restore(pb::RestoreRequest {}).await?.into_inner();
    let mut all = Vec::new();
    let mut pushed = None;
    while let Some(b) = stream.next().await {
        let b = b?;
        all.extend(b.changes.into_iter().map(from_pb).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::msg)?);
        if b.done {
            pushed = Some(b.pushed);
        }
    }
    let pushed = pushed.context("the restore stream ended early")?;
    let restored = engine.restore_own(&all, pushed).await?;
    Ok((restored, pushed))
}
