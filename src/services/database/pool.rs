//! Connection pools and transactions over every backend.

use sqlx::SqlitePool;
use sqlx::sqlite::{Sqlite, SqliteConnection};

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnection, PgPool, Postgres};

#[cfg(feature = "mysql")]
use sqlx::mysql::{MySql, MySqlConnection, MySqlPool};

use super::dialect::Dialect;
use super::error::DatabaseError;

/// A plugin's connection pool: the native sqlx pool of its backend.
///
/// Portable code runs [`Sql`](super::Sql) queries against it; code that needs every last bit
/// of speed (bulk loads, batching with native argument types) matches on the variant and uses
/// sqlx directly.
///
/// ```
/// use backlot::services::database::{DatabaseManager, DbPool};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = DatabaseManager::in_memory().for_plugin("bulk").await?;
/// match db.pool() {
///     DbPool::Sqlite(pool) => {
///         let (n,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(pool).await?;
///         assert_eq!(n, 1);
///     }
///     # #[allow(unreachable_patterns)]
///     _ => unreachable!(),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DbPool {
    /// A SQLite pool.
    Sqlite(SqlitePool),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
    /// A MySQL / MariaDB pool.
    #[cfg(feature = "mysql")]
    Mysql(MySqlPool),
}

impl DbPool {
    /// The pool's SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::Mysql(_) => Dialect::Mysql,
        }
    }

    /// The SQLite pool, if this is one.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Self::Sqlite(p) => Some(p),
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            _ => None,
        }
    }

    /// The PostgreSQL pool, if this is one.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match self {
            Self::Postgres(p) => Some(p),
            _ => None,
        }
    }

    /// The MySQL / MariaDB pool, if this is one.
    #[cfg(feature = "mysql")]
    pub fn as_mysql(&self) -> Option<&MySqlPool> {
        match self {
            Self::Mysql(p) => Some(p),
            _ => None,
        }
    }

    /// Begins a transaction on a pooled connection.
    ///
    /// On SQLite the transaction takes the write lock up front (`BEGIN IMMEDIATE`): a second
    /// writer then waits for the first (up to the busy timeout) instead of failing when it
    /// upgrades a read to a write.
    pub async fn begin(&self) -> Result<DbTransaction, DatabaseError> {
        let begun = match self {
            Self::Sqlite(p) => p
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map(DbTransaction::Sqlite),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.begin().await.map(DbTransaction::Postgres),
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => p.begin().await.map(DbTransaction::Mysql),
        };
        begun.map_err(|source| DatabaseError::Transaction {
            action: "begin",
            source,
        })
    }

    /// Begins a transaction for reading on a pooled connection.
    ///
    /// On SQLite it is deferred (`BEGIN`): it takes no write lock, so it runs beside a writing
    /// transaction and sees what had committed when its first statement ran (in WAL mode). A
    /// statement that writes in it may fail with `SQLITE_BUSY` where [`DbPool::begin`] would
    /// have waited: write in transactions from [`DbPool::begin`]. Elsewhere it is the same as
    /// [`DbPool::begin`].
    pub async fn begin_read(&self) -> Result<DbTransaction, DatabaseError> {
        match self {
            Self::Sqlite(p) => p
                .begin_with("BEGIN")
                .await
                .map(DbTransaction::Sqlite)
                .map_err(|source| DatabaseError::Transaction {
                    action: "begin",
                    source,
                }),
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            _ => self.begin().await,
        }
    }

    /// Closes every connection of the pool; later queries fail.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.close().await,
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => p.close().await,
        }
    }

    /// Whether [`DbPool::close`] was called.
    pub fn is_closed(&self) -> bool {
        match self {
            Self::Sqlite(p) => p.is_closed(),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.is_closed(),
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => p.is_closed(),
        }
    }
}

/// A transaction on either backend; rolled back when dropped without [`DbTransaction::commit`].
///
/// ```
/// use backlot::services::database::{DatabaseManager, Sql};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = DatabaseManager::in_memory().for_plugin("tx").await?;
/// Sql::new("CREATE TABLE t (n ${bigint})").execute(&db).await?;
/// let mut tx = db.begin().await?;
/// Sql::new("INSERT INTO t (n) VALUES (?)").bind(1).execute(&mut tx).await?;
/// tx.rollback().await?;
/// let (count,): (i64,) = Sql::new("SELECT COUNT(*) FROM t").fetch_one(&db).await?;
/// assert_eq!(count, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DbTransaction {
    /// A SQLite transaction.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// A PostgreSQL transaction.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// A MySQL / MariaDB transaction (DDL statements commit it implicitly there).
    #[cfg(feature = "mysql")]
    Mysql(sqlx::Transaction<'static, MySql>),
}

