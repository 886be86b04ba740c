//! MySQL 8 / MariaDB 10.11 (`client: mysql2`): one database per plugin, created when missing.

use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions,
    MySqlSslMode,
};
use sqlx::{ConnectOptions as _, Connection as _};

use super::config::{PoolSettings, kind_of, object_port, object_string};
use super::error::DatabaseError;

/// MySQL's identifier length limit in characters.
const MAX_IDENT: usize = 64;

/// The server error number of "Unknown database".
const ER_BAD_DB_ERROR: u16 = 1049;

/// The character set of the databases backlot creates, with the server's default collation
/// for it (case-insensitive on MariaDB and MySQL). A binary collation would compare like
/// SQLite and PostgreSQL, but the driver then hands text columns out as bytes only.
pub(crate) const CREATE_CHARSET: &str = "CHARACTER SET utf8mb4";

/// Serializes this process's `CREATE DATABASE` statements.
static DDL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A resolved MySQL target for one plugin.
pub(crate) struct MyTarget {
    /// Options for the plugin's pool (database already chosen).
    pub(crate) options: MySqlConnectOptions,
    /// Options for the admin connection that creates the database.
    pub(crate) admin_options: MySqlConnectOptions,
    /// The plugin's database.
    pub(crate) database: String,
    /// Create the database when missing.
    pub(crate) ensure_database: bool,
}

// The connect options hold the password: Debug shows the description only.
impl std::fmt::Debug for MyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MyTarget").field(&self.describe()).finish()
    }
}

impl MyTarget {
    /// What to print for this target in errors: host, port and database.
    pub(crate) fn describe(&self) -> String {
        format!(
            "mysql {}:{}/{}",
            self.options.get_host(),
            self.options.get_port(),
            self.database
        )
    }
}

/// The inputs of the MySQL resolution, gathered from base and plugin config.
#[derive(Debug)]
pub(crate) struct MyInputs<'a> {
    pub(crate) plugin_id: &'a str,
    pub(crate) base_connection: Option<(&'a Value, String)>,
    pub(crate) plugin_connection: Option<(&'a Value, String)>,
    pub(crate) prefix: &'a str,
    pub(crate) ensure_exists: bool,
}

/// Quotes an identifier with backticks (valid with and without `ANSI_QUOTES`).
pub(crate) fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Applies one `connection` value (URL string or object) on top of `options`. Returns the
/// database that value names, if any.
fn apply_connection(
    options: MySqlConnectOptions,
    value: &Value,
    key: &str,
) -> Result<(MySqlConnectOptions, Option<String>), DatabaseError> {
    let from_url = |url: &str, k: &str| {
        MySqlConnectOptions::from_str(url)
            .map_err(|e| DatabaseError::config(k, format!("invalid MySQL connection string: {e}")))
    };
    match value {
        Value::String(url) => {
            let options = from_url(url, key)?;
            let database = options.get_database().map(str::to_owned);
            Ok((options, database))
        }
        Value::Object(obj) => apply_object(options, obj, key, from_url),
        other => Err(DatabaseError::config(
            key,
            format!(
                "expected a connection string or an object, found {}",
                kind_of(other)
            ),
        )),
    }
}

fn apply_object(
    mut options: MySqlConnectOptions,
    obj: &Map<String, Value>,
    key: &str,
    from_url: impl Fn(&str, &str) -> Result<MySqlConnectOptions, DatabaseError>,
) -> Result<(MySqlConnectOptions, Option<String>), DatabaseError> {
    let mut database = None;
    let string_at = |name: &str| object_string(obj, key, name);
    if let Some(url) = string_at("connectionString")? {
        options = from_url(url, &format!("{key}.connectionString"))?;
        database = options.get_database().map(str::to_owned);
    }
    if let Some(host) = string_at("host")? {
        options = options.host(host);
    }
    if let Some(path) = string_at("socketPath")? {
        options = options.socket(path);
    }
    if let Some(port) = object_port(obj, key)? {
        options = options.port(port);
    }
    if let Some(user) = string_at("user")? {
        options = options.username(user);
    }
    if let Some(password) = string_at("password")? {
        options = options.password(password);
    }
    if let Some(db) = string_at("database")? {
        options = options.database(db);
        database = Some(db.to_owned());
    }
    match obj.get("ssl") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(false)) => options = options.ssl_mode(MySqlSslMode::Disabled),
        Some(Value::Bool(true)) => options = options.ssl_mode(MySqlSslMode::VerifyIdentity),
        Some(Value::Object(ssl)) => {
            let reject = ssl.get("rejectUnauthorized").and_then(Value::as_bool);
            let mode = if reject == Some(false) {
                MySqlSslMode::Required
            } else {
                MySqlSslMode::VerifyIdentity
            };
            options = options.ssl_mode(mode);
            if let Some(ca) = ssl.get("ca").and_then(Value::as_str) {
                options = options.ssl_ca_from_pem(ca.as_bytes().to_vec());
            }
            if let Some(cert) = ssl.get("cert").and_then(Value::as_str) {
                options = options.ssl_client_cert_from_pem(cert.as_bytes());
            }
            if let Some(k) = ssl.get("key").and_then(Value::as_str) {
                options = options.ssl_client_key_from_pem(k.as_bytes());
            }
        }
        Some(other) => {
            return Err(DatabaseError::config(
                format!("{key}.ssl"),
                format!("expected a boolean or an object, found {}", kind_of(other)),
            ));
        }
    }
    Ok((options, database))
}

