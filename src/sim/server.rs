//! Serving the simulator over real HTTP, so connectors are tested through
//! their actual client stack (timeouts, retries, truncated bodies).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Simulator;

/// How long `stop` waits for in-flight answers before aborting the server.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shutdown` resolves (mini-redis style, so tests bind port 0).
pub async fn serve(
    listener: TcpListener,
    sim: Simulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, sim.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// A running simulator on 127.0.0.1:0 for tests and the demo; stops on drop (or `stop().await`).
pub struct SimServer {
    sim: Simulator,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimServer {
    /// Binds an ephemeral local port and starts serving in the background.
    pub async fn start(sim: Simulator) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let stopped = async move {
            // A dropped sender also means stop.
            let _ = rx.await;
        };
        let task = tokio::spawn(serve(listener, sim.clone(), stopped));
        tracing::debug!(%addr, "ELKASSA simulator listening");
        Ok(SimServer {
            sim,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator behind the server, for faults, mutations and stats.
    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    /// Stops accepting, lets in-flight answers finish (bounded), and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Keep-alive connections would hold a graceful shutdown open; nobody awaits it here.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
