//! Embedded, versioned migrations that run once per database, even with several migrators.

use std::collections::HashMap;

use super::dialect::Dialect;
use super::error::DatabaseError;
use super::pool::{DbPool, DbTransaction};
use super::query::Sql;
use super::value::sqlite_timestamp;

/// The table that records applied migrations, in each plugin's database (or schema).
pub const MIGRATIONS_TABLE: &str = "backlot_migrations";

/// One schema change a plugin ships in its binary.
///
/// The SQL is portable (`${token}` types, see [`Dialect::token`]) and may hold several
/// statements; dialects that need different SQL get an override. All constructors are
/// `const`, so a plugin's migrations are a `static` slice, with texts from `include_str!`:
///
/// ```
/// use backlot::services::database::Migration;
///
/// pub static MIGRATIONS: &[Migration] = &[
///     Migration::new(1, "create_entities", "CREATE TABLE entities (id ${id}, body ${json} NOT NULL);"),
///     Migration::new(2, "index_body_kind", "CREATE INDEX entities_kind ON entities (id);")
///         .with_postgres("CREATE INDEX entities_kind ON entities ((body ->> 'kind'));"),
/// ];
/// assert_eq!(MIGRATIONS[1].name(), "index_body_kind");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    sqlite: Option<&'static str>,
    postgres: Option<&'static str>,
    mysql: Option<&'static str>,
}

impl Migration {
    /// A migration with a version (unique, increasing), a name for messages and its SQL.
    pub const fn new(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name,
            sql,
            sqlite: None,
            postgres: None,
            mysql: None,
        }
    }

    /// Uses `sql` instead of the portable SQL on SQLite.
    #[must_use]
    pub const fn with_sqlite(mut self, sql: &'static str) -> Self {
        self.sqlite = Some(sql);
        self
    }

    /// Uses `sql` instead of the portable SQL on PostgreSQL.
    #[must_use]
    pub const fn with_postgres(mut self, sql: &'static str) -> Self {
        self.postgres = Some(sql);
        self
    }

    /// Uses `sql` instead of the portable SQL on MySQL / MariaDB.
    #[must_use]
    pub const fn with_mysql(mut self, sql: &'static str) -> Self {
        self.mysql = Some(sql);
        self
    }

    /// The version.
    pub const fn version(&self) -> i64 {
        self.version
    }

    /// The name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The SQL run on `dialect` (before `${token}` expansion).
    pub fn sql_for(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite.unwrap_or(self.sql),
            Dialect::Postgres => self.postgres.unwrap_or(self.sql),
            Dialect::Mysql => self.mysql.unwrap_or(self.sql),
        }
    }
}

/// What [`PluginDatabase::migrate`](super::PluginDatabase::migrate) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Versions this call applied, in order (empty when all were applied before).
    pub applied: Vec<i64>,
    /// `true` when `skipMigrations` is configured and nothing ran.
    pub skipped: bool,
}

