//! PostgreSQL fast paths of the batched statements: a whole chunk of rows bound as one array
//! per column (`UNNEST`, `= ANY`), so the statement text is the same whatever the number of
//! rows. It is prepared and planned once per connection instead of once per row count, and a
//! chunk of 5,000 rows is one round trip. The portable `Sql` forms in `mod.rs` stay the path
//! of every other database.

use sqlx::PgConnection;

use crate::services::database::{DatabaseError, DbRow, DbValue, FromDbRow, copy_rows};

use super::super::error::CatalogError;

/// Rows per array statement.
pub(super) const PG_ROWS: usize = 5000;

/// One column of rows to write.
enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

fn fail(op: &'static str, text: &str) -> impl FnOnce(sqlx::Error) -> CatalogError {
    move |e| CatalogError::db(op)(DatabaseError::query(text, e))
}

/// Whether every row holds text or integers, the same kind per column as the first row (what
/// [`insert`] can bind as arrays).
pub(super) fn insertable(rows: &[Vec<DbValue>]) -> bool {
    let Some(first) = rows.first() else {
        return true;
    };
    rows.iter().all(|row| {
        row.len() == first.len()
            && row.iter().zip(first).all(|(v, f)| {
                matches!(
                    (v, f),
                    (DbValue::Text(_), DbValue::Text(_)) | (DbValue::Int(_), DbValue::Int(_))
                )
            })
    })
}

/// Writes `rows` with `COPY … FROM STDIN` when `head` is a plain `INSERT INTO <table>
/// (<columns>)`, else as `<head> SELECT * FROM UNNEST(<one array per column>)`. Rows must be
/// [`insertable`].
///
/// With `COPY` the rows travel as text, escaped as `COPY` reads them, a megabyte per message:
/// the backend no longer builds a second copy of every row as arrays. The server's work per
/// row is about the same either way (`docs/catalog.md` has the figures).
pub(super) async fn insert(
    conn: &mut PgConnection,
    head: &str,
    rows: Vec<Vec<DbValue>>,
    op: &'static str,
) -> Result<(), CatalogError> {
    match copy_target(head) {
        Some(_) if rows.is_empty() => Ok(()),
        Some(target) => copy_rows(conn, target, &rows)
            .await
            .map(drop)
            .map_err(CatalogError::db(op)),
        None => insert_unnest(conn, head, rows, op).await,
    }
}

/// `<table> (<columns>)` of a head `INSERT INTO <table> (<columns>)` and nothing else.
fn copy_target(head: &str) -> Option<&str> {
    let target = head.strip_prefix("INSERT INTO ")?.trim();
    let open = target.find('(')?;
    let name = target[..open].trim();
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && target.ends_with(')')
        && target[open + 1..target.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b',' || b == b' ');
    ok.then_some(target)
}

/// `<head> SELECT * FROM UNNEST(<one array per column>)`, [`PG_ROWS`] rows at a time.
async fn insert_unnest(
    conn: &mut PgConnection,
    head: &str,
    rows: Vec<Vec<DbValue>>,
    op: &'static str,
) -> Result<(), CatalogError> {
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let mut columns: Vec<Column> = Vec::new();
        for row in iter.by_ref().take(PG_ROWS) {
            if columns.is_empty() {
                columns = row
                    .iter()
                    .map(|v| match v {
                        DbValue::Int(_) => Column::Int(Vec::new()),
                        _ => Column::Text(Vec::new()),
                    })
                    .collect();
            }
            for (value, column) in row.into_iter().zip(columns.iter_mut()) {
                match (value, column) {
                    (DbValue::Text(v), Column::Text(c)) => c.push(v),
                    (DbValue::Int(v), Column::Int(c)) => c.push(v),
                    // `insertable` rules the rest out; a NULL keeps the arrays aligned.
                    (_, Column::Text(c)) => c.push(None),
                    (_, Column::Int(c)) => c.push(None),
                }
            }
        }
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Column::Text(_) => format!("${}::text[]", i + 1),
                Column::Int(_) => format!("${}::bigint[]", i + 1),
            })
            .collect();
        let text = format!("{head} SELECT * FROM UNNEST({})", arrays.join(", "));
        let mut query = sqlx::query(&text);
        for c in columns {
            query = match c {
                Column::Text(v) => query.bind(v),
                Column::Int(v) => query.bind(v),
            };
        }
        query.execute(&mut *conn).await.map_err(fail(op, &text))?;
    }
    Ok(())
}

