//! MySQL has no `UPDATE ... RETURNING` and cannot read the updated table in an `UPDATE`'s
//! subquery: the row is locked with `SELECT ... FOR UPDATE`, updated by id and read back,
//! inside the caller's transaction.

use crate::services::database::{DatabaseError, DbRow, DbTransaction, DbValue, Sql};

/// Locks the first task row `cond` matches (`cond` may end in `ORDER BY`), applies `set` to
/// it and returns its `returning` columns after the update; `None` when no row matched.
/// `skip_locked` passes over rows another transaction holds (task claims).
pub(super) async fn update_returning(
    tx: &mut DbTransaction,
    set: (&str, Vec<DbValue>),
    cond: (&str, Vec<DbValue>),
    returning: &str,
    skip_locked: bool,
) -> Result<Option<DbRow>, DatabaseError> {
    let lock = if skip_locked {
        "FOR UPDATE SKIP LOCKED"
    } else {
        "FOR UPDATE"
    };
    let found: Option<(String,)> = Sql::new(format!(
        "SELECT id FROM tasks WHERE {} LIMIT 1 {lock}",
        cond.0
    ))
    .bind_all(cond.1)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id,)) = found else { return Ok(None) };
    Sql::new(format!("UPDATE tasks SET {} WHERE id = ?", set.0))
        .bind_all(set.1)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    Sql::new(format!("SELECT {returning} FROM tasks WHERE id = ?"))
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
}

/// Inserts an event with the next id of its task (the task row stays locked until `tx`
/// ends, so events of one task commit in id order); returns the id.
pub(super) async fn insert_event(
    tx: &mut DbTransaction,
    task_id: &str,
    event_type: &str,
    body: &serde_json::Value,
) -> Result<i64, DatabaseError> {
    let bumped = Sql::new("UPDATE tasks SET last_event_id = last_event_id + 1 WHERE id = ?")
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
    if bumped == 0 {
        return Err(DatabaseError::RowNotFound {
            sql: format!("no task '{task_id}' to add an event to"),
        });
    }
    let (id,): (i64,) = Sql::new("SELECT last_event_id FROM tasks WHERE id = ?")
        .bind(task_id)
        .fetch_one(&mut *tx)
        .await?;
    Sql::new(
        "INSERT INTO task_events (task_id, id, event_type, body, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(task_id)
    .bind(id)
    .bind(event_type)
    .bind(body.to_string())
    .bind(chrono::Utc::now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}
