//! Catalog load benchmark over real HTTP: ingest a synthetic catalog, then drive the catalog
//! API with a small load generator and report latency, throughput and memory.
//!
//! ```sh
//! cargo bench --features testing --bench catalog_load                       # N=10,000, SQLite
//! CATALOG_LOAD_N=100000 cargo bench --features testing --bench catalog_load
//! BACKLOT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench --features testing,postgres --bench catalog_load          # SQLite and PostgreSQL
//! BACKLOT_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 \
//!   cargo bench --features testing,mysql --bench catalog_load             # SQLite and MariaDB
//! ```
//!
//! Environment:
//! - `CATALOG_LOAD_N`: catalog sizes, comma-separated (default `10000`).
//! - `CATALOG_LOAD_SECS`: seconds of load per endpoint (default `5`).
//! - `CATALOG_LOAD_MAX_REQUESTS`: request cap per endpoint (default `200000`).
//! - `BACKLOT_TEST_POSTGRES_URL`: also measure PostgreSQL (needs the `postgres` feature), in a
//!   fresh database that is dropped afterwards.
//! - `BACKLOT_TEST_MYSQL_URL`: also measure MySQL / MariaDB (needs the `mysql` feature), in
//!   fresh databases that are dropped afterwards.
//! - `CATALOG_LOAD_TRACE`: the backend logs every SQL statement with its time (`sqlx::query`,
//!   and `backlot::sql` for PostgreSQL's `COPY`, at debug) to standard error, to see where
//!   ingestion spends its database time.
//! - `CATALOG_LOAD_SEARCH`: the backend also runs the search plugin (embedded engine in the
//!   temp dir) with its catalog collator; after ingestion the collator is triggered once, and
//!   the backend's peak RSS is read again when it has indexed the whole catalog.
//! - `CATALOG_LOAD_SERVER_WRAPPER`: a profiler command the backend runs under (for example
//!   `heaptrack -o /tmp/ht` or `perf record -g -o /tmp/perf.data --`); the memory figures are
//!   then the wrapper's, not the backend's.
//!
//! The backend runs on mimalloc, the portal example's global allocator: under glibc's
//! allocator a 100,000-entity ingestion took about 1.7 times as long (`docs/deployment.md`).
//!
//! For each size and database, a fresh process (so peak RSS is that case's own) writes the
//! catalog of `synthetic_catalog_yaml(N)` as location files of 10,000 entities, starts a
//! backend with the catalog plugin on 127.0.0.1 (SQLite file in a temp dir, or PostgreSQL), and
//! times start-up until every entity is visible and stitched through the HTTP API. Then, for
//! each endpoint, exactly 2 keep-alive connections send requests back to back for
//! `CATALOG_LOAD_SECS`; every response must be 200 with the expected content, or the run fails.
//! The backend runs in a child process of its own (this program, started again with
//! `CATALOG_LOAD_SERVER_CONFIG`), so its peak RSS (VmHWM) is the backend's alone: it is read
//! after ingestion and at the end, and excludes the load generator and a PostgreSQL server.
//! Refresh is set to one hour
//! so that no reprocessing runs during the load. Prints markdown tables; exits non-zero on any
//! failure.

