#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Fault tests of catalog ingestion: a backend process killed with `kill -9` at several points
//! of a 20,000-entity ingestion, a registering client that gives up, PostgreSQL restarted in
//! the middle of a pass, and SQLite running out of disk. After each, the catalog must hold
//! exactly the entities of the location, every relation stitched, no duplicates, and the
//! Location entity.
//!
//! The killed backend is this test binary itself, started again as a child process that runs
//! only [`fault_backend_child`]. Everything listens on 127.0.0.1; every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::plugins::catalog::common::{Entity, relations_from_spec};
use backlot::testing::TestBackend;
use serde_json::{Value, json};

/// Entities in the location.
const N: usize = 20_000;
/// Set in the child process: the config file of the backend it runs.
const CHILD_ENV: &str = "BACKLOT_FAULT_CHILD_CONFIG";
/// Longest wait for any one step.
const STEP: Duration = Duration::from_secs(600);

const RULES: &str =
    "  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n";

// ------------------------------------------------------------------ the child process

/// The backend process of the kill tests: does nothing unless started by them.
#[test]
fn fault_backend_child() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let backend = TestBackend::builder()
            .feature(Feature::plugin(CatalogPlugin::new()))
            .config_yaml(std::fs::read_to_string(config).unwrap())
            .start()
            .await
            .unwrap();
        println!("LISTEN {}", backend.url(""));
        std::io::Write::flush(&mut std::io::stdout()).unwrap();
        // Serve until the test closes stdin (or kills the process).
        tokio::task::spawn_blocking(|| {
            let mut rest = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest)
        })
        .await
        .unwrap()
        .unwrap();
        backend.stop().await.unwrap();
    });
}

struct ChildBackend {
    child: Child,
    listen: std::sync::mpsc::Receiver<String>,
}

impl ChildBackend {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fault_backend_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, listen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // The test harness prints `test fault_backend_child ... ` before it.
                if let Some((_, url)) = line.split_once("LISTEN ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        Self { child, listen }
    }

    /// The base URL once the backend is ready (its startup ingestion done).
    fn ready(&self) -> String {
        self.listen
            .recv_timeout(STEP)
            .expect("the backend process did not become ready")
    }

    /// `kill -9`.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

// ------------------------------------------------------------------ helpers

/// A client calling as a user of the test kit's mock auth (the backends here are
/// `TestBackend`s, the child's too), giving up after `timeout` when one is given.
fn user_client(timeout: Option<Duration>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        backlot::testing::mock_credentials::user_header("user:default/tester")
            .parse()
            .unwrap(),
    );
    let builder = reqwest::Client::builder().default_headers(headers);
    match timeout {
        Some(t) => builder.timeout(t),
        None => builder,
    }
    .build()
    .unwrap()
}

fn write_catalog(dir: &Path) -> (PathBuf, Expected) {
    let yaml = synthetic_catalog_yaml(N);
    let expected = Expected::from_yaml(&yaml);
    assert_eq!(expected.relations.len(), N);
    let path = dir.join("catalog.yaml");
    std::fs::write(&path, yaml).unwrap();
    (path, expected)
}

/// What a complete ingestion serves: every entity with its relations, from the spec alone.
struct Expected {
    relations: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl Expected {
    fn from_yaml(yaml: &str) -> Self {
        let mut relations: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        let mut known = BTreeSet::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc).unwrap();
            let entity: Entity = serde_json::from_value(value).unwrap();
            let me = entity.ref_string().to_lowercase();
            known.insert(me.clone());
            relations.entry(me.clone()).or_default();
            for r in relations_from_spec(&entity).unwrap() {
                let target = r.target.to_string().to_lowercase();
                relations
                    .entry(me.clone())
                    .or_default()
                    .insert((r.relation_type.to_owned(), target.clone()));
                relations
                    .entry(target)
                    .or_default()
                    .insert((r.reverse_type.to_owned(), me.clone()));
            }
        }
        // Relations to entities that do not exist are kept on the source only.
        relations.retain(|k, _| known.contains(k));
        Self { relations }
    }
}

fn entity_ref(e: &Value) -> String {
    format!(
        "{}:{}/{}",
        e["kind"].as_str().unwrap(),
        e["metadata"]["namespace"].as_str().unwrap_or("default"),
        e["metadata"]["name"].as_str().unwrap()
    )
    .to_lowercase()
}

