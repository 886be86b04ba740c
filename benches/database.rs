//! Per-plugin database setup time: how long `DatabaseManager::for_plugin` takes to hand a
//! plugin a ready pool on each backend, plus the cost of the portable `Sql` helper over native
//! sqlx. PostgreSQL rows run when `BACKLOT_TEST_POSTGRES_URL` is set (feature `postgres`), MySQL
//! rows when `BACKLOT_TEST_MYSQL_URL` is set (feature `mysql`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backlot::services::database::{DatabaseManager, DbPool, Sql};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn next_plugin() -> String {
    format!("p{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Times `for_plugin` on a fresh manager for a plugin never opened before.
fn time_setup(
    rt: &tokio::runtime::Runtime,
    c: &mut Criterion,
    name: &str,
    config: serde_json::Value,
    sample_size: usize,
) {
    let mut group = c.benchmark_group("database_setup");
    group.sample_size(sample_size);
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let config = config.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let manager =
                        DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
                    let plugin = next_plugin();
                    let start = Instant::now();
                    let db = manager.for_plugin(&plugin).await.unwrap();
                    total += start.elapsed();
                    drop(db);
                    manager.close().await;
                }
                total
            }
        });
    });
    group.finish();
}

fn setup(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    time_setup(
        &rt,
        c,
        "sqlite_file_new",
        json!({ "client": "better-sqlite3", "connection": { "directory": dir.path() } }),
        50,
    );
    time_setup(
        &rt,
        c,
        "sqlite_memory",
        json!({ "client": "better-sqlite3", "connection": ":memory:" }),
        100,
    );

    // Reopening an existing file (a restart) rather than creating one.
    let existing = json!({ "client": "better-sqlite3", "connection": { "directory": dir.path() } });
    rt.block_on(async {
        let m = DatabaseManager::from_config(Some(&existing), Path::new(".")).unwrap();
        m.for_plugin("existing").await.unwrap();
        m.close().await;
    });
    c.bench_function("database_setup/sqlite_file_reopen", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let config = existing.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let m = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
                    let start = Instant::now();
                    m.for_plugin("existing").await.unwrap();
                    total += start.elapsed();
                    m.close().await;
                }
                total
            }
        });
    });

    #[cfg(feature = "postgres")]
    postgres(&rt, c);
    #[cfg(not(feature = "postgres"))]
    println!("skipped: PostgreSQL setup benches need the 'postgres' feature");
    #[cfg(feature = "mysql")]
    mysql(&rt, c);
    #[cfg(not(feature = "mysql"))]
    println!("skipped: MySQL setup benches need the 'mysql' feature");
}

/// MySQL / MariaDB: creating a plugin's database on first use, and reopening it.
#[cfg(feature = "mysql")]
fn mysql(rt: &tokio::runtime::Runtime, c: &mut Criterion) {
    let Ok(url) = std::env::var("BACKLOT_TEST_MYSQL_URL") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL not set");
        return;
    };
    let prefix = format!("bb{}_", std::process::id());
    time_setup(
        rt,
        c,
        "mysql_database_create",
        json!({ "client": "mysql2", "connection": url, "prefix": prefix }),
        10,
    );
    let config = json!({ "client": "mysql2", "connection": url, "prefix": prefix });
    rt.block_on(async {
        let m = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
        m.for_plugin("existing").await.unwrap();
        m.close().await;
    });
    let mut group = c.benchmark_group("database_setup");
    group.sample_size(30);
    group.bench_function("mysql_database_reopen", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let config = config.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let m = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
                    let start = Instant::now();
                    m.for_plugin("existing").await.unwrap();
                    total += start.elapsed();
                    m.close().await;
                }
                total
            }
        });
    });
    group.finish();

    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE ?",
        )
        .bind(format!("{prefix}%"))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (name,) in names {
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    });
}

#[cfg(feature = "postgres")]
fn postgres(rt: &tokio::runtime::Runtime, c: &mut Criterion) {
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let prefix = format!("bb{}_", std::process::id());
    time_setup(
        rt,
        c,
        "pg_database_mode_create",
        json!({ "client": "pg", "connection": url, "prefix": prefix }),
        10,
    );
    let schema_config = json!({
        "client": "pg",
        "pluginDivisionMode": "schema",
        "connection": { "connectionString": url, "database": format!("{prefix}shared") },
    });
    time_setup(rt, c, "pg_schema_mode_create", schema_config, 20);

    // Reopening an existing plugin database (a restart or a second replica).
    let config = json!({ "client": "pg", "connection": url, "prefix": prefix });
    rt.block_on(async {
        let m = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
        m.for_plugin("existing").await.unwrap();
        m.close().await;
    });
    let mut group = c.benchmark_group("database_setup");
    group.sample_size(30);
    group.bench_function("pg_database_mode_reopen", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let config = config.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let m = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
                    let start = Instant::now();
                    m.for_plugin("existing").await.unwrap();
                    total += start.elapsed();
                    m.close().await;
                }
                total
            }
        });
    });
    group.finish();

    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for (name,) in names.into_iter().filter(|(n,)| n.starts_with(&prefix)) {
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    });
}

/// The portable helper against native sqlx for one indexed lookup on in-memory SQLite.
fn helper_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let db = DatabaseManager::in_memory()
            .for_plugin("overhead")
            .await
            .unwrap();
        Sql::new("CREATE TABLE kv (k ${text} PRIMARY KEY, v ${bigint} NOT NULL)")
            .execute(&db)
            .await
            .unwrap();
        let DbPool::Sqlite(pool) = db.pool() else {
            unreachable!()
        };
        let mut tx = pool.begin().await.unwrap();
        for i in 0..1000_i64 {
            sqlx::query("INSERT INTO kv (k, v) VALUES (?, ?)")
                .bind(format!("k{i}"))
                .bind(i)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        db
    });
    let mut group = c.benchmark_group("database_query");
    group.bench_function("select_by_key_sql_helper", |b| {
        b.to_async(&rt).iter(|| async {
            let (v,): (i64,) = Sql::new("SELECT v FROM kv WHERE k = ?")
                .bind("k500")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(v, 500);
        });
    });
    group.bench_function("select_by_key_native_sqlx", |b| {
        let pool = db.pool().as_sqlite().unwrap().clone();
        b.to_async(&rt).iter(|| {
            let pool = pool.clone();
            async move {
                let (v,): (i64,) = sqlx::query_as("SELECT v FROM kv WHERE k = ?")
                    .bind("k500")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(v, 500);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, setup, helper_overhead);
criterion_main!(benches);
