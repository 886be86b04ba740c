//! Loading real config files from disk: layering, includes across directories, substitution
//! and environment overrides.

use std::path::Path;
use std::time::Duration;

use backlot::services::config::{ConfigError, ConfigLoader, parse_listen};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            panic!("create {}: {e}", parent.display());
        }
    }
    if let Err(e) = std::fs::write(&path, text) {
        panic!("write {}: {e}", path.display());
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A small portal layout: a base file, a local override, a production overlay in a
/// subdirectory that includes shared files from a sibling directory.
fn portal(dir: &Path) {
    write(
        dir,
        "app-config.yaml",
        r#"
app:
  title: Portal
  baseUrl: http://localhost:3000
backend:
  baseUrl: http://localhost:7007
  listen:
    port: 7007
  database:
    client: better-sqlite3
    connection: ':memory:'
  cache:
    defaultTtl: { minutes: 5 }
catalog:
  locations:
    - type: file
      target: ../../catalog-info.yaml
    - type: url
      target: https://example.com/all.yaml
  rules:
    - allow: [Component, API]
"#,
    );
    write(
        dir,
        "app-config.local.yaml",
        "app:\n  title: Local Portal\nbackend:\n  listen:\n    port: 7008\n",
    );
    write(
        dir,
        "deploy/app-config.production.yaml",
        r#"
backend:
  baseUrl: https://${PUBLIC_HOST}
  listen: ':${PORT}'
  database:
    client: pg
    connection:
      host: ${POSTGRES_HOST}
      port: ${POSTGRES_PORT}
      user: { $env: POSTGRES_USER }
      password: { $file: ../secrets/db-password.txt }
  cache:
    defaultTtl: 10m
catalog:
  locations: { $include: ../shared/locations.yaml#production }
  providers: { $include: ../shared/providers.json }
"#,
    );
    write(dir, "secrets/db-password.txt", "hunter2\n");
    write(
        dir,
        "shared/locations.yaml",
        r#"
production:
  - type: url
    target: https://${GIT_HOST}/org/catalog/all.yaml
  - { $include: more/extra.yaml }
"#,
    );
    write(
        dir,
        "shared/more/extra.yaml",
        "type: file\ntarget: { $file: target.txt }\n",
    );
    write(dir, "shared/more/target.txt", "/srv/catalog/extra.yaml\n");
    write(
        dir,
        "shared/providers.json",
        r#"{"github": {"org": {"organization": "acme", "schedule": {"frequency": "PT30M", "timeout": {"minutes": 3}}}}}"#,
    );
}

fn production_env() -> Vec<(String, String)> {
    env(&[
        ("PUBLIC_HOST", "portal.acme.dev"),
        ("PORT", "8443"),
        ("POSTGRES_HOST", "db.internal"),
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_USER", "backstage"),
        ("GIT_HOST", "git.acme.dev"),
    ])
}

#[test]
fn base_and_local_files_layer_with_later_winning() {
    let dir = tempfile::tempdir().unwrap();
    portal(dir.path());
    let config = ConfigLoader::new()
        .default_files(dir.path())
        .env_vars(env(&[]))
        .load()
        .unwrap();
    assert_eq!(config.string("app.title").unwrap(), "Local Portal");
    assert_eq!(
        config.string("app.baseUrl").unwrap(),
        "http://localhost:3000"
    );
    assert_eq!(config.u16("backend.listen.port").unwrap(), 7008);
    assert_eq!(
        config.opt_duration("backend.cache.defaultTtl").unwrap(),
        Some(Duration::from_secs(300))
    );
    assert_eq!(parse_listen(&config).unwrap(), (String::new(), 7008));
    assert_eq!(config.config_array("catalog.locations").unwrap().len(), 2);
}

#[test]
fn default_files_without_local_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app-config.yaml", "app:\n  title: Only\n");
    let config = ConfigLoader::new()
        .default_files(dir.path())
        .env_vars(env(&[]))
        .load()
        .unwrap();
    assert_eq!(config.string("app.title").unwrap(), "Only");
}

#[test]
fn production_overlay_resolves_includes_across_directories() {
    let dir = tempfile::tempdir().unwrap();
    portal(dir.path());
    let config = ConfigLoader::new()
        .file(dir.path().join("app-config.yaml"))
        .file(dir.path().join("deploy/app-config.production.yaml"))
        .env_vars(production_env())
        .load()
        .unwrap();

    assert_eq!(
        config.string("backend.baseUrl").unwrap(),
        "https://portal.acme.dev"
    );
    assert_eq!(parse_listen(&config).unwrap(), (String::new(), 8443));
    let db = config.config("backend.database").unwrap();
    assert_eq!(db.string("client").unwrap(), "pg");
    assert_eq!(db.string("connection.host").unwrap(), "db.internal");
    // Substituted strings stay strings, and the number getter converts them.
    assert_eq!(db.u16("connection.port").unwrap(), 5432);
    assert_eq!(db.string("connection.user").unwrap(), "backstage");
    assert_eq!(db.string("connection.password").unwrap(), "hunter2");
    assert_eq!(
        config.duration("backend.cache.defaultTtl").unwrap(),
        Duration::from_secs(600)
    );

    // The included array replaces the base file's array instead of merging with it.
    let locations = config.config_array("catalog.locations").unwrap();
    assert_eq!(locations.len(), 2);
    assert_eq!(
        locations[0].string("target").unwrap(),
        "https://git.acme.dev/org/catalog/all.yaml"
    );
    // Nested include in shared/more/, whose $file resolves next to it.
    assert_eq!(locations[1].string("type").unwrap(), "file");
    assert_eq!(
        locations[1].string("target").unwrap(),
        "/srv/catalog/extra.yaml"
    );
    assert_eq!(locations[1].path_prefix(), "catalog.locations[1]");
    // Keys the overlay does not mention are kept from the base file.
    assert_eq!(
        config.string_array("catalog.rules[0].allow").unwrap(),
        ["Component", "API"]
    );

    let provider = config.config("catalog.providers.github.org").unwrap();
    assert_eq!(provider.string("organization").unwrap(), "acme");
    assert_eq!(
        provider.duration("schedule.frequency").unwrap(),
        Duration::from_secs(1800)
    );
    assert_eq!(
        provider.duration("schedule.timeout").unwrap(),
        Duration::from_secs(180)
    );
}

#[test]
fn missing_variables_leave_values_undefined() {
    let dir = tempfile::tempdir().unwrap();
    portal(dir.path());
    let mut vars = production_env();
    vars.retain(|(k, _)| k != "PUBLIC_HOST" && k != "POSTGRES_USER");
    let config = ConfigLoader::new()
        .file(dir.path().join("app-config.yaml"))
        .file(dir.path().join("deploy/app-config.production.yaml"))
        .env_vars(vars)
        .load()
        .unwrap();
    // The overlay's baseUrl became undefined, so the base file's value shows through.
    assert_eq!(
        config.string("backend.baseUrl").unwrap(),
        "http://localhost:7007"
    );
    assert_eq!(
        config
            .opt_string("backend.database.connection.user")
            .unwrap(),
        None
    );
    let err = config
        .string("backend.database.connection.user")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend.database.connection.user: missing required config value"
    );
}

