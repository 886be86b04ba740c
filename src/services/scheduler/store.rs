//! The lease store behind global tasks: a tasks table (or an in-process map) holding each
//! task's next run time and the ticket and expiry of the run under way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sqlx::SqlitePool;

use super::error::StoreError;
use super::state::{TaskState, iso_from_ms};
use crate::services::database::{DatabaseError, DbPool, Dialect, Sql};

/// The table the SQL stores create on first use.
pub(crate) const TASKS_TABLE: &str = "backlot_scheduler_tasks";

/// Portable SQL: `${key}` and `${text}` are `TEXT` on SQLite and PostgreSQL (the table those
/// created before stays as it is) and `VARCHAR(255)` / `LONGTEXT` on MySQL.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS backlot_scheduler_tasks (
    id ${key} NOT NULL PRIMARY KEY,
    settings_json ${text} NOT NULL,
    next_run_start_at BIGINT,
    current_run_ticket ${text},
    current_run_started_at BIGINT,
    current_run_expires_at BIGINT,
    last_run_ended_at BIGINT,
    last_run_error_json ${text}
)";

/// Where global tasks keep their leases.
///
/// Every backend instance that shares a plugin's database must use the same store, so that
/// each run of a global task happens on exactly one of them. The SQL stores create the table
/// `backlot_scheduler_tasks` on first use (portable SQL; times are epoch milliseconds taken
/// from the database's own clock, so instances with skewed clocks still agree).
///
/// ```
/// use backlot::services::scheduler::LeaseStore;
///
/// // One process: an in-memory map. Clones share the map.
/// let store = LeaseStore::memory();
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LeaseStore {
    /// An in-process map: global tasks are coordinated only among the schedulers holding a
    /// clone of this store (one instance).
    Memory(MemoryLeaseStore),
    /// A SQLite database (for several schedulers in one process or on one host).
    Sqlite(SqlitePool),
    /// A PostgreSQL database, shared by every replica.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(sqlx::PgPool),
    /// A MySQL / MariaDB database, shared by every replica.
    #[cfg(feature = "mysql")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
    Mysql(sqlx::MySqlPool),
}

impl LeaseStore {
    /// A fresh in-memory store: global tasks are then coordinated within this process only.
    /// Not for plugins (the `SCHEDULER` service leases in the plugin's database); public for
    /// the crate's own tests and benchmarks.
    #[doc(hidden)]
    pub fn memory() -> Self {
        Self::Memory(MemoryLeaseStore::default())
    }
}

/// The in-process lease map of [`LeaseStore::Memory`]; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryLeaseStore {
    rows: Arc<Mutex<HashMap<String, Row>>>,
}

#[derive(Debug, Clone, Default)]
struct Row {
    settings_json: String,
    next_run_start_at: Option<i64>,
    current_run_ticket: Option<String>,
    current_run_started_at: Option<i64>,
    current_run_expires_at: Option<i64>,
    last_run_ended_at: Option<i64>,
    last_run_error_json: Option<String>,
}

/// How a released run picks the next run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextRun {
    /// Fixed rate: the previous due time plus this many milliseconds, but not before now.
    AfterPrevious(i64),
    /// An absolute time (epoch ms), or none (manual tasks).
    At(Option<i64>),
}

/// Outcome of a conditional update that may miss its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    Done,
    /// The row exists but is in the wrong state.
    Conflict,
    Missing,
}

/// A [`LeaseStore`] plus the once-only schema setup.
#[derive(Debug)]
pub(crate) struct Store {
    lease: LeaseStore,
    ready: tokio::sync::OnceCell<()>,
}

/// The database clock in epoch milliseconds.
fn now_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
        }
        Dialect::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        // Sessions run in UTC; SYSDATE is the time of the call, not of the statement.
        _ => "SELECT CAST(ROUND(UNIX_TIMESTAMP(SYSDATE(3)) * 1000) AS SIGNED)",
    }
}

