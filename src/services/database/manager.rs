//! `DatabaseManager` (one per backend) and `PluginDatabase` (one per plugin).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::config::{DatabaseConfig, PluginSettings, Target, validate_plugin_id};
use super::dialect::Dialect;
use super::error::DatabaseError;
use super::migrate::{self, Migration, MigrationReport};
use super::pool::{DbPool, DbTransaction};
use super::sqlite;

/// Hands every plugin its own database, as `backend.database` configures.
///
/// Built once per backend from the `backend.database` config subtree; [`for_plugin`] opens a
/// plugin's pool on first use and returns the same pool afterwards.
///
/// | config | each plugin gets |
/// |---|---|
/// | none | the SQLite file `<default_data_dir>/<pluginId>.sqlite` |
/// | `client: better-sqlite3` (or `sqlite3`, `sqlite`), `connection: ':memory:'` | its own in-memory database |
/// | `connection: {directory: d}` | the file `d/<pluginId>.sqlite` |
/// | `client: pg` (feature `postgres`) | database `<prefix><pluginId>` (created when missing), or with `pluginDivisionMode: schema` a schema named after the plugin |
/// | `client: mysql2` (feature `mysql`) | database `<prefix><pluginId>` (created when missing) |
/// | `plugin.<pluginId>.{client, connection, ...}` | an override for that plugin |
///
/// ```
/// use backlot::services::database::{DatabaseManager, Dialect};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = json!({ "client": "better-sqlite3", "connection": ":memory:" });
/// let manager = DatabaseManager::from_config(Some(&config), "./data".as_ref())?;
/// let catalog = manager.for_plugin("catalog").await?;
/// assert_eq!(catalog.plugin_id(), "catalog");
/// assert_eq!(catalog.dialect(), Dialect::Sqlite);
/// manager.close().await;
/// # Ok(())
/// # }
/// ```
///
/// [`for_plugin`]: DatabaseManager::for_plugin
#[derive(Clone, Debug)]
pub struct DatabaseManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: DatabaseConfig,
    plugins: Mutex<HashMap<String, Arc<OnceCell<PluginDatabase>>>>,
}