#[test]
fn env_overrides_win_over_every_file() {
    let dir = tempfile::tempdir().unwrap();
    portal(dir.path());
    let mut vars = production_env();
    vars.extend(env(&[
        (
            "APP_CONFIG_backend_listen",
            "{\"port\": 9000, \"host\": \"127.0.0.1\"}",
        ),
        ("APP_CONFIG_app_title", "Env Portal"),
        ("APP_CONFIG_backend_database_connection_port", "6543"),
    ]));
    let config = ConfigLoader::new()
        .file(dir.path().join("app-config.yaml"))
        .file(dir.path().join("deploy/app-config.production.yaml"))
        .env_vars(vars)
        .load()
        .unwrap();
    assert_eq!(
        parse_listen(&config).unwrap(),
        ("127.0.0.1".to_owned(), 9000)
    );
    assert_eq!(config.string("app.title").unwrap(), "Env Portal");
    assert_eq!(
        config.get("backend.database.connection.port"),
        Some(&serde_json::json!(6543))
    );
    assert_eq!(
        config.string("backend.database.connection.host").unwrap(),
        "db.internal"
    );
}

#[test]
fn relative_file_paths_resolve_against_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a/app-config.yaml",
        "x: { $include: ../b/inc.yaml }\n",
    );
    write(dir.path(), "b/inc.yaml", "y: { $file: c/value.txt }\n");
    write(dir.path(), "b/c/value.txt", "from b/c\n");
    let config = ConfigLoader::new()
        .file(dir.path().join("a/app-config.yaml"))
        .env_vars(env(&[]))
        .load()
        .unwrap();
    assert_eq!(config.string("x.y").unwrap(), "from b/c");
}

