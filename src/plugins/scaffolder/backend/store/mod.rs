//! Tasks and their events in the plugin's own database.
//!
//! Event ids are numbered per task, and the number is taken in the same statement (or
//! transaction) that writes the event: on PostgreSQL by bumping `tasks.last_event_id`, whose
//! row lock is held until the event is committed, so events of one task become visible in id
//! order and a reader resuming `after` an id never misses one written concurrently (by the
//! worker and by a cancel request at once); on SQLite, where writes are serialised, by
//! `MAX(id) + 1` in the inserting statement. The primary key `(task_id, id)` makes a duplicate
//! impossible.
//!
//! Claiming a task is one conditional `UPDATE` (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so
//! two workers — in one process or in several on one database — never claim the same task.
//! MySQL, which has no `RETURNING`, locks, updates and reads back in a transaction (`mysql`).

mod events;
mod hub;
mod mysql;

pub(crate) use hub::EventHub;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::plugins::scaffolder::common::TaskStatus;
use crate::services::database::{
    DatabaseError, DbRow, Dialect, FromDbRow, IntoDbValue, Migration, PluginDatabase, Sql,
    placeholders,
};

/// The scaffolder's tables.
pub(crate) static MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "scaffolder_tasks",
    "CREATE TABLE tasks (
        id ${key} PRIMARY KEY,
        spec ${text} NOT NULL,
        status ${key} NOT NULL,
        created_by ${key},
        created_at ${timestamp} NOT NULL,
        last_heartbeat_at ${timestamp},
        worker_id ${text},
        secrets ${text},
        state ${text},
        action_decision ${text},
        cancel_requested ${bool} NOT NULL DEFAULT FALSE,
        last_event_id ${bigint} NOT NULL DEFAULT 0
    );
    CREATE INDEX tasks_status_idx ON tasks (status, created_at);
    CREATE INDEX tasks_created_by_idx ON tasks (created_by, created_at);
    CREATE TABLE task_events (
        task_id ${key} NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        id ${bigint} NOT NULL,
        event_type ${text} NOT NULL,
        body ${text} NOT NULL,
        created_at ${timestamp} NOT NULL,
        PRIMARY KEY (task_id, id)
    );",
)
.with_sqlite(SQLITE_INIT)];

/// SQLite: the same tables, and a trigger that moves `tasks.last_event_id` with each event,
/// so that the inserting statement alone numbers an event.
const SQLITE_INIT: &str = "CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        created_by TEXT,
        created_at TEXT NOT NULL,
        last_heartbeat_at TEXT,
        worker_id TEXT,
        secrets TEXT,
        state TEXT,
        action_decision TEXT,
        cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
        last_event_id BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX tasks_status_idx ON tasks (status, created_at);
    CREATE INDEX tasks_created_by_idx ON tasks (created_by, created_at);
    CREATE TABLE task_events (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (task_id, id)
    );
    CREATE TRIGGER task_events_number AFTER INSERT ON task_events
    BEGIN
        UPDATE tasks SET last_event_id = NEW.id WHERE id = NEW.task_id;
    END;";

/// RFC 3339 with milliseconds, as Backstage serialises dates.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A task row, without its secrets.
#[derive(Debug, Clone)]
pub(crate) struct TaskRow {
    pub(crate) id: String,
    pub(crate) spec: Value,
    pub(crate) status: TaskStatus,
    pub(crate) created_by: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) last_heartbeat_at: Option<DateTime<Utc>>,
    pub(crate) state: Option<Value>,
}

const TASK_COLUMNS: &str = "id, spec, status, created_by, created_at, last_heartbeat_at, state";

impl FromDbRow for TaskRow {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        let spec: String = row.get("spec")?;
        let status: String = row.get("status")?;
        let state: Option<String> = row.get("state")?;
        Ok(Self {
            id: row.get("id")?,
            spec: serde_json::from_str(&spec).unwrap_or(Value::Null),
            status: status.parse().unwrap_or(TaskStatus::Failed),
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
            last_heartbeat_at: row.get("last_heartbeat_at")?,
            state: state.and_then(|s| serde_json::from_str(&s).ok()),
        })
    }
}

