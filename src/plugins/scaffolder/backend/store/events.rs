//! Task events: numbered per task in the statement that writes them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::services::database::{
    DatabaseError, DbExecutor, DbTransaction, Dialect, PluginDatabase, Sql,
};

/// One stored event.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) task_id: String,
    pub(crate) id: i64,
    pub(crate) event_type: String,
    pub(crate) body: Value,
    pub(crate) created_at: DateTime<Utc>,
}

impl EventRow {
    /// `SerializedTaskEvent`.
    pub(crate) fn to_json(&self, recoverable: bool) -> Value {
        let mut o = serde_json::json!({
            "id": self.id,
            "taskId": self.task_id,
            "body": self.body,
            "type": self.event_type,
            "createdAt": super::iso(&self.created_at),
        });
        if recoverable {
            o["isTaskRecoverable"] = Value::Bool(true);
        }
        o
    }
}

/// Inserts an event with the next id of its task in `tx`; returns the id.
pub(super) async fn insert(
    tx: &mut DbTransaction,
    dialect: Dialect,
    task_id: &str,
    event_type: &str,
    body: &Value,
) -> Result<i64, DatabaseError> {
    if dialect == Dialect::Mysql {
        return super::mysql::insert_event(tx, task_id, event_type, body).await;
    }
    insert_on(&mut *tx, dialect, task_id, event_type, body).await
}

/// Inserts an event with the next id of its task in one statement (SQLite and PostgreSQL);
/// returns the id.
pub(super) async fn insert_on<'c>(
    on: impl DbExecutor<'c>,
    dialect: Dialect,
    task_id: &str,
    event_type: &str,
    body: &Value,
) -> Result<i64, DatabaseError> {
    let now = Utc::now();
    let sql = match dialect {
        // The row lock taken by the UPDATE is held until the statement commits, so the
        // events of one task are committed in id order.
        Dialect::Postgres => Sql::new(
            "WITH n AS (
                UPDATE tasks SET last_event_id = last_event_id + 1 WHERE id = ? RETURNING last_event_id
             )
             INSERT INTO task_events (task_id, id, event_type, body, created_at)
             SELECT ?, last_event_id, ?, ?, ? FROM n
             RETURNING id",
        )
        .bind(task_id)
        .bind(task_id),
        // The trigger `task_events_number` moves the counter in the same statement.
        _ => Sql::new(
            "INSERT INTO task_events (task_id, id, event_type, body, created_at)
             SELECT id, last_event_id + 1, ?, ?, ? FROM tasks WHERE id = ?
             RETURNING id",
        ),
    };
    let sql = match dialect {
        Dialect::Postgres => sql.bind(event_type).bind(body.to_string()).bind(now),
        _ => sql
            .bind(event_type)
            .bind(body.to_string())
            .bind(now)
            .bind(task_id),
    };
    let row: Option<(i64,)> = sql.fetch_optional(on).await?;
    row.map(|r| r.0).ok_or_else(|| DatabaseError::RowNotFound {
        sql: format!("no task '{task_id}' to add an event to"),
    })
}

/// Events of a task after `after` (plus its `completion` event), trimmed to those since the
/// last `startOver` recovery.
pub(super) async fn list(
    db: &PluginDatabase,
    task_id: &str,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<EventRow>, DatabaseError> {
    let since: (Option<i64>,) = Sql::new(
        "SELECT MAX(id) FROM task_events WHERE task_id = ? AND event_type = 'recovered' AND body LIKE ?",
    )
    .bind(task_id)
    .bind("%\"recoverStrategy\":\"startOver\"%")
    .fetch_one(db)
    .await?;
    let since = since.0.unwrap_or(0);
    let after = after.unwrap_or(0).max(since - 1);
    let rows: Vec<(String, i64, String, String, DateTime<Utc>)> = Sql::new(
        "SELECT task_id, id, event_type, body, created_at FROM task_events
         WHERE task_id = ? AND (id > ? OR event_type = 'completion')
         ORDER BY id LIMIT ?",
    )
    .bind(task_id)
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(task_id, id, event_type, body, created_at)| EventRow {
            task_id,
            id,
            event_type,
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            created_at,
        })
        .collect())
}

/// Steps of a task that started and never finished (since its last recovery).
pub(super) async fn hung_steps<'c>(
    on: impl DbExecutor<'c>,
    task_id: &str,
) -> Result<Vec<String>, DatabaseError> {
    let rows: Vec<(String, String)> =
        Sql::new("SELECT event_type, body FROM task_events WHERE task_id = ? ORDER BY id")
            .bind(task_id)
            .fetch_all(on)
            .await?;
    let mut open: Vec<String> = Vec::new();
    for (event_type, body) in rows {
        if event_type == "recovered" {
            open.clear();
            continue;
        }
        let Ok(body) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        let (Some(step), Some(status)) = (
            body.get("stepId").and_then(Value::as_str),
            body.get("status").and_then(Value::as_str),
        ) else {
            continue;
        };
        open.retain(|s| s != step);
        if status == "processing" {
            open.push(step.to_string());
        }
    }
    Ok(open)
}
