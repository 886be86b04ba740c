//! The error type of the database service.

use std::path::PathBuf;

/// Everything that can go wrong while configuring, opening, migrating or querying a plugin's
/// database.
///
/// Messages name the config key, plugin id, database, schema or migration involved; the
/// underlying driver error stays reachable through [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// A `backend.database` config value has the wrong shape or an invalid value.
    #[error("invalid database config at '{key}': {message}")]
    Config {
        /// The full config key, e.g. `backend.database.plugin.catalog.connection`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `client` names a database client backlot does not know.
    #[error("unsupported database client '{client}' at '{key}'; supported clients: {supported}")]
    UnsupportedClient {
        /// The config key holding the client name.
        key: String,
        /// The client name found there.
        client: String,
        /// The client names backlot understands.
        supported: &'static str,
    },
    /// The configured client needs a cargo feature this build of backlot lacks.
    #[error(
        "database client '{client}' at '{key}' needs backlot's cargo feature '{feature}'; \
         enable it in Cargo.toml"
    )]
    FeatureDisabled {
        /// The config key holding the client name.
        key: String,
        /// The client name found there.
        client: String,
        /// The cargo feature to enable.
        feature: &'static str,
    },
    /// A plugin id that cannot name a database, schema or file.
    #[error(
        "invalid plugin id '{plugin_id}': expected letters, digits and single dashes, \
         starting with a letter"
    )]
    InvalidPluginId {
        /// The rejected id.
        plugin_id: String,
    },
    /// The directory of a plugin's SQLite file could not be created.
    #[error("failed to create directory '{}' for the database of plugin '{plugin_id}'", path.display())]
    CreateDir {
        /// The plugin whose database it is.
        plugin_id: String,
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Connecting to a plugin's database failed.
    #[error("failed to connect to the database of plugin '{plugin_id}' ({target})")]
    Connect {
        /// The plugin whose database it is.
        plugin_id: String,
        /// The database file, `:memory:` or PostgreSQL database (never a password).
        target: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Creating a plugin's PostgreSQL database (`ensureExists`) failed.
    #[error("failed to make sure that database '{database}' of plugin '{plugin_id}' exists")]
    EnsureDatabase {
        /// The plugin whose database it is.
        plugin_id: String,
        /// The database name.
        database: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Creating a plugin's PostgreSQL schema (`pluginDivisionMode: schema`) failed.
    #[error("failed to make sure that schema '{schema}' of plugin '{plugin_id}' exists")]
    EnsureSchema {
        /// The plugin whose schema it is.
        plugin_id: String,
        /// The schema name.
        schema: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A plugin's list of migrations is malformed (versions not strictly increasing).
    #[error("invalid migrations of plugin '{plugin_id}': {message}")]
    InvalidMigrations {
        /// The plugin whose migrations they are.
        plugin_id: String,
        /// What is wrong.
        message: String,
    },
    /// One migration failed; it was rolled back and later ones were not run.
    #[error("migration {version} '{name}' of plugin '{plugin_id}' failed")]
    Migration {
        /// The plugin whose migration it is.
        plugin_id: String,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Reading or writing the table of applied migrations failed.
    #[error("failed to read or record the applied migrations of plugin '{plugin_id}'")]
    MigrationTable {
        /// The plugin whose migrations they are.
        plugin_id: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A query failed.
    #[error("query failed: {sql}")]
    Query {
        /// The query text (shortened when long).
        sql: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A query text uses a `${token}` that no dialect defines.
    #[error("unknown token '${{{token}}}' in query: {sql}")]
    UnknownToken {
        /// The token name between `${` and `}`.
        token: String,
        /// The query text (shortened when long).
        sql: String,
    },
    /// `fetch_one` found no row.
    #[error("query returned no rows: {sql}")]
    RowNotFound {
        /// The query text (shortened when long).
        sql: String,
    },
    /// A column could not be decoded into the requested Rust type.
    #[error("failed to decode column '{column}'")]
    Decode {
        /// The column's name or index.
        column: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Beginning, committing or rolling back a transaction failed.
    #[error("failed to {action} a transaction")]
    Transaction {
        /// `begin`, `commit` or `roll back`.
        action: &'static str,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
}

impl DatabaseError {
    /// Whether the underlying driver error is a unique-constraint violation, on any backend.
    ///
    /// Portable code uses this to turn duplicate inserts into a conflict.
    pub fn is_unique_violation(&self) -> bool {
        self.driver_error().is_some_and(|e| match e {
            sqlx::Error::Database(db) => db.is_unique_violation(),
            _ => false,
        })
    }

    /// The driver error behind this error, if there is one.
    pub fn driver_error(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Connect { source, .. }
            | Self::EnsureDatabase { source, .. }
            | Self::EnsureSchema { source, .. }
            | Self::Migration { source, .. }
            | Self::MigrationTable { source, .. }
            | Self::Query { source, .. }
            | Self::Decode { source, .. }
            | Self::Transaction { source, .. } => Some(source),
            _ => None,
        }
    }

    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    pub(crate) fn query(sql: &str, source: sqlx::Error) -> Self {
        Self::Query {
            sql: shorten(sql),
            source,
        }
    }
}

/// Shortens a query text for an error message.
pub(crate) fn shorten(sql: &str) -> String {
    const MAX: usize = 200;
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX {
        flat
    } else {
        let mut s: String = flat.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
