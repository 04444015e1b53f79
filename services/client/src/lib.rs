//! The `xuncha` client: staff workflows and operator commands over gRPC. Every command prints a
//! readable table by default and the response as JSON with `--output json`.

mod commands;
pub mod connect;
pub mod output;

use std::path::PathBuf;

use clap::Args;
use tonic::transport::Channel;
use xuncha_api::conv::FromPb;
use xuncha_domain::labels::Labelled;
use xuncha_proto::v1 as pb;

pub use commands::ClientCommand;
use output::Format;

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
    /// Who is acting, as recorded in the ledger.
    #[arg(long, global = true, env = "XUNCHA_ACTOR", default_value = "巡察办值班员")]
    pub actor: String,
    /// The actor's role: office, group, unit, discipline_commission, organisation_department, operator.
    #[arg(long, global = true, env = "XUNCHA_ROLE", default_value = "office")]
    pub role: String,
    /// CA certificate to trust (mTLS); default: the endpoints file's.
    #[arg(long, global = true, env = "XUNCHA_CA", requires_all = ["cert", "key"])]
    pub ca: Option<PathBuf>,
    /// Client certificate (an operator's).
    #[arg(long, global = true, env = "XUNCHA_CERT")]
    pub cert: Option<PathBuf>,
    /// Its key.
    #[arg(long, global = true, env = "XUNCHA_KEY")]
    pub key: Option<PathBuf>,
}

/// What a command needs: a channel to the node, the output format, the acting person.
pub struct Ctx {
    pub channel: Channel,
    /// mTLS for further connections (to the leader).
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    pub format: Format,
    pub actor: pb::Actor,
}

impl Ctx {
    pub fn actor(&self) -> Option<pb::Actor> {
        Some(self.actor.clone())
    }
}

/// The Chinese label of a proto enum value.
pub fn label<E: FromPb + Labelled + PartialEq>(value: i32) -> &'static str {
    E::from_pb("", value).map(|e| e.label_zh()).unwrap_or("-")
}

/// Runs a client command; errors from the node are printed with every field problem.
pub async fn run(opts: ClientOptions, command: ClientCommand) -> anyhow::Result<()> {
    let role = xuncha_domain::Role::parse_label(&opts.role)
        .ok_or_else(|| anyhow::anyhow!("--role: '{}' is not one of {}", opts.role, xuncha_domain::Role::choices()))?;
    let flags = match (&opts.ca, &opts.cert, &opts.key) {
        (Some(ca), Some(cert), Some(key)) => {
            Some(connect::TlsPaths { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
        }
        _ => None,
    };
    let target = connect::resolve(&opts.node, &opts.endpoints, flags)?;
    let tls = target.tls.as_ref().map(|t| t.config()).transpose()?;
    let mut addr = target.addr;
    let actor = pb::Actor { name: opts.actor.clone(), role: xuncha_api::conv::ToPb::to_pb(&role) };
    // A city replica that cannot serve names the leader; the command is retried there once.
    let mut retried = false;
    loop {
        let ctx = Ctx {
            channel: connect::channel(&addr, tls.as_ref()).await?,
            tls: tls.clone(),
            format: opts.output,
            actor: actor.clone(),
        };
        let Err(e) = commands::run(&ctx, command.clone()).await else { return Ok(()) };
        let Some(status) = e.downcast_ref::<tonic::Status>() else { return Err(e) };
        let leader =
            status.metadata().get(xuncha_api::LEADER_METADATA).and_then(|v| v.to_str().ok()).map(str::to_string);
        match leader {
            Some(l) if status.code() == tonic::Code::Unavailable && !retried && l != addr => {
                eprintln!("{addr} is not the leader; retrying on {l}");
                addr = l;
                retried = true;
            }
            _ => return Err(anyhow::anyhow!("{}", output::describe(status))),
        }
    }
}
