//! Raft between city replicas over tonic gRPC: each openraft message travels as JSON inside a
//! `RaftMessage`. Channels are made lazily and kept per address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};
use xuncha_proto::v1::RaftMessage;
use xuncha_proto::v1::raft_service_client::RaftServiceClient;

use super::types::{ReplicaId, ReplicaNode, TypeConfig};
use crate::tls::NodeTls;

/// The name every city replica's certificate carries: what a county, or a replica reaching
/// the leader by address, checks it reached.
pub const CITY_SERVER_NAME: &str = "xuncha-city";

/// The name replica `id`'s certificate carries: what the replica dialling it checks.
pub fn replica_server_name(id: ReplicaId) -> String {
    format!("city-{id}")
}

/// Whom a channel expects to reach.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    /// Replica `id`, and no other.
    Replica(ReplicaId),
    /// Some city replica (the leader, known by address only).
    AnyReplica,
}

impl Expect {
    fn server_name(&self) -> String {
        match self {
            Expect::Replica(id) => replica_server_name(*id),
            Expect::AnyReplica => CITY_SERVER_NAME.to_string(),
        }
    }
}

/// How to reach other replicas: TLS settings and, where replicas see each other at other
/// addresses than the ones in the membership (proxies, NAT), per-replica overrides.
#[derive(Clone, Default)]
pub struct Peers {
    tls: Option<NodeTls>,
    overrides: Arc<HashMap<ReplicaId, String>>,
    channels: Arc<Mutex<HashMap<(String, Expect), Channel>>>,
}

impl Peers {
    pub fn new(tls: Option<NodeTls>, overrides: HashMap<ReplicaId, String>) -> Self {
        Self { tls, overrides: Arc::new(overrides), channels: Arc::default() }
    }

    /// Drops the cached channel to `addr` when `status` says this replica's certificate was
    /// revoked there, so that the next call dials again and presents the renewed certificate
    /// (an open connection keeps the certificate it was opened with). Returns whether it did.
    pub fn forget_if_revoked(&self, addr: &str, expect: Expect, status: &tonic::Status) -> bool {
        if !status.metadata().contains_key(crate::revocation::REVOKED_METADATA) {
            return false;
        }
        tracing::warn!(peer = addr, "this replica's certificate was refused as revoked; dialling again");
        self.channels.lock().expect("peer channel map").remove(&(addr.to_string(), expect));
        true
    }

    /// The address to dial for replica `id` listed at `addr`.
    pub fn addr_of(&self, id: ReplicaId, addr: &str) -> String {
        self.overrides.get(&id).cloned().unwrap_or_else(|| addr.to_string())
    }

    /// A client for the raft service at `addr` (connects on first use). Over TLS the server's
    /// certificate must be `expect`'s, so no other certificate of the CA can pose as it.
    pub fn client(&self, addr: &str, expect: Expect) -> anyhow::Result<RaftServiceClient<Channel>> {
        let mut channels = self.channels.lock().expect("peer channel map");
        let key = (addr.to_string(), expect);
        let channel = match channels.get(&key) {
            Some(c) => c.clone(),
            None => {
                // The URI is plain either way: over TLS, TLS is the connector's.
                let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(Duration::from_secs(2))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(10));
                let c = match &self.tls {
                    Some(tls) => tls.channel(endpoint, &key.1.server_name())?,
                    None => endpoint.connect_lazy(),
                };
                channels.insert(key, c.clone());
                c
            }
        };
        // No compression: raft messages are small and latency-bound; zstd costs more than it saves.
        Ok(RaftServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(super::MAX_RAFT_MESSAGE_BYTES)
            .max_encoding_message_size(super::MAX_RAFT_MESSAGE_BYTES))
    }
}

impl RaftNetworkFactory<TypeConfig> for Peers {
    type Network = PeerClient;

    async fn new_client(&mut self, target: ReplicaId, node: &ReplicaNode) -> PeerClient {
        let addr = self.addr_of(target, &node.addr);
        let client = self.client(&addr, Expect::Replica(target)).map_err(|e| e.to_string());
        PeerClient { target, addr, peers: self.clone(), client }
    }
}

/// The raft link to one replica.
pub struct PeerClient {
    target: ReplicaId,
    addr: String,
    peers: Peers,
    client: Result<RaftServiceClient<Channel>, String>,
}

/// Encodes a message as the JSON payload of a `RaftMessage`.
pub fn encode<T: Serialize>(value: &T) -> Result<RaftMessage, serde_json::Error> {
    Ok(RaftMessage { json: serde_json::to_vec(value)? })
}

pub fn decode<T: DeserializeOwned>(msg: &RaftMessage) -> Result<T, serde_json::Error> {
    serde_json::from_slice(&msg.json)
}

fn transport<E: std::error::Error>(status: tonic::Status) -> RPCError<ReplicaId, ReplicaNode, E> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

impl PeerClient {
    async fn call<Req, Resp, E>(
        &mut self,
        req: &Req,
        ttl: Duration,
        rpc: impl AsyncFnOnce(
            RaftServiceClient<Channel>,
            tonic::Request<RaftMessage>,
        ) -> Result<tonic::Response<RaftMessage>, tonic::Status>,
    ) -> Result<Resp, RPCError<ReplicaId, ReplicaNode, RaftError<ReplicaId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client =
            self.client.clone().map_err(|e| RPCError::Unreachable(Unreachable::from(openraft::AnyError::error(e))))?;
        let body = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(body);
        request.set_timeout(ttl);
        let reply = match rpc(client, request).await {
            Ok(reply) => reply,
            Err(status) => {
                let expect = Expect::Replica(self.target);
                if self.peers.forget_if_revoked(&self.addr, expect.clone(), &status) {
                    self.client = self.peers.client(&self.addr, expect).map_err(|e| e.to_string());
                }
                return Err(transport(status));
            }
        };
        let result: Result<Resp, RaftError<ReplicaId, E>> =
            decode(reply.get_ref()).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<ReplicaId>, RPCError<ReplicaId, ReplicaNode, RaftError<ReplicaId>>> {
        self.call(&rpc, option.hard_ttl(), async |mut c, r| c.append_entries(r).await).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<ReplicaId>,
        RPCError<ReplicaId, ReplicaNode, RaftError<ReplicaId, InstallSnapshotError>>,
    > {
        self.call(&rpc, option.hard_ttl(), async |mut c, r| c.install_snapshot(r).await).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ReplicaId>,
        option: RPCOption,
    ) -> Result<VoteResponse<ReplicaId>, RPCError<ReplicaId, ReplicaNode, RaftError<ReplicaId>>> {
        self.call(&rpc, option.hard_ttl(), async |mut c, r| c.vote(r).await).await
    }
}