/// Every entity the API serves, page by page.
async fn all_entities(base: &str) -> Vec<Value> {
    let http = user_client(None);
    let url = format!("{base}/api/catalog/entities/by-query");
    let fields = "kind,metadata.name,metadata.namespace,metadata.uid,relations";
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2000".to_owned()), ("fields", fields.to_owned())];
        if let Some(c) = cursor.take() {
            query.push(("cursor", c));
        }
        let page: Value = http
            .get(&url)
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["pageInfo"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn total(base: &str) -> u64 {
    let page: Value = user_client(None)
        .get(format!(
            "{base}/api/catalog/entities/by-query?limit=1&fields=kind"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["totalItems"].as_u64().unwrap()
}

/// Waits until the catalog serves every entity of the location, then checks it exactly.
async fn assert_complete(base: &str, expected: &Expected) {
    let deadline = Instant::now() + STEP;
    while total(base).await < (N + 1) as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let entities = all_entities(base).await;
    let mut refs = BTreeSet::new();
    let mut locations = 0;
    let mut wrong = Vec::new();
    for e in &entities {
        let r = entity_ref(e);
        assert!(refs.insert(r.clone()), "{r} served twice");
        if e["kind"] == "Location" {
            locations += 1;
            continue;
        }
        let got: BTreeSet<(String, String)> = e["relations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["type"].as_str().unwrap().to_owned(),
                    x["targetRef"].as_str().unwrap().to_lowercase(),
                )
            })
            .collect();
        match expected.relations.get(&r) {
            Some(want) if *want == got => {}
            Some(want) => wrong.push(format!("{r}: {} relations, want {}", got.len(), want.len())),
            None => wrong.push(format!("{r} is not in the location")),
        }
    }
    assert_eq!(locations, 1, "exactly the one Location entity");
    assert_eq!(refs.len(), N + 1, "every entity of the location, once");
    assert!(
        wrong.is_empty(),
        "{} entities wrong: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// A count from the catalog's SQLite file (0 while it does not exist yet), through one
/// read-only connection kept in `conn`.
async fn sqlite_count(
    conn: &mut Option<sqlx::sqlite::SqliteConnection>,
    file: &Path,
    sql: &str,
) -> i64 {
    if conn.is_none() && file.exists() {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(file)
            .read_only(true);
        *conn = sqlx::ConnectOptions::connect(&options).await.ok();
    }
    let Some(c) = conn.as_mut() else { return 0 };
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(c)
        .await
        .unwrap_or(0)
}

const PROCESSED: &str = "SELECT COUNT(*) FROM refresh_state WHERE processed_entity IS NOT NULL";
const STITCHED: &str = "SELECT COUNT(*) FROM final_entities";

/// Waits until `sql` on the catalog's file counts at least `at_least`; `false` if the
/// backend became ready first (the point was passed between two looks).
async fn wait_for(backend: &ChildBackend, file: &Path, sql: &str, at_least: i64) -> bool {
    let deadline = Instant::now() + STEP;
    let mut conn = None;
    loop {
        if sqlite_count(&mut conn, file, sql).await >= at_least {
            return true;
        }
        if backend.listen.try_recv().is_ok() {
            return false;
        }
        assert!(Instant::now() < deadline, "{sql} never reached {at_least}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sqlite_config(dir: &Path, extra: &str) -> String {
    format!(
        "backend:\n  reading:\n    fileAllow: ['{dir}']\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{dir}/db'\n{}{extra}",
        catalog_config(),
        dir = dir.display()
    )
}

/// The catalog config of every test: files registrable, every kind allowed.
fn catalog_config() -> String {
    format!(
        "catalog:\n  processingInterval: {{ hours: 1 }}\n  allowedLocationTypes: [url, file]\n{RULES}"
    )
}

// ------------------------------------------------------------------ the tests

/// `kill -9` while the first pass processes, while a restart stitches what the killed pass
/// left, while it processes the rest, and while it stitches the end; then one more restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_stage_of_ingestion_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, expected) = write_catalog(dir.path());
    let config = dir.path().join("app-config.yaml");
    std::fs::write(
        &config,
        sqlite_config(
            dir.path(),
            &format!(
                "  locations:\n    - type: file\n      target: '{}'\n",
                catalog.display()
            ),
        ),
    )
    .unwrap();
    let db = dir.path().join("db").join("catalog.sqlite");

    let points: [(&str, &str, i64); 4] = [
        ("first pass, processing", PROCESSED, 3_000),
        ("restart, stitching what the killed pass left", STITCHED, 1),
        ("restart, processing the rest", PROCESSED, 12_000),
        ("restart, stitching the end", STITCHED, 10_000),
    ];
    let started = Instant::now();
    for (what, sql, at) in points {
        let backend = ChildBackend::start(&config);
        let hit = wait_for(&backend, &db, sql, at).await;
        println!(
            "kill -9 at: {what} (reached: {hit}) after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        backend.kill();
    }
    let backend = ChildBackend::start(&config);
    let base = backend.ready();
    println!("ready again after {:.1} s", started.elapsed().as_secs_f64());
    assert_complete(&base, &expected).await;
    backend.stop();
}

/// The registering client gives up after a moment; the pass goes on without it, and a
/// `kill -9` in the middle of it is healed by the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registering_client_that_disconnects_cancels_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, expected) = write_catalog(dir.path());
    let config = dir.path().join("app-config.yaml");
    std::fs::write(&config, sqlite_config(dir.path(), "")).unwrap();
    let db = dir.path().join("db").join("catalog.sqlite");

    // First: the client leaves, the process lives: the pass finishes by itself.
    let backend = ChildBackend::start(&config);
    let base = backend.ready();
    let impatient = user_client(Some(Duration::from_millis(300)));
    let gave_up = impatient
        .post(format!("{base}/api/catalog/locations"))
        .json(&json!({ "type": "file", "target": catalog.display().to_string() }))
        .send()
        .await;
    assert!(
        gave_up.is_err(),
        "the ingestion should outlast the client's 300 ms"
    );
    assert_complete(&base, &expected).await;
    backend.stop();

    // Then: the client leaves and the process dies mid-pass.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = dir2.path().join("app-config.yaml");
    std::fs::write(&config2, sqlite_config(dir2.path(), "")).unwrap();
    let db2 = dir2.path().join("db").join("catalog.sqlite");
    let catalog2 = dir2.path().join("catalog.yaml");
    std::fs::copy(&catalog, &catalog2).unwrap();
    let backend = ChildBackend::start(&config2);
    let base = backend.ready();
    let _ = impatient
        .post(format!("{base}/api/catalog/locations"))
        .json(&json!({ "type": "file", "target": catalog2.display().to_string() }))
        .send()
        .await;
    let hit = wait_for(&backend, &db2, PROCESSED, 5_000).await;
    println!("kill -9 after the client left (reached: {hit})");
    backend.kill();
    let backend = ChildBackend::start(&config2);
    let base = backend.ready();
    assert_complete(&base, &expected).await;
    backend.stop();
    drop(db);
}

/// SQLite runs out of disk in the middle of the ingestion (the database lives on a tiny
/// tmpfs): the request fails cleanly, the backend keeps serving, and once there is room again
/// the next passes finish the job without anybody asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_mid_pass_is_finished_once_there_is_room() {
    // The refresh loop's warnings show what the full disk did.
    let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    let dir = tempfile::tempdir().unwrap();
    let (catalog, expected) = write_catalog(dir.path());
    let mount = dir.path().join("db");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&mount)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());

    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(sqlite_config(dir.path(), ""))
        .start()
        .await
        .unwrap();
    let res = backend
        .client()
        .post_json(
            "/api/catalog/locations",
            &json!({ "type": "file", "target": catalog.display().to_string() }),
        )
        .await
        .unwrap();
    let body: Value = res.json().unwrap_or(Value::Null);
    println!("registration on a full disk: {} {body}", res.status());
    assert_eq!(res.status(), 500, "the disk filled up: {body}");
    assert!(
        body["error"]["name"].is_string(),
        "Backstage's error JSON: {body}"
    );
    let base = backend.url("");
    let partial = total(&base).await;
    assert!(
        partial < (N + 1) as u64,
        "the disk should have filled mid-ingestion"
    );
    let health = reqwest::get(backend.url("/.backstage/health/v1/liveness"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the backend keeps serving");

    let grown = Command::new("mount")
        .args(["-o", "remount,size=1g"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(grown.success());
    assert_complete(&base, &expected).await;
    backend.stop().await.unwrap();
}

// ------------------------------------------------------------------ PostgreSQL restarted

/// A PostgreSQL server of this test's own (so restarting it disturbs no other test), from
/// the binaries in `BACKLOT_TEST_PG_BIN`, on 127.0.0.1 and a free port.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn start() -> Option<Self> {
        let Ok(bin) = std::env::var("BACKLOT_TEST_PG_BIN") else {
            println!("skipped: BACKLOT_TEST_PG_BIN (PostgreSQL's initdb and pg_ctl) is unset");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            dir,
            bin: PathBuf::from(bin),
            port,
        };
        // PostgreSQL refuses to run as root: run it as `postgres` then.
        let _ = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(pg.dir.path())
            .status();
        pg.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-D",
                &pg.data(),
            ],
        );
        pg.ctl(&["start"]);
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60"];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// PostgreSQL crashes and comes back while a registration's pass runs: the pass fails, the
/// backend lives on, and the refresh loop finishes the ingestion by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_pass_loses_nothing() {
    let Some(pg) = OwnPostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, expected) = write_catalog(dir.path());
    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(format!(
            "backend:\n  reading:\n    fileAllow: ['{}']\n  database:\n    client: pg\n    connection: '{}'\n{}",
            dir.path().display(),
            pg.url(),
            catalog_config()
        ))
        .start()
        .await
        .unwrap();
    let base = backend.url("");
    let impatient = user_client(Some(Duration::from_millis(300)));
    let _ = impatient
        .post(format!("{base}/api/catalog/locations"))
        .json(&json!({ "type": "file", "target": catalog.display().to_string() }))
        .send()
        .await;
    let catalog_db = format!(
        "postgres://postgres@127.0.0.1:{}/backstage_plugin_catalog",
        pg.port
    );
    let deadline = Instant::now() + STEP;
    loop {
        let n = async {
            let pool = sqlx::PgPool::connect(&catalog_db).await.ok()?;
            let n: i64 = sqlx::query_scalar(PROCESSED).fetch_one(&pool).await.ok()?;
            pool.close().await;
            Some(n)
        }
        .await
        .unwrap_or(0);
        if n >= 5_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the pass never got going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.ctl(&["-m", "immediate", "restart"]);
    println!("PostgreSQL restarted mid-pass");
    assert_complete(&base, &expected).await;
    backend.stop().await.unwrap();
}
