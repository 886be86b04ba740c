use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<DatabaseConfig, DatabaseError> {
    DatabaseConfig::parse(Some(&v), Path::new("/data"))
}

#[test]
fn no_config_means_one_file_per_plugin_in_the_data_dir() {
    let c = DatabaseConfig::parse(None, Path::new("/data")).unwrap();
    let s = c.resolve("catalog").unwrap();
    assert!(
        matches!(s.target, Target::SqliteFile(ref p) if p == Path::new("/data/catalog.sqlite"))
    );
    assert!(!s.skip_migrations);
}

#[test]
fn directory_gives_one_file_per_plugin() {
    let c =
        parse(json!({"client": "better-sqlite3", "connection": {"directory": "/var/db"}})).unwrap();
    let s = c.resolve("search").unwrap();
    assert!(
        matches!(s.target, Target::SqliteFile(ref p) if p == Path::new("/var/db/search.sqlite"))
    );
}

#[test]
fn memory_connection_string() {
    let c = parse(json!({"client": "sqlite3", "connection": ":memory:"})).unwrap();
    assert!(matches!(
        c.resolve("a").unwrap().target,
        Target::SqliteMemory
    ));
}

#[test]
fn base_filename_is_rejected_naming_the_key() {
    let err = parse(json!({"client": "sqlite3", "connection": {"filename": "x.db"}})).unwrap_err();
    assert!(
        matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.connection")
    );
}

#[test]
fn plugin_filename_override() {
    let c = parse(json!({
        "client": "sqlite3",
        "connection": {"directory": "/d"},
        "plugin": {"auth": {"connection": {"filename": "auth-data.db"}}}
    }))
    .unwrap();
    assert!(
        matches!(c.resolve("auth").unwrap().target, Target::SqliteFile(ref p) if p == Path::new("/d/auth-data.db"))
    );
    assert!(
        matches!(c.resolve("other").unwrap().target, Target::SqliteFile(ref p) if p == Path::new("/d/other.sqlite"))
    );
}

#[test]
fn unknown_client_names_key_and_supported_clients() {
    let err = parse(json!({"client": "oracle"})).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("'oracle'") && msg.contains("backend.database.client") && msg.contains("pg"),
        "{msg}"
    );
    let err =
        parse(json!({"client": "sqlite3", "plugin": {"x": {"client": "mssql"}}})).unwrap_err();
    assert!(
        matches!(err, DatabaseError::UnsupportedClient { ref key, .. } if key == "backend.database.plugin.x.client")
    );
}

#[cfg(not(feature = "postgres"))]
#[test]
fn pg_without_feature_says_to_enable_it() {
    let err = parse(json!({"client": "pg", "connection": "postgres://localhost"})).unwrap_err();
    assert!(matches!(
        err,
        DatabaseError::FeatureDisabled {
            feature: "postgres",
            ..
        }
    ));
}

#[cfg(not(feature = "mysql"))]
#[test]
fn mysql_without_feature_says_to_enable_it() {
    let err = parse(json!({"client": "mysql2", "connection": "mysql://localhost"})).unwrap_err();
    assert!(matches!(
        err,
        DatabaseError::FeatureDisabled {
            feature: "mysql",
            ..
        }
    ));
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_rejects_schema_mode_and_gets_one_database_per_plugin() {
    let err = parse(json!({"client": "mysql2", "pluginDivisionMode": "schema"})).unwrap_err();
    assert!(
        matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.pluginDivisionMode")
    );
    let c = parse(
        json!({"client": "mysql2", "connection": {"host": "db", "user": "u", "password": "p"}}),
    )
    .unwrap();
    let Target::Mysql(t) = c.resolve("catalog").unwrap().target else {
        panic!("expected a MySQL target");
    };
    assert_eq!(t.database, "backstage_plugin_catalog");
    assert_eq!(t.describe(), "mysql db:3306/backstage_plugin_catalog");
}

#[test]
fn wrong_types_name_their_key() {
    let err = parse(json!({"client": "sqlite3", "skipMigrations": 3})).unwrap_err();
    assert!(
        matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.skipMigrations")
    );
    let err = parse(
        json!({"client": "sqlite3", "plugin": {"a": {"knexConfig": {"pool": {"max": "x"}}}}}),
    )
    .unwrap_err();
    assert!(
        matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.plugin.a.knexConfig.pool.max")
    );
}

#[test]
fn schema_mode_needs_pg() {
    let err = parse(json!({"client": "sqlite3", "pluginDivisionMode": "schema"})).unwrap_err();
    assert!(
        matches!(err, DatabaseError::Config { ref key, .. } if key == "backend.database.pluginDivisionMode")
    );
}

#[test]
fn pool_settings_merge_knex_then_pool_and_plugin_wins() {
    let c = parse(json!({
        "client": "sqlite3",
        "knexConfig": {"pool": {"min": 1, "max": 3}, "acquireConnectionTimeout": 5000},
        "pool": {"max": 7},
        "plugin": {"p": {"pool": {"max": 9}, "knexConfig": {"pool": {"min": 2}}}}
    }))
    .unwrap();
    let p = c.resolve("p").unwrap().pool;
    assert_eq!((p.min, p.max), (Some(2), Some(9)));
    assert_eq!(p.acquire_timeout, Some(Duration::from_secs(5)));
    let o = c.resolve("other").unwrap().pool;
    assert_eq!((o.min, o.max), (Some(1), Some(7)));
}

#[test]
fn skip_migrations_plugin_overrides_base() {
    let c =
        parse(json!({"skipMigrations": true, "plugin": {"a": {"skipMigrations": false}}})).unwrap();
    assert!(!c.resolve("a").unwrap().skip_migrations);
    assert!(c.resolve("b").unwrap().skip_migrations);
}

#[test]
fn debug_output_hides_connection_secrets() {
    let c = parse(
        json!({"client": "sqlite3", "connection": {"directory": "/d", "password": "hunter2"}}),
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn plugin_ids_are_checked() {
    assert!(validate_plugin_id("catalog").is_ok());
    assert!(validate_plugin_id("tech-docs2").is_ok());
    for bad in ["", "1x", "a--b", "a-", "../etc", "a b", "a_b"] {
        assert!(validate_plugin_id(bad).is_err(), "{bad}");
    }
}
