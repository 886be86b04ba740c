//! PostgreSQL: per-plugin databases or schemas, created when missing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions as _, Connection as _};

use super::config::{DivisionMode, PgInputs, PoolSettings, kind_of, object_port, object_string};
use super::error::DatabaseError;
use super::value::DbValue;

/// PostgreSQL's identifier length limit in bytes.
const MAX_IDENT: usize = 63;

/// Serializes this process's `CREATE DATABASE` / `CREATE SCHEMA` statements.
static DDL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A resolved PostgreSQL target for one plugin.
pub(crate) struct PgTarget {
    /// Options for the plugin's pool (database already chosen).
    pub(crate) options: PgConnectOptions,
    /// Options for the admin connection that creates the database.
    pub(crate) admin_options: PgConnectOptions,
    /// The plugin's database name, when known.
    pub(crate) database: Option<String>,
    /// The plugin's schema in `schema` division mode.
    pub(crate) schema: Option<String>,
    /// Create the database when missing.
    pub(crate) ensure_database: bool,
    /// Create the schema when missing.
    pub(crate) ensure_schema: bool,
    /// `SET ROLE` on every connection; owner of created schemas.
    pub(crate) role: Option<String>,
}

// The connect options hold the password: Debug shows the description only.
impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PgTarget").field(&self.describe()).finish()
    }
}

impl PgTarget {
    /// What to print for this target in errors: host, port, database and schema.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "postgres {}:{}/{}",
            self.options.get_host(),
            self.options.get_port(),
            self.database.as_deref().unwrap_or("<default>")
        );
        if let Some(schema) = &self.schema {
            s.push_str(&format!(" schema {schema}"));
        }
        s
    }
}

pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Appends `value` to `buf` in the text format of `COPY … FROM STDIN`: backslash, tab, newline
/// and carriage return escaped, so a value never ends its column or row early, nor reads as
/// `\N` (NULL) or `\.` (end of data).
pub(crate) fn push_copy_text(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escaped);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Appends `value` in `COPY`'s text format: text escaped by [`push_copy_text`], integers
/// in decimal, `\N` for NULL and for any other kind.
fn push_copy_value(buf: &mut Vec<u8>, value: &DbValue) {
    match value {
        DbValue::Text(Some(s)) => push_copy_text(buf, s),
        DbValue::Int(Some(i)) => buf.extend_from_slice(i.to_string().as_bytes()),
        _ => buf.extend_from_slice(b"\\N"),
    }
}

/// Bytes of `COPY` data sent per message.
const COPY_MESSAGE: usize = 1 << 20;

/// Writes `rows` with `COPY <target> FROM STDIN` (`target` is `table (columns)`), one line
/// per row ([`copy_lines`]); returns the rows written. Rows hold text and integers (anything
/// else goes as NULL).
pub(crate) async fn copy_rows(
    conn: &mut PgConnection,
    target: &str,
    rows: &[Vec<DbValue>],
) -> Result<u64, DatabaseError> {
    copy_lines(conn, target, rows, |buf, row| {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            push_copy_value(buf, value);
        }
    })
    .await
}