/// Runs `$sql_body` with `$pool` bound to the store's pool as a [`DbPool`], for every SQL
/// variant.
macro_rules! with_sql {
    ($lease:expr, $mem:ident => $mem_body:expr, $pool:ident => $sql_body:expr) => {
        match $lease {
            LeaseStore::Memory($mem) => $mem_body,
            LeaseStore::Sqlite(p) => {
                let $pool = &DbPool::Sqlite(p.clone());
                $sql_body
            }
            #[cfg(feature = "postgres")]
            LeaseStore::Postgres(p) => {
                let $pool = &DbPool::Postgres(p.clone());
                $sql_body
            }
            #[cfg(feature = "mysql")]
            LeaseStore::Mysql(p) => {
                let $pool = &DbPool::Mysql(p.clone());
                $sql_body
            }
        }
    };
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn err(operation: impl Into<String>) -> impl FnOnce(DatabaseError) -> StoreError {
    let operation = operation.into();
    move |e| {
        let source = match e {
            DatabaseError::Query { source, .. }
            | DatabaseError::Transaction { source, .. }
            | DatabaseError::Decode { source, .. } => source,
            other => sqlx::Error::Protocol(other.to_string()),
        };
        StoreError { operation, source }
    }
}

type StateRow = (
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn state_of(
    next: Option<i64>,
    ticket: Option<&str>,
    started: Option<i64>,
    expires: Option<i64>,
    ended: Option<i64>,
    error: Option<String>,
) -> TaskState {
    let last_run_ended_at = ended.map(iso_from_ms);
    if ticket.is_some() {
        TaskState::Running {
            started_at: started.map(iso_from_ms).unwrap_or_default(),
            times_out_at: expires.map(iso_from_ms),
            last_run_ended_at,
            last_run_error: error,
        }
    } else {
        TaskState::Idle {
            starts_at: next.map(iso_from_ms),
            last_run_ended_at,
            last_run_error: error,
        }
    }
}

impl Store {
    pub(crate) fn new(lease: LeaseStore) -> Self {
        Self {
            lease,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    /// Creates the tasks table once; a concurrent creator winning the race is fine.
    pub(crate) async fn ensure_schema(&self) -> Result<(), StoreError> {
        self.ready
            .get_or_try_init(|| async {
                with_sql!(&self.lease, _m => Ok(()), pool => {
                    if let Err(e) = Sql::new(CREATE_TABLE).execute(pool).await {
                        // Another instance may have created it at the same moment.
                        if Sql::new(format!("SELECT COUNT(*) FROM {TASKS_TABLE}"))
                            .execute(pool)
                            .await
                            .is_err()
                        {
                            return Err(err(format!("creation of table {TASKS_TABLE}"))(e));
                        }
                    }
                    Ok(())
                })
            })
            .await
            .map(|_| ())
    }

    /// The store's clock, in epoch milliseconds (the database's clock for SQL stores).
    pub(crate) async fn now(&self) -> Result<i64, StoreError> {
        with_sql!(&self.lease, _m => Ok(wall_clock_ms()), pool => {
            Sql::new(now_sql(pool.dialect()))
                .fetch_one::<(i64,)>(pool)
                .await
                .map(|(ms,)| ms)
                .map_err(err("reading the database clock"))
        })
    }

    /// Registers a task: inserts it due at `start_at`, or, when it exists, replaces its
    /// settings and moves its next run earlier to `next_start_at` if that is sooner.
    pub(crate) async fn upsert(
        &self,
        id: &str,
        settings_json: &str,
        start_at: Option<i64>,
        next_start_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.ensure_schema().await?;
        with_sql!(&self.lease, m => {
            let mut rows = m.rows.lock();
            match rows.get_mut(id) {
                Some(row) => {
                    row.settings_json = settings_json.to_owned();
                    row.next_run_start_at = match (row.next_run_start_at, next_start_at) {
                        (None, n) => n,
                        (Some(e), Some(n)) if n < e => Some(n),
                        (e, _) => e,
                    };
                }
                None => {
                    rows.insert(id.to_owned(), Row {
                        settings_json: settings_json.to_owned(),
                        next_run_start_at: start_at,
                        ..Row::default()
                    });
                }
            }
            Ok(())
        }, pool => {
            let upsert = pool.dialect().upsert(&["id"], &["settings_json"]);
            Sql::new(format!(
                "INSERT INTO backlot_scheduler_tasks (id, settings_json, next_run_start_at)
                 VALUES (?, ?, ?)
                 {upsert},
                   next_run_start_at = CASE
                     WHEN backlot_scheduler_tasks.next_run_start_at IS NULL
                       OR ? < backlot_scheduler_tasks.next_run_start_at THEN ?
                     ELSE backlot_scheduler_tasks.next_run_start_at END",
            ))
            .bind(id)
            .bind(settings_json)
            .bind(start_at)
            .bind(next_start_at)
            .bind(next_start_at)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(err(format!("registration of task '{id}'")))
        })
    }

    /// Claims a due run of `id` for `ticket` when nobody holds it or the holder's lease
    /// expired; the lease lasts `timeout_ms`. True when this caller won.
    pub(crate) async fn try_claim(
        &self,
        id: &str,
        ticket: &str,
        timeout_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now().await?;
        with_sql!(&self.lease, m => {
            let mut rows = m.rows.lock();
            let Some(row) = rows.get_mut(id) else { return Ok(false) };
            let due = row.next_run_start_at.is_some_and(|n| n <= now);
            let free = row.current_run_ticket.is_none()
                || row.current_run_expires_at.is_some_and(|e| e < now);
            if due && free {
                row.current_run_ticket = Some(ticket.to_owned());
                row.current_run_started_at = Some(now);
                row.current_run_expires_at = Some(now + timeout_ms);
                Ok(true)
            } else {
                Ok(false)
            }
        }, pool => {
            Sql::new(
                "UPDATE backlot_scheduler_tasks
                 SET current_run_ticket = ?,
                     current_run_started_at = ?,
                     current_run_expires_at = ?
                 WHERE id = ?
                   AND next_run_start_at IS NOT NULL
                   AND next_run_start_at <= ?
                   AND (current_run_ticket IS NULL OR current_run_expires_at < ?)",
            )
            .bind(ticket)
            .bind(now)
            .bind(now + timeout_ms)
            .bind(id)
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .map(|n| n == 1)
            .map_err(err(format!("claim of task '{id}'")))
        })
    }

    /// The ticket of the run holding `id` now (`None` when idle or missing).
    pub(crate) async fn current_ticket(&self, id: &str) -> Result<Option<String>, StoreError> {
        with_sql!(&self.lease, m => {
            Ok(m.rows.lock().get(id).and_then(|r| r.current_run_ticket.clone()))
        }, pool => {
            Sql::new("SELECT current_run_ticket FROM backlot_scheduler_tasks WHERE id = ?")
            .bind(id)
            .fetch_optional::<(Option<String>,)>(pool)
            .await
            .map(|row| row.and_then(|(t,)| t))
            .map_err(err(format!("liveness check of task '{id}'")))
        })
    }

    /// Ends the run held by `ticket`: clears the lease, records the outcome and sets the next
    /// run time. False when the ticket was no longer valid (cancelled or expired and taken).
    pub(crate) async fn release(
        &self,
        id: &str,
        ticket: &str,
        next: NextRun,
        error_json: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = self.now().await?;
        with_sql!(&self.lease, m => {
            let mut rows = m.rows.lock();
            let Some(row) = rows.get_mut(id) else { return Ok(false) };
            if row.current_run_ticket.as_deref() != Some(ticket) {
                return Ok(false);
            }
            row.current_run_ticket = None;
            row.current_run_started_at = None;
            row.current_run_expires_at = None;
            row.last_run_ended_at = Some(now);
            row.last_run_error_json = error_json.map(str::to_owned);
            row.next_run_start_at = match next {
                NextRun::AfterPrevious(p) => Some((row.next_run_start_at.unwrap_or(now) + p).max(now)),
                NextRun::At(at) => at,
            };
            Ok(true)
        }, pool => {
            let next_expr = match next {
                NextRun::AfterPrevious(_) => {
                    "CASE WHEN COALESCE(next_run_start_at, ?) + ? > ?
                       THEN COALESCE(next_run_start_at, ?) + ? ELSE ? END"
                }
                NextRun::At(_) => "?",
            };
            let sql = format!(
                "UPDATE backlot_scheduler_tasks
                 SET current_run_ticket = NULL,
                     current_run_started_at = NULL,
                     current_run_expires_at = NULL,
                     last_run_ended_at = ?,
                     last_run_error_json = ?,
                     next_run_start_at = {next_expr}
                 WHERE id = ? AND current_run_ticket = ?"
            );
            let q = Sql::new(sql).bind(now).bind(error_json);
            let q = match next {
                NextRun::AfterPrevious(p) => {
                    q.bind(now).bind(p).bind(now).bind(now).bind(p).bind(now)
                }
                NextRun::At(at) => q.bind(at),
            };
            q.bind(id)
                .bind(ticket)
                .execute(pool)
                .await
                .map(|n| n == 1)
                .map_err(err(format!("release of task '{id}'")))
        })
    }

    /// Makes `id` due now unless a live run holds it.
    pub(crate) async fn trigger(&self, id: &str) -> Result<Update, StoreError> {
        self.ensure_schema().await?;
        let now = self.now().await?;
        let done = with_sql!(&self.lease, m => {
            let mut rows = m.rows.lock();
            match rows.get_mut(id) {
                None => return Ok(Update::Missing),
                Some(row) => {
                    let free = row.current_run_ticket.is_none()
                        || row.current_run_expires_at.is_some_and(|e| e < now);
                    if free {
                        row.next_run_start_at = Some(now);
                    }
                    free
                }
            }
        }, pool => {
            Sql::new(
                "UPDATE backlot_scheduler_tasks SET next_run_start_at = ?
                 WHERE id = ? AND (current_run_ticket IS NULL OR current_run_expires_at < ?)",
            )
            .bind(now)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|n| n == 1)
            .map_err(err(format!("trigger of task '{id}'")))?
        });
        if done {
            Ok(Update::Done)
        } else if self.exists(id).await? {
            Ok(Update::Conflict)
        } else {
            Ok(Update::Missing)
        }
    }

    /// Drops the lease of a run of `id` held anywhere; the holder notices on its next
    /// liveness check and stops. `next_start_at`, when given, becomes the next run time.
    pub(crate) async fn cancel(
        &self,
        id: &str,
        next_start_at: Option<Option<i64>>,
        error_json: &str,
    ) -> Result<Update, StoreError> {
        self.ensure_schema().await?;
        let now = self.now().await?;
        let done = with_sql!(&self.lease, m => {
            let mut rows = m.rows.lock();
            match rows.get_mut(id) {
                None => return Ok(Update::Missing),
                Some(row) if row.current_run_ticket.is_some() => {
                    row.current_run_ticket = None;
                    row.current_run_started_at = None;
                    row.current_run_expires_at = None;
                    row.last_run_ended_at = Some(now);
                    row.last_run_error_json = Some(error_json.to_owned());
                    if let Some(next) = next_start_at {
                        row.next_run_start_at = next;
                    }
                    true
                }
                Some(_) => false,
            }
        }, pool => {
            Sql::new(
                "UPDATE backlot_scheduler_tasks
                 SET current_run_ticket = NULL,
                     current_run_started_at = NULL,
                     current_run_expires_at = NULL,
                     last_run_ended_at = ?,
                     last_run_error_json = ?,
                     next_run_start_at = CASE WHEN ? THEN ? ELSE next_run_start_at END
                 WHERE id = ? AND current_run_ticket IS NOT NULL",
            )
            .bind(now)
            .bind(error_json)
            .bind(next_start_at.is_some())
            .bind(next_start_at.flatten())
            .bind(id)
            .execute(pool)
            .await
            .map(|n| n == 1)
            .map_err(err(format!("cancellation of task '{id}'")))?
        });
        if done {
            Ok(Update::Done)
        } else if self.exists(id).await? {
            Ok(Update::Conflict)
        } else {
            Ok(Update::Missing)
        }
    }

    async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        with_sql!(&self.lease, m => Ok(m.rows.lock().contains_key(id)), pool => {
            Sql::new("SELECT COUNT(*) FROM backlot_scheduler_tasks WHERE id = ?")
                .bind(id)
                .fetch_one::<(i64,)>(pool)
                .await
                .map(|(n,)| n > 0)
                .map_err(err(format!("lookup of task '{id}'")))
        })
    }

    /// The state of every task in the store, by id.
    pub(crate) async fn states(&self) -> Result<HashMap<String, TaskState>, StoreError> {
        self.ensure_schema().await?;
        with_sql!(&self.lease, m => {
            Ok(m.rows.lock().iter().map(|(id, r)| {
                (id.clone(), state_of(
                    r.next_run_start_at,
                    r.current_run_ticket.as_deref(),
                    r.current_run_started_at,
                    r.current_run_expires_at,
                    r.last_run_ended_at,
                    r.last_run_error_json.clone(),
                ))
            }).collect())
        }, pool => {
            let rows: Vec<StateRow> = Sql::new(
                "SELECT id, next_run_start_at, current_run_ticket, current_run_started_at,
                        current_run_expires_at, last_run_ended_at, last_run_error_json
                 FROM backlot_scheduler_tasks",
            )
            .fetch_all(pool)
            .await
            .map_err(err("listing of task states"))?;
            Ok(rows.into_iter().map(|(id, next, ticket, started, expires, ended, error)| {
                let state = state_of(next, ticket.as_deref(), started, expires, ended, error);
                (id, state)
            }).collect())
        })
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