/// Resolves a plugin's MySQL target (Backstage's rules: the base `connection.database` does
/// not count; a plugin's own `connection.database` is used verbatim; otherwise
/// `<prefix><pluginId>`).
pub(crate) fn resolve(input: MyInputs<'_>) -> Result<MyTarget, DatabaseError> {
    let mut options = MySqlConnectOptions::new();
    if let Some((value, key)) = &input.base_connection {
        (options, _) = apply_connection(options, value, key)?;
    }
    let mut plugin_database = None;
    if let Some((value, key)) = &input.plugin_connection {
        (options, plugin_database) = apply_connection(options, value, key)?;
    }
    let database =
        plugin_database.unwrap_or_else(|| format!("{}{}", input.prefix, input.plugin_id));
    if database.chars().count() > MAX_IDENT {
        return Err(DatabaseError::config(
            "backend.database.prefix",
            format!(
                "name '{database}' for plugin '{}' is longer than MySQL's {MAX_IDENT}-character \
                 limit",
                input.plugin_id
            ),
        ));
    }
    // Every session in UTC (the default of the driver, spelled out: `${timestamp}` columns
    // are DATETIME and `${now}` reads the session clock).
    options = options.timezone(Some("+00:00".to_owned()));
    let admin_options = options.clone().database("information_schema");
    options = options.database(&database);
    Ok(MyTarget {
        options,
        admin_options,
        database,
        ensure_database: input.ensure_exists,
    })
}

/// Whether `e` says the database does not exist.
fn unknown_database(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| e.number() == ER_BAD_DB_ERROR),
        _ => false,
    }
}

async fn ensure_database(admin: &MySqlConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    let _ddl = DDL.lock().await;
    let mut conn = admin.connect().await?;
    let result = create_database_on(&mut conn, name).await;
    let _ = conn.close().await;
    result
}

async fn create_database_on(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    let create = format!(
        "CREATE DATABASE IF NOT EXISTS {} {CREATE_CHARSET}",
        quote(name)
    );
    sqlx::Executor::execute(&mut *conn, create.as_str()).await?;
    tracing::info!(database = name, "made sure the database exists");
    Ok(())
}