#![allow(missing_docs, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::plugins::search::backend::{
    CATALOG_DOCUMENT_TYPE, SearchCatalogCollatorModule, SearchPlugin, collator_task_id,
};
use backlot::testing::{DEFAULT_MOCK_USER, TestBackend, mock_credentials};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The portal example's allocator, so the figures are the portal's (see "Memory allocator"
/// in `docs/deployment.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// Concurrent keep-alive connections per endpoint.
const CONNECTIONS: usize = 2;
/// Entities per location file.
const ENTITIES_PER_FILE: usize = 10_000;
/// Longest wait for ingestion once the backend is up.
const INGEST_TIMEOUT: Duration = Duration::from_secs(1800);
/// Set (by the parent) in the process that measures one case: `<database> <N>`.
const CASE_ENV: &str = "CATALOG_LOAD_CASE";
/// The PostgreSQL database prefix the parent chose for a case.
const PG_PREFIX_ENV: &str = "CATALOG_LOAD_PG_PREFIX";
const PG_URL_ENV: &str = "BACKLOT_TEST_POSTGRES_URL";
const MY_URL_ENV: &str = "BACKLOT_TEST_MYSQL_URL";
/// Set in the backend child process: the path of its config file.
const SERVER_ENV: &str = "CATALOG_LOAD_SERVER_CONFIG";

fn main() -> ExitCode {
    let outcome = match (std::env::var(SERVER_ENV), std::env::var(CASE_ENV)) {
        (Ok(config), _) => run_server(&config),
        (_, Ok(case)) => run_case_process(&case),
        _ => run_all(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catalog_load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_number(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => Ok(v.trim().parse().map_err(|e| format!("{name}={v}: {e}"))?),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: one child process per case, then the tables.

/// What one case measured (the child prints it as a JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct CaseResult {
    n: usize,
    database: String,
    ingest_secs: f64,
    rss_after_ingest_mb: f64,
    /// With `CATALOG_LOAD_SEARCH`: peak RSS once the collator indexed the catalog, and the
    /// seconds that took.
    #[serde(default)]
    search: Option<SearchResult>,
    rss_peak_mb: f64,
    endpoints: Vec<EndpointResult>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SearchResult {
    index_secs: f64,
    rss_peak_mb: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct EndpointResult {
    name: String,
    requests: usize,
    per_sec: f64,
    median_ms: f64,
    p99_ms: f64,
}

fn run_all() -> Result<()> {
    let sizes: Vec<usize> = std::env::var("CATALOG_LOAD_N")
        .unwrap_or_else(|_| "10000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|e| format!("CATALOG_LOAD_N: {s}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let mut databases = vec!["sqlite"];
    match std::env::var(PG_URL_ENV) {
        Ok(_) if cfg!(feature = "postgres") => databases.push("postgres"),
        Ok(_) => eprintln!("PostgreSQL skipped: build with --features testing,postgres"),
        Err(_) => eprintln!("PostgreSQL skipped: {PG_URL_ENV} not set"),
    }
    match std::env::var(MY_URL_ENV) {
        Ok(_) if cfg!(feature = "mysql") => databases.push("mysql"),
        Ok(_) => eprintln!("MySQL skipped: build with --features testing,mysql"),
        Err(_) => eprintln!("MySQL skipped: {MY_URL_ENV} not set"),
    }
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for &n in &sizes {
        for &database in &databases {
            eprintln!("== N={n}, {database}");
            let prefix = format!("backlot_load_{}_", uuid::Uuid::new_v4().simple());
            let out = Command::new(&exe)
                .env(CASE_ENV, format!("{database} {n}"))
                .env(PG_PREFIX_ENV, &prefix)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            if database == "postgres" {
                drop_pg_databases(&prefix)?;
            }
            if database == "mysql" {
                drop_my_databases(&prefix)?;
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "));
            match (out.status.success(), line) {
                (true, Some(line)) => results.push(serde_json::from_str::<CaseResult>(line)?),
                _ => failures.push(format!("N={n} {database}: {}", out.status)),
            }
        }
    }
    print_tables(&results);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failures.join("; ")).into())
    }
}

#[cfg(feature = "postgres")]
fn drop_pg_databases(prefix: &str) -> Result<()> {
    use sqlx::{Connection, PgConnection};
    let url = std::env::var(PG_URL_ENV)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut conn = PgConnection::connect(&url).await?;
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(prefix)
                .fetch_all(&mut conn)
                .await?;
        for (name,) in names {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(&sql).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok::<(), Error>(())
    })
}

#[cfg(not(feature = "postgres"))]
fn drop_pg_databases(_prefix: &str) -> Result<()> {
    Ok(())
}

#[cfg(feature = "mysql")]
fn drop_my_databases(prefix: &str) -> Result<()> {
    use sqlx::{Connection, MySqlConnection};
    let url = std::env::var(MY_URL_ENV)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut conn = MySqlConnection::connect(&url).await?;
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE ?",
        )
        .bind(format!("{prefix}%"))
        .fetch_all(&mut conn)
        .await?;
        for (name,) in names {
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok::<(), Error>(())
    })
}

#[cfg(not(feature = "mysql"))]
fn drop_my_databases(_prefix: &str) -> Result<()> {
    Ok(())
}

fn print_tables(results: &[CaseResult]) {
    let secs = env_number("CATALOG_LOAD_SECS", 5).unwrap_or(5);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // "x SQLite": the PostgreSQL figure divided by SQLite's for the same N.
    let ratio = |r: &CaseResult, pick: &dyn Fn(&CaseResult) -> Option<f64>| -> String {
        let sqlite = results
            .iter()
            .find(|s| s.n == r.n && s.database == "sqlite");
        match (r.database.as_str(), sqlite.and_then(pick), pick(r)) {
            ("sqlite", _, _) => String::new(),
            (_, Some(base), Some(v)) if base > 0.0 => format!(" ({:.2}x SQLite)", v / base),
            _ => String::new(),
        }
    };
    let mut sizes: Vec<usize> = results.iter().map(|r| r.n).collect();
    sizes.dedup();
    for n in sizes {
        let rows: Vec<&CaseResult> = results.iter().filter(|r| r.n == n).collect();
        println!(
            "\n### Catalog load, N = {n} ({CONNECTIONS} connections, {secs} s per endpoint, {cores} cores)\n"
        );
        println!(
            "| database | ingest to queryable (s) | peak RSS after ingest (MB) | search indexed (s) | peak RSS after search indexed (MB) | peak RSS at end (MB) |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for r in &rows {
            let search = |f: fn(&SearchResult) -> f64, digits: usize| {
                r.search
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |s| format!("{:.*}", digits, f(s)))
            };
            println!(
                "| {} | {:.2}{} | {:.0}{} | {} | {} | {:.0}{} |",
                r.database,
                r.ingest_secs,
                ratio(r, &|c| Some(c.ingest_secs)),
                r.rss_after_ingest_mb,
                ratio(r, &|c| Some(c.rss_after_ingest_mb)),
                search(|s| s.index_secs, 2),
                search(|s| s.rss_peak_mb, 0),
                r.rss_peak_mb,
                ratio(r, &|c| Some(c.rss_peak_mb)),
            );
        }
        println!("\n| endpoint | database | requests | req/s | median (ms) | p99 (ms) |");
        println!("|---|---|---:|---:|---:|---:|");
        let names: Vec<&str> = rows
            .first()
            .map(|r| r.endpoints.iter().map(|e| e.name.as_str()).collect())
            .unwrap_or_default();
        for name in names {
            for r in &rows {
                let Some(e) = r.endpoints.iter().find(|e| e.name == name) else {
                    continue;
                };
                let pick = |field: fn(&EndpointResult) -> f64| {
                    move |c: &CaseResult| c.endpoints.iter().find(|x| x.name == name).map(field)
                };
                println!(
                    "| {name} | {} | {} | {} | {:.3}{} | {:.3}{} |",
                    r.database,
                    e.requests,
                    rate(e.per_sec),
                    e.median_ms,
                    ratio(r, &pick(|e| e.median_ms)),
                    e.p99_ms,
                    ratio(r, &pick(|e| e.p99_ms)),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One case, in its own process.

fn run_case_process(case: &str) -> Result<()> {
    let (database, n) = case
        .split_once(' ')
        .ok_or_else(|| format!("{CASE_ENV}={case}: expected '<database> <N>'"))?;
    let n: usize = n.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(run_case(database, n))?;
    println!("RESULT {}", serde_json::to_string(&result)?);
    Ok(())
}

async fn run_case(database: &str, n: usize) -> Result<CaseResult> {
    let dir = tempfile::tempdir()?;
    let (facts, files) = {
        let yaml = synthetic_catalog_yaml(n);
        let facts = Facts::from_yaml(&yaml)?;
        let files = write_location_files(&yaml, dir.path())?;
        (Arc::new(facts), files)
    };
    let config = backend_config(database, dir.path(), &files)?;
    let config_path = dir.path().join("app-config.yaml");
    std::fs::write(&config_path, config)?;

    // The backend runs in a child process of its own, so its memory is measured alone.
    let started = Instant::now();
    let mut server = server_command()?
        .env(SERVER_ENV, &config_path)
        .env_remove(CASE_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = server.id();
    let base = {
        let stdout = server
            .stdout
            .take()
            .ok_or("no stdout of the backend process")?;
        // The first `LISTEN` line (a profiler wrapping the backend may print before it).
        tokio::task::spawn_blocking(move || {
            let lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
            for line in lines {
                if let Some(url) = line?.strip_prefix("LISTEN ") {
                    return Ok(url.trim().to_owned());
                }
            }
            Err::<String, Error>("the backend process did not start".into())
        })
        .await??
    };
    wait_until_stitched(&base, &facts, files.len()).await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    let rss_after_ingest_mb = vm_status_mb(pid, "VmHWM:")?;
    eprintln!(
        "  ingested {n} entities in {ingest_secs:.2} s; backend VmHWM {rss_after_ingest_mb:.0} MB, VmRSS {:.0} MB",
        vm_status_mb(pid, "VmRSS:")?
    );
    let search = if search_enabled() {
        let started = Instant::now();
        // One Location entity per file besides the catalog's own.
        index_search(&base, facts.entities.len() + files.len()).await?;
        let result = SearchResult {
            index_secs: started.elapsed().as_secs_f64(),
            rss_peak_mb: vm_status_mb(pid, "VmHWM:")?,
        };
        eprintln!(
            "  search indexed the catalog in {:.2} s; backend VmHWM {:.0} MB, VmRSS {:.0} MB",
            result.index_secs,
            result.rss_peak_mb,
            vm_status_mb(pid, "VmRSS:")?
        );
        Some(result)
    } else {
        None
    };

    let secs = env_number("CATALOG_LOAD_SECS", 5)?;
    let cap = env_number("CATALOG_LOAD_MAX_REQUESTS", 200_000)?;
    let mut endpoints = Vec::new();
    for endpoint in Endpoint::ALL {
        let r = measure(endpoint, &base, &facts, Duration::from_secs(secs), cap).await?;
        eprintln!(
            "  {:<28} {:>7} requests {:>8} req/s  median {:.3} ms  p99 {:.3} ms",
            r.name,
            r.requests,
            rate(r.per_sec),
            r.median_ms,
            r.p99_ms
        );
        endpoints.push(r);
    }
    let rss_peak_mb = vm_status_mb(pid, "VmHWM:")?;
    // Closing its stdin stops the backend.
    drop(server.stdin.take());
    tokio::task::spawn_blocking(move || server.wait()).await??;
    Ok(CaseResult {
        n,
        database: database.to_owned(),
        ingest_secs,
        rss_after_ingest_mb,
        search,
        rss_peak_mb,
        endpoints,
    })
}

/// Whether `CATALOG_LOAD_SEARCH` asks for the search plugin.
fn search_enabled() -> bool {
    std::env::var_os("CATALOG_LOAD_SEARCH").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Triggers the catalog collator's task and waits until its run has ended without error.
async fn index_search(catalog_base: &str, entities: usize) -> Result<()> {
    let root = catalog_base
        .strip_suffix("/api/catalog")
        .ok_or("unexpected catalog URL")?;
    let task = format!(
        "{root}/api/search/.backstage/scheduler/v1/tasks/{}",
        collator_task_id(CATALOG_DOCUMENT_TYPE)
    );
    let http = authed_client(reqwest::Client::builder())?;
    let res = http.post(format!("{task}/trigger")).send().await?;
    if res.status() != 200 {
        return Err(format!("POST {task}/trigger: {}", res.status()).into());
    }
    let started = Instant::now();
    loop {
        let res = http.get(&task).send().await?;
        if res.status() != 200 {
            return Err(format!("GET {task}: {}", res.status()).into());
        }
        let body: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
        let state = &body["taskState"];
        if state["status"] == "idle" && state["lastRunEndedAt"].is_string() {
            if let Some(e) = state["lastRunError"].as_str() {
                return Err(format!("the catalog collator failed: {e}").into());
            }
            // Every entity, the location entities among them, is a document.
            let query =
                format!("{root}/api/search/query?term=&types%5B0%5D={CATALOG_DOCUMENT_TYPE}");
            let res = http.get(&query).send().await?;
            let body: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
            let found = body["numberOfResults"].as_u64().unwrap_or(0) as usize;
            return if found == entities {
                Ok(())
            } else {
                Err(format!("search holds {found} documents, want {entities}").into())
            };
        }
        if started.elapsed() > INGEST_TIMEOUT {
            return Err(format!("the catalog collator did not finish: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The command that starts the backend process: this program, or under the profiler named by
/// `CATALOG_LOAD_SERVER_WRAPPER` (e.g. `heaptrack` or `perf record -g --`; its figures are then
/// the wrapper's, not the backend's).
fn server_command() -> Result<Command> {
    let exe = std::env::current_exe()?;
    let wrapper = std::env::var("CATALOG_LOAD_SERVER_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    Ok(match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    })
}

/// Splits the catalog into files of [`ENTITIES_PER_FILE`] documents; returns their paths.
fn write_location_files(yaml: &str, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let docs: Vec<&str> = yaml.split("---\n").filter(|d| !d.is_empty()).collect();
    let mut files = Vec::new();
    for (i, chunk) in docs.chunks(ENTITIES_PER_FILE).enumerate() {
        let path = dir.join(format!("catalog-{i}.yaml"));
        let mut text = String::with_capacity(chunk.iter().map(|d| d.len() + 4).sum());
        for d in chunk {
            text.push_str("---\n");
            text.push_str(d);
        }
        std::fs::write(&path, text)?;
        files.push(path);
    }
    Ok(files)
}

fn backend_config(
    database: &str,
    dir: &std::path::Path,
    files: &[std::path::PathBuf],
) -> Result<String> {
    let db = match database {
        "sqlite" => format!(
            "    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
            dir.join("db").display()
        ),
        "postgres" => format!(
            "    client: pg\n    connection: '{}'\n    prefix: {}\n",
            std::env::var(PG_URL_ENV)?,
            std::env::var(PG_PREFIX_ENV)?
        ),
        "mysql" => format!(
            "    client: mysql2\n    connection: '{}'\n    prefix: {}\n",
            std::env::var(MY_URL_ENV)?,
            std::env::var(PG_PREFIX_ENV)?
        ),
        other => return Err(format!("unknown database {other}").into()),
    };
    let mut config = format!(
        "backend:\n  database:\n{db}catalog:\n  processingInterval: {{ hours: 1 }}\n  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n  locations:\n"
    );
    for f in files {
        config.push_str(&format!(
            "    - type: file\n      target: '{}'\n",
            f.display()
        ));
    }
    if search_enabled() {
        // The collator runs only when the parent triggers it, after ingestion.
        config.push_str(&format!(
            "search:\n  embedded:\n    directory: '{}'\n  collators:\n    catalog:\n      schedule:\n        frequency: {{ hours: 1 }}\n        timeout: {{ minutes: 30 }}\n        initialDelay: {{ hours: 1 }}\n",
            dir.join("search").display()
        ));
    }
    Ok(config)
}

/// Requests per second, with a decimal below 100.
fn rate(per_sec: f64) -> String {
    if per_sec < 100.0 {
        format!("{per_sec:.1}")
    } else {
        format!("{per_sec:.0}")
    }
}

/// The backend process: starts the catalog from `config`, prints `LISTEN <catalog url>` once
/// everything is ingested, and serves until its stdin closes.
fn run_server(config: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Standard output carries the `LISTEN` line; the trace goes to standard error.
    if std::env::var_os("CATALOG_LOAD_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "sqlx::query=debug,backlot::sql=debug",
            ))
            .init();
    }
    rt.block_on(async {
        let mut builder = TestBackend::builder().feature(Feature::plugin(CatalogPlugin::new()));
        if search_enabled() {
            builder = builder
                .feature(Feature::plugin(SearchPlugin::new()))
                .feature(Feature::module(SearchCatalogCollatorModule));
        }
        let backend = builder
            .config_yaml(std::fs::read_to_string(config)?)
            .start()
            .await?;
        println!("LISTEN {}", backend.url("/api/catalog"));
        std::io::Write::flush(&mut std::io::stdout())?;
        tokio::task::spawn_blocking(|| {
            let mut rest = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest)
        })
        .await??;
        backend.stop().await?;
        Ok(())
    })
}

/// A size line (`VmHWM:`, `VmRSS:`) of a process's /proc status, in MB.
fn vm_status_mb(pid: u32, field: &str) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    Ok(kb / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// What the catalog must answer, from the generated YAML.

/// The parts of an entity the checks look at (in the YAML and in responses).
#[derive(Debug, Deserialize)]
struct EntityView {
    kind: String,
    metadata: Metadata,
    #[serde(default)]
    spec: Option<Spec>,
    #[serde(default)]
    relations: Option<Vec<IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(rename = "type")]
    spec_type: Option<String>,
    owner: Option<String>,
}

#[derive(Debug)]
struct Facts {
    /// `(lowercase kind, name)` of every entity, all in the default namespace.
    entities: Vec<(String, String)>,
    /// Components of `spec.type` service.
    services: usize,
    /// Entities with a `spec.owner` (so an `ownedBy` relation) and distinct owners.
    owned: usize,
    owners: usize,
    /// Entities per `spec.type` value.
    spec_types: BTreeMap<String, usize>,
    /// Full-text terms and how many entity names contain each.
    terms: Vec<(String, usize)>,
}

impl Facts {
    fn from_yaml(yaml: &str) -> Result<Self> {
        let mut entities = Vec::new();
        let (mut services, mut owned) = (0, 0);
        let mut owners = std::collections::HashSet::new();
        let mut spec_types = BTreeMap::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let e = EntityView::deserialize(doc)?;
            let kind = e.kind.to_lowercase();
            let spec = e.spec.unwrap_or(Spec {
                spec_type: None,
                owner: None,
            });
            if let Some(t) = spec.spec_type {
                services += usize::from(kind == "component" && t == "service");
                *spec_types.entry(t).or_insert(0) += 1;
            }
            if let Some(owner) = spec.owner {
                owned += 1;
                owners.insert(owner);
            }
            entities.push((kind, e.metadata.name));
        }
        let components = entities.iter().filter(|(k, _)| k == "component").count();
        let mut rng = fastrand::Rng::with_seed(7);
        let terms = (0..50)
            .map(|_| {
                let term = format!("component-{}", rng.usize(..components.max(1)));
                let hits = entities.iter().filter(|(_, n)| n.contains(&term)).count();
                (term, hits)
            })
            .collect();
        Ok(Self {
            entities,
            services,
            owned,
            owners: owners.len(),
            spec_types,
            terms,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<EntityView>,
    total_items: usize,
    page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    next_cursor: Option<String>,
}

/// A client sending the test backend's mock user token (the catalog is behind the
/// default-deny auth layer).
fn authed_client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", mock_credentials::user_token(DEFAULT_MOCK_USER)).parse()?,
    );
    Ok(builder.default_headers(headers).build()?)
}

/// `GET by-query?limit=0&filter=...` → `totalItems`.
async fn count(http: &reqwest::Client, base: &str, filter: &str) -> Result<usize> {
    let url = format!("{base}/entities/by-query?limit=0{filter}");
    let res = http.get(&url).send().await?;
    if res.status() != 200 {
        return Err(format!("GET {url}: {}", res.status()).into());
    }
    Ok(serde_json::from_slice::<Page>(&res.bytes().await?)?.total_items)
}

/// Polls until every entity (plus one Location per file) is visible and the owner relations
/// are stitched in both directions.
async fn wait_until_stitched(base: &str, facts: &Facts, files: usize) -> Result<()> {
    let http = authed_client(reqwest::Client::builder())?;
    let checks = [
        ("", facts.entities.len() + files),
        ("&filter=relations.ownedBy", facts.owned),
        ("&filter=relations.ownerOf", facts.owners),
    ];
    let started = Instant::now();
    let mut i = 0;
    while i < checks.len() {
        let (filter, want) = checks[i];
        let got = count(&http, base, filter).await?;
        if got == want {
            i += 1;
            continue;
        }
        if got > want || started.elapsed() > INGEST_TIMEOUT {
            return Err(format!("by-query?limit=0{filter}: {got} entities, want {want}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The load generator.

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    ByName,
    QueryFirstPage,
    QueryCursorChain,
    Facets,
    ByRefs,
    FullText,
}

impl Endpoint {
    const ALL: [Self; 6] = [
        Self::ByName,
        Self::QueryFirstPage,
        Self::QueryCursorChain,
        Self::Facets,
        Self::ByRefs,
        Self::FullText,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ByName => "by-name",
            Self::QueryFirstPage => "by-query service, page 1",
            Self::QueryCursorChain => "by-query service, all pages",
            Self::Facets => "entity-facets spec.type",
            Self::ByRefs => "by-refs, 20 refs",
            Self::FullText => "by-query full text",
        }
    }
}

const SERVICES_QUERY: &str = "/entities/by-query?filter=kind=component,spec.type=service&limit=100";

/// Runs `endpoint` over [`CONNECTIONS`] connections for `duration` or `cap` requests.
async fn measure(
    endpoint: Endpoint,
    base: &str,
    facts: &Arc<Facts>,
    duration: Duration,
    cap: u64,
) -> Result<EndpointResult> {
    let budget = Arc::new(AtomicU64::new(cap));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (base, facts, budget) = (base.to_owned(), Arc::clone(facts), Arc::clone(&budget));
            tokio::spawn(async move {
                connection(endpoint, &base, &facts, deadline, &budget, i as u64).await
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(EndpointResult {
        name: endpoint.name().to_owned(),
        requests: latencies.len(),
        per_sec: latencies.len() as f64 / elapsed,
        median_ms: at(0.5),
        p99_ms: at(0.99),
    })
}

/// One keep-alive connection sending requests back to back; returns each request's latency.
async fn connection(
    endpoint: Endpoint,
    base: &str,
    facts: &Facts,
    deadline: Instant,
    budget: &AtomicU64,
    seed: u64,
) -> Result<Vec<Duration>> {
    // One client per connection, used sequentially: it holds exactly one HTTP/1.1 connection.
    let http = authed_client(reqwest::Client::builder().pool_max_idle_per_host(1))?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut latencies = Vec::new();
    // The cursor chain: the next page's cursor and how many items the chain has seen.
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    while Instant::now() < deadline
        && budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
    {
        let pick = |rng: &mut fastrand::Rng| &facts.entities[rng.usize(..facts.entities.len())];
        let mut refs = Vec::new();
        let mut term = ("", 0);
        let request = match endpoint {
            Endpoint::ByName => {
                let (kind, name) = pick(&mut rng);
                refs.push((kind.as_str(), name.as_str()));
                http.get(format!("{base}/entities/by-name/{kind}/default/{name}"))
            }
            Endpoint::QueryFirstPage => http.get(format!("{base}{SERVICES_QUERY}")),
            Endpoint::QueryCursorChain => match &cursor {
                None => http.get(format!("{base}{SERVICES_QUERY}")),
                Some(c) => {
                    let c: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
                    http.get(format!("{base}/entities/by-query?cursor={c}&limit=100"))
                }
            },
            Endpoint::Facets => http.get(format!("{base}/entity-facets?facet=spec.type")),
            Endpoint::ByRefs => {
                for _ in 0..20 {
                    let (kind, name) = pick(&mut rng);
                    refs.push((kind.as_str(), name.as_str()));
                }
                let body: Vec<String> = refs
                    .iter()
                    .map(|(k, n)| format!("{k}:default/{n}"))
                    .collect();
                http.post(format!("{base}/entities/by-refs"))
                    .json(&serde_json::json!({ "entityRefs": body }))
            }
            Endpoint::FullText => {
                let (t, hits) = &facts.terms[rng.usize(..facts.terms.len())];
                term = (t.as_str(), *hits);
                http.get(format!(
                    "{base}/entities/by-query?fullTextFilterTerm={t}&fullTextFilterFields=metadata.name&limit=20"
                ))
            }
        };
        let request = request.build()?;
        let what = format!("{} {}", request.method(), request.url());
        let start = Instant::now();
        let res = http.execute(request).await?;
        let status = res.status();
        let body = res.bytes().await?;
        latencies.push(start.elapsed());
        if status != 200 {
            return Err(format!(
                "{what}: status {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        let wrong = |why: String| -> Error { format!("{what}: wrong answer: {why}").into() };
        match endpoint {
            Endpoint::ByName => {
                let e: EntityView = serde_json::from_slice(&body)?;
                check_entity(&e, refs[0]).map_err(wrong)?;
            }
            Endpoint::QueryFirstPage | Endpoint::QueryCursorChain => {
                let page: Page = serde_json::from_slice(&body)?;
                check_services_page(&page, facts, seen).map_err(wrong)?;
                if let Endpoint::QueryCursorChain = endpoint {
                    seen += page.items.len();
                    cursor = page.page_info.next_cursor;
                    if cursor.is_none() {
                        if seen != facts.services {
                            return Err(wrong(format!(
                                "chain ended after {seen} of {} items",
                                facts.services
                            )));
                        }
                        seen = 0;
                    }
                }
            }
            Endpoint::Facets => check_facets(&body, facts).map_err(wrong)?,
            Endpoint::ByRefs => {
                #[derive(Deserialize)]
                struct Items {
                    items: Vec<Option<EntityView>>,
                }
                let items: Items = serde_json::from_slice(&body)?;
                if items.items.len() != refs.len() {
                    return Err(wrong(format!(
                        "{} items for {} refs",
                        items.items.len(),
                        refs.len()
                    )));
                }
                for (item, r) in items.items.iter().zip(&refs) {
                    let item = item
                        .as_ref()
                        .ok_or_else(|| wrong(format!("{r:?} missing")))?;
                    check_entity(item, *r).map_err(wrong)?;
                }
            }
            Endpoint::FullText => {
                let page: Page = serde_json::from_slice(&body)?;
                let (t, hits) = term;
                if page.total_items != hits || page.items.len() != hits.min(20) {
                    return Err(wrong(format!(
                        "{} items of {} total, want {} of {hits}",
                        page.items.len(),
                        page.total_items,
                        hits.min(20)
                    )));
                }
                if let Some(e) = page.items.iter().find(|e| !e.metadata.name.contains(t)) {
                    return Err(wrong(format!("{} does not contain {t}", e.metadata.name)));
                }
            }
        }
    }
    Ok(latencies)
}

fn check_entity(e: &EntityView, (kind, name): (&str, &str)) -> Result<(), String> {
    if !e.kind.eq_ignore_ascii_case(kind) || e.metadata.name != name {
        return Err(format!(
            "got {}:{}, want {kind}:{name}",
            e.kind, e.metadata.name
        ));
    }
    // Every synthetic entity has an owner, a member or a parent: stitched ones have relations.
    match &e.relations {
        Some(r) if !r.is_empty() => Ok(()),
        _ => Err(format!("{kind}:{name} has no relations")),
    }
}

/// A page of the services query: only services, full pages, the right total.
fn check_services_page(page: &Page, facts: &Facts, seen: usize) -> Result<(), String> {
    let want = facts.services.saturating_sub(seen).min(100);
    if page.total_items != facts.services || page.items.len() != want {
        return Err(format!(
            "{} items of {} total at offset {seen}, want {want} of {}",
            page.items.len(),
            page.total_items,
            facts.services
        ));
    }
    let bad = page.items.iter().find(|e| {
        !e.kind.eq_ignore_ascii_case("component")
            || e.spec.as_ref().and_then(|s| s.spec_type.as_deref()) != Some("service")
    });
    match bad {
        Some(e) => Err(format!(
            "{}:{} is not a service component",
            e.kind, e.metadata.name
        )),
        None => Ok(()),
    }
}

/// Every `spec.type` value of the generated entities with its exact count (Location entities
/// of the config add `file`, which is not checked).
fn check_facets(body: &[u8], facts: &Facts) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Facets {
        facets: BTreeMap<String, Vec<FacetCount>>,
    }
    #[derive(Deserialize)]
    struct FacetCount {
        value: String,
        count: usize,
    }
    let facets: Facets = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let counts: BTreeMap<&str, usize> = facets
        .facets
        .get("spec.type")
        .ok_or("no spec.type facet")?
        .iter()
        .map(|f| (f.value.as_str(), f.count))
        .collect();
    for (value, want) in &facts.spec_types {
        let got = counts.get(value.as_str()).copied().unwrap_or(0);
        if got != *want {
            return Err(format!("spec.type={value}: {got}, want {want}"));
        }
    }
    Ok(())
}
