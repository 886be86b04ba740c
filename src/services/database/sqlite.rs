//! Opening SQLite databases: one file per plugin, or one in-memory database per plugin.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, SqlitePool};

use super::config::PoolSettings;
use super::error::DatabaseError;

/// How long a connection waits for another one's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn pool_options(pool: &PoolSettings, default_max: u32, min_floor: u32) -> SqlitePoolOptions {
    let max = pool.max.unwrap_or(default_max).max(1);
    let min = pool.min.unwrap_or(0).max(min_floor).min(max);
    let mut options = SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(min)
        // A COMMIT that SQLite refused (disk full, I/O error) rolls the transaction back on
        // SQLite's side but leaves sqlx's transaction depth at 1, so every later BEGIN on that
        // connection fails. Such a connection is closed instead of being handed out again.
        .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }));
    if let Some(t) = pool.acquire_timeout {
        options = options.acquire_timeout(t);
    }
    if let Some(t) = pool.idle_timeout {
        options = options.idle_timeout(t);
    }
    options
}

/// Opens a fresh in-memory database that only this pool sees. One connection is kept open
/// (and never retired) so the database lives as long as the pool.
pub(crate) async fn connect_memory(
    plugin_id: &str,
    pool: &PoolSettings,
) -> Result<SqlitePool, DatabaseError> {
    let connect_err = |source| DatabaseError::Connect {
        plugin_id: plugin_id.to_owned(),
        target: ":memory:".to_owned(),
        source,
    };
    // `:memory:` gets a process-unique shared-cache name, so the pool's connections share it
    // and no other pool does.
    let options = SqliteConnectOptions::from_str(":memory:")
        .map_err(connect_err)?
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    pool_options(pool, 4, 1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .map_err(connect_err)
}

/// Opens (creating when missing) the database file at `path`, in WAL mode.
pub(crate) async fn connect_file(
    plugin_id: &str,
    path: &Path,
    pool: &PoolSettings,
) -> Result<SqlitePool, DatabaseError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| DatabaseError::CreateDir {
                plugin_id: plugin_id.to_owned(),
                path: dir.to_path_buf(),
                source,
            })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    // Two processes opening a new file at once can both try to switch it to WAL; SQLite then
    // answers SQLITE_BUSY at once, without its busy handler. Try again within the busy timeout.
    let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match pool_options(pool, 8, 0).connect_with(options.clone()).await {
            Ok(p) => return Ok(p),
            Err(source) if is_busy(&source) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20 + fastrand::u64(0..80)))
                    .await;
            }
            Err(source) => {
                return Err(DatabaseError::Connect {
                    plugin_id: plugin_id.to_owned(),
                    target: path.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// Whether SQLite answered `SQLITE_BUSY` (code 5, "database is locked").
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("5"))
}