/// Opens the plugin's pool, creating its database when missing (the first connection attempt
/// says so).
pub(crate) async fn connect(
    plugin_id: &str,
    target: &MyTarget,
    pool: &PoolSettings,
) -> Result<MySqlPool, DatabaseError> {
    let options = pool_options(pool);
    let connect_error = |source| DatabaseError::Connect {
        plugin_id: plugin_id.to_owned(),
        target: target.describe(),
        source,
    };
    match options.clone().connect_with(target.options.clone()).await {
        Ok(pool) => Ok(pool),
        Err(e) if target.ensure_database && unknown_database(&e) => {
            let mut attempt = 1;
            loop {
                match ensure_database(&target.admin_options, &target.database).await {
                    Ok(()) => break,
                    Err(source) if attempt >= 3 => {
                        return Err(DatabaseError::EnsureDatabase {
                            plugin_id: plugin_id.to_owned(),
                            database: target.database.clone(),
                            source,
                        });
                    }
                    Err(_) => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            options
                .connect_with(target.options.clone())
                .await
                .map_err(connect_error)
        }
        Err(e) => Err(connect_error(e)),
    }
}

/// Pool sizing plus the per-connection setup: `ANSI_QUOTES`, so that portable SQL's double
/// quoted identifiers work (the driver already adds `PIPES_AS_CONCAT` and sets UTC).
fn pool_options(pool: &PoolSettings) -> MySqlPoolOptions {
    let max = pool.max.unwrap_or(10).max(1);
    let mut options = MySqlPoolOptions::new()
        .max_connections(max)
        .min_connections(pool.min.unwrap_or(0).min(max));
    if let Some(t) = pool.acquire_timeout {
        options = options.acquire_timeout(t);
    }
    if let Some(t) = pool.idle_timeout {
        options = options.idle_timeout(t);
    }
    options.after_connect(
        |conn: &mut MySqlConnection, _meta: sqlx::pool::PoolConnectionMetadata| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    conn,
                    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
                )
                .await?;
                Ok(())
            })
        },
    )
}

/// Takes the named server lock `name` on a connection of its own (waiting for another holder);
/// the lock lasts until [`release_lock`] or until the connection closes.
pub(crate) async fn take_lock(
    pool: &MySqlPool,
    name: &str,
) -> Result<MySqlConnection, sqlx::Error> {
    let options = (*pool.connect_options()).clone();
    let mut conn = options.connect().await?;
    loop {
        // GET_LOCK with a timeout (seconds): 1 when taken, 0 on timeout.
        let (got,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, 30)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
        if got == Some(1) {
            return Ok(conn);
        }
    }
}

/// Releases a lock taken with [`take_lock`] and closes its connection.
pub(crate) async fn release_lock(mut conn: MySqlConnection, name: &str) {
    let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(name)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs<'a>(base: Option<&'a Value>, plugin: Option<&'a Value>) -> MyInputs<'a> {
        MyInputs {
            plugin_id: "catalog",
            base_connection: base.map(|v| (v, "backend.database.connection".to_owned())),
            plugin_connection: plugin
                .map(|v| (v, "backend.database.plugin.catalog.connection".to_owned())),
            prefix: "backstage_plugin_",
            ensure_exists: true,
        }
    }

    #[test]
    fn url_and_object_forms() {
        let base = json!("mysql://u:p@db.example:3307/shared");
        let t = resolve(inputs(Some(&base), None)).unwrap();
        assert_eq!(t.database, "backstage_plugin_catalog");
        assert_eq!(t.options.get_database(), Some("backstage_plugin_catalog"));
        assert_eq!(t.options.get_host(), "db.example");
        assert_eq!(t.options.get_port(), 3307);
        assert_eq!(t.options.get_username(), "u");
        assert_eq!(t.admin_options.get_database(), Some("information_schema"));
        assert!(!format!("{t:?}").contains(":p@"));

        let base = json!({"host": "h", "port": "3308", "user": "me", "password": "secret"});
        let plugin = json!({"database": "my_catalog"});
        let t = resolve(inputs(Some(&base), Some(&plugin))).unwrap();
        assert_eq!(t.database, "my_catalog");
        assert_eq!(t.options.get_host(), "h");
        assert_eq!(t.options.get_port(), 3308);
        assert_eq!(t.options.get_username(), "me");
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = json!({"port": "eighty"});
        let err = resolve(inputs(Some(&base), None)).unwrap_err();
        assert!(
            matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.connection.port")
        );
    }

    #[test]
    fn long_names_are_rejected() {
        let mut i = inputs(None, None);
        let prefix = "p".repeat(60);
        i.prefix = &prefix;
        assert!(matches!(resolve(i), Err(DatabaseError::Config { .. })));
    }

    #[test]
    fn quoting_doubles_backticks() {
        assert_eq!(quote("a`b"), "`a``b`");
    }
}
