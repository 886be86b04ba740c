//! Reading the `backend.database` config subtree into per-plugin settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::DatabaseError;

/// The client names `backend.database.client` accepts.
pub(crate) const SUPPORTED_CLIENTS: &str = "better-sqlite3, sqlite3, sqlite, pg, mysql2, mysql";

/// The default database name prefix in `database` division mode.
pub(crate) const DEFAULT_PREFIX: &str = "backstage_plugin_";

const ROOT: &str = "backend.database";

/// The backend family a client name selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientKind {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

/// How plugins share a PostgreSQL server (`pluginDivisionMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DivisionMode {
    /// One database per plugin.
    Database,
    /// One schema per plugin in one database.
    Schema,
}

/// Pool sizing read from `knexConfig.pool` and `pool`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PoolSettings {
    pub(crate) min: Option<u32>,
    pub(crate) max: Option<u32>,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
}

/// Where one plugin's data lives.
#[derive(Debug)]
pub(crate) enum Target {
    SqliteMemory,
    SqliteFile(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(Box<super::postgres::PgTarget>),
    #[cfg(feature = "mysql")]
    Mysql(Box<super::mysql::MyTarget>),
}

/// Everything needed to open one plugin's database.
#[derive(Debug)]
pub(crate) struct PluginSettings {
    pub(crate) target: Target,
    pub(crate) pool: PoolSettings,
    pub(crate) skip_migrations: bool,
}

/// The inputs of the PostgreSQL resolution, gathered from base and plugin config.
#[cfg(feature = "postgres")]
#[derive(Debug)]
pub(crate) struct PgInputs<'a> {
    pub(crate) plugin_id: &'a str,
    pub(crate) base_connection: Option<(&'a Value, String)>,
    pub(crate) plugin_connection: Option<(&'a Value, String)>,
    pub(crate) prefix: &'a str,
    pub(crate) division: DivisionMode,
    pub(crate) ensure_exists: bool,
    pub(crate) ensure_schema_exists: bool,
    pub(crate) role: Option<String>,
}

/// The parsed `backend.database` subtree.
#[derive(Clone)]
pub(crate) struct DatabaseConfig {
    root: Map<String, Value>,
    base_client: String,
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    prefix: String,
    division: DivisionMode,
    default_dir: PathBuf,
}

// The raw subtree holds passwords: Debug shows only what is safe to log.
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("client", &self.base_client)
            .field("prefix", &self.prefix)
            .field("division", &self.division)
            .field("default_dir", &self.default_dir)
            .finish_non_exhaustive()
    }
}

fn key(rel: &str) -> String {
    format!("{ROOT}.{rel}")
}

fn plugin_key(plugin_id: &str, rel: &str) -> String {
    format!("{ROOT}.plugin.{plugin_id}.{rel}")
}

fn get_str<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    full_key: impl FnOnce() -> String,
) -> Result<Option<&'a str>, DatabaseError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(DatabaseError::config(
            full_key(),
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn get_bool(
    obj: &Map<String, Value>,
    name: &str,
    full_key: impl FnOnce() -> String,
) -> Result<Option<bool>, DatabaseError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(DatabaseError::config(
            full_key(),
            format!("expected a boolean, found {}", kind_of(other)),
        )),
    }
}

fn get_obj<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    full_key: impl FnOnce() -> String,
) -> Result<Option<&'a Map<String, Value>>, DatabaseError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(DatabaseError::config(
            full_key(),
            format!("expected an object, found {}", kind_of(other)),
        )),
    }
}

fn get_u64(
    obj: &Map<String, Value>,
    name: &str,
    full_key: impl FnOnce() -> String,
) -> Result<Option<u64>, DatabaseError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse::<u64>().ok()),
        Some(other) => Err(DatabaseError::config(
            full_key(),
            format!("expected a non-negative integer, found {}", kind_of(other)),
        )),
    }
}

/// The string at `obj[name]` of a connection object at `key`; `None` when absent or null.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn object_string<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
    name: &str,
) -> Result<Option<&'a str>, DatabaseError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(DatabaseError::config(
            format!("{key}.{name}"),
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