/// Writes one line per item with `COPY <target> FROM STDIN` in text format (`target` is
/// `table (columns)`; `write_line` appends an item's tab-separated columns, escaped with
/// [`push_copy_text`], without the newline), a megabyte per message; returns the rows
/// written. `sqlx::query` does not log `COPY`: it is logged here, at debug under
/// `backlot::sql`, with `sqlx::query`'s fields.
pub(crate) async fn copy_lines<T>(
    conn: &mut PgConnection,
    target: &str,
    items: impl IntoIterator<Item = T>,
    mut write_line: impl FnMut(&mut Vec<u8>, T),
) -> Result<u64, DatabaseError> {
    let text = format!("COPY {target} FROM STDIN");
    let fail = |e| DatabaseError::query(&text, e);
    let started = std::time::Instant::now();
    let mut copy = conn.copy_in_raw(&text).await.map_err(fail)?;
    let mut buf = Vec::with_capacity(COPY_MESSAGE + 4096);
    for item in items {
        write_line(&mut buf, item);
        buf.push(b'\n');
        if buf.len() >= COPY_MESSAGE {
            copy.send(std::mem::take(&mut buf)).await.map_err(fail)?;
            buf.reserve(COPY_MESSAGE + 4096);
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await.map_err(fail)?;
    }
    let written = copy.finish().await.map_err(fail)?;
    tracing::debug!(
        target: "backlot::sql",
        summary = %text,
        rows_affected = written,
        elapsed_secs = started.elapsed().as_secs_f64(),
        "copy"
    );
    Ok(written)
}

/// Applies one `connection` value (string or object) on top of `options`. Returns the database
/// that value names, if any.
fn apply_connection(
    options: PgConnectOptions,
    value: &Value,
    key: &str,
) -> Result<(PgConnectOptions, Option<String>), DatabaseError> {
    let from_url = |url: &str, k: &str| {
        PgConnectOptions::from_str(url).map_err(|e| {
            DatabaseError::config(k, format!("invalid PostgreSQL connection string: {e}"))
        })
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
    mut options: PgConnectOptions,
    obj: &Map<String, Value>,
    key: &str,
    from_url: impl Fn(&str, &str) -> Result<PgConnectOptions, DatabaseError>,
) -> Result<(PgConnectOptions, Option<String>), DatabaseError> {
    let mut database = None;
    let string_at = |name: &str| object_string(obj, key, name);
    if let Some(url) = string_at("connectionString")? {
        options = from_url(url, &format!("{key}.connectionString"))?;
        database = options.get_database().map(str::to_owned);
    }
    if let Some(host) = string_at("host")? {
        options = options.host(host);
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
    if let Some(name) = string_at("application_name")? {
        options = options.application_name(name);
    }
    match obj.get("ssl") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(false)) => options = options.ssl_mode(PgSslMode::Disable),
        Some(Value::Bool(true)) => options = options.ssl_mode(PgSslMode::VerifyFull),
        Some(Value::String(mode)) => {
            let mode = PgSslMode::from_str(mode).map_err(|e| {
                DatabaseError::config(format!("{key}.ssl"), format!("unknown ssl mode: {e}"))
            })?;
            options = options.ssl_mode(mode);
        }
        Some(Value::Object(ssl)) => {
            let reject = ssl.get("rejectUnauthorized").and_then(Value::as_bool);
            let mode = if reject == Some(false) {
                PgSslMode::Require
            } else {
                PgSslMode::VerifyFull
            };
            options = options.ssl_mode(mode);
            if let Some(ca) = ssl.get("ca").and_then(Value::as_str) {
                options = options.ssl_root_cert_from_pem(ca.as_bytes().to_vec());
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
                format!(
                    "expected a boolean, a mode or an object, found {}",
                    kind_of(other)
                ),
            ));
        }
    }
    Ok((options, database))
}

/// Resolves a plugin's PostgreSQL target from base and plugin config (Backstage's rules: the
/// base `connection.database` only counts in `schema` mode; a plugin's own
/// `connection.database` is used verbatim; otherwise `<prefix><pluginId>`).
pub(crate) fn resolve(input: PgInputs<'_>) -> Result<PgTarget, DatabaseError> {
    let mut options = PgConnectOptions::new();
    let mut base_database = None;
    if let Some((value, key)) = &input.base_connection {
        (options, base_database) = apply_connection(options, value, key)?;
    }
    let mut plugin_database = None;
    if let Some((value, key)) = &input.plugin_connection {
        (options, plugin_database) = apply_connection(options, value, key)?;
    }
    if options.get_application_name().is_none() {
        options = options.application_name(&format!("backstage_plugin_{}", input.plugin_id));
    }
    let (database, schema) = match input.division {
        DivisionMode::Database => (
            Some(plugin_database.unwrap_or_else(|| format!("{}{}", input.prefix, input.plugin_id))),
            None,
        ),
        DivisionMode::Schema => (
            plugin_database.or(base_database),
            Some(input.plugin_id.to_owned()),
        ),
    };
    for name in database.iter().chain(schema.iter()) {
        if name.len() > MAX_IDENT {
            return Err(DatabaseError::config(
                "backend.database.prefix",
                format!(
                    "name '{name}' for plugin '{}' is longer than PostgreSQL's {MAX_IDENT}-byte \
                     limit",
                    input.plugin_id
                ),
            ));
        }
    }
    if let Some(db) = &database {
        options = options.database(db);
    }
    let admin_options = options.clone().database("postgres");
    Ok(PgTarget {
        options,
        admin_options,
        database,
        schema,
        ensure_database: input.ensure_exists,
        ensure_schema: input.ensure_schema_exists || input.ensure_exists,
        role: input.role,
    })
}

