use super::*;

async fn sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("tasks.sqlite"))
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(opts).await.unwrap();
    (dir, Store::new(LeaseStore::Sqlite(pool)))
}

async fn lease_semantics(store: &Store) {
    let now = store.now().await.unwrap();
    store
        .upsert("t", "{}", Some(now - 1), Some(now + 10_000))
        .await
        .unwrap();
    // First claim wins, second loses while the lease is live.
    assert!(store.try_claim("t", "a", 400).await.unwrap());
    assert!(!store.try_claim("t", "b", 400).await.unwrap());
    assert_eq!(
        store.current_ticket("t").await.unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(store.trigger("t").await.unwrap(), Update::Conflict);
    assert!(store.states().await.unwrap()["t"].is_running());
    // The holder "dies": after the lease expires another claimant takes over.
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert!(store.try_claim("t", "b", 10_000).await.unwrap());
    // The dead holder's late release is refused.
    assert!(
        !store
            .release("t", "a", NextRun::AfterPrevious(1000), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .release(
                "t",
                "b",
                NextRun::AfterPrevious(60_000),
                Some("{\"name\":\"Error\",\"message\":\"x\"}")
            )
            .await
            .unwrap()
    );
    // Not due until the next period; a trigger makes it due now.
    assert!(!store.try_claim("t", "c", 1000).await.unwrap());
    match &store.states().await.unwrap()["t"] {
        TaskState::Idle {
            starts_at,
            last_run_error,
            ..
        } => {
            assert!(starts_at.is_some());
            assert!(last_run_error.as_deref().unwrap().contains("\"x\""));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(store.trigger("t").await.unwrap(), Update::Done);
    assert!(store.try_claim("t", "c", 1000).await.unwrap());
    assert_eq!(
        store.cancel("t", Some(None), "{}").await.unwrap(),
        Update::Done
    );
    assert_eq!(store.current_ticket("t").await.unwrap(), None);
    assert_eq!(
        store.cancel("t", Some(None), "{}").await.unwrap(),
        Update::Conflict
    );
    assert_eq!(store.trigger("nope").await.unwrap(), Update::Missing);
    // Manual (next = none) never becomes due by itself.
    assert!(!store.try_claim("t", "d", 1000).await.unwrap());
    // Re-registration keeps an earlier due time, replaces a later one.
    store
        .upsert("t", "{\"v\":2}", Some(now), Some(now + 5))
        .await
        .unwrap();
    assert!(store.try_claim("t", "e", 1000).await.unwrap());
}

#[tokio::test]
async fn memory_lease_semantics() {
    lease_semantics(&Store::new(LeaseStore::memory())).await;
}

#[tokio::test]
async fn sqlite_lease_semantics() {
    let (_dir, store) = sqlite().await;
    lease_semantics(&store).await;
}

/// A lease-semantics test on a server database: a fresh database from the URL in `$env`,
/// the store on it (`LeaseStore::$variant`), dropped afterwards whatever happened (`$drop` is
/// the `DROP DATABASE` statement's suffix).
macro_rules! server_lease_test {
    ($name:ident, $feature:literal, $env:literal, $pool:ty, $options:ty, $variant:ident, $drop:literal) => {
        #[cfg(feature = $feature)]
        #[tokio::test]
        async fn $name() {
            use futures::FutureExt;
            use std::str::FromStr;
            let Ok(url) = std::env::var($env) else {
                println!(concat!("skipped: ", $env, " not set"));
                return;
            };
            let admin = <$pool>::connect(&url).await.expect("server reachable");
            let name = format!("backlot_sched_unit_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            let opts = <$options>::from_str(&url).unwrap().database(&name);
            let pool = <$pool>::connect_with(opts).await.unwrap();
            let store = Store::new(LeaseStore::$variant(pool.clone()));
            let result = std::panic::AssertUnwindSafe(async {
                let db = store.now().await.unwrap();
                assert!((db - wall_clock_ms()).abs() < 5000, "db clock {db}");
                lease_semantics(&store).await;
            })
            .catch_unwind()
            .await;
            pool.close().await;
            sqlx::query(&format!(concat!("DROP DATABASE {}", $drop), name))
                .execute(&admin)
                .await
                .unwrap();
            if let Err(panic) = result {
                std::panic::resume_unwind(panic);
            }
        }
    };
}

server_lease_test!(
    postgres_lease_semantics,
    "postgres",
    "BACKLOT_TEST_POSTGRES_URL",
    sqlx::postgres::PgPool,
    sqlx::postgres::PgConnectOptions,
    Postgres,
    " WITH (FORCE)"
);

server_lease_test!(
    mysql_lease_semantics,
    "mysql",
    "BACKLOT_TEST_MYSQL_URL",
    sqlx::mysql::MySqlPool,
    sqlx::mysql::MySqlConnectOptions,
    Mysql,
    ""
);

#[tokio::test]
async fn sqlite_clock_matches_wall_clock() {
    let (_dir, store) = sqlite().await;
    let db = store.now().await.unwrap();
    assert!((db - wall_clock_ms()).abs() < 1000, "db clock {db}");
}
