//! `xuncha-bench raft`: the city raft cluster side by side with etcd 3.4 in one run, three
//! members each on 127.0.0.1, 1 KiB values: writes/s and median/p99 latency with 1 and 64
//! clients, and failover time (kill -9 the leader → first successful write), median of N rounds.
//! Prints every figure for both systems and the ratio. See docs/benchmarks.md.

mod auth;
mod bulk;
mod etcd;
mod export;
mod load;
mod procs;
mod sync;
mod system;
mod web;
mod xuncha;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::load::{LoadResult, Writer, median};
use crate::system::System;

#[derive(Parser)]
#[command(about = "xuncha benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The city raft cluster against etcd.
    Raft {
        /// The xuncha binary (a release build).
        #[arg(long, default_value = "target/release/xuncha")]
        xuncha: PathBuf,
        /// The etcd server binary.
        #[arg(long, default_value = "/usr/bin/etcd")]
        etcd: PathBuf,
        /// Seconds measured per load run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Failover rounds per system.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Only xuncha (for profiling); no comparison is printed.
        #[arg(long)]
        xuncha_only: bool,
    },
    /// Sign-in latency and the cost of the token check per call, beside a city write.
    Auth {
        /// Sign-ins timed.
        #[arg(long, default_value_t = 50)]
        logins: usize,
        /// Calls of each kind timed.
        #[arg(long, default_value_t = 500)]
        calls: usize,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A streamed ledger export of a large ledger: speed and resident memory.
    Export {
        /// Ledger events exported.
        #[arg(long, default_value_t = 300_000)]
        events: u64,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The web app's main pages on a province-sized data set: p50/p99 per page over HTTPS.
    Web {
        /// Registered units.
        #[arg(long, default_value_t = 40_000)]
        units: usize,
        /// Inspection targets the findings are spread over.
        #[arg(long, default_value_t = 2_000)]
        targets: usize,
        /// Findings.
        #[arg(long, default_value_t = 100_000)]
        findings: usize,
        /// Rectification items.
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        /// Ledger events.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Requests timed per page.
        #[arg(long, default_value_t = 100)]
        requests: usize,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A county reconnecting with a backlog, beside the city's raft write rate.
    Sync {
        /// Backlog sizes, in changes.
        #[arg(long = "backlog", default_values_t = [10_000u64, 100_000])]
        backlogs: Vec<u64>,
        /// Seconds of raft writes measured.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Figures {
    system: &'static str,
    one_client: LoadResult,
    many_clients: LoadResult,
    failover_ms: Vec<f64>,
    failover_median_ms: f64,
}

async fn measure<S: System>(s: &mut S, seconds: u64, rounds: usize) -> anyhow::Result<Figures> {
    let warmup = Duration::from_secs(2);
    let measure = Duration::from_secs(seconds);
    let leader = s.leader().await?;
    let one = load::run(vec![s.writer(leader).await?], warmup, measure).await;
    eprintln!("{}: 1 client: {:.0} writes/s", s.name(), one.writes_per_sec);
    let mut writers = Vec::new();
    for _ in 0..64 {
        writers.push(s.writer(leader).await?);
    }
    let many = load::run(writers, warmup, measure).await;
    eprintln!("{}: 64 clients: {:.0} writes/s", s.name(), many.writes_per_sec);
    let mut failover = Vec::new();
    for r in 0..rounds {
        s.healthy().await?;
        let leader = s.leader().await?;
        let mut others = Vec::new();
        for m in (0..3).filter(|m| *m != leader) {
            others.push(s.writer(m).await?);
        }
        let t0 = Instant::now();
        s.kill(leader).await?;
        let mut seq = 1u64 << 40 | (r as u64) << 20;
        'retry: loop {
            for w in others.iter_mut() {
                seq += 1;
                if tokio::time::timeout(Duration::from_millis(250), w.write(seq)).await.is_ok_and(|r| r.is_ok()) {
                    break 'retry;
                }
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(60),
                "{}: no write succeeded within 60 s of the kill",
                s.name()
            );
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        eprintln!("{}: failover round {}: {ms:.0} ms", s.name(), r + 1);
        failover.push(ms);
        s.restart(leader).await?;
    }
    Ok(Figures {
        system: s.name(),
        one_client: one,
        failover_median_ms: median(failover.clone()),
        failover_ms: failover,
        many_clients: many,
    })
}

fn report(x: &Figures, e: &Figures) {
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        println!("{what:<34} {a:>12.1} {b:>12.1} {unit:<8} {:>7.2}", if b == 0.0 { 0.0 } else { a / b });
    };
    println!("{:<34} {:>12} {:>12} {:<8} {:>7}", "", x.system, e.system, "", "ratio");
    row("writes/s, 1 client", x.one_client.writes_per_sec, e.one_client.writes_per_sec, "");
    row("latency p50, 1 client", x.one_client.p50_ms, e.one_client.p50_ms, "ms");
    row("latency p99, 1 client", x.one_client.p99_ms, e.one_client.p99_ms, "ms");
    row("writes/s, 64 clients", x.many_clients.writes_per_sec, e.many_clients.writes_per_sec, "");
    row("latency p50, 64 clients", x.many_clients.p50_ms, e.many_clients.p50_ms, "ms");
    row("latency p99, 64 clients", x.many_clients.p99_ms, e.many_clients.p99_ms, "ms");
    row(&format!("failover, median of {}", x.failover_ms.len()), x.failover_median_ms, e.failover_median_ms, "ms");
    println!(
        "(ratio = xuncha / etcd; errors during load: xuncha {}+{}, etcd {}+{})",
        x.one_client.errors, x.many_clients.errors, e.one_client.errors, e.many_clients.errors
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Auth { logins, calls, json } => {
            let r = auth::run(logins, calls).await?;
            println!(
                "sign-in (argon2id, OWASP cost, plus a raft write): median {:.1} ms, p99 {:.1} ms",
                r.login_median_ms, r.login_p99_ms
            );
            println!("token check alone (in process):                     {:.1} µs", r.token_check_us);
            println!(
                "round trip: signed WhoAmI {:.0} µs, unsigned health check {:.0} µs",
                r.signed_call_us, r.unsigned_call_us
            );
            println!("city write (register a unit), median:               {:.0} µs", r.write_median_us);
            println!(
                "(signed − unsigned round trip) / city write:        {:.1}% (an upper bound: WhoAmI also reads the account)",
                (r.signed_call_us - r.unsigned_call_us) / r.write_median_us * 100.0
            );
            println!(
                "token check / city write:                           {:.2}% (target < 5%)",
                r.check_share_of_write * 100.0
            );
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
            }
        }
        Bench::Export { events, json } => {
            let r = export::run(events).await?;
            println!(
                "ledger export of {} events: {:.1} s, {:.0} rows/s, file {:.1} MiB",
                r.events,
                r.seconds,
                r.rows_per_sec,
                r.file_bytes as f64 / 1048576.0
            );
            println!(
                "resident memory: {:.0} MiB before, peak {:.0} MiB during (+{:.0} MiB); the events' text is {:.0} MiB",
                r.rss_before_mib,
                r.peak_rss_during_mib,
                r.peak_rss_during_mib - r.rss_before_mib,
                r.ledger_text_bytes as f64 / 1048576.0
            );
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
            }
        }
        Bench::Web { units, targets, findings, items, events, requests, json } => {
            let scale = web::Scale { units, targets, findings, items, events };
            let r = web::run(scale, requests).await?;
            println!(
                "data set: {} units, {} targets, {} findings, {} rectification items, {} ledger events (loaded and restarted in {:.1} s)",
                units, targets, findings, items, events, r.load_seconds
            );
            println!("{:<40} {:>9} {:>9} {:>9} {:>9}", "page", "p50 ms", "p99 ms", "max ms", "KiB");
            for p in &r.pages {
                println!(
                    "{:<40} {:>9.1} {:>9.1} {:>9.1} {:>9.0}",
                    p.path.split_once("round=").map(|(a, _)| format!("{a}round=…")).unwrap_or(p.path.clone()),
                    p.p50_ms,
                    p.p99_ms,
                    p.max_ms,
                    p.bytes as f64 / 1024.0
                );
            }
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
            }
        }
        Bench::Sync { backlogs, seconds, json } => {
            let r = sync::run(&backlogs, seconds).await?;
            println!("{:<28} {:>10} {:>12} {:>14} {:>10}", "", "seconds", "changes/s", "bytes/change", "vs raft");
            let raft_changes = r.raft.writes_per_sec * 2.0;
            for f in &r.runs {
                println!(
                    "{:<28} {:>10.1} {:>12.0} {:>14.0} {:>10.2}",
                    format!("backlog of {}", f.backlog),
                    f.seconds,
                    f.changes_per_sec,
                    f.bytes_per_change,
                    f.changes_per_sec / raft_changes
                );
            }
            println!(
                "{:<28} {:>10} {:>12.0} {:>14} {:>10}",
                "raft writes, 64 writers",
                "",
                raft_changes,
                "",
                format!("({:.0} w/s)", r.raft.writes_per_sec)
            );
            println!("(a raft write here records one finding: two changes, the record and its ledger event)");
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&r)?)?;
            }
        }
        Bench::Raft { xuncha, etcd, seconds, rounds, json, xuncha_only } => {
            anyhow::ensure!(xuncha.exists(), "{} not found; build it with cargo build --release", xuncha.display());
            anyhow::ensure!(etcd.exists(), "{} not found; install Debian's etcd-server", etcd.display());
            let mut x = xuncha::Xuncha::start(xuncha).await?;
            let fx = measure(&mut x, seconds, rounds).await;
            x.stop().await;
            let fx = fx?;
            if xuncha_only {
                println!("{}", serde_json::to_string_pretty(&fx)?);
                return Ok(());
            }
            let mut e = etcd::Etcd::start(etcd).await?;
            let fe = measure(&mut e, seconds, rounds).await;
            e.stop().await;
            let fe = fe?;
            report(&fx, &fe);
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&[&fx, &fe])?)?;
            }
        }
    }
    Ok(())
}