/// `<prefix> <column> = ANY($1)<suffix>` over `items`, [`PG_ROWS`] at a time; every row.
pub(super) async fn select_any<T: FromDbRow, C: Default + Extend<T>>(
    conn: &mut PgConnection,
    prefix: &str,
    column: &str,
    items: &[String],
    suffix: &str,
    op: &'static str,
) -> Result<C, CatalogError> {
    let text = format!("{prefix} {column} = ANY($1){suffix}");
    let mut out = C::default();
    for chunk in items.chunks(PG_ROWS) {
        let rows = sqlx::query(&text)
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail(op, &text))?;
        for row in rows {
            out.extend(std::iter::once(
                T::from_row(DbRow::Postgres(row)).map_err(CatalogError::db(op))?,
            ));
        }
    }
    Ok(out)
}

/// Runs `text` (whose `$1` is the array of items; `$2` is `extra` when given) over `items`,
/// [`PG_ROWS`] at a time.
pub(super) async fn execute_any(
    conn: &mut PgConnection,
    text: &str,
    items: &[String],
    extra: Option<i64>,
    op: &'static str,
) -> Result<(), CatalogError> {
    for chunk in items.chunks(PG_ROWS) {
        let mut query = sqlx::query(text).bind(chunk);
        if let Some(x) = extra {
            query = query.bind(x);
        }
        query.execute(&mut *conn).await.map_err(fail(op, text))?;
    }
    Ok(())
}

/// Writes processing results and the time each row is due again; a `None` processed entity
/// leaves the stored one and its relations as they are (processing failed).
pub(super) async fn update_processed(
    conn: &mut PgConnection,
    rows: Vec<super::ProcessedWrite>,
    next_update_at: i64,
) -> Result<(), CatalogError> {
    const TEXT: &str = "UPDATE refresh_state SET \
        processed_entity = COALESCE(v.p, refresh_state.processed_entity), \
        relations = CASE WHEN v.p IS NULL THEN refresh_state.relations ELSE v.r END, \
        result_hash = v.h, errors = v.e, next_update_at = $6 \
        FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
        AS v(id, p, h, e, r) WHERE refresh_state.entity_id = v.id";
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let (mut ids, mut ps, mut hs, mut es, mut rs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in iter.by_ref().take(PG_ROWS) {
            ids.push(r.entity_id);
            ps.push(r.processed);
            hs.push(r.result_hash);
            es.push(r.errors);
            rs.push(r.relations);
        }
        sqlx::query(TEXT)
            .bind(ids)
            .bind(ps)
            .bind(hs)
            .bind(es)
            .bind(rs)
            .bind(next_update_at)
            .execute(&mut *conn)
            .await
            .map_err(fail("update processed entities", TEXT))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_inserts_become_copies() {
        assert_eq!(
            copy_target("INSERT INTO relations (a, b_c, d)"),
            Some("relations (a, b_c, d)")
        );
        assert_eq!(copy_target("INSERT INTO t(a)"), Some("t(a)"));
        for head in [
            "INSERT INTO t",
            "INSERT INTO t (a) ON CONFLICT DO NOTHING",
            "INSERT INTO t (a); DROP TABLE t; --)",
            "INSERT INTO \"t\" (a)",
            "INSERT INTO  (a)",
            "UPDATE t SET (a)",
            "insert into t (a)",
        ] {
            assert_eq!(copy_target(head), None, "{head}");
        }
    }
}
