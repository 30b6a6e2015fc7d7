//! Stop requests: SIGTERM or Ctrl-C asks a run to stop taking new work,
//! keep what it has committed, and end as `interrupted`.

use std::time::Duration;
use tokio::sync::watch;

/// The receiving side of a stop request; cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

/// The sending side: whoever owns it decides when work should stop.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl Shutdown {
    /// A linked trigger and receiver.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (sender, requested) = watch::channel(false);
        (ShutdownTrigger { sender }, Shutdown { requested })
    }

    /// A receiver that is never triggered (library callers, tests, benchmarks).
    pub fn never() -> Shutdown {
        Shutdown::new().1
    }

    /// Whether a stop has been requested.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// Resolves once a stop is requested; never, if it cannot be any more.
    pub async fn requested(&self) {
        let mut requested = self.requested.clone();
        // A dropped trigger can no longer fire, so waiting on must not end.
        if requested.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Shutdown {
    /// Runs `work` to its end, unless a stop is requested and `work` then
    /// takes longer than `grace`: it is dropped and `None` returned, so a
    /// step that ignores the request cannot hold the process past its
    /// termination deadline.
    pub async fn within_grace<T>(
        &self,
        grace: Duration,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            done = work => Some(done),
            () = async {
                self.requested().await;
                tokio::time::sleep(grace).await;
            } => None,
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::never()
    }
}

impl ShutdownTrigger {
    /// Asks every linked receiver to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

/// A receiver fired by the first SIGTERM or Ctrl-C (SIGINT). A second signal
/// ends the process at once with exit code 2, for an operator who will not
/// wait; the next run of the job then marks the abandoned run `interrupted`.
pub fn on_signals() -> Shutdown {
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        next_signal().await;
        tracing::warn!("stop requested: finishing the work in hand (signal again to quit at once)");
        trigger.trigger();
        next_signal().await;
        eprintln!("second stop signal: quitting without finishing");
        std::process::exit(2);
    });
    shutdown
}

#[cfg(unix)]
async fn next_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn next_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trigger_reaches_every_clone_of_the_receiver() {
        let (trigger, shutdown) = Shutdown::new();
        let clone = shutdown.clone();
        assert!(!clone.is_requested());
        let waiter = tokio::spawn(async move { clone.requested().await });
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        assert!(shutdown.is_requested());
    }

    #[tokio::test]
    async fn a_receiver_whose_trigger_is_gone_never_fires() {
        let shutdown = Shutdown::never();
        assert!(!shutdown.is_requested());
        let waited = tokio::time::timeout(Duration::from_millis(50), shutdown.requested()).await;
        assert!(waited.is_err(), "must still be waiting");
    }

    #[tokio::test]
    async fn work_that_ignores_a_stop_is_dropped_after_the_grace() {
        let (trigger, shutdown) = Shutdown::new();
        trigger.trigger();
        let started = std::time::Instant::now();
        let never_done = shutdown
            .within_grace(Duration::from_millis(100), std::future::pending::<()>())
            .await;
        assert!(never_done.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let quick = shutdown
            .within_grace(Duration::from_secs(60), async { 7 })
            .await;
        assert_eq!(quick, Some(7));
    }
}
