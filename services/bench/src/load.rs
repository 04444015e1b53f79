//! The load: clients writing one after another, latencies, and the failover measure.

use std::time::{Duration, Instant};

use serde::Serialize;

/// A connected client that writes one value of the benchmark's size.
pub trait Writer: Send + 'static {
    fn write(&mut self, seq: u64) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Writes/s and latency of one run.
#[derive(Clone, Debug, Serialize)]
pub struct LoadResult {
    pub clients: usize,
    pub writes: usize,
    pub errors: usize,
    pub writes_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs every writer in its own task for `warmup + measure`; counts what completes in the
/// measured window.
pub async fn run<W: Writer>(writers: Vec<W>, warmup: Duration, measure: Duration) -> LoadResult {
    let clients = writers.len();
    let start = Instant::now() + warmup;
    let end = start + measure;
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(c, mut w)| {
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut seq = (c as u64) << 32;
                loop {
                    let t = Instant::now();
                    if t >= end {
                        break;
                    }
                    let ok = w.write(seq).await.is_ok();
                    seq += 1;
                    let done = Instant::now();
                    if t >= start && done <= end {
                        if ok {
                            lat.push(done - t);
                        } else {
                            errors += 1;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("writer task");
        all.extend(lat);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    LoadResult {
        clients,
        writes: all.len(),
        errors,
        writes_per_sec: all.len() as f64 / measure.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return 0.0;
    }
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}
