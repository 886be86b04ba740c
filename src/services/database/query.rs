//! `Sql`: a portable query with bound values.

use sqlx::Sqlite;

#[cfg(feature = "postgres")]
use sqlx::Postgres;

#[cfg(feature = "mysql")]
use sqlx::MySql;

use super::error::{DatabaseError, shorten};
use super::pool::DbExecutor;
use super::pool::sealed::Target;
use super::row::{DbRow, FromDbRow};
use super::value::{DbValue, IntoDbValue, sqlite_timestamp};

/// A portable query: text with `?` placeholders and `${token}`s, plus the values bound to the
/// placeholders in order.
///
/// The text is rewritten for the backend it runs on ([`Dialect::render`](super::Dialect::render)), so the same
/// `Sql` runs on SQLite and PostgreSQL. Statements are prepared and cached per connection.
///
/// ```
/// use backlot::services::database::{DatabaseManager, Sql};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = DatabaseManager::in_memory().for_plugin("todo").await?;
/// Sql::new("CREATE TABLE items (id ${id}, title ${text} NOT NULL, done ${bool} NOT NULL)")
///     .execute(&db)
///     .await?;
/// for title in ["write docs", "ship"] {
///     Sql::new("INSERT INTO items (title, done) VALUES (?, ?)")
///         .bind(title)
///         .bind(false)
///         .execute(&db)
///         .await?;
/// }
/// let open: Vec<(i64, String)> =
///     Sql::new("SELECT id, title FROM items WHERE done = ? ORDER BY id")
///         .bind(false)
///         .fetch_all(&db)
///         .await?;
/// assert_eq!(open, vec![(1, "write docs".to_owned()), (2, "ship".to_owned())]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<DbValue>,
}

impl Sql {
    /// A query with the given text and no bound values yet.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Binds the value of the next `?`.
    #[must_use]
    pub fn bind(mut self, value: impl IntoDbValue) -> Self {
        self.args.push(value.into_db_value());
        self
    }

    /// Binds the values of the next `?`s, in order (e.g. an `IN (...)` list built with
    /// [`placeholders`](super::placeholders)).
    #[must_use]
    pub fn bind_all<V: IntoDbValue>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        self.args
            .extend(values.into_iter().map(IntoDbValue::into_db_value));
        self
    }

    /// Appends text to the query (for queries assembled piece by piece).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `?` and binds `value` to it.
    pub fn push_bind(&mut self, value: impl IntoDbValue) -> &mut Self {
        self.text.push('?');
        self.args.push(value.into_db_value());
        self
    }

    /// The portable query text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bound values.
    pub fn args(&self) -> &[DbValue] {
        &self.args
    }

    /// Runs the statement and returns the number of rows it affected.
    pub async fn execute<'c>(self, on: impl DbExecutor<'c>) -> Result<u64, DatabaseError> {
        let target = on.target();
        let text = target.dialect().render(&self.text)?;
        let result = match target {
            Target::SqlitePool(p) => sqlite_query(&text, self.args)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Target::SqliteConn(c) => sqlite_query(&text, self.args)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "postgres")]
            Target::PgPool(p) => pg_query(&text, self.args)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "postgres")]
            Target::PgConn(c) => pg_query(&text, self.args)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "mysql")]
            Target::MyPool(p) => my_query(&text, self.args)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "mysql")]
            Target::MyConn(c) => my_query(&text, self.args)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
        };
        result.map_err(|e| DatabaseError::query(&self.text, e))
    }

    /// Runs the query and maps every row with [`FromDbRow`].
    pub async fn fetch_all<'c, T: FromDbRow>(
        self,
        on: impl DbExecutor<'c>,
    ) -> Result<Vec<T>, DatabaseError> {
        let target = on.target();
        let text = target.dialect().render(&self.text)?;
        let rows: Result<Vec<DbRow>, sqlx::Error> = match target {
            Target::SqlitePool(p) => sqlite_query(&text, self.args)
                .fetch_all(p)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect()),
            Target::SqliteConn(c) => sqlite_query(&text, self.args)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect()),
            #[cfg(feature = "postgres")]
            Target::PgPool(p) => pg_query(&text, self.args)
                .fetch_all(p)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
            #[cfg(feature = "postgres")]
            Target::PgConn(c) => pg_query(&text, self.args)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
            #[cfg(feature = "mysql")]
            Target::MyPool(p) => my_query(&text, self.args)
                .fetch_all(p)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Mysql).collect()),
            #[cfg(feature = "mysql")]
            Target::MyConn(c) => my_query(&text, self.args)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Mysql).collect()),
        };
        rows.map_err(|e| DatabaseError::query(&self.text, e))?
            .into_iter()
            .map(T::from_row)
            .collect()
    }

    /// Runs the query and maps its first row, if any.
    pub async fn fetch_optional<'c, T: FromDbRow>(
        self,
        on: impl DbExecutor<'c>,
    ) -> Result<Option<T>, DatabaseError> {
        let target = on.target();
        let text = target.dialect().render(&self.text)?;
        let row: Result<Option<DbRow>, sqlx::Error> = match target {
            Target::SqlitePool(p) => sqlite_query(&text, self.args)
                .fetch_optional(p)
                .await
                .map(|r| r.map(DbRow::Sqlite)),
            Target::SqliteConn(c) => sqlite_query(&text, self.args)
                .fetch_optional(c)
                .await
                .map(|r| r.map(DbRow::Sqlite)),
            #[cfg(feature = "postgres")]
            Target::PgPool(p) => pg_query(&text, self.args)
                .fetch_optional(p)
                .await
                .map(|r| r.map(DbRow::Postgres)),
            #[cfg(feature = "postgres")]
            Target::PgConn(c) => pg_query(&text, self.args)
                .fetch_optional(c)
                .await
                .map(|r| r.map(DbRow::Postgres)),
            #[cfg(feature = "mysql")]
            Target::MyPool(p) => my_query(&text, self.args)
                .fetch_optional(p)
                .await
                .map(|r| r.map(DbRow::Mysql)),
            #[cfg(feature = "mysql")]
            Target::MyConn(c) => my_query(&text, self.args)
                .fetch_optional(c)
                .await
                .map(|r| r.map(DbRow::Mysql)),
        };
        row.map_err(|e| DatabaseError::query(&self.text, e))?
            .map(T::from_row)
            .transpose()
    }

    /// Runs the query and maps its first row; no row is [`DatabaseError::RowNotFound`].
    pub async fn fetch_one<'c, T: FromDbRow>(
        self,
        on: impl DbExecutor<'c>,
    ) -> Result<T, DatabaseError> {
        let sql = shorten(&self.text);
        self.fetch_optional(on)
            .await?
            .ok_or(DatabaseError::RowNotFound { sql })
    }
}

