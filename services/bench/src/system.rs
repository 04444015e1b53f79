//! A replicated store under test: three members on 127.0.0.1 that can be killed and restarted.

use crate::load::Writer;

pub trait System {
    type W: Writer;
    fn name(&self) -> &'static str;
    /// The member (0..3) that leads now.
    fn leader(&self) -> impl std::future::Future<Output = anyhow::Result<usize>>;
    /// A client connected to `member`.
    fn writer(&self, member: usize) -> impl std::future::Future<Output = anyhow::Result<Self::W>>;
    /// kill -9.
    fn kill(&mut self, member: usize) -> impl std::future::Future<Output = anyhow::Result<()>>;
    fn restart(&mut self, member: usize) -> impl std::future::Future<Output = anyhow::Result<()>>;
    /// Every member up and caught up.
    fn healthy(&self) -> impl std::future::Future<Output = anyhow::Result<()>>;
    fn stop(&mut self) -> impl std::future::Future<Output = ()>;
}

/// The benchmark's value: 1 KiB.
pub const VALUE_BYTES: usize = 1024;