/// The `port` of a connection object at `key`, as a number or a numeric string.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn object_port(
    obj: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<u16>, DatabaseError> {
    let port = match obj.get("port") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Some(Value::String(s)) => s.parse::<u16>().ok(),
        Some(_) => None,
    };
    port.map(Some)
        .ok_or_else(|| DatabaseError::config(format!("{key}.port"), "expected a port number"))
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_client(name: &str, full_key: &str) -> Result<ClientKind, DatabaseError> {
    match name {
        "better-sqlite3" | "sqlite3" | "sqlite" => Ok(ClientKind::Sqlite),
        #[cfg(feature = "postgres")]
        "pg" => Ok(ClientKind::Postgres),
        #[cfg(not(feature = "postgres"))]
        "pg" => Err(DatabaseError::FeatureDisabled {
            key: full_key.to_owned(),
            client: name.to_owned(),
            feature: "postgres",
        }),
        #[cfg(feature = "mysql")]
        "mysql2" | "mysql" => Ok(ClientKind::Mysql),
        #[cfg(not(feature = "mysql"))]
        "mysql2" | "mysql" => Err(DatabaseError::FeatureDisabled {
            key: full_key.to_owned(),
            client: name.to_owned(),
            feature: "mysql",
        }),
        other => Err(DatabaseError::UnsupportedClient {
            key: full_key.to_owned(),
            client: other.to_owned(),
            supported: SUPPORTED_CLIENTS,
        }),
    }
}

/// Checks a plugin id against Backstage's pattern; it names files, databases and schemas.
pub(crate) fn validate_plugin_id(plugin_id: &str) -> Result<(), DatabaseError> {
    let mut chars = plugin_id.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let body_ok = plugin_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let dashes_ok = !plugin_id.ends_with('-') && !plugin_id.contains("--");
    if starts_with_letter && body_ok && dashes_ok {
        Ok(())
    } else {
        Err(DatabaseError::InvalidPluginId {
            plugin_id: plugin_id.to_owned(),
        })
    }
}