impl TaskRow {
    /// The task as the REST API answers it (`SerializedTask`); never its secrets.
    pub(crate) fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), Value::String(self.id.clone()));
        o.insert("spec".into(), self.spec.clone());
        o.insert("status".into(), Value::String(self.status.as_str().into()));
        o.insert("createdAt".into(), Value::String(iso(&self.created_at)));
        if let Some(t) = &self.last_heartbeat_at {
            o.insert("lastHeartbeatAt".into(), Value::String(iso(t)));
        }
        if let Some(c) = &self.created_by {
            o.insert("createdBy".into(), Value::String(c.clone()));
        }
        if let Some(s) = &self.state {
            o.insert("state".into(), s.clone());
        }
        Value::Object(o)
    }

    /// Whether the template asks for its tasks to start over after their worker was lost.
    pub(crate) fn recovers_by_starting_over(&self) -> bool {
        recovers_by_starting_over(&self.spec)
    }
}

pub(crate) fn recovers_by_starting_over(spec: &Value) -> bool {
    spec.pointer("/EXPERIMENTAL_recovery/EXPERIMENTAL_strategy")
        .and_then(Value::as_str)
        == Some("startOver")
}

/// A task a worker claimed: the row, its sealed secrets and the stored action decision.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedTask {
    pub(crate) row: TaskRow,
    pub(crate) sealed_secrets: Option<String>,
    pub(crate) action_decision: Option<Value>,
}

/// What a heartbeat learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heartbeat {
    /// The worker still holds the task.
    Alive {
        /// A cancellation was requested (through any process).
        cancel_requested: bool,
    },
    /// The task is no longer this worker's (finished, or taken by the janitor).
    Lost,
}

/// `GET /v2/tasks` filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskFilter {
    pub(crate) created_by: Vec<String>,
    pub(crate) status: Vec<TaskStatus>,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    /// `(column, descending)`.
    pub(crate) order: Vec<(&'static str, bool)>,
}

/// The task store.
#[derive(Debug, Clone)]
pub(crate) struct TaskStore {
    db: Arc<PluginDatabase>,
    hub: Arc<EventHub>,
}

impl TaskStore {
    pub(crate) fn new(db: Arc<PluginDatabase>, hub: Arc<EventHub>) -> Self {
        Self { db, hub }
    }

    pub(crate) async fn migrate(db: &PluginDatabase) -> Result<(), DatabaseError> {
        db.migrate(MIGRATIONS).await.map(drop)
    }

