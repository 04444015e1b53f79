//! `xuncha-bench export`: a streamed ledger export of a large ledger, in this process over
//! loopback gRPC from a county node with real SQLite: rows per second, the file's size, and how
//! far the process's resident memory rose above where it stood before (peak, from
//! /proc/self/status after resetting it), beside the size of the rows themselves.

use std::time::Instant;

use serde::Serialize;
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Endpoint;
use xuncha_domain::{Kind, LedgerEvent};
use xuncha_node::{CountyConfig, start_county};
use xuncha_proto::v1 as pb;
use xuncha_wire::Bearer;

use crate::bulk;

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub events: u64,
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub file_bytes: u64,
    /// Bytes of the events' text as stored (what a whole-in-memory export would at least hold).
    pub ledger_text_bytes: u64,
    pub rss_before_mib: f64,
    pub peak_rss_during_mib: f64,
}

/// A figure from /proc/self/status, in MiB.
fn status_mib(field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with(field)).ok_or_else(|| anyhow::anyhow!("no {field}"))?;
    let kib: f64 = line.split_whitespace().nth(1).ok_or_else(|| anyhow::anyhow!("{line}"))?.parse()?;
    Ok(kib / 1024.0)
}

pub async fn run(events: u64) -> anyhow::Result<ExportReport> {
    let dir = tempfile::tempdir()?;
    let mut config = CountyConfig::new("c01", dir.path(), "127.0.0.1:0".parse()?);
    config.log.level = "warn".into();
    let county = start_county(config).await?;
    // The ledger, written directly in batches of 1 000 (the export, not the writes, is measured).
    let node = county.engine.node().clone();
    let t0 = chrono::Utc::now();
    let mut text = 0u64;
    for start in (0..events).step_by(1000) {
        let batch: Vec<LedgerEvent> = (start..(start + 1000).min(events))
            .map(|n| {
                let summary = format!("登记单位:基准测试单位第{n}号(县直部门)");
                bulk::event(&node, t0, n, "unit.registered", Kind::Unit, summary)
            })
            .collect();
        text += batch.iter().map(|e| serde_json::to_string(e).map(|s| s.len() as u64)).sum::<Result<u64, _>>()?;
        bulk::commit(&county, vec![], batch).await?;
    }
    let raw = Endpoint::from_shared(format!("http://{}", county.addr()))?.connect().await?;
    let password = "Kennwort-zum-Messen-7";
    pb::account_service_client::AccountServiceClient::new(raw.clone())
        .bootstrap(pb::BootstrapAccountRequest {
            username: "bench".into(),
            display_name: "基准测试".into(),
            password: password.into(),
        })
        .await?;
    let token = pb::auth_client::AuthClient::new(raw.clone())
        .login(pb::LoginRequest { username: "bench".into(), password: password.into() })
        .await?
        .into_inner()
        .token;
    let mut ledger =
        pb::ledger_service_client::LedgerServiceClient::new(InterceptedService::new(raw, Bearer::new(&token)?));

    // Peak resident memory from here on: "5" resets the high-water mark to the current size.
    std::fs::write("/proc/self/clear_refs", "5")?;
    let rss_before_mib = status_mib("VmRSS:")?;
    let started = Instant::now();
    let mut stream = ledger.export(pb::ExportRequest { table: pb::ExportTable::Ledger as i32 }).await?.into_inner();
    let (mut file_bytes, mut rows) = (0u64, None);
    let out = dir.path().join("export.xlsx");
    let mut file = std::fs::File::create(&out)?;
    while let Some(piece) = stream.next().await {
        let piece = piece?;
        std::io::Write::write_all(&mut file, &piece.content)?;
        file_bytes += piece.content.len() as u64;
        if piece.done {
            rows = Some(piece.rows);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_during_mib = status_mib("VmHWM:")?;
    let rows = rows.ok_or_else(|| anyhow::anyhow!("the export ended early"))?;
    // Beside the events written here, the ledger holds the bench account's own.
    anyhow::ensure!(rows as u64 > events, "exported {rows} rows of {events} and more");
    county.stop().await;
    Ok(ExportReport {
        events: rows as u64,
        seconds,
        rows_per_sec: rows as f64 / seconds,
        file_bytes,
        ledger_text_bytes: text,
        rss_before_mib,
        peak_rss_during_mib,
    })
}
