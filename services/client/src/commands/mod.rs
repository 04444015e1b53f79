//! Client commands, one file per area of work.

mod account;
mod cluster;
mod findings;
mod linkage;
mod oversight;
mod plan;
mod pool;
mod rectify;
mod rounds;

pub use rounds::rounds_table;

use clap::Subcommand;

use crate::Ctx;

/// Staff and operator commands (talk to a running node).
#[derive(Subcommand, Debug, Clone)]
pub enum ClientCommand {
    /// Signs in at the node (password prompt or --password-stdin); the token is kept for it.
    Login(account::LoginArgs),
    /// Signs out at the node.
    Logout,
    /// Who is signed in at the node, and their roles.
    Whoami,
    /// Changes your password (your other sessions end).
    Passwd(account::PasswdArgs),
    /// Accounts (账号) and their roles.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// The node's status: identity, records, outbox, peers.
    Status,
    /// An online, consistent backup of the node's database, written to a file
    /// (restore it with `xuncha restore-backup`).
    Backup(oversight::BackupArgs),
    /// The city's raft cluster (operators).
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Inspected units (被巡察单位).
    #[command(subcommand)]
    Unit(plan::UnitCmd),
    /// Terms (届) and their plans (巡察规划).
    #[command(subcommand)]
    Term(plan::TermCmd),
    /// The talent pool (巡察人才库).
    #[command(subcommand)]
    Person(pool::PersonCmd),
    /// Rounds (轮次).
    #[command(subcommand)]
    Round(rounds::RoundCmd),
    /// Inspection groups (巡察组).
    #[command(subcommand)]
    Group(rounds::GroupCmd),
    /// Targets of a round, feedback (反馈), rectification reports.
    #[command(subcommand)]
    Target(rounds::TargetCmd),
    /// Findings (问题).
    #[command(subcommand)]
    Finding(findings::FindingCmd),
    /// Finding categories.
    #[command(subcommand)]
    Category(findings::CategoryCmd),
    /// Problem leads (问题线索).
    #[command(subcommand)]
    Lead(findings::LeadCmd),
    /// Rectification (整改) and sign-off (销号).
    #[command(subcommand)]
    Rectify(rectify::RectifyCmd),
    /// Supervision notices (督办).
    #[command(subcommand)]
    Notice(rectify::NoticeCmd),
    /// Linked inspection (上下联动): plans, assignments, reports.
    #[command(subcommand)]
    Linkage(linkage::LinkageCmd),
    /// Secondment of county persons (抽调).
    #[command(subcommand)]
    Secondment(linkage::SecondmentCmd),
    /// Coverage of term plans (全覆盖).
    Coverage(oversight::CoverageArgs),
    /// Every node's standing: coverage, rectification, overdue, linked progress, sync.
    Oversight,
    /// Overdue rectification items.
    Overdue(oversight::OverdueArgs),
    /// The ledger (台账).
    #[command(subcommand)]
    Ledger(oversight::LedgerCmd),
}

pub async fn run(ctx: &Ctx, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Login(a) => account::login(ctx, a).await,
        ClientCommand::Logout => account::logout(ctx).await,
        ClientCommand::Whoami => account::whoami(ctx).await,
        ClientCommand::Passwd(a) => account::passwd(ctx, a).await,
        ClientCommand::Account(c) => account::account(ctx, c).await,
        ClientCommand::Status => oversight::status(ctx).await,
        ClientCommand::Backup(a) => oversight::backup(ctx, a).await,
        ClientCommand::Cluster(c) => cluster::cluster(ctx, c).await,
        ClientCommand::Unit(c) => plan::unit(ctx, c).await,
        ClientCommand::Term(c) => plan::term(ctx, c).await,
        ClientCommand::Person(c) => pool::person(ctx, c).await,
        ClientCommand::Round(c) => rounds::round(ctx, c).await,
        ClientCommand::Group(c) => rounds::group(ctx, c).await,
        ClientCommand::Target(c) => rounds::target(ctx, c).await,
        ClientCommand::Finding(c) => findings::finding(ctx, c).await,
        ClientCommand::Category(c) => findings::category(ctx, c).await,
        ClientCommand::Lead(c) => findings::lead(ctx, c).await,
        ClientCommand::Rectify(c) => rectify::rectify(ctx, c).await,
        ClientCommand::Notice(c) => rectify::notice(ctx, c).await,
        ClientCommand::Linkage(c) => linkage::linkage(ctx, c).await,
        ClientCommand::Secondment(c) => linkage::secondment(ctx, c).await,
        ClientCommand::Coverage(a) => oversight::coverage(ctx, a).await,
        ClientCommand::Oversight => oversight::oversight(ctx).await,
        ClientCommand::Overdue(a) => oversight::overdue(ctx, a).await,
        ClientCommand::Ledger(c) => oversight::ledger(ctx, c).await,
    }
}