    pub(crate) fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Stores a new `open` task and wakes this process's workers.
    pub(crate) async fn create(
        &self,
        id: &str,
        spec: &Value,
        sealed_secrets: Option<&str>,
        created_by: Option<&str>,
        action_decision: Option<&Value>,
    ) -> Result<(), DatabaseError> {
        Sql::new(
            "INSERT INTO tasks (id, spec, status, created_by, created_at, secrets, action_decision)
             VALUES (?, ?, 'open', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(spec.to_string())
        .bind(created_by)
        .bind(Utc::now())
        .bind(sealed_secrets)
        .bind(action_decision.map(Value::to_string))
        .execute(&*self.db)
        .await?;
        self.hub.task_created();
        Ok(())
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<TaskRow>, DatabaseError> {
        Sql::new(format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
            .bind(id)
            .fetch_optional(&*self.db)
            .await
    }

    /// One page of tasks and the number matching the filter.
    pub(crate) async fn list(
        &self,
        filter: &TaskFilter,
    ) -> Result<(Vec<TaskRow>, i64), DatabaseError> {
        let mut where_sql = String::from(" WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if !filter.created_by.is_empty() {
            where_sql.push_str(&format!(
                " AND created_by IN ({})",
                placeholders(filter.created_by.len())
            ));
            binds.extend(filter.created_by.iter().cloned());
        }
        if !filter.status.is_empty() {
            where_sql.push_str(&format!(
                " AND status IN ({})",
                placeholders(filter.status.len())
            ));
            binds.extend(filter.status.iter().map(|s| s.as_str().to_string()));
        }
        let total: (i64,) = Sql::new(format!("SELECT COUNT(*) FROM tasks{where_sql}"))
            .bind_all(binds.iter().map(String::as_str))
            .fetch_one(&*self.db)
            .await?;
        let mut order: Vec<String> = filter
            .order
            .iter()
            .map(|(c, desc)| format!("{c} {}", if *desc { "DESC" } else { "ASC" }))
            .collect();
        if order.is_empty() {
            order.push("created_at DESC".into());
        }
        order.push("id ASC".into());
        let rows: Vec<TaskRow> = Sql::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks{where_sql} ORDER BY {} LIMIT ? OFFSET ?",
            order.join(", ")
        ))
        .bind_all(binds.iter().map(String::as_str))
        .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(filter.offset).unwrap_or(i64::MAX))
        .fetch_all(&*self.db)
        .await?;
        Ok((rows, total.0))
    }

    /// Claims the oldest `open` task for `worker_id`, or `None`. Secrets of a task that cannot
    /// be recovered are cleared from the row on claim (the worker keeps them in memory).
    pub(crate) async fn claim(
        &self,
        worker_id: &str,
    ) -> Result<Option<ClaimedTask>, DatabaseError> {
        let pick = match self.dialect() {
            Dialect::Postgres => {
                "SELECT id FROM tasks WHERE status = 'open' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
            _ => "SELECT id FROM tasks WHERE status = 'open' ORDER BY created_at, id LIMIT 1",
        };
        let row: Option<DbRow> = if self.dialect() == Dialect::Mysql {
            let mut tx = self.db.begin().await?;
            let row = mysql::update_returning(
                &mut tx,
                (
                    "status = 'processing', worker_id = ?, last_heartbeat_at = ?",
                    vec![worker_id.into_db_value(), Utc::now().into_db_value()],
                ),
                ("status = 'open' ORDER BY created_at, id", Vec::new()),
                &format!("{TASK_COLUMNS}, secrets, action_decision"),
                true,
            )
            .await?;
            tx.commit().await?;
            row
        } else {
            Sql::new(format!(
                "UPDATE tasks SET status = 'processing', worker_id = ?, last_heartbeat_at = ?
                 WHERE id = ({pick}) AND status = 'open'
                 RETURNING {TASK_COLUMNS}, secrets, action_decision"
            ))
            .bind(worker_id)
            .bind(Utc::now())
            .fetch_optional(&*self.db)
            .await?
        };
        let Some(row) = row else { return Ok(None) };
        let sealed_secrets: Option<String> = row.get("secrets")?;
        let decision: Option<String> = row.get("action_decision")?;
        let row = TaskRow::from_row(row)?;
        if sealed_secrets.is_some() && !row.recovers_by_starting_over() {
            Sql::new("UPDATE tasks SET secrets = NULL WHERE id = ?")
                .bind(&row.id)
                .execute(&*self.db)
                .await?;
        }
        Ok(Some(ClaimedTask {
            row,
            sealed_secrets,
            action_decision: decision.and_then(|d| serde_json::from_str(&d).ok()),
        }))
    }

    /// Records that `worker_id` still runs task `id`.
    pub(crate) async fn heartbeat(
        &self,
        id: &str,
        worker_id: &str,
    ) -> Result<Heartbeat, DatabaseError> {
        let row: Option<(bool,)> = if self.dialect() == Dialect::Mysql {
            let mut tx = self.db.begin().await?;
            let row = mysql::update_returning(
                &mut tx,
                ("last_heartbeat_at = ?", vec![Utc::now().into_db_value()]),
                (
                    "id = ? AND worker_id = ? AND status = 'processing'",
                    vec![id.into_db_value(), worker_id.into_db_value()],
                ),
                "cancel_requested",
                false,
            )
            .await?;
            tx.commit().await?;
            row.map(FromDbRow::from_row).transpose()?
        } else {
            Sql::new(
                "UPDATE tasks SET last_heartbeat_at = ?
                 WHERE id = ? AND worker_id = ? AND status = 'processing'
                 RETURNING cancel_requested",
            )
            .bind(Utc::now())
            .bind(id)
            .bind(worker_id)
            .fetch_optional(&*self.db)
            .await?
        };
        Ok(match row {
            Some((cancel_requested,)) => Heartbeat::Alive { cancel_requested },
            None => Heartbeat::Lost,
        })
    }

    /// Cancels task `id`: an `open` task is cancelled at once; a `processing` one is marked
    /// and gets a `cancelled` event, and its worker stops it. Returns the status before, or
    /// `None` for an unknown task.
    pub(crate) async fn cancel(&self, id: &str) -> Result<Option<TaskStatus>, DatabaseError> {
        let Some(task) = self.get(id).await? else {
            return Ok(None);
        };
        match task.status {
            TaskStatus::Open => {
                let mut tx = self.db.begin().await?;
                let n = Sql::new(
                    "UPDATE tasks SET status = 'cancelled', secrets = NULL, cancel_requested = TRUE
                     WHERE id = ? AND status = 'open'",
                )
                .bind(id)
                .execute(&mut tx)
                .await?;
                if n == 1 {
                    let body = serde_json::json!({"message": "The task was cancelled", "status": "cancelled"});
                    events::insert(&mut tx, self.dialect(), id, "cancelled", &body).await?;
                    let body = serde_json::json!({"message": "Run completed with status: cancelled", "status": "cancelled"});
                    events::insert(&mut tx, self.dialect(), id, "completion", &body).await?;
                    tx.commit().await?;
                    self.hub.notify(id);
                    return Ok(Some(TaskStatus::Open));
                }
                tx.rollback().await?;
                // Claimed meanwhile: cancel it as a running task.
                Box::pin(self.cancel(id)).await
            }
            TaskStatus::Processing => {
                let n = Sql::new(
                    "UPDATE tasks SET cancel_requested = TRUE
                     WHERE id = ? AND status = 'processing' AND cancel_requested = FALSE",
                )
                .bind(id)
                .execute(&*self.db)
                .await?;
                if n == 1 {
                    let body = serde_json::json!({"message": "The task was cancelled", "status": "cancelled"});
                    self.append_event(id, "cancelled", &body).await?;
                    self.hub.cancel(id);
                }
                Ok(Some(TaskStatus::Processing))
            }
            other => Ok(Some(other)),
        }
    }

    /// Finishes the task `worker_id` runs with `status` and a `completion` event, in one
    /// transaction. A task whose cancellation was requested ends `cancelled`. Returns `false`
    /// when the worker no longer held the task.
    pub(crate) async fn complete(
        &self,
        id: &str,
        worker_id: &str,
        status: TaskStatus,
        body: &Value,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.db.begin().await?;
        let row: Option<(bool,)> = if self.dialect() == Dialect::Mysql {
            mysql::update_returning(
                &mut tx,
                (
                    "status = CASE WHEN cancel_requested THEN 'cancelled' ELSE ? END, \
                     secrets = NULL, worker_id = NULL",
                    vec![status.as_str().into_db_value()],
                ),
                (
                    "id = ? AND worker_id = ? AND status = 'processing'",
                    vec![id.into_db_value(), worker_id.into_db_value()],
                ),
                "cancel_requested",
                false,
            )
            .await?
            .map(FromDbRow::from_row)
            .transpose()?
        } else {
            Sql::new(
                "UPDATE tasks SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE ? END,
                     secrets = NULL, worker_id = NULL
                 WHERE id = ? AND worker_id = ? AND status = 'processing'
                 RETURNING cancel_requested",
            )
            .bind(status.as_str())
            .bind(id)
            .bind(worker_id)
            .fetch_optional(&mut tx)
            .await?
        };
        let Some((cancelled,)) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let mut body = body.clone();
        if cancelled {
            body["status"] = Value::String("cancelled".into());
            body["message"] = Value::String("Run completed with status: cancelled".into());
        }
        events::insert(&mut tx, self.dialect(), id, "completion", &body).await?;
        tx.commit().await?;
        self.hub.notify(id);
        Ok(true)
    }

    /// Appends an event; returns its id.
    pub(crate) async fn append_event(
        &self,
        task_id: &str,
        event_type: &str,
        body: &Value,
    ) -> Result<i64, DatabaseError> {
        let id = if self.dialect() == Dialect::Mysql {
            let mut tx = self.db.begin().await?;
            let id = events::insert(&mut tx, self.dialect(), task_id, event_type, body).await?;
            tx.commit().await?;
            id
        } else {
            events::insert_on(&*self.db, self.dialect(), task_id, event_type, body).await?
        };
        self.hub.notify(task_id);
        Ok(id)
    }

    /// Events of task `task_id` after `after` (and the `completion` event, always), oldest
    /// first, at most `limit`; after a `startOver` recovery only the events since it.
    pub(crate) async fn list_events(
        &self,
        task_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<events::EventRow>, DatabaseError> {
        events::list(&self.db, task_id, after, limit).await
    }

    /// `processing` tasks whose last heartbeat is before `cutoff`.
    pub(crate) async fn stale(&self, cutoff: DateTime<Utc>) -> Result<Vec<TaskRow>, DatabaseError> {
        Sql::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE status = 'processing' AND last_heartbeat_at < ? ORDER BY created_at LIMIT 100"
        ))
        .bind(cutoff)
        .fetch_all(&*self.db)
        .await
    }

    /// Fails a stale task (its hung steps too). `false` when it was not stale any more.
    pub(crate) async fn fail_stale(
        &self,
        task: &TaskRow,
        cutoff: DateTime<Utc>,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.db.begin().await?;
        let n = Sql::new(
            "UPDATE tasks SET status = 'failed', secrets = NULL, worker_id = NULL
             WHERE id = ? AND status = 'processing' AND last_heartbeat_at < ?",
        )
        .bind(&task.id)
        .bind(cutoff)
        .execute(&mut tx)
        .await?;
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let message = "This task was marked as stale as it exceeded its timeout";
        for step in events::hung_steps(&mut tx, &task.id).await? {
            let body = serde_json::json!({"message": message, "stepId": step, "status": "failed"});
            events::insert(&mut tx, self.dialect(), &task.id, "log", &body).await?;
        }
        let body = serde_json::json!({
            "message": message,
            "status": "failed",
            "error": {"name": "Error", "message": message},
        });
        events::insert(&mut tx, self.dialect(), &task.id, "completion", &body).await?;
        tx.commit().await?;
        self.hub.notify(&task.id);
        Ok(true)
    }

    /// Re-opens a stale task whose template asks for `startOver`, with a `recovered` event.
    pub(crate) async fn recover_stale(
        &self,
        task: &TaskRow,
        cutoff: DateTime<Utc>,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.db.begin().await?;
        let n = Sql::new(
            "UPDATE tasks SET status = 'open', worker_id = NULL, last_heartbeat_at = ?
             WHERE id = ? AND status = 'processing' AND last_heartbeat_at < ?",
        )
        .bind(Utc::now())
        .bind(&task.id)
        .bind(cutoff)
        .execute(&mut tx)
        .await?;
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let body = serde_json::json!({
            "message": "The task's worker was lost; the task starts over",
            "recoverStrategy": "startOver",
        });
        events::insert(&mut tx, self.dialect(), &task.id, "recovered", &body).await?;
        tx.commit().await?;
        self.hub.notify(&task.id);
        self.hub.task_created();
        Ok(true)
    }

    /// Re-opens a finished task (`failed`, `cancelled` or `completed`) with new secrets; its
    /// `cancelled` and `completion` events go, a `recovered` event is added. `None` for an
    /// unknown task, `Some(false)` for one still open or running.
    pub(crate) async fn retry(
        &self,
        id: &str,
        sealed_secrets: Option<&str>,
    ) -> Result<Option<bool>, DatabaseError> {
        let mut tx = self.db.begin().await?;
        let row: Option<(String,)> = if self.dialect() == Dialect::Mysql {
            mysql::update_returning(
                &mut tx,
                (
                    "status = 'open', worker_id = NULL, cancel_requested = FALSE, \
                     last_heartbeat_at = ?, secrets = ?",
                    vec![Utc::now().into_db_value(), sealed_secrets.into_db_value()],
                ),
                (
                    "id = ? AND status IN ('failed', 'cancelled', 'completed')",
                    vec![id.into_db_value()],
                ),
                "spec",
                false,
            )
            .await?
            .map(FromDbRow::from_row)
            .transpose()?
        } else {
            Sql::new(
                "UPDATE tasks SET status = 'open', worker_id = NULL, cancel_requested = FALSE,
                     last_heartbeat_at = ?, secrets = ?
                 WHERE id = ? AND status IN ('failed', 'cancelled', 'completed')
                 RETURNING spec",
            )
            .bind(Utc::now())
            .bind(sealed_secrets)
            .bind(id)
            .fetch_optional(&mut tx)
            .await?
        };
        let Some((spec,)) = row else {
            tx.rollback().await?;
            return Ok(self.get(id).await?.map(|_| false));
        };
        Sql::new("DELETE FROM task_events WHERE task_id = ? AND event_type IN ('cancelled', 'completion')")
            .bind(id)
            .execute(&mut tx)
            .await?;
        let strategy =
            if recovers_by_starting_over(&serde_json::from_str(&spec).unwrap_or(Value::Null)) {
                "startOver"
            } else {
                "none"
            };
        let body =
            serde_json::json!({"message": "The task was retried", "recoverStrategy": strategy});
        events::insert(&mut tx, self.dialect(), id, "recovered", &body).await?;
        tx.commit().await?;
        self.hub.notify(id);
        self.hub.task_created();
        Ok(Some(true))
    }
}