/// SQLite statements with more bound values than this (bulk inserts, long `IN` lists) are not
/// kept in the connection's prepared-statement cache: their text varies with their size, so
/// caching them would fill every connection's cache (in this process) with large one-off
/// statements. PostgreSQL keeps its prepared statements on the server, so it caches them all.
const MAX_CACHED_BINDS: usize = 64;

/// Binds every value of `args` to `query` in order; `|$ts| expr` says how a timestamp is bound
/// (the one type the drivers take differently).
macro_rules! bind_values {
    ($query:expr, $args:expr, |$ts:ident| $timestamp:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                DbValue::Bool(v) => q.bind(v),
                DbValue::Int(v) => q.bind(v),
                DbValue::Float(v) => q.bind(v),
                DbValue::Text(v) => q.bind(v),
                DbValue::Bytes(v) => q.bind(v),
                DbValue::Json(v) => q.bind(v.map(sqlx::types::Json)),
                DbValue::Timestamp($ts) => q.bind($timestamp),
                DbValue::Uuid(v) => q.bind(v),
            };
        }
        q
    }};
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn sqlite_query(text: &str, args: Vec<DbValue>) -> SqliteQuery<'_> {
    let q = sqlx::query::<Sqlite>(text).persistent(args.len() <= MAX_CACHED_BINDS);
    bind_values!(q, args, |v| v.as_ref().map(sqlite_timestamp))
}

#[cfg(feature = "postgres")]
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

#[cfg(feature = "postgres")]
fn pg_query(text: &str, args: Vec<DbValue>) -> PgQuery<'_> {
    bind_values!(sqlx::query::<Postgres>(text), args, |v| v)
}

#[cfg(feature = "mysql")]
type MyQuery<'q> = sqlx::query::Query<'q, MySql, sqlx::mysql::MySqlArguments>;

/// MySQL statements are prepared on the server like PostgreSQL's, but the server caps the
/// prepared statements of all sessions (`max_prepared_stmt_count`): one-off statements with
/// many values are not kept.
#[cfg(feature = "mysql")]
fn my_query(text: &str, args: Vec<DbValue>) -> MyQuery<'_> {
    let q = sqlx::query::<MySql>(text).persistent(args.len() <= MAX_CACHED_BINDS);
    bind_values!(q, args, |v| v)
}