impl DatabaseConfig {
    /// Parses and validates `backend.database`; `None` is the embedded default (SQLite files
    /// in `default_dir`).
    pub(crate) fn parse(
        backend_database: Option<&Value>,
        default_dir: &Path,
    ) -> Result<Self, DatabaseError> {
        let root = match backend_database {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(DatabaseError::config(
                    ROOT,
                    format!("expected an object, found {}", kind_of(other)),
                ));
            }
        };
        let base_client = get_str(&root, "client", || key("client"))?
            .unwrap_or("better-sqlite3")
            .to_owned();
        parse_client(&base_client, &key("client"))?;
        let prefix = match get_str(&root, "prefix", || key("prefix"))? {
            None | Some("") => DEFAULT_PREFIX.to_owned(),
            Some(p) => p.to_owned(),
        };
        let division = match get_str(&root, "pluginDivisionMode", || key("pluginDivisionMode"))? {
            None | Some("database") => DivisionMode::Database,
            Some("schema") => DivisionMode::Schema,
            Some(other) => {
                return Err(DatabaseError::config(
                    key("pluginDivisionMode"),
                    format!("unknown mode '{other}'; expected 'database' or 'schema'"),
                ));
            }
        };
        let config = Self {
            root,
            base_client,
            prefix,
            division,
            default_dir: default_dir.to_path_buf(),
        };
        // Validate the base settings and every per-plugin override up front.
        let plugins = get_obj(&config.root, "plugin", || key("plugin"))?;
        for plugin_id in plugins.into_iter().flat_map(|p| p.keys()) {
            validate_plugin_id(plugin_id).map_err(|_| {
                DatabaseError::config(
                    key("plugin"),
                    format!("'{plugin_id}' is not a valid plugin id"),
                )
            })?;
            config.resolve(plugin_id)?;
        }
        config.resolve("default")?;
        Ok(config)
    }

    /// Every plugin in its own in-memory SQLite database.
    pub(crate) fn in_memory() -> Self {
        let mut root = Map::new();
        root.insert("client".to_owned(), Value::from("better-sqlite3"));
        root.insert("connection".to_owned(), Value::from(":memory:"));
        Self {
            root,
            base_client: "better-sqlite3".to_owned(),
            prefix: DEFAULT_PREFIX.to_owned(),
            division: DivisionMode::Database,
            default_dir: PathBuf::from("."),
        }
    }

    /// The settings for one plugin: base config with the plugin's overrides applied.
    pub(crate) fn resolve(&self, plugin_id: &str) -> Result<PluginSettings, DatabaseError> {
        let empty = Map::new();
        let plugin = get_obj(&self.root, "plugin", || key("plugin"))?
            .map(|p| get_obj(p, plugin_id, || key(&format!("plugin.{plugin_id}"))))
            .transpose()?
            .flatten()
            .unwrap_or(&empty);
        let pk = |rel: &str| plugin_key(plugin_id, rel);

        let (client_name, client_key) = match get_str(plugin, "client", || pk("client"))? {
            Some(c) => (c, pk("client")),
            None => (self.base_client.as_str(), key("client")),
        };
        let kind = parse_client(client_name, &client_key)?;
        let client_overridden = client_name != self.base_client;

        let skip_migrations = match get_bool(plugin, "skipMigrations", || pk("skipMigrations"))? {
            Some(b) => b,
            None => {
                get_bool(&self.root, "skipMigrations", || key("skipMigrations"))?.unwrap_or(false)
            }
        };
        let pool = self.pool_settings(plugin, plugin_id)?;

        let base_connection = if client_overridden {
            None
        } else {
            self.root
                .get("connection")
                .filter(|v| !v.is_null())
                .map(|v| (v, key("connection")))
        };
        let plugin_connection = plugin
            .get("connection")
            .filter(|v| !v.is_null())
            .map(|v| (v, pk("connection")));

        let target = match kind {
            ClientKind::Sqlite => {
                // A plugin moved to SQLite by its own `client` ignores the PostgreSQL division.
                if self.division == DivisionMode::Schema && !client_overridden {
                    return Err(DatabaseError::config(
                        key("pluginDivisionMode"),
                        format!(
                            "mode 'schema' needs the pg client, but plugin '{plugin_id}' uses \
                             '{client_name}'"
                        ),
                    ));
                }
                self.sqlite_target(plugin_id, base_connection, plugin_connection)?
            }
            #[cfg(feature = "postgres")]
            ClientKind::Postgres => {
                let ensure_exists = match get_bool(plugin, "ensureExists", || pk("ensureExists"))? {
                    Some(b) => b,
                    None => get_bool(&self.root, "ensureExists", || key("ensureExists"))?
                        .unwrap_or(true),
                };
                let ensure_schema_exists =
                    match get_bool(plugin, "ensureSchemaExists", || pk("ensureSchemaExists"))? {
                        Some(b) => b,
                        None => get_bool(&self.root, "ensureSchemaExists", || {
                            key("ensureSchemaExists")
                        })?
                        .unwrap_or(false),
                    };
                let role = match get_str(plugin, "role", || pk("role"))? {
                    Some(r) => Some(r.to_owned()),
                    None => get_str(&self.root, "role", || key("role"))?.map(str::to_owned),
                };
                Target::Postgres(Box::new(super::postgres::resolve(PgInputs {
                    plugin_id,
                    base_connection,
                    plugin_connection,
                    prefix: &self.prefix,
                    division: self.division,
                    ensure_exists,
                    ensure_schema_exists,
                    role,
                })?))
            }
            #[cfg(feature = "mysql")]
            ClientKind::Mysql => {
                if self.division == DivisionMode::Schema && !client_overridden {
                    return Err(DatabaseError::config(
                        key("pluginDivisionMode"),
                        format!(
                            "mode 'schema' needs the pg client (on MySQL a schema is a \
                             database), but plugin '{plugin_id}' uses '{client_name}'"
                        ),
                    ));
                }
                let ensure_exists = match get_bool(plugin, "ensureExists", || pk("ensureExists"))? {
                    Some(b) => b,
                    None => get_bool(&self.root, "ensureExists", || key("ensureExists"))?
                        .unwrap_or(true),
                };
                Target::Mysql(Box::new(super::mysql::resolve(super::mysql::MyInputs {
                    plugin_id,
                    base_connection,
                    plugin_connection,
                    prefix: &self.prefix,
                    ensure_exists,
                })?))
            }
        };
        Ok(PluginSettings {
            target,
            pool,
            skip_migrations,
        })
    }

    fn sqlite_target(
        &self,
        plugin_id: &str,
        base: Option<(&Value, String)>,
        plugin: Option<(&Value, String)>,
    ) -> Result<Target, DatabaseError> {
        fn normalize(
            conn: Option<(&Value, String)>,
        ) -> Result<(Map<String, Value>, String), DatabaseError> {
            match conn {
                None => Ok((Map::new(), String::new())),
                Some((Value::String(s), k)) => {
                    let mut m = Map::new();
                    m.insert("filename".to_owned(), Value::String(s.clone()));
                    Ok((m, k))
                }
                Some((Value::Object(m), k)) => Ok((m.clone(), k)),
                Some((other, k)) => Err(DatabaseError::config(
                    k,
                    format!("expected a string or an object, found {}", kind_of(other)),
                )),
            }
        }
        let (base, base_key) = normalize(base)?;
        let (plugin, plugin_key) = normalize(plugin)?;
        if let Some(f) = get_str(&base, "filename", || format!("{base_key}.filename"))? {
            if f != ":memory:" {
                return Err(DatabaseError::config(
                    base_key,
                    "a sqlite filename is not supported for the base connection (every plugin \
                     would share one file); use 'connection.directory', or set a filename \
                     per plugin under 'backend.database.plugin.<pluginId>.connection'",
                ));
            }
        }
        let filename = match get_str(&plugin, "filename", || format!("{plugin_key}.filename"))? {
            Some(f) => Some(f),
            None => get_str(&base, "filename", || format!("{base_key}.filename"))?,
        };
        if filename == Some(":memory:") {
            return Ok(Target::SqliteMemory);
        }
        let directory = match get_str(&plugin, "directory", || format!("{plugin_key}.directory"))? {
            Some(d) => Some(d),
            None => get_str(&base, "directory", || format!("{base_key}.directory"))?,
        };
        let dir = directory.map_or_else(|| self.default_dir.clone(), PathBuf::from);
        let file = filename.map_or_else(|| format!("{plugin_id}.sqlite"), str::to_owned);
        Ok(Target::SqliteFile(dir.join(file)))
    }

    fn pool_settings(
        &self,
        plugin: &Map<String, Value>,
        plugin_id: &str,
    ) -> Result<PoolSettings, DatabaseError> {
        let mut settings = PoolSettings::default();
        let sources: [(&Map<String, Value>, String); 2] = [
            (&self.root, ROOT.to_owned()),
            (plugin, format!("{ROOT}.plugin.{plugin_id}")),
        ];
        // knexConfig first (Backstage's key), then our `pool` key; later wins.
        for (obj, prefix) in &sources {
            if let Some(knex) = get_obj(obj, "knexConfig", || format!("{prefix}.knexConfig"))? {
                let k = format!("{prefix}.knexConfig");
                if let Some(ms) = get_u64(knex, "acquireConnectionTimeout", || {
                    format!("{k}.acquireConnectionTimeout")
                })? {
                    settings.acquire_timeout = Some(Duration::from_millis(ms));
                }
                if let Some(pool) = get_obj(knex, "pool", || format!("{k}.pool"))? {
                    apply_pool(&mut settings, pool, &format!("{k}.pool"))?;
                }
            }
        }
        for (obj, prefix) in &sources {
            if let Some(pool) = get_obj(obj, "pool", || format!("{prefix}.pool"))? {
                apply_pool(&mut settings, pool, &format!("{prefix}.pool"))?;
            }
        }
        if let (Some(min), Some(max)) = (settings.min, settings.max) {
            if min > max {
                return Err(DatabaseError::config(
                    format!("{ROOT}.pool"),
                    format!(
                        "pool min {min} is larger than pool max {max} for plugin '{plugin_id}'"
                    ),
                ));
            }
        }
        if settings.max == Some(0) {
            return Err(DatabaseError::config(
                format!("{ROOT}.pool.max"),
                format!("pool max must be at least 1 (plugin '{plugin_id}')"),
            ));
        }
        Ok(settings)
    }
}

fn apply_pool(
    settings: &mut PoolSettings,
    pool: &Map<String, Value>,
    k: &str,
) -> Result<(), DatabaseError> {
    let as_u32 = |v: u64, name: &str| {
        u32::try_from(v).map_err(|_| DatabaseError::config(format!("{k}.{name}"), "too large"))
    };
    if let Some(v) = get_u64(pool, "min", || format!("{k}.min"))? {
        settings.min = Some(as_u32(v, "min")?);
    }
    if let Some(v) = get_u64(pool, "max", || format!("{k}.max"))? {
        settings.max = Some(as_u32(v, "max")?);
    }
    if let Some(ms) = get_u64(pool, "acquireTimeoutMillis", || {
        format!("{k}.acquireTimeoutMillis")
    })? {
        settings.acquire_timeout = Some(Duration::from_millis(ms));
    }
    if let Some(ms) = get_u64(pool, "idleTimeoutMillis", || {
        format!("{k}.idleTimeoutMillis")
    })? {
        settings.idle_timeout = Some(Duration::from_millis(ms));
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