impl DbTransaction {
    /// The transaction's SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DatabaseError> {
        let done = match self {
            Self::Sqlite(tx) => {
                // `sqlx::query` logs the servers' `COMMIT` but not SQLite's; this event takes
                // its place, with the same fields (WAL writes and checkpoints happen here).
                let started = std::time::Instant::now();
                let done = tx.commit().await;
                tracing::debug!(
                    target: "backlot::sql",
                    summary = "COMMIT",
                    elapsed_secs = started.elapsed().as_secs_f64(),
                    "commit"
                );
                done
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(tx) => tx.commit().await,
            #[cfg(feature = "mysql")]
            Self::Mysql(tx) => tx.commit().await,
        };
        done.map_err(|source| DatabaseError::Transaction {
            action: "commit",
            source,
        })
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), DatabaseError> {
        let done = match self {
            Self::Sqlite(tx) => tx.rollback().await,
            #[cfg(feature = "postgres")]
            Self::Postgres(tx) => tx.rollback().await,
            #[cfg(feature = "mysql")]
            Self::Mysql(tx) => tx.rollback().await,
        };
        done.map_err(|source| DatabaseError::Transaction {
            action: "roll back",
            source,
        })
    }
}

/// Where a [`Sql`](super::Sql) query runs: a [`PluginDatabase`](super::PluginDatabase) (also
/// the `&Arc<PluginDatabase>` the [`DATABASE`](crate::services::core_services::DATABASE)
/// service ref gives a plugin), a [`DbPool`] or an open [`DbTransaction`] (`&mut tx`). Sealed.
///
/// Store functions take `impl DbExecutor<'_>` to run inside or outside a transaction:
///
/// ```
/// use backlot::services::database::{DatabaseError, DatabaseManager, DbExecutor, Sql};
///
/// async fn add_tag(on: impl DbExecutor<'_>, tag: &str) -> Result<u64, DatabaseError> {
///     Sql::new("INSERT INTO tags (name) VALUES (?)").bind(tag).execute(on).await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = DatabaseManager::in_memory().for_plugin("tags").await?;
/// Sql::new("CREATE TABLE tags (name ${text} PRIMARY KEY)").execute(&db).await?;
/// add_tag(&db, "a").await?;
/// let mut tx = db.begin().await?;
/// add_tag(&mut tx, "b").await?;
/// tx.commit().await?;
/// add_tag(db.pool(), "c").await?;
///
/// // What a plugin's `init` gets from `DATABASE`: an `Arc<PluginDatabase>`, used as is.
/// let db = std::sync::Arc::new(db);
/// add_tag(&db, "d").await?;
/// let count: (i64,) = Sql::new("SELECT COUNT(*) FROM tags").fetch_one(&db).await?;
/// assert_eq!(count.0, 4);
/// # Ok(())
/// # }
/// ```
pub trait DbExecutor<'c>: Send + sealed::Sealed<'c> {}

impl<'c, T: Send + sealed::Sealed<'c>> DbExecutor<'c> for T {}

pub(crate) mod sealed {
    use super::*;

    /// The backend-specific handle a query runs on.
    #[allow(unreachable_pub, missing_debug_implementations)]
    pub enum Target<'c> {
        SqlitePool(&'c SqlitePool),
        SqliteConn(&'c mut SqliteConnection),
        #[cfg(feature = "postgres")]
        PgPool(&'c PgPool),
        #[cfg(feature = "postgres")]
        PgConn(&'c mut PgConnection),
        #[cfg(feature = "mysql")]
        MyPool(&'c MySqlPool),
        #[cfg(feature = "mysql")]
        MyConn(&'c mut MySqlConnection),
    }

    impl Target<'_> {
        pub(crate) fn dialect(&self) -> Dialect {
            match self {
                Self::SqlitePool(_) | Self::SqliteConn(_) => Dialect::Sqlite,
                #[cfg(feature = "postgres")]
                Self::PgPool(_) | Self::PgConn(_) => Dialect::Postgres,
                #[cfg(feature = "mysql")]
                Self::MyPool(_) | Self::MyConn(_) => Dialect::Mysql,
            }
        }
    }

    /// Turns an executor into its target.
    #[allow(unreachable_pub)]
    pub trait Sealed<'c> {
        /// The handle to run on.
        fn target(self) -> Target<'c>;
    }

    impl<'c> Sealed<'c> for &'c DbPool {
        fn target(self) -> Target<'c> {
            match self {
                DbPool::Sqlite(p) => Target::SqlitePool(p),
                #[cfg(feature = "postgres")]
                DbPool::Postgres(p) => Target::PgPool(p),
                #[cfg(feature = "mysql")]
                DbPool::Mysql(p) => Target::MyPool(p),
            }
        }
    }

    impl<'c> Sealed<'c> for &'c mut DbTransaction {
        fn target(self) -> Target<'c> {
            match self {
                DbTransaction::Sqlite(tx) => Target::SqliteConn(tx),
                #[cfg(feature = "postgres")]
                DbTransaction::Postgres(tx) => Target::PgConn(tx),
                #[cfg(feature = "mysql")]
                DbTransaction::Mysql(tx) => Target::MyConn(tx),
            }
        }
    }

    impl<'c> Sealed<'c> for &'c super::super::PluginDatabase {
        fn target(self) -> Target<'c> {
            self.pool().target()
        }
    }

    impl<'c> Sealed<'c> for &'c std::sync::Arc<super::super::PluginDatabase> {
        fn target(self) -> Target<'c> {
            self.pool().target()
        }
    }
}
