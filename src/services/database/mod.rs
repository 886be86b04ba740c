//! The database service: every plugin gets its own database.
//!
//! A plugin takes its [`PluginDatabase`] (as an `Arc<PluginDatabase>`, which runs queries as
//! it is) from the [`DATABASE`](crate::services::core_services::DATABASE) service ref. Behind
//! it the backend builds one [`DatabaseManager`] from the `backend.database` config, which
//! binds each plugin to its own SQLite file, in-memory SQLite database, PostgreSQL database
//! (`backstage_plugin_<pluginId>`), PostgreSQL schema or MySQL / MariaDB database, and closes
//! them at shutdown. Unit
//! tests of store code can use [`DatabaseManager::in_memory`] (or
//! `testing::mock_services::database`).
//!
//! Plugin code is written once and runs on every backend:
//!
//! - queries are [`Sql`] values with `?` placeholders (rewritten to `$1, $2, ...` on
//!   PostgreSQL, kept on MySQL) and `${token}` type names, run on a [`PluginDatabase`], [`DbPool`] or
//!   [`DbTransaction`], their rows mapped with [`FromDbRow`];
//! - the few constructs that are spelled differently come from [`Dialect`] helpers (upserts,
//!   JSON field access, case-insensitive matching);
//! - schema changes are [`Migration`]s embedded in the binary and applied once with
//!   [`PluginDatabase::migrate`], also when several replicas start together;
//! - hot paths match on [`DbPool`] and use the native sqlx pool directly.
//!
//! See `docs/database.md` for the plugin author's guide.
//!
//! ```
//! use backlot::backend::{Backend, Feature};
//! use backlot::services::core_services::DATABASE;
//! use backlot::services::database::{Migration, Sql};
//!
//! static MIGRATIONS: &[Migration] = &[Migration::new(
//!     1,
//!     "create_kv",
//!     "CREATE TABLE kv (k ${text} PRIMARY KEY, v ${json} NOT NULL, at ${timestamp} NOT NULL DEFAULT ${now})",
//! )];
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plugin = Feature::plugin_fn("settings", |reg| {
//!     reg.init(&DATABASE, |db| async move {
//!         db.migrate(MIGRATIONS).await?;
//!         let upsert = db.dialect().upsert(&["k"], &["v"]);
//!         for v in [1, 2] {
//!             Sql::new(format!("INSERT INTO kv (k, v) VALUES (?, ?) {upsert}"))
//!                 .bind("theme")
//!                 .bind(serde_json::json!({ "version": v }))
//!                 .execute(&db)
//!                 .await?;
//!         }
//!         let (v,): (serde_json::Value,) =
//!             Sql::new("SELECT v FROM kv WHERE k = ?").bind("theme").fetch_one(&db).await?;
//!         assert_eq!(v["version"], 2);
//!         Ok(())
//!     })
//! });
//!
//! let backend = Backend::builder()
//!     .listen_addr(([127, 0, 0, 1], 0).into())
//!     .config_value(serde_json::json!({
//!         "backend": { "database": { "client": "better-sqlite3", "connection": ":memory:" } }
//!     }))
//!     .add_feature(plugin)
//!     .start()
//!     .await?;
//! backend.stop().await?;
//! # Ok(())
//! # }
//! //! ```

mod config;
mod dialect;
mod error;
mod manager;
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod render;
mod row;
mod sqlite;
mod value;

pub use dialect::{Dialect, placeholders};
pub use error::DatabaseError;
pub use manager::{DatabaseManager, PluginDatabase};
pub use migrate::{MIGRATIONS_TABLE, Migration, MigrationReport};
pub use pool::{DbExecutor, DbPool, DbTransaction};
#[cfg(feature = "postgres")]
pub(crate) use postgres::{copy_lines, copy_rows, push_copy_text};
pub use query::Sql;
pub use row::{DbDecode, DbRow, FromDbRow};
pub use value::{DbValue, IntoDbValue};
