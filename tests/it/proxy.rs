//! A userspace TCP proxy on one link that the tests can cut (drop every connection now) or
//! block (accept, then forward nothing: a partition where packets vanish).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    upstream: Mutex<Option<SocketAddr>>,
    blocked: AtomicBool,
    /// Bumped to end every connection open now.
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// A proxy on a free port; it forwards once it knows its upstream.
    pub async fn start(upstream: Option<SocketAddr>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            upstream: Mutex::new(upstream),
            blocked: AtomicBool::new(false),
            generation: watch::channel(0).0,
        });
        let i = inner.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, i.clone()));
            }
        });
        Proxy { addr, inner, task }
    }

    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.inner.upstream.lock().unwrap() = Some(upstream);
    }

    /// Drops every connection now; new ones go through.
    pub fn cut(&self) {
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// Blocks the link (true) or heals it (false). Either way open connections end.
    pub fn block(&self, on: bool) {
        self.inner.blocked.store(on, Ordering::SeqCst);
        self.cut();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn serve(mut inbound: TcpStream, inner: Arc<Inner>) {
    let mut generation = inner.generation.subscribe();
    generation.borrow_and_update();
    if inner.blocked.load(Ordering::SeqCst) {
        // Hold the connection silently until the link changes, then drop it.
        let _ = generation.changed().await;
        return;
    }
    let Some(upstream) = *inner.upstream.lock().unwrap() else { return };
    let Ok(mut outbound) = TcpStream::connect(upstream).await else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = generation.changed() => {}
    }
}
