//! The `xuncha` binary: argument parsing, then the node or client code does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use xuncha_client::{ClientCommand, ClientOptions};
use xuncha_node::up::UpOptions;
use xuncha_node::{CityConfig, CountyConfig};

#[derive(Parser, Debug)]
#[command(name = "xuncha", version, about = "巡察联动: city and county inspection offices, linked")]
struct Cli {
    #[command(flatten)]
    client: ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a city replica (one of the city office's raft cluster).
    City(NodeArgs),
    /// Runs a county node, or rebuilds one from the city's copy (`county restore`).
    #[command(args_conflicts_with_subcommands = true)]
    County {
        #[command(subcommand)]
        action: Option<CountyAction>,
        #[command(flatten)]
        args: Option<NodeArgs>,
    },
    /// Restores a backup (`xuncha backup`) into an empty data folder, as a county or as the
    /// first replica of a new city cluster (then `cluster init` it with itself).
    RestoreBackup(RestoreBackupArgs),
    /// Makes a development CA and certificates for nodes and operators (keeps existing ones; uses
    /// ca.pem + ca-key.pem already in the folder, e.g. the operators' own CA).
    Certs(CertsArgs),
    /// Runs a local federation with demo data until Ctrl-C; writes DIR/endpoints.json.
    Up(UpArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Args, Debug)]
struct NodeArgs {
    /// Configuration file (TOML); see docs/configuration.md.
    #[arg(long)]
    config: PathBuf,
    /// Overrides `listen`.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Overrides `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum CountyAction {
    /// Rebuilds a county that lost its disk from the city's copy of its records, into its
    /// (empty) data folder; then start it as usual and it pulls what the city addressed to it.
    Restore(NodeArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("as").required(true).args(["county", "replica"])))]
struct RestoreBackupArgs {
    /// The backup file.
    #[arg(long)]
    file: PathBuf,
    /// The (empty) data folder of the node to be.
    #[arg(long)]
    data_dir: PathBuf,
    /// Restore as this county.
    #[arg(long)]
    county: Option<String>,
    /// Restore as a city replica with this (new) id.
    #[arg(long)]
    replica: Option<u64>,
}

#[derive(Args, Debug)]
struct CertsArgs {
    /// Folder for the files.
    #[arg(long, default_value = "certs")]
    out: PathBuf,
    /// City replica ids (repeatable).
    #[arg(long = "replica")]
    replicas: Vec<u64>,
    /// County codes (repeatable).
    #[arg(long = "county")]
    counties: Vec<String>,
    /// Operator names (repeatable).
    #[arg(long = "operator")]
    operators: Vec<String>,
    /// Extra host names or addresses the certificates are valid for (repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Re-issue the named certificates now (new keys), not only those within 30 days of expiry.
    #[arg(long)]
    renew: bool,
    /// Revoke these certificates (PEM files, repeatable) instead: add them to the revocation
    /// list, which running nodes re-read within seconds.
    #[arg(long = "revoke", value_name = "CERT")]
    revoke: Vec<PathBuf>,
    /// The revocation list (default: revoked.txt beside the first certificate).
    #[arg(long = "list", value_name = "FILE")]
    list: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct UpArgs {
    /// Folder for every node's SQLite files and endpoints.json.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// City replicas listen on base+1..3, counties on base+101, ...; 0 picks free ports.
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// How many demo counties (1-11); the seed scenario runs all 11.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=11))]
    counties: u16,
    /// The data seeded into empty nodes: a small demo, or the source documents' situation
    /// (11 counties, a 360-person pool, rounds five to seven, the counties' linked units and revisits).
    #[arg(long, value_enum, default_value_t = ScenarioArg::Demo)]
    scenario: ScenarioArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ScenarioArg {
    Demo,
    Seed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl NodeArgs {
    fn county_config(&self) -> anyhow::Result<CountyConfig> {
        let mut config = CountyConfig::load(&self.config)?;
        if let Some(l) = self.listen {
            config.listen = l;
        }
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        Ok(config)
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::City(a) => {
            let mut config = CityConfig::load(&a.config)?;
            if let Some(l) = a.listen {
                config.listen = l;
            }
            if let Some(d) = a.data_dir {
                config.data_dir = d;
            }
            xuncha_node::run_city(config).await
        }
        Command::County { action: Some(CountyAction::Restore(a)), .. } => {
            let config = a.county_config()?;
            let (restored, pushed) = xuncha_node::restore_county(&config).await?;
            println!(
                "restored {restored} records and ledger events of county/{}; its changes continue after {pushed}",
                config.county
            );
            Ok(())
        }
        Command::County { args, .. } => {
            let a = args.ok_or_else(|| anyhow::anyhow!("--config is required"))?;
            xuncha_node::run_county(a.county_config()?).await
        }
        Command::RestoreBackup(a) => {
            use xuncha_node::backup::{RestoreAs, restore_backup};
            let target = match (a.county, a.replica) {
                (Some(c), _) => RestoreAs::County(c),
                (None, Some(r)) => RestoreAs::Replica(r),
                (None, None) => anyhow::bail!("say --county or --replica"),
            };
            let db = restore_backup(&a.file, &a.data_dir, &target).await?;
            println!("restored {} to {}", a.file.display(), db.display());
            if let RestoreAs::Replica(id) = target {
                println!(
                    "start it with replica_id = {id}, then: xuncha --node <its address> cluster init --member {id}=<its address>"
                );
            }
            Ok(())
        }
        Command::Certs(a) => {
            use xuncha_node::certs::{Identity, REVOKED_FILE, Renew, make_at, revoke};
            if !a.revoke.is_empty() {
                let beside = a.revoke[0].parent().unwrap_or(std::path::Path::new("."));
                let list = a.list.unwrap_or_else(|| beside.join(REVOKED_FILE));
                for (print, who) in revoke(&list, &a.revoke)? {
                    println!("已吊销 {who}：sha256 {print}");
                }
                println!("吊销清单：{}（各节点 2 秒内重读）", list.display());
                return Ok(());
            }
            let mut ids: Vec<Identity> = a.replicas.into_iter().map(Identity::Replica).collect();
            ids.extend(a.counties.into_iter().map(Identity::County));
            ids.extend(a.operators.into_iter().map(Identity::Operator));
            anyhow::ensure!(!ids.is_empty(), "name at least one --replica, --county or --operator");
            let renew = if a.renew { Renew::Now } else { Renew::WhenDue };
            let made = make_at(&a.out, &ids, &a.hosts, renew, chrono::Utc::now())?;
            let mut table = xuncha_client::output::table(&["身份", "操作", "有效至", "证书", "私钥"]);
            for m in &made {
                table.add_row([
                    m.identity.name(),
                    m.action.label().to_string(),
                    m.not_after.format("%Y年%-m月%-d日").to_string(),
                    m.files.cert.display().to_string(),
                    m.files.key.display().to_string(),
                ]);
            }
            println!("{table}");
            println!("CA: {}", a.out.join("ca.pem").display());
            if made.iter().any(|m| m.action == xuncha_node::certs::Action::Renewed) {
                println!("续期的证书在节点重启后生效（副本逐个重启）。");
            }
            Ok(())
        }
        Command::Up(a) => {
            xuncha_node::up::up(UpOptions {
                data: a.data,
                base_port: a.base_port,
                counties: a.counties as usize,
                scenario: match a.scenario {
                    ScenarioArg::Demo => xuncha_node::demo::Scenario::Demo,
                    ScenarioArg::Seed => xuncha_node::demo::Scenario::Seed,
                },
            })
            .await
        }
        Command::Client(c) => xuncha_client::run(cli.client, c).await,
    }
}
