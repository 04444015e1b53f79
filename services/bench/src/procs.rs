//! Child processes of the benchmark: start, kill -9, free ports.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

/// A free TCP port on 127.0.0.1 (bound and released; the race is harmless on a quiet machine).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `program args`, logging to `log`.
pub fn spawn(program: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))
}

/// SIGKILL, then reap.
pub async fn kill9(child: &mut Child) -> anyhow::Result<()> {
    child.start_kill()?;
    child.wait().await?;
    Ok(())
}

/// Retries `f` every 50 ms until it succeeds or `within` passes.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.context(format!("waiting for {what}"))),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
