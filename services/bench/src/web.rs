//! `xuncha-bench web`: the web app's main pages on a province-sized data set, over real HTTPS
//! from a node with real SQLite: p50, p99 and the slowest of each page.
//!
//! The data set (units, targets, findings, rectification items, ledger events) is written to
//! the node's store directly in batches, beside the demo's records and accounts, and the node
//! is restarted so its state loads from SQLite as after any restart; the pages, not the
//! writes, are measured. One node holds it all, signed in as its office head, who may read
//! everything on the pages.

use std::time::{Duration, Instant};

use serde::Serialize;
use xuncha_domain::common::Meta;
use xuncha_domain::ids::*;
use xuncha_domain::model::*;
use xuncha_domain::{Kind, LedgerEvent, Record};
use xuncha_node::{CountyConfig, start_county};

use crate::bulk;

/// The data set's size.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Scale {
    pub units: usize,
    pub targets: usize,
    pub findings: usize,
    pub items: usize,
    pub events: usize,
}

#[derive(Debug, Serialize)]
pub struct PageFigures {
    pub path: String,
    pub requests: usize,
    pub bytes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct WebReport {
    pub scale: Scale,
    pub load_seconds: f64,
    pub pages: Vec<PageFigures>,
}

fn meta(owner: &xuncha_domain::NodeId) -> Meta {
    Meta { owner: owner.clone(), version: 1, updated_at: chrono::Utc::now() }
}

fn fresh<T>(make: impl Fn(uuid::Uuid) -> T) -> T {
    make(uuid::Uuid::now_v7())
}

pub async fn run(scale: Scale, requests: usize) -> anyhow::Result<WebReport> {
    let dir = tempfile::tempdir()?;
    let certs_dir = dir.path().join("certs");
    let ids = [xuncha_node::certs::Identity::County("c01".into())];
    xuncha_node::certs::make(&certs_dir, &ids, &[])?;
    let mut config = CountyConfig::new("c01", &dir.path().join("c01"), "127.0.0.1:0".parse()?);
    config.log.level = "warn".into();
    config.tls = Some(xuncha_node::certs::files(&certs_dir, &ids[0]));
    config.web_listen = Some("127.0.0.1:0".parse()?);
    config.name = "基准县".into();
    let county = start_county(config.clone()).await?;
    let accounts = xuncha_node::demo::seed_county(&county.api, "基准县", 1).await?;
    let head = accounts.into_iter().find(|a| a.username == "head").ok_or_else(|| anyhow::anyhow!("no head"))?;

    let started = Instant::now();
    let node = county.engine.node().clone();
    let (round, group, category, today) = county
        .engine
        .read(|s| {
            let r = s.rounds.values().max_by_key(|r| r.number).map(|r| r.id);
            let g = r.and_then(|r| s.groups_of_round(r).next().map(|g| g.id));
            let c = s.categories.values().find(|c| c.active).map(|c| c.code.clone());
            (r, g, c, xuncha_domain::common::office_date(chrono::Utc::now()))
        })
        .await;
    let (round, group, category) = match (round, group, category) {
        (Some(r), Some(g), Some(c)) => (r, g, c),
        _ => anyhow::bail!("the demo county has no round, group or category"),
    };
    let commit = |records: Vec<Record>, events: Vec<LedgerEvent>| bulk::commit(&county, records, events);
    let units: Vec<UnitId> = (0..scale.units).map(|_| fresh(UnitId)).collect();
    for (b, chunk) in units.chunks(2000).enumerate() {
        let records = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                Record::Unit(Unit {
                    id: *id,
                    meta: meta(&node),
                    name: format!("基准单位{}号", b * 2000 + i + 1),
                    kind: UnitKind::Village,
                    parent: None,
                })
            })
            .collect();
        commit(records, vec![]).await?;
    }
    let targets: Vec<(TargetId, UnitId)> = units.iter().take(scale.targets).map(|u| (fresh(TargetId), *u)).collect();
    for chunk in targets.chunks(2000) {
        let records = chunk
            .iter()
            .map(|(id, unit)| {
                Record::Target(Target {
                    id: *id,
                    meta: meta(&node),
                    round,
                    group,
                    unit: *unit,
                    kind: TargetKind::Regular,
                    scope: None,
                    assignment: None,
                    inherited_findings: vec![],
                    feedback_on: Some(today - chrono::Duration::days(30)),
                    report_submitted_on: None,
                    lead_count: 0,
                })
            })
            .collect();
        commit(records, vec![]).await?;
    }
    let year = chrono::Datelike::year(&today);
    let mut findings: Vec<(FindingId, TargetId, UnitId)> = Vec::with_capacity(scale.findings);
    for n in 0..scale.findings {
        let (target, unit) = targets[n % targets.len()];
        findings.push((fresh(FindingId), target, unit));
    }
    for (b, chunk) in findings.chunks(2000).enumerate() {
        let records = chunk
            .iter()
            .enumerate()
            .map(|(i, (id, target, unit))| {
                let n = b * 2000 + i;
                Record::Finding(Finding {
                    id: *id,
                    meta: meta(&node),
                    reference: Reference { year, number: 10_000 + n as u32 },
                    target: *target,
                    round,
                    unit: *unit,
                    category: category.clone(),
                    tags: Default::default(),
                    title: format!("基准问题{}号", n + 1),
                    description: "落实全面从严治党主体责任不到位,三重一大决策制度执行不严格".into(),
                    status: if n < scale.items { FindingStatus::Rectifying } else { FindingStatus::FedBack },
                })
            })
            .collect();
        commit(records, vec![]).await?;
    }
    for (b, chunk) in findings.iter().take(scale.items).collect::<Vec<_>>().chunks(2000).enumerate() {
        let records = chunk
            .iter()
            .enumerate()
            .map(|(i, (finding, target, unit))| {
                let n = b * 2000 + i;
                let status =
                    [RectificationStatus::Open, RectificationStatus::InProgress, RectificationStatus::Done][n % 3];
                Record::Rectification(RectificationItem {
                    id: fresh(RectificationId),
                    meta: meta(&node),
                    reference: Reference { year, number: 10_000 + n as u32 },
                    finding: *finding,
                    target: *target,
                    round,
                    unit: *unit,
                    kind: RectificationKind::Measure,
                    measures: vec!["制定整改方案,明确责任人和时限".into(), "建立健全相关制度".into()],
                    responsible_unit: "单位党组(党委)".into(),
                    responsible_person: Some("张伟".into()),
                    // A quarter past due: the overdue filter has work to do.
                    deadline: today + chrono::Duration::days(if n % 4 == 0 { -10 } else { 60 }),
                    status,
                    progress: vec![],
                    evidence: None,
                    sign_off: None,
                })
            })
            .collect();
        commit(records, vec![]).await?;
    }
    let t0 = chrono::Utc::now();
    for start in (0..scale.events).step_by(2000) {
        let events = (start..(start + 2000).min(scale.events))
            .map(|n| {
                let summary = format!("发现问题「基准问题{}号」", n + 1);
                bulk::event(&node, t0, n as u64, "finding.recorded", Kind::Finding, summary)
            })
            .collect();
        commit(vec![], events).await?;
    }
    // A restart: the state loads from SQLite as it would after any.
    county.stop().await;
    let county = start_county(config).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let held = county.engine.read(|s| (s.units.len(), s.findings.len(), s.rectifications.len())).await;
    anyhow::ensure!(
        held.0 >= scale.units && held.1 >= scale.findings && held.2 >= scale.items,
        "the node holds {held:?} after the restart"
    );

    let web = county.web.as_ref().ok_or_else(|| anyhow::anyhow!("no web app"))?;
    let base = format!("https://{}", web.addr);
    let client = https_client(&certs_dir.join("ca.pem"))?;
    sign_in(&client, &base, &head.username, &head.password).await?;
    let last_findings_page = scale.findings.div_ceil(100).max(1);
    let paths = [
        "/".to_string(),
        "/plan".into(),
        "/rounds".into(),
        format!("/groups?round={round}"),
        "/linkage".into(),
        "/findings".into(),
        format!("/findings?page={last_findings_page}"),
        "/pool".into(),
        "/rectification".into(),
        "/rectification?overdue=1".into(),
        format!("/rectification?page={}", scale.items.div_ceil(100).max(1)),
        "/ledger".into(),
        format!("/ledger?page={}", scale.events.div_ceil(100).max(1)),
    ];
    let mut pages = Vec::new();
    for path in paths {
        // One request first, unmeasured: the connection and the page's first allocations.
        fetch(&client, &base, &path).await?;
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            bytes = fetch(&client, &base, &path).await?;
            times.push(t.elapsed());
        }
        times.sort();
        let at = |q: f64| ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]);
        pages.push(PageFigures {
            path,
            requests,
            bytes,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: ms(*times.last().unwrap()),
        });
    }
    county.stop().await;
    Ok(WebReport { scale, load_seconds, pages })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn https_client(ca: &std::path::Path) -> anyhow::Result<reqwest::Client> {
    let pem = std::fs::read(ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(c?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder().use_preconfigured_tls(tls).cookie_store(true).build()?)
}

async fn sign_in(client: &reqwest::Client, base: &str, username: &str, password: &str) -> anyhow::Result<()> {
    let form = client.get(format!("{base}/login")).send().await?.text().await?;
    let at = form.find("name=\"csrf\" value=\"").ok_or_else(|| anyhow::anyhow!("no sign-in form"))? + 19;
    let csrf = form[at..].split('"').next().unwrap_or_default().to_string();
    let page = client
        .post(format!("{base}/login"))
        .form(&[("username", username), ("password", password), ("csrf", csrf.as_str())])
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(page.contains("总览"), "signing in failed");
    Ok(())
}

/// GETs a page; its size in bytes. Anything but 200 is an error.
async fn fetch(client: &reqwest::Client, base: &str, path: &str) -> anyhow::Result<usize> {
    let r = client.get(format!("{base}{path}")).send().await?;
    anyhow::ensure!(r.status() == reqwest::StatusCode::OK, "{path}: {}", r.status());
    Ok(r.bytes().await?.len())
}
