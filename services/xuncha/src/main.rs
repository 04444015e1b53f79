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
    /// Runs a county node.
    County(NodeArgs),
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

#[derive(Args, Debug)]
struct UpArgs {
    /// Folder for every node's SQLite files and endpoints.json.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// City replicas listen on base+1..3, counties on base+101, ...; 0 picks free ports.
    #[arg(long, default_value_t = 7000)]
    base_port: u16,
    /// How many demo counties (1-11).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=11))]
    counties: u16,
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
        Command::County(a) => {
            let mut config = CountyConfig::load(&a.config)?;
            if let Some(l) = a.listen {
                config.listen = l;
            }
            if let Some(d) = a.data_dir {
                config.data_dir = d;
            }
            xuncha_node::run_county(config).await
        }
        Command::Up(a) => {
            xuncha_node::up::up(UpOptions { data: a.data, base_port: a.base_port, counties: a.counties as usize }).await
        }
        Command::Client(c) => xuncha_client::run(cli.client, c).await,
    }
}