/// Whether a failed `CREATE` lost a race against another creator of the same object.
fn lost_create_race(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("42P04" | "42P06" | "23505"))
        }
        _ => false,
    }
}

async fn ensure_database(admin: &PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    let _ddl = DDL.lock().await;
    let mut conn = admin.connect().await?;
    let result = create_database_on(&mut conn, name).await;
    let _ = conn.close().await;
    result
}

async fn create_database_on(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() {
        return Ok(());
    }
    let create = format!("CREATE DATABASE {}", quote(name));
    match sqlx::Executor::execute(&mut *conn, create.as_str()).await {
        Ok(_) => {
            tracing::info!(database = name, "created database");
            Ok(())
        }
        Err(e) if lost_create_race(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn ensure_schema(
    options: &PgConnectOptions,
    schema: &str,
    role: Option<&str>,
) -> Result<(), sqlx::Error> {
    let _ddl = DDL.lock().await;
    let mut conn = options.connect().await?;
    let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema));
    if let Some(role) = role {
        sql.push_str(&format!(" AUTHORIZATION {}", quote(role)));
    }
    let result = match sqlx::Executor::execute(&mut conn, sql.as_str()).await {
        Ok(_) => Ok(()),
        Err(e) if lost_create_race(&e) => Ok(()),
        Err(e) => Err(e),
    };
    let _ = conn.close().await;
    result
}

/// Retries an admin operation a few times: parallel creators and fresh servers make the
/// first attempt fail now and then.
async fn with_retries<F, Fut>(mut op: F) -> Result<(), sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= 3 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Opens the plugin's pool, creating its database (when missing: the first connection attempt
/// says so) and its schema when configured to.
pub(crate) async fn connect(
    plugin_id: &str,
    target: &PgTarget,
    pool: &PoolSettings,
) -> Result<PgPool, DatabaseError> {
    let options = pool_options(target, pool);
    let connect_error = |source| DatabaseError::Connect {
        plugin_id: plugin_id.to_owned(),
        target: target.describe(),
        source,
    };
    // Connecting first spares an admin connection on every start but the first.
    let pg_pool = match options.clone().connect_with(target.options.clone()).await {
        Ok(pg_pool) => pg_pool,
        Err(sqlx::Error::Database(e))
            if target.ensure_database && e.code().as_deref() == Some("3D000") =>
        {
            if let Some(database) = &target.database {
                with_retries(|| ensure_database(&target.admin_options, database))
                    .await
                    .map_err(|source| DatabaseError::EnsureDatabase {
                        plugin_id: plugin_id.to_owned(),
                        database: database.clone(),
                        source,
                    })?;
            }
            options
                .connect_with(target.options.clone())
                .await
                .map_err(connect_error)?
        }
        Err(e) => return Err(connect_error(e)),
    };
    if let (Some(schema), true) = (&target.schema, target.ensure_schema) {
        let ensured =
            with_retries(|| ensure_schema(&target.options, schema, target.role.as_deref()))
                .await
                .map_err(|source| DatabaseError::EnsureSchema {
                    plugin_id: plugin_id.to_owned(),
                    schema: schema.clone(),
                    source,
                });
        if let Err(e) = ensured {
            pg_pool.close().await;
            return Err(e);
        }
    }
    Ok(pg_pool)
}

/// Pool sizing plus the per-connection setup: `SET ROLE` and, in schema mode, the search path.
fn pool_options(target: &PgTarget, pool: &PoolSettings) -> PgPoolOptions {
    let mut setup = Vec::new();
    if let Some(role) = &target.role {
        setup.push(format!("SET ROLE {}", quote(role)));
    }
    if let Some(schema) = &target.schema {
        setup.push(format!("SET search_path TO {}", quote(schema)));
    }
    let setup: Arc<str> = Arc::from(setup.join("; "));

    let max = pool.max.unwrap_or(10).max(1);
    let mut options = PgPoolOptions::new()
        .max_connections(max)
        .min_connections(pool.min.unwrap_or(0).min(max));
    if let Some(t) = pool.acquire_timeout {
        options = options.acquire_timeout(t);
    }
    if let Some(t) = pool.idle_timeout {
        options = options.idle_timeout(t);
    }
    if !setup.is_empty() {
        options = options.after_connect(
            move |conn: &mut PgConnection, _meta: sqlx::pool::PoolConnectionMetadata| {
                let setup = Arc::clone(&setup);
                Box::pin(async move {
                    sqlx::Executor::execute(conn, &*setup).await?;
                    Ok(())
                })
            },
        );
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn copy_text(value: &str) -> String {
        let mut buf = Vec::new();
        push_copy_text(&mut buf, value);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        assert_eq!(copy_text("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
        // A backslash before `N` or `.` is escaped, so neither reads as NULL or end of data.
        assert_eq!(copy_text("\\N"), "\\\\N");
        assert_eq!(copy_text("\\."), "\\\\.");
        assert_eq!(copy_text("naïve ☃ team=a"), "naïve ☃ team=a");
        assert_eq!(copy_text(""), "");
    }

    fn encoded(value: DbValue) -> String {
        let mut buf = Vec::new();
        push_copy_value(&mut buf, &value);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn copy_values_are_escaped_text_numbers_or_null() {
        assert_eq!(encoded(DbValue::Text(Some("a\tb\\N".into()))), "a\\tb\\\\N");
        assert_eq!(encoded(DbValue::Text(Some(String::new()))), "");
        assert_eq!(encoded(DbValue::Text(None)), "\\N");
        assert_eq!(encoded(DbValue::Int(Some(-42))), "-42");
        assert_eq!(encoded(DbValue::Int(None)), "\\N");
    }

    fn inputs<'a>(
        base: Option<&'a Value>,
        plugin: Option<&'a Value>,
        division: DivisionMode,
    ) -> PgInputs<'a> {
        PgInputs {
            plugin_id: "catalog",
            base_connection: base.map(|v| (v, "backend.database.connection".to_owned())),
            plugin_connection: plugin
                .map(|v| (v, "backend.database.plugin.catalog.connection".to_owned())),
            prefix: "backstage_plugin_",
            division,
            ensure_exists: true,
            ensure_schema_exists: false,
            role: None,
        }
    }

    #[test]
    fn database_mode_prefixes_and_ignores_the_base_database() {
        let base = json!("postgres://u:p@db.example:6543/shared");
        let t = resolve(inputs(Some(&base), None, DivisionMode::Database)).unwrap();
        assert_eq!(t.database.as_deref(), Some("backstage_plugin_catalog"));
        assert_eq!(t.options.get_database(), Some("backstage_plugin_catalog"));
        assert_eq!(t.options.get_host(), "db.example");
        assert_eq!(t.options.get_port(), 6543);
        assert_eq!(t.admin_options.get_database(), Some("postgres"));
        assert_eq!(
            t.options.get_application_name(),
            Some("backstage_plugin_catalog")
        );
    }

    #[test]
    fn plugin_database_is_used_verbatim() {
        let base = json!({"host": "h", "user": "u", "port": "5433"});
        let plugin = json!({"database": "my_catalog"});
        let t = resolve(inputs(Some(&base), Some(&plugin), DivisionMode::Database)).unwrap();
        assert_eq!(t.database.as_deref(), Some("my_catalog"));
        assert_eq!(t.options.get_host(), "h");
        assert_eq!(t.options.get_port(), 5433);
        assert_eq!(t.options.get_username(), "u");
    }

    #[test]
    fn schema_mode_keeps_the_base_database_and_names_the_schema() {
        let base = json!({"host": "h", "database": "backstage"});
        let t = resolve(inputs(Some(&base), None, DivisionMode::Schema)).unwrap();
        assert_eq!(t.database.as_deref(), Some("backstage"));
        assert_eq!(t.schema.as_deref(), Some("catalog"));
        assert!(t.ensure_schema);
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = json!({"port": "eighty"});
        let err = resolve(inputs(Some(&base), None, DivisionMode::Database)).unwrap_err();
        assert!(
            matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.connection.port")
        );
        let base = json!(12);
        let err = resolve(inputs(Some(&base), None, DivisionMode::Database)).unwrap_err();
        assert!(
            matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.connection")
        );
    }

    #[test]
    fn long_names_are_rejected() {
        let mut i = inputs(None, None, DivisionMode::Database);
        let prefix = "p".repeat(60);
        i.prefix = &prefix;
        assert!(matches!(resolve(i), Err(DatabaseError::Config { .. })));
    }
}