impl DatabaseManager {
    /// Reads the `backend.database` config subtree (as JSON). `None` is the embedded default:
    /// one SQLite file per plugin in `default_data_dir`, so data survives a restart.
    ///
    /// The base settings and every `plugin.<pluginId>` override are checked here; errors name
    /// the config key.
    ///
    /// Plugins take their database from
    /// [`DATABASE`](crate::services::core_services::DATABASE), built from this manager once
    /// per backend and closed at shutdown.
    #[doc(hidden)]
    pub fn from_config(
        backend_database: Option<&serde_json::Value>,
        default_data_dir: &Path,
    ) -> Result<Self, DatabaseError> {
        let config = DatabaseConfig::parse(backend_database, default_data_dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                plugins: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A manager that gives every plugin its own in-memory SQLite database (tests, examples).
    ///
    /// ```
    /// use backlot::services::database::DatabaseManager;
    ///
    /// let manager = DatabaseManager::in_memory();
    /// # let _ = manager;
    /// ```
    pub fn in_memory() -> Self {
        Self {
            inner: Arc::new(Inner {
                config: DatabaseConfig::in_memory(),
                plugins: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The database of `plugin_id`, opened (and for PostgreSQL created) on first call; later
    /// calls return the same pool. Concurrent first calls open it once.
    pub async fn for_plugin(&self, plugin_id: &str) -> Result<PluginDatabase, DatabaseError> {
        validate_plugin_id(plugin_id)?;
        let cell = {
            let mut plugins = self.inner.plugins.lock();
            Arc::clone(plugins.entry(plugin_id.to_owned()).or_default())
        };
        cell.get_or_try_init(|| self.open(plugin_id)).await.cloned()
    }

    /// Closes the pools of every plugin opened so far (on backend shutdown).
    pub async fn close(&self) {
        let cells: Vec<_> = self.inner.plugins.lock().values().cloned().collect();
        for cell in cells {
            if let Some(db) = cell.get() {
                db.pool.close().await;
            }
        }
    }

    async fn open(&self, plugin_id: &str) -> Result<PluginDatabase, DatabaseError> {
        let PluginSettings {
            target,
            pool,
            skip_migrations,
        } = self.inner.config.resolve(plugin_id)?;
        let (db_pool, location) = match &target {
            Target::SqliteMemory => (
                DbPool::Sqlite(sqlite::connect_memory(plugin_id, &pool).await?),
                ":memory:".to_owned(),
            ),
            Target::SqliteFile(path) => (
                DbPool::Sqlite(sqlite::connect_file(plugin_id, path, &pool).await?),
                path.display().to_string(),
            ),
            #[cfg(feature = "postgres")]
            Target::Postgres(pg) => (
                DbPool::Postgres(super::postgres::connect(plugin_id, pg, &pool).await?),
                pg.describe(),
            ),
            #[cfg(feature = "mysql")]
            Target::Mysql(my) => (
                DbPool::Mysql(super::mysql::connect(plugin_id, my, &pool).await?),
                my.describe(),
            ),
        };
        tracing::debug!(plugin_id, location = %location, "opened plugin database");
        Ok(PluginDatabase {
            inner: Arc::new(PluginInner {
                plugin_id: plugin_id.to_owned(),
                location,
                skip_migrations,
            }),
            pool: db_pool,
        })
    }
}

/// One plugin's database: its pool, dialect and migrations.
///
/// Cheap to clone; every clone shares the pool.
///
/// ```
/// use backlot::services::database::{DatabaseManager, Migration, Sql};
///
/// static MIGRATIONS: &[Migration] = &[Migration::new(
///     1,
///     "create_notes",
///     "CREATE TABLE notes (id ${id}, body ${text} NOT NULL, created_at ${timestamp} NOT NULL DEFAULT ${now})",
/// )];
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = DatabaseManager::in_memory().for_plugin("notes").await?;
/// let report = db.migrate(MIGRATIONS).await?;
/// assert_eq!(report.applied, vec![1]);
/// Sql::new("INSERT INTO notes (body) VALUES (?)").bind("hello").execute(&db).await?;
/// let body: Option<(String,)> = Sql::new("SELECT body FROM notes WHERE id = ?")
///     .bind(1)
///     .fetch_optional(&db)
///     .await?;
/// assert_eq!(body, Some(("hello".to_owned(),)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PluginDatabase {
    inner: Arc<PluginInner>,
    pool: DbPool,
}

#[derive(Debug)]
struct PluginInner {
    plugin_id: String,
    location: String,
    skip_migrations: bool,
}

impl PluginDatabase {
    /// The plugin's connection pool; match on it to use sqlx directly.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The SQL dialect of the plugin's database.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    /// The id of the plugin this database belongs to.
    pub fn plugin_id(&self) -> &str {
        &self.inner.plugin_id
    }

    /// Where the data lives: a file path, `:memory:`, or PostgreSQL host, database and schema
    /// (never a password).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// Whether `skipMigrations` is set for this plugin; [`PluginDatabase::migrate`] then does
    /// nothing.
    pub fn skip_migrations(&self) -> bool {
        self.inner.skip_migrations
    }

    /// Begins a transaction (on SQLite it takes the write lock up front; see
    /// [`DbPool::begin`]).
    pub async fn begin(&self) -> Result<DbTransaction, DatabaseError> {
        self.pool.begin().await
    }

    /// Begins a transaction that only reads: on SQLite it takes no write lock, so it does not
    /// wait for a writing transaction to end (see [`DbPool::begin_read`]).
    ///
    /// ```
    /// use backlot::services::database::{DatabaseManager, Migration, Sql};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = DatabaseManager::in_memory().for_plugin("notes").await?;
    /// db.migrate(&[Migration::new(1, "notes", "CREATE TABLE notes (body ${text} NOT NULL)")])
    ///     .await?;
    /// let mut tx = db.begin_read().await?;
    /// let rows: Vec<(String,)> = Sql::new("SELECT body FROM notes").fetch_all(&mut tx).await?;
    /// tx.commit().await?;
    /// assert!(rows.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn begin_read(&self) -> Result<DbTransaction, DatabaseError> {
        self.pool.begin_read().await
    }

    /// Applies the `migrations` not applied yet, in version order, each in its own
    /// transaction, and records them in the table `backlot_migrations`.
    ///
    /// Safe when several replicas migrate the same database at once: each migration runs
    /// under a lock (PostgreSQL: `pg_advisory_xact_lock`; SQLite: `BEGIN IMMEDIATE`; MySQL:
    /// `GET_LOCK`, held for the whole run) and is skipped when another migrator applied it
    /// first. MySQL commits DDL statements implicitly, so there a migration that fails half
    /// way is not rolled back: its first statements stay applied. A failing migration is rolled back and
    /// returned as [`DatabaseError::Migration`] naming the plugin and the migration. Honours
    /// `backend.database.skipMigrations` (and the per-plugin key).
    pub async fn migrate(
        &self,
        migrations: &[Migration],
    ) -> Result<MigrationReport, DatabaseError> {
        if self.inner.skip_migrations {
            return Ok(MigrationReport {
                applied: Vec::new(),
                skipped: true,
            });
        }
        migrate::run(self.plugin_id(), &self.pool, migrations).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::database::Sql;

    // These only need to compile: plugin init futures are spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn for_plugin_is_send(m: DatabaseManager) {
        tokio::spawn(async move { m.for_plugin("x").await.map(drop) });
    }

    #[allow(dead_code)]
    fn migrate_is_send(db: PluginDatabase) {
        tokio::spawn(async move { db.migrate(&[]).await.map(drop) });
    }

    #[allow(dead_code)]
    fn execute_is_send(db: PluginDatabase) {
        tokio::spawn(async move { Sql::new("x").execute(&db).await.map(drop) });
    }

    #[allow(dead_code)]
    fn fetch_is_send(db: PluginDatabase) {
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            Sql::new("x").fetch_all::<(i64,)>(&mut tx).await?;
            Sql::new("x").fetch_optional::<(i64,)>(&db).await.map(drop)
        });
    }
}
