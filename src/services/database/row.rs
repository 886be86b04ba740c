//! Rows read by portable queries and the mapping of rows to plugin types.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

#[cfg(feature = "postgres")]
use sqlx::postgres::PgRow;

#[cfg(feature = "mysql")]
use sqlx::mysql::MySqlRow;

use super::error::DatabaseError;

/// A Rust type a column can be decoded into on every backend this build supports.
///
/// Blanket-implemented for every type sqlx decodes on SQLite (and, with the `postgres` and
/// `mysql` features, on PostgreSQL and MySQL too): `bool`, `i64` (use `${bigint}` columns:
/// PostgreSQL's `INTEGER` decodes as `i32` only), `f64`, `String`, `Vec<u8>`,
/// `serde_json::Value`, `sqlx::types::Json<T>`, `chrono::DateTime<Utc>`, `uuid::Uuid`, and
/// `Option` of these. Build your plugin with every database feature in CI to catch types only
/// one backend decodes.
///
/// ```
/// use backlot::services::database::DbDecode;
///
/// fn decodable<T: DbDecode>() {}
/// decodable::<i64>();
/// decodable::<Option<String>>();
/// decodable::<chrono::DateTime<chrono::Utc>>();
/// decodable::<serde_json::Value>();
/// ```
pub trait DbDecode:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + bounds::Pg + bounds::My
{
}
impl<T> DbDecode for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + bounds::Pg + bounds::My
{
}

/// The per-backend halves of [`DbDecode`]; empty when the backend's feature is off.
mod bounds {
    /// Decodable on PostgreSQL.
    #[cfg(feature = "postgres")]
    pub trait Pg: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> {}
    #[cfg(feature = "postgres")]
    impl<T> Pg for T where T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> {}
    /// Decodable on PostgreSQL (feature off: anything).
    #[cfg(not(feature = "postgres"))]
    pub trait Pg {}
    #[cfg(not(feature = "postgres"))]
    impl<T> Pg for T {}

    /// Decodable on MySQL.
    #[cfg(feature = "mysql")]
    pub trait My: for<'r> sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql> {}
    #[cfg(feature = "mysql")]
    impl<T> My for T where T: for<'r> sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql> {}
    /// Decodable on MySQL (feature off: anything).
    #[cfg(not(feature = "mysql"))]
    pub trait My {}
    #[cfg(not(feature = "mysql"))]
    impl<T> My for T {}
}

/// One row of a portable query's result.
///
/// ```
/// use backlot::services::database::{DatabaseManager, DbRow, Sql};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = DatabaseManager::in_memory();
/// let db = manager.for_plugin("example").await?;
/// let row: DbRow = Sql::new("SELECT 42 AS answer, 'hi' AS greeting").fetch_one(&db).await?;
/// assert_eq!(row.get::<i64>("answer")?, 42);
/// assert_eq!(row.get_at::<String>(1)?, "hi");
/// assert!(row.get::<i64>("missing").is_err());
/// # Ok(())
/// # }
/// ```
#[non_exhaustive]
pub enum DbRow {
    /// A SQLite row.
    Sqlite(SqliteRow),
    /// A PostgreSQL row.
    #[cfg(feature = "postgres")]
    Postgres(PgRow),
    /// A MySQL / MariaDB row.
    #[cfg(feature = "mysql")]
    Mysql(MySqlRow),
}

impl std::fmt::Debug for DbRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns: Vec<&str> = match self {
            Self::Sqlite(row) => row.columns().iter().map(sqlx::Column::name).collect(),
            #[cfg(feature = "postgres")]
            Self::Postgres(row) => row.columns().iter().map(sqlx::Column::name).collect(),
            #[cfg(feature = "mysql")]
            Self::Mysql(row) => row.columns().iter().map(sqlx::Column::name).collect(),
        };
        f.debug_struct("DbRow").field("columns", &columns).finish()
    }
}

impl DbRow {
    /// Decodes the column named `column`.
    pub fn get<T: DbDecode>(&self, column: &str) -> Result<T, DatabaseError> {
        let decoded = match self {
            Self::Sqlite(row) => row.try_get::<T, _>(column),
            #[cfg(feature = "postgres")]
            Self::Postgres(row) => row.try_get::<T, _>(column),
            #[cfg(feature = "mysql")]
            Self::Mysql(row) => row.try_get::<T, _>(column),
        };
        decoded.map_err(|source| DatabaseError::Decode {
            column: column.to_owned(),
            source,
        })
    }

    /// Decodes the column at `index` (0-based).
    pub fn get_at<T: DbDecode>(&self, index: usize) -> Result<T, DatabaseError> {
        let decoded = match self {
            Self::Sqlite(row) => row.try_get::<T, _>(index),
            #[cfg(feature = "postgres")]
            Self::Postgres(row) => row.try_get::<T, _>(index),
            #[cfg(feature = "mysql")]
            Self::Mysql(row) => row.try_get::<T, _>(index),
        };
        decoded.map_err(|source| DatabaseError::Decode {
            column: index.to_string(),
            source,
        })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        match self {
            Self::Sqlite(row) => row.len(),
            #[cfg(feature = "postgres")]
            Self::Postgres(row) => row.len(),
            #[cfg(feature = "mysql")]
            Self::Mysql(row) => row.len(),
        }
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a value from a [`DbRow`]; what [`Sql::fetch_all`](super::Sql::fetch_all) and
/// friends return.
///
/// Implemented for [`DbRow`] itself and for tuples of up to eight [`DbDecode`] types (read by
/// position). Plugins implement it for their own row structs:
///
/// ```
/// use backlot::services::database::{DatabaseError, DbRow, FromDbRow};
///
/// struct Item {
///     id: i64,
///     name: String,
/// }
///
/// impl FromDbRow for Item {
///     fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
///         Ok(Item { id: row.get("id")?, name: row.get("name")? })
///     }
/// }
/// ```
pub trait FromDbRow: Sized {
    /// Builds the value.
    fn from_row(row: DbRow) -> Result<Self, DatabaseError>;
}

impl FromDbRow for DbRow {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        Ok(row)
    }
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: DbDecode),+> FromDbRow for ($($t,)+) {
            fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
                Ok(($(row.get_at::<$t>($i)?,)+))
            }
        }
    };
}

tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
