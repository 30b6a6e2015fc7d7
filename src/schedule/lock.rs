//! One run of a job at a time, across processes and machines.
//!
//! Postgres: a session advisory lock on a connection of its own, held for the
//! whole run. SQLite: an OS lock on `<warehouse folder>/.rekon-<job>.lock`.
//! Both belong to the holder's process: when it dies, however it dies, the
//! server ends its session or the kernel closes its file, and the lock is
//! free for the next run. Nothing has to expire or be cleaned up by hand.

use crate::warehouse::Warehouse;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a lock could not be tried.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock connection or query failed.
    #[error("job {job}: cannot take its Postgres advisory lock")]
    Postgres {
        /// Job name.
        job: String,
        /// Driver error.
        source: sqlx::Error,
    },
    /// The lock file could not be opened or locked.
    #[error("job {job}: cannot lock {}", path.display())]
    File {
        /// Job name.
        job: String,
        /// Lock file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

/// A held job lock; [`JobLock::release`] frees it, and so does process death.
#[derive(Debug)]
pub enum JobLock {
    /// A Postgres session holding `pg_advisory_lock(key)`.
    Postgres {
        /// The dedicated session.
        connection: PgConnection,
        /// Advisory lock key.
        key: i64,
    },
    /// An exclusively locked file.
    File {
        /// The open, locked file.
        file: File,
        /// Its path.
        path: PathBuf,
    },
}

/// Server-side TCP keepalives for the lock session, so a holder whose
/// machine vanished (no FIN ever sent) loses its lock within about two
/// minutes instead of the system default of two hours.
const KEEPALIVES: [(&str, &str); 3] = [
    ("tcp_keepalives_idle", "60"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "6"),
];

/// Takes the lock of `job` if it is free; `None` when another run holds it.
pub async fn try_lock(warehouse: &Warehouse, job: &str) -> Result<Option<JobLock>, LockError> {
    match warehouse {
        Warehouse::Postgres(pool) => {
            let failed = |source| LockError::Postgres {
                job: job.to_owned(),
                source,
            };
            let options = (*pool.connect_options()).clone().options(KEEPALIVES);
            let mut connection = PgConnection::connect_with(&options).await.map_err(failed)?;
            let key = lock_key(job);
            let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut connection)
                .await
                .map_err(failed)?;
            if held {
                Ok(Some(JobLock::Postgres { connection, key }))
            } else {
                let _ = connection.close().await;
                Ok(None)
            }
        }
        Warehouse::Sqlite(pool) => {
            let path = lock_file_path(pool.connect_options().get_filename(), job);
            lock_file(&path, job)
        }
    }
}

impl JobLock {
    /// Frees the lock now (dropping it would too, a little later for Postgres).
    pub async fn release(self) {
        match self {
            JobLock::Postgres {
                mut connection,
                key,
            } => {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(&mut connection)
                    .await;
                if let Err(err) = unlocked {
                    tracing::warn!(%err, "advisory unlock failed; closing the session frees it");
                }
                let _ = connection.close().await;
            }
            JobLock::File { file, path } => {
                if let Err(err) = file.unlock() {
                    tracing::warn!(%err, path = %path.display(), "unlock failed; closing the file frees it");
                }
            }
        }
    }
}

/// A stable 64-bit key per job name, the same in every process and version.
pub fn lock_key(job: &str) -> i64 {
    let digest = Sha256::digest(format!("rekon job lock: {job}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// `.rekon-<job>.lock` beside the SQLite file (the working folder for in-memory databases).
pub fn lock_file_path(database: &Path, job: &str) -> PathBuf {
    let folder = database
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    folder.join(format!(".rekon-{job}.lock"))
}

fn lock_file(path: &Path, job: &str) -> Result<Option<JobLock>, LockError> {
    let failed = |source| LockError::File {
        job: job.to_owned(),
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(source)) => return Err(failed(source)),
    }
    // Who holds it, for an operator looking at the file; the lock is the OS lock, not this text.
    let note = format!(
        "pid {} since {}\n",
        std::process::id(),
        chrono::Utc::now().to_rfc3339()
    );
    let written = file
        .set_len(0)
        .and_then(|()| file.write_all(note.as_bytes()));
    if let Err(err) = written {
        tracing::debug!(%err, "could not note the holder in the lock file");
    }
    Ok(Some(JobLock::File {
        file,
        path: path.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_file_refuses_a_second_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".rekon-nightly.lock");
        let first = lock_file(&path, "nightly").unwrap().expect("free at first");
        assert!(lock_file(&path, "nightly").unwrap().is_none(), "held");
        drop(first);
        assert!(
            lock_file(&path, "nightly").unwrap().is_some(),
            "closing the file frees it"
        );
    }

    #[test]
    fn lock_keys_are_stable_and_differ_per_job() {
        assert_eq!(lock_key("nightly"), lock_key("nightly"));
        assert_ne!(lock_key("nightly"), lock_key("inbox"));
    }

    #[test]
    fn the_lock_file_sits_beside_the_warehouse_file() {
        assert_eq!(
            lock_file_path(Path::new("/srv/rekon/data/warehouse.sqlite"), "inbox"),
            Path::new("/srv/rekon/data/.rekon-inbox.lock")
        );
        assert_eq!(
            lock_file_path(Path::new("warehouse.sqlite"), "inbox"),
            Path::new("./.rekon-inbox.lock")
        );
    }
}
