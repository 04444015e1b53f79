//! The `xuncha` client: staff workflows and operator commands over gRPC. Every command prints a
//! readable table by default and the response as JSON with `--output json`.

mod commands;
pub mod connect;
pub mod output;
pub mod refs;
pub mod tokens;

use std::path::PathBuf;

use clap::Args;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use xuncha_wire::Bearer;

pub use commands::{ClientCommand, rounds_table};
use output::Format;
pub use xuncha_wire::labels::label;

/// A connection that signs every call with the user's token (if signed in).
pub type Conn = InterceptedService<Channel, Bearer>;

/// Options every client command takes.
#[derive(Args, Clone, Debug)]
pub struct ClientOptions {
    /// The node to talk to: host:port, or a name from the endpoints file (county-anping, anping, city-1).
    #[arg(long, short = 'n', global = true, env = "XUNCHA_NODE", default_value = "county-anping")]
    pub node: String,
    /// The endpoints file `xuncha up` wrote.
    #[arg(long, global = true, env = "XUNCHA_ENDPOINTS", default_value_os_t = connect::default_endpoints())]
    pub endpoints: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// A session token to use instead of the one `xuncha login` saved for the node.
    #[arg(long, global = true, env = "XUNCHA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where `xuncha login` keeps tokens (one per node; readable by you only).
    #[arg(long, global = true, env = "XUNCHA_TOKENS", default_value_os_t = tokens::default_path())]
    pub tokens: PathBuf,
    /// CA certificate to trust (mTLS); default: the endpoints file's.
    #[arg(long, global = true, env = "XUNCHA_CA", requires_all = ["cert", "key"])]
    pub ca: Option<PathBuf>,
    /// Client certificate (an operator's).
    #[arg(long, global = true, env = "XUNCHA_CERT")]
    pub cert: Option<PathBuf>,
    /// Its key.
    #[arg(long, global = true, env = "XUNCHA_KEY")]
    pub key: Option<PathBuf>,
    /// A name for this run's writes (default: a fresh one). Run a command again with the same
    /// name after a timeout or a lost reply, and what it already did is not done twice.
    #[arg(long, global = true, env = "XUNCHA_REQUEST_ID", value_name = "NAME")]
    pub request_id: Option<String>,
}

/// What a command needs: a connection to the node, the output format, where sessions are kept.
pub struct Ctx {
    pub channel: Conn,
    /// mTLS for further connections (to the leader).
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    pub format: Format,
    /// The node's address, which keys its saved session.
    pub addr: String,
    pub tokens: tokens::TokenStore,
}

/// A request-id base unique to this run.
fn fresh_request_base() -> String {
    format!("cli-{}", uuid::Uuid::now_v7().simple())
}

/// Runs a client command; errors from the node are printed with every field problem.
pub async fn run(opts: ClientOptions, command: ClientCommand) -> anyhow::Result<()> {
    let flags = match (&opts.ca, &opts.cert, &opts.key) {
        (Some(ca), Some(cert), Some(key)) => {
            Some(connect::TlsPaths { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
        }
        _ => None,
    };
    let target = connect::resolve(&opts.node, &opts.endpoints, flags)?;
    let tls = target.tls.as_ref().map(|t| t.config()).transpose()?;
    let home = target.addr.clone();
    let mut addr = target.addr;
    let store = tokens::TokenStore::new(&opts.tokens);
    let token = match &opts.token {
        Some(t) => Some(t.clone()),
        None => store.get(&home)?.map(|s| s.token),
    };
    let bearer = match &token {
        Some(t) => Bearer::new(t).map_err(|s| anyhow::anyhow!("--token: {}", s.message()))?,
        None => Bearer::none(),
    };
    // Every call of this run is numbered under one base; the retry below numbers from 1 again,
    // so the node recognises the writes it already did.
    let base = opts.request_id.clone().unwrap_or_else(fresh_request_base);
    // A city replica that cannot serve names the leader; the command is retried there once.
    let mut retried = false;
    loop {
        let channel = connect::channel(&addr, tls.as_ref()).await?;
        let ctx = Ctx {
            channel: InterceptedService::new(
                channel,
                bearer.clone().numbering(&base).map_err(|s| anyhow::anyhow!("--request-id: {}", s.message()))?,
            ),
            tls: tls.clone(),
            format: opts.output,
            addr: home.clone(),
            tokens: tokens::TokenStore::new(&opts.tokens),
        };
        let Err(e) = commands::run(&ctx, command.clone()).await else { return Ok(()) };
        let Some(status) = e.downcast_ref::<tonic::Status>() else { return Err(e) };
        match xuncha_wire::leader_of(status) {
            Some(l) if status.code() == tonic::Code::Unavailable && !retried && l != addr => {
                eprintln!("{addr} is not the leader; retrying on {l}");
                addr = l;
                retried = true;
            }
            _ if status.code() == tonic::Code::Unauthenticated && !matches!(command, ClientCommand::Login(_)) => {
                return Err(anyhow::anyhow!(
                    "{}\n  sign in first: xuncha --node {} login <登录名>",
                    output::describe(status),
                    opts.node
                ));
            }
            _ => return Err(anyhow::anyhow!("{}", output::describe(status))),
        }
    }
}