/// FNV-1a, to notice a migration whose SQL changed after it was applied.
fn checksum(sql: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn driver_error(e: DatabaseError) -> sqlx::Error {
    match e {
        DatabaseError::Query { source, .. }
        | DatabaseError::Transaction { source, .. }
        | DatabaseError::Decode { source, .. } => source,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// Begins a transaction that holds the plugin's migration lock until it ends.
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
async fn begin_locked(pool: &DbPool, plugin_id: &str) -> Result<DbTransaction, sqlx::Error> {
    match pool {
        DbPool::Sqlite(p) => Ok(DbTransaction::Sqlite(
            p.begin_with("BEGIN IMMEDIATE").await?,
        )),
        #[cfg(feature = "postgres")]
        DbPool::Postgres(p) => {
            let mut tx = p.begin().await?;
            let key = i64::from_be_bytes(
                u64::from_str_radix(&checksum(&lock_key(plugin_id)), 16)
                    .unwrap_or(0)
                    .to_be_bytes(),
            );
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Ok(DbTransaction::Postgres(tx))
        }
        // The lock is the session lock `run` holds on a connection of its own.
        #[cfg(feature = "mysql")]
        DbPool::Mysql(p) => Ok(DbTransaction::Mysql(p.begin().await?)),
    }
}

/// The name of the migration lock of a plugin's database.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn lock_key(plugin_id: &str) -> String {
    format!("{MIGRATIONS_TABLE}/{plugin_id}")
}

/// Runs a (multi-statement) script inside `tx`.
async fn run_script(tx: &mut DbTransaction, sql: &str) -> Result<(), sqlx::Error> {
    match tx {
        DbTransaction::Sqlite(tx) => sqlx::Executor::execute(&mut **tx, sql).await.map(drop),
        #[cfg(feature = "postgres")]
        DbTransaction::Postgres(tx) => sqlx::Executor::execute(&mut **tx, sql).await.map(drop),
        #[cfg(feature = "mysql")]
        DbTransaction::Mysql(tx) => sqlx::Executor::execute(&mut **tx, sql).await.map(drop),
    }
}

fn validate(
    plugin_id: &str,
    migrations: &[Migration],
    dialect: Dialect,
) -> Result<(), DatabaseError> {
    let invalid = |message: String| DatabaseError::InvalidMigrations {
        plugin_id: plugin_id.to_owned(),
        message,
    };
    for pair in migrations.windows(2) {
        if pair[1].version <= pair[0].version {
            return Err(invalid(format!(
                "versions must increase: {} '{}' follows {} '{}'",
                pair[1].version, pair[1].name, pair[0].version, pair[0].name
            )));
        }
    }
    for m in migrations {
        if let Err(e) = dialect.expand_tokens(m.sql_for(dialect)) {
            return Err(invalid(format!(
                "migration {} '{}': {e}",
                m.version, m.name
            )));
        }
    }
    Ok(())
}

/// Creates the migrations table when missing and reads the applied versions and checksums.
async fn read_applied(pool: &DbPool, plugin_id: &str) -> Result<HashMap<i64, String>, sqlx::Error> {
    let mut tx = begin_locked(pool, plugin_id).await?;
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version BIGINT PRIMARY KEY, \
         name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
    );
    run_script(&mut tx, &create).await?;
    let rows: Vec<(i64, String)> =
        Sql::new(format!("SELECT version, checksum FROM {MIGRATIONS_TABLE}"))
            .fetch_all(&mut tx)
            .await
            .map_err(driver_error)?;
    tx.commit().await.map_err(driver_error)?;
    Ok(rows.into_iter().collect())
}

pub(crate) async fn run(
    plugin_id: &str,
    pool: &DbPool,
    migrations: &[Migration],
) -> Result<MigrationReport, DatabaseError> {
    validate(plugin_id, migrations, pool.dialect())?;
    // MySQL: DDL commits a transaction implicitly, so the lock is a session lock on a
    // connection of its own, held for the whole run.
    #[cfg(feature = "mysql")]
    if let DbPool::Mysql(p) = pool {
        let lock = super::mysql::take_lock(p, &lock_key(plugin_id))
            .await
            .map_err(|source| DatabaseError::MigrationTable {
                plugin_id: plugin_id.to_owned(),
                source,
            })?;
        let result = run_unlocked(plugin_id, pool, migrations).await;
        super::mysql::release_lock(lock, &lock_key(plugin_id)).await;
        return result;
    }
    run_unlocked(plugin_id, pool, migrations).await
}

async fn run_unlocked(
    plugin_id: &str,
    pool: &DbPool,
    migrations: &[Migration],
) -> Result<MigrationReport, DatabaseError> {
    let dialect = pool.dialect();
    let table_error = |source| DatabaseError::MigrationTable {
        plugin_id: plugin_id.to_owned(),
        source,
    };

    let applied = read_applied(pool, plugin_id).await.map_err(table_error)?;

    let mut report = MigrationReport::default();
    for m in migrations {
        let sql = dialect.expand_tokens(m.sql_for(dialect))?;
        let sum = checksum(&sql);
        if let Some(recorded) = applied.get(&m.version) {
            if *recorded != sum {
                tracing::warn!(
                    plugin_id,
                    version = m.version,
                    name = m.name,
                    "migration changed after it was applied; not running it again"
                );
            }
            continue;
        }
        let failed = |source| DatabaseError::Migration {
            plugin_id: plugin_id.to_owned(),
            version: m.version,
            name: m.name.to_owned(),
            source,
        };
        let mut tx = begin_locked(pool, plugin_id).await.map_err(table_error)?;
        let done_elsewhere: Option<(i64,)> = Sql::new(format!(
            "SELECT version FROM {MIGRATIONS_TABLE} WHERE version = ?"
        ))
        .bind(m.version)
        .fetch_optional(&mut tx)
        .await
        .map_err(|e| table_error(driver_error(e)))?;
        if done_elsewhere.is_some() {
            tx.rollback()
                .await
                .map_err(|e| table_error(driver_error(e)))?;
            continue;
        }
        if let Err(e) = run_script(&mut tx, &sql).await {
            let _ = tx.rollback().await;
            return Err(failed(e));
        }
        Sql::new(format!(
            "INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)"
        ))
        .bind(m.version)
        .bind(m.name)
        .bind(sum)
        .bind(sqlite_timestamp(&chrono::Utc::now()))
        .execute(&mut tx)
        .await
        .map_err(|e| failed(driver_error(e)))?;
        tx.commit().await.map_err(|e| failed(driver_error(e)))?;
        tracing::info!(
            plugin_id,
            version = m.version,
            name = m.name,
            "applied migration"
        );
        report.applied.push(m.version);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_per_dialect() {
        let m = Migration::new(1, "a", "portable").with_postgres("pg");
        assert_eq!(m.sql_for(Dialect::Sqlite), "portable");
        assert_eq!(m.sql_for(Dialect::Postgres), "pg");
    }

    #[test]
    fn mysql_override_applies_to_mysql_only() {
        let m = Migration::new(1, "a", "portable").with_mysql("my");
        assert_eq!(m.sql_for(Dialect::Mysql), "my");
        assert_eq!(m.sql_for(Dialect::Postgres), "portable");
        assert_eq!(Migration::new(1, "a", "p").sql_for(Dialect::Mysql), "p");
    }

    #[test]
    fn versions_must_increase() {
        let ms = [Migration::new(2, "b", "x"), Migration::new(2, "c", "y")];
        let err = validate("p", &ms, Dialect::Sqlite).unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidMigrations { ref plugin_id, .. } if plugin_id == "p")
        );
    }

    #[test]
    fn unknown_tokens_are_found_before_running() {
        let ms = [Migration::new(1, "bad", "CREATE TABLE t (a ${nope})")];
        let err = validate("p", &ms, Dialect::Sqlite).unwrap_err();
        assert!(err.to_string().contains("'bad'"), "{err}");
    }

    #[test]
    fn checksums_differ_for_different_sql() {
        assert_ne!(checksum("a"), checksum("b"));
        assert_eq!(checksum("a").len(), 16);
    }
}