#[test]
fn file_errors_name_the_file_directive_and_path_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.yaml", "app:\n  title: x\n   nested: y\n");
    let err = ConfigLoader::new()
        .file(dir.path().join("bad.yaml"))
        .env_vars(env(&[]))
        .load()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ConfigError::Parse { line: Some(3), .. }),
        "{text}"
    );
    assert!(text.contains("bad.yaml' line 3: "), "{text}");

    write(
        dir.path(),
        "main.yaml",
        "catalog:\n  locations: { $include: parts/locations.yaml }\n",
    );
    write(
        dir.path(),
        "parts/locations.yaml",
        "- $file: \"${SECRET_NAME}.txt\"\n",
    );
    let err = ConfigLoader::new()
        .file(dir.path().join("main.yaml"))
        .env_vars(env(&[("SECRET_NAME", "s3cr3t-token")]))
        .load()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("$include 'parts/locations.yaml' in '")
            && text.contains("main.yaml' at catalog.locations: $file '${SECRET_NAME}.txt' in '"),
        "{text}"
    );
    assert!(
        text.contains("locations.yaml' at catalog.locations[0]: failed to read file '"),
        "{text}"
    );
    assert!(text.contains("parts/${SECRET_NAME}.txt': "), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(std::error::Error::source(&err).is_some());

    write(
        dir.path(),
        "typo.yaml",
        "auth:\n  secret: { $envv: TOKEN }\n",
    );
    let err = ConfigLoader::new()
        .file(dir.path().join("typo.yaml"))
        .env_vars(env(&[("TOKEN", "tok-123")]))
        .load()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("at auth.secret: unknown directive '$envv'"),
        "{err}"
    );

    let err = ConfigLoader::new()
        .file(dir.path().join("nope.yaml"))
        .env_vars(env(&[]))
        .load()
        .unwrap_err();
    assert!(matches!(err, ConfigError::ReadFile { .. }));
    assert!(
        err.to_string().starts_with("failed to read config file '"),
        "{err}"
    );
}

#[test]
fn getter_errors_never_print_substituted_secrets() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app-config.yaml",
        "backend:\n  listen:\n    port: ${PORT_SECRET}\n  auth:\n    keys:\n      - secret: ${TOKEN}\n",
    );
    let config = ConfigLoader::new()
        .file(dir.path().join("app-config.yaml"))
        .env_vars(env(&[("PORT_SECRET", "p4ss-word"), ("TOKEN", "tok-123")]))
        .load()
        .unwrap();
    let backend = config.config("backend").unwrap();
    let err = backend.u16("listen.port").unwrap_err();
    assert_eq!(err.to_string(), "backend.listen.port: expected a number");
    let err = config.get_as::<Vec<u32>>("backend.auth.keys").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("backend.auth.keys[0]: invalid type"),
        "{err}"
    );
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Key {
        secret: u64,
    }
    let err = config.get_as::<Vec<Key>>("backend.auth.keys").unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend.auth.keys[0].secret: invalid type: string, expected u64"
    );
    assert!(!format!("{config:?}").contains("tok-123"));
}
