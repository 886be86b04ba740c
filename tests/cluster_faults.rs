//! Three replicas of the `portal` example behind nginx, on one PostgreSQL and one Redis, under
//! a bounded load (2 connections, 60 s by default; `BACKLOT_CLUSTER_LOAD_SECS` overrides) of
//! catalog reads, searches and location registrations, while the test `kill -9`s a replica
//! (and starts it again), stops Redis for 10 s and restarts PostgreSQL (fast shutdown).
//!
//! Afterwards, asking each replica directly: every acknowledged registration (201) and its
//! entity is there, no location or entity is duplicated, every replica lists the same entities
//! and answers searches the same, the global collator task ran at most once per period, and
//! every request either succeeded or answered 5xx error JSON before the client's timeout.
//!
//! Every process runs on 127.0.0.1 and is started by the test (PostgreSQL and Redis too, since
//! the test stops them): it needs `BACKLOT_TEST_PG_BIN`, `BACKLOT_TEST_REDIS_SERVER` and
//! `BACKLOT_TEST_NGINX` (`.ci/run` sets them) and says it is skipped without them.

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "support/cluster/mod.rs"]
mod cluster;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{LB_ERROR_MESSAGE, Nginx, OwnPostgres, OwnRedis, Portal};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The static token the load client calls with (`backend.auth.externalAccess`).
const TOKEN: &str = "cluster-load-token";
/// The client gives up on a request after this long: a longer answer is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The period of the catalog collator, a global task of the `search` plugin.
const COLLATOR_PERIOD_SECS: u64 = 2;
/// Entities of the configured location.
const SEEDS: usize = 20;

fn load_duration() -> Duration {
    let secs = std::env::var("BACKLOT_CLUSTER_LOAD_SECS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("BACKLOT_CLUSTER_LOAD_SECS: seconds")
        })
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn cluster_config(dir: &Path, lb_port: u16, pg: &OwnPostgres, redis: &OwnRedis) -> String {
    let d = dir.display();
    format!(
        r#"app:
  baseUrl: http://127.0.0.1:{lb_port}
backend:
  baseUrl: http://127.0.0.1:{lb_port}
  listen:
    host: 127.0.0.1
  reading:
    fileAllow: ['{d}']
  database:
    client: pg
    connection: '{pg}'
  cache:
    store: redis
    connection: '{redis}'
  metrics:
    enabled: true
  auth:
    externalAccess:
      - type: static
        options:
          token: {TOKEN}
          subject: cluster-load
catalog:
  allowedLocationTypes: [file]
  rules:
    - allow: [Component, Location]
  locations:
    - type: file
      target: '{d}/seed.yaml'
search:
  pg: {{}}
  collators:
    catalog:
      schedule:
        frequency: {{ seconds: {COLLATOR_PERIOD_SECS} }}
        timeout: {{ seconds: 20 }}
        initialDelay: {{ seconds: 0 }}
techdocs:
  builder: local
  publisher:
    type: local
    local:
      publishDirectory: '{d}/techdocs'
"#,
        pg = pg.url(),
        redis = redis.url(),
    )
}

fn component_yaml(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  \
         description: replicated {name}\nspec:\n  type: service\n  lifecycle: production\n  \
         owner: team-a\n"
    )
}

// ------------------------------------------------------------------ the load

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// 2xx.
    Ok,
    /// 5xx with Backstage's error JSON from a replica: the status and the error's message.
    ServerError(u16, String),
    /// nginx's own 502/504 (no replica answered), as error JSON.
    LbError(u16),
    /// No answer within the client's timeout.
    Hang,
    /// Anything else: another status, a 5xx that is not error JSON, a connection error.
    Bad(String),
}

#[derive(Debug, Clone)]
struct Record {
    op: &'static str,
    /// Since the load started.
    at: Duration,
    took: Duration,
    outcome: Outcome,
}

/// A registration the catalog acknowledged with 201.
#[derive(Debug, Clone)]
struct Acked {
    /// When the registration was sent, since the load started.
    at: Duration,
    id: String,
    target: String,
    name: String,
}

#[derive(Default)]
struct LoadLog {
    records: Vec<Record>,
    acked: Vec<Acked>,
}

/// Backstage's error JSON for `status`, or why the body is not one.
fn check_error_json(status: u16, body: &str) -> Result<Option<String>, String> {
    let v: Value = serde_json::from_str(body).map_err(|_| format!("not JSON: {body:.200}"))?;
    let ok = v["error"]["name"].is_string()
        && v["error"]["message"].is_string()
        && v["request"]["method"].is_string()
        && v["request"]["url"].is_string()
        && v["response"]["statusCode"] == json!(status);
    if !ok {
        return Err(format!("not error JSON: {body:.200}"));
    }
    if v["error"]["message"] == LB_ERROR_MESSAGE {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: {}",
        v["error"]["name"], v["error"]["message"]
    )))
}

async fn classify(res: Result<reqwest::Response, reqwest::Error>) -> (Outcome, Option<Value>) {
    let res = match res {
        Ok(res) => res,
        Err(e) if e.is_timeout() => return (Outcome::Hang, None),
        Err(e) => return (Outcome::Bad(format!("request error: {e}")), None),
    };
    let status = res.status().as_u16();
    let body = match res.text().await {
        Ok(body) => body,
        Err(e) if e.is_timeout() => return (Outcome::Hang, None),
        Err(e) => return (Outcome::Bad(format!("{status}, body error: {e}")), None),
    };
    if (200..300).contains(&status) {
        return (Outcome::Ok, serde_json::from_str(&body).ok());
    }
    if status >= 500 {
        return match check_error_json(status, &body) {
            Ok(None) => (Outcome::LbError(status), None),
            Ok(Some(message)) => (Outcome::ServerError(status, message), None),
            Err(why) => (Outcome::Bad(format!("{status}: {why}")), None),
        };
    }
    (Outcome::Bad(format!("{status}: {body:.300}")), None)
}

/// One connection's worth of load: requests one after the other until `end`.
async fn worker(
    id: usize,
    lb: String,
    dir: PathBuf,
    start: Instant,
    end: Instant,
    log: Arc<Mutex<LoadLog>>,
) {
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let mut n = 0usize;
    while Instant::now() < end {
        n += 1;
        let began = Instant::now();
        let (op, res, registered) = match n % 5 {
            0 | 3 => {
                let url = if n % 2 == 0 {
                    format!("{lb}/api/catalog/entities?filter=kind=component&limit=50")
                } else {
                    format!(
                        "{lb}/api/catalog/entities/by-name/component/default/seed-{}",
                        n % SEEDS
                    )
                };
                let res = http.get(url).bearer_auth(TOKEN).send().await;
                ("catalog read", res, None)
            }
            1 | 4 => {
                let term = if n % 2 == 0 { "replicated" } else { "seed" };
                let url = format!("{lb}/api/search/query?term={term}");
                (
                    "search",
                    http.get(url).bearer_auth(TOKEN).send().await,
                    None,
                )
            }
            _ => {
                let name = format!("load-w{id}-{n}");
                let file = dir.join("locations").join(format!("{name}.yaml"));
                std::fs::write(&file, component_yaml(&name)).unwrap();
                let target = file.display().to_string();
                let res = http
                    .post(format!("{lb}/api/catalog/locations"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "type": "file", "target": target }))
                    .send()
                    .await;
                ("registration", res, Some((name, target)))
            }
        };
        let (outcome, body) = classify(res).await;
        let took = began.elapsed();
        let mut log = log.lock();
        if let (Outcome::Ok, Some((name, target))) = (&outcome, registered) {
            let id = body
                .as_ref()
                .and_then(|b| b["location"]["id"].as_str())
                .map(str::to_string);
            match id {
                Some(id) => log.acked.push(Acked {
                    at: began - start,
                    id,
                    target,
                    name,
                }),
                None => log.records.push(Record {
                    op,
                    at: began - start,
                    took,
                    outcome: Outcome::Bad(format!("201 without a location id: {body:?}")),
                }),
            }
        }
        log.records.push(Record {
            op,
            at: began - start,
            took,
            outcome,
        });
    }
}

// ------------------------------------------------------------------ checks

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap()
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let res = http
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {url}: {body:.200}"));
    }
    serde_json::from_str(&body).map_err(|e| e.to_string())
}

/// Polls `check` every 500 ms for up to `limit`; panics with `what` and the last error.
async fn eventually<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(Instant::now() < deadline, "{what} within {limit:?}: {e}");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `(target, id)` of locations or `(name, uid)` of entities.
type Pairs = Vec<(String, String)>;

/// What one replica serves: the registered locations' targets (with their ids) and the
/// component names (with their uids).
async fn replica_state(http: &reqwest::Client, base: &str) -> Result<(Pairs, Pairs), String> {
    let locations = get_json(http, &format!("{base}/api/catalog/locations")).await?;
    let locations = locations
        .as_array()
        .ok_or("locations: not a list")?
        .iter()
        .map(|l| {
            (
                l["data"]["target"].as_str().unwrap_or_default().to_string(),
                l["data"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let entities = get_json(
        http,
        &format!(
            "{base}/api/catalog/entities?filter=kind=component&fields=metadata.name,metadata.uid"
        ),
    )
    .await?;
    let entities = entities
        .as_array()
        .ok_or("entities: not a list")?
        .iter()
        .map(|e| {
            (
                e["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    Ok((locations, entities))
}

/// Where the catalog's tables hold these components (for a failure's message).
async fn in_database(pg_port: u16, names: &[&str]) -> String {
    let url = format!("postgres://postgres@127.0.0.1:{pg_port}/backstage_plugin_catalog");
    let Ok(pool) = sqlx::PgPool::connect(&url).await else {
        return "catalog database unreachable".to_string();
    };
    let mut out = Vec::new();
    for table in ["refresh_state", "final_entities"] {
        let mut found = 0;
        for name in names {
            let sql = format!("SELECT count(*) FROM {table} WHERE entity_ref = $1");
            let n: i64 = sqlx::query_scalar(&sql)
                .bind(format!("component:default/{name}"))
                .fetch_one(&pool)
                .await
                .unwrap_or(-1);
            found += usize::from(n > 0);
        }
        out.push(format!("{found} of them in {table}"));
    }
    // The rows that mention their location files (the Location entities, the components).
    for name in names.iter().take(3) {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT entity_ref, location_key FROM refresh_state WHERE unprocessed_entity LIKE $1",
        )
        .bind(format!("%/{name}.yaml%"))
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        out.push(format!("rows naming {name}.yaml: {rows:?}"));
    }
    pool.close().await;
    out.join(", ")
}

/// Runs of the catalog collator task this replica's `/metrics` counts.
async fn collator_runs(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .filter(|l| {
            l.starts_with("backlot_scheduler_task_runs_total{")
                && l.contains("plugin=\"search\"")
                && l.contains("catalog")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum())
}

/// The document locations a search for `term` answers on `base`.
async fn search_locations(
    http: &reqwest::Client,
    base: &str,
    term: &str,
) -> Result<Vec<String>, String> {
    let body = get_json(
        http,
        &format!("{base}/api/search/query?term={term}&pageLimit=100"),
    )
    .await?;
    Ok(body["results"]
        .as_array()
        .ok_or("no results")?
        .iter()
        .filter_map(|r| r["document"]["location"].as_str().map(str::to_string))
        .collect())
}

fn summarize(records: &[Record]) {
    let mut by_op: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for r in records {
        let slot = match r.outcome {
            Outcome::Ok => 0,
            Outcome::ServerError(..) => 1,
            Outcome::LbError(_) => 2,
            Outcome::Hang => 3,
            Outcome::Bad(_) => 4,
        };
        by_op.entry(r.op).or_default()[slot] += 1;
    }
    println!("requests: {} in all", records.len());
    for (op, [ok, server, lb, hang, bad]) in &by_op {
        println!(
            "  {op:13} served {ok:5}  failed: 5xx JSON from a replica {server}, from nginx {lb}, hung {hang}, other {bad}"
        );
    }
    let longest = records.iter().max_by_key(|r| r.took);
    if let Some(r) = longest {
        println!(
            "longest request: {:?} ({} at {:.1} s, {:?})",
            r.took,
            r.op,
            r.at.as_secs_f64(),
            r.outcome
        );
    }
    // The longest time without any successful answer.
    let mut ends: Vec<Duration> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .map(|r| r.at + r.took)
        .collect();
    ends.sort();
    let stall = ends
        .windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .max_by_key(|(gap, _)| *gap);
    if let Some((gap, from)) = stall {
        println!(
            "longest stall (no request succeeded): {gap:?} from {:.1} s",
            from.as_secs_f64()
        );
    }
    // The failures, grouped by operation and error, with when they happened.
    let mut groups: BTreeMap<(&str, String), Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.outcome != Outcome::Ok) {
        groups
            .entry((r.op, format!("{:?}", r.outcome)))
            .or_default()
            .push(r.at.as_secs_f64());
    }
    for ((op, outcome), at) in &groups {
        println!(
            "  failed {}x: {op} {outcome:.300} (from {:.1} s to {:.1} s)",
            at.len(),
            at[0],
            at[at.len() - 1]
        );
    }
}

// ------------------------------------------------------------------ the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_survive_a_killed_replica_redis_outage_and_postgres_restart() {
    let bins = match cluster::binaries() {
        Ok(b) => b,
        Err(missing) => {
            println!("skipped: {} unset", missing.join(", "));
            return;
        }
    };
    let portal_bin = tokio::task::spawn_blocking(cluster::portal_binary)
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(root.path()).unwrap();
    // BACKLOT_CLUSTER_KEEP=1 keeps the replicas' logs and config for a look afterwards.
    if std::env::var_os("BACKLOT_CLUSTER_KEEP").is_some() {
        println!(
            "replicas' logs and config kept in {}",
            root.keep().display()
        );
    }
    std::fs::create_dir_all(dir.join("locations")).unwrap();
    let seeds: String = (0..SEEDS)
        .map(|i| component_yaml(&format!("seed-{i}")))
        .collect::<Vec<_>>()
        .join("---\n");
    std::fs::write(dir.join("seed.yaml"), seeds).unwrap();

    let pg = {
        let bin = bins.pg_bin.clone();
        tokio::task::spawn_blocking(move || OwnPostgres::start(&bin))
            .await
            .unwrap()
    };
    let pg = Arc::new(pg);
    let mut redis = OwnRedis::start(&bins.redis_server);
    let ports = [
        cluster::free_port(),
        cluster::free_port(),
        cluster::free_port(),
    ];
    let nginx = Nginx::start(&bins.nginx, &ports);
    std::fs::write(
        dir.join("cluster.yaml"),
        cluster_config(&dir, nginx.port, &pg, &redis),
    )
    .unwrap();
    let plugins = "catalog,search,techdocs";
    let cluster_start = Instant::now();
    // The first replica ingests the configured location before the others start: replicas
    // that start together on an empty database race to insert the same new entities into the
    // catalog's `refresh_state` and the losers fail their start (a unique violation).
    let http = client();
    let mut replicas = vec![Portal::start(
        &portal_bin,
        &dir,
        "replica-0",
        plugins,
        ports[0],
    )];
    replicas[0].ready(&http, Duration::from_secs(120)).await;
    for (i, port) in ports.iter().enumerate().skip(1) {
        let name = format!("replica-{i}");
        replicas.push(Portal::start(&portal_bin, &dir, &name, plugins, *port));
    }
    for r in &mut replicas {
        r.ready(&http, Duration::from_secs(120)).await;
    }
    println!("3 replicas ready after {:?}", cluster_start.elapsed());

    // ---- the load, and the faults while it runs
    let load = load_duration();
    let log = Arc::new(Mutex::new(LoadLog::default()));
    let start = Instant::now();
    let end = start + load;
    let workers: Vec<_> = (0..2)
        .map(|id| {
            tokio::spawn(worker(
                id,
                nginx.url(),
                dir.clone(),
                start,
                end,
                Arc::clone(&log),
            ))
        })
        .collect();
    let at = |fraction: f64| start + load.mul_f64(fraction);
    let mut victim_runs = 0;

    tokio::time::sleep_until(at(0.15).into()).await;
    victim_runs += collator_runs(&http, &replicas[1].url()).await.unwrap_or(0);
    replicas[1].kill();
    println!("{:5.1} s: kill -9 replica-1", start.elapsed().as_secs_f64());

    tokio::time::sleep_until(at(0.30).into()).await;
    replicas[1].spawn();
    let failed_starts = replicas[1]
        .ready_supervised(&http, Duration::from_secs(60))
        .await;
    for f in &failed_starts {
        println!("replica-1 failed to start and was started again: {f}");
    }
    println!(
        "{:5.1} s: replica-1 started again and ready",
        start.elapsed().as_secs_f64()
    );

    tokio::time::sleep_until(at(0.45).into()).await;
    redis.stop();
    println!("{:5.1} s: Redis stopped", start.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(10)).await;
    redis.resume();
    println!("{:5.1} s: Redis started", start.elapsed().as_secs_f64());

    tokio::time::sleep_until(at(0.75).into()).await;
    let pg2 = Arc::clone(&pg);
    let began = Instant::now();
    tokio::task::spawn_blocking(move || pg2.restart())
        .await
        .unwrap();
    println!(
        "{:5.1} s: PostgreSQL restarted (fast shutdown + start: {:?})",
        start.elapsed().as_secs_f64(),
        began.elapsed()
    );

    for w in workers {
        w.await.unwrap();
    }
    let LoadLog { records, acked } = std::mem::take(&mut *log.lock());
    println!("load of {load:?} over 2 connections done");
    summarize(&records);
    println!("acknowledged registrations: {}", acked.len());

    // ---- every request succeeded or failed with error JSON, none hung
    let hung: Vec<&Record> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Hang)
        .collect();
    assert!(hung.is_empty(), "requests hung: {hung:?}");
    let bad: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Bad(_)))
        .collect();
    assert!(bad.is_empty(), "requests without error JSON: {bad:?}");
    let served = records.iter().filter(|r| r.outcome == Outcome::Ok).count();
    assert!(
        served * 2 > records.len(),
        "most requests succeed: {served} of {}",
        records.len()
    );
    assert!(!acked.is_empty(), "some registrations were acknowledged");

    // ---- every acknowledged write is on every replica, nothing duplicated, all agree
    let pg_port = pg.port;
    let mut states = Vec::new();
    for r in &replicas {
        let base = r.url();
        let state = eventually(
            &format!("{} serves every acknowledged location", r.name),
            Duration::from_secs(60),
            || {
                let (http, base, acked) = (http.clone(), base.clone(), acked.clone());
                async move {
                    let (locations, entities) = replica_state(&http, &base).await?;
                    let targets: BTreeMap<&str, &str> = locations
                        .iter()
                        .map(|(t, id)| (t.as_str(), id.as_str()))
                        .collect();
                    let names: BTreeSet<&str> = entities.iter().map(|(n, _)| n.as_str()).collect();
                    let lost: Vec<&str> = acked
                        .iter()
                        .filter(|a| targets.get(a.target.as_str()) != Some(&a.id.as_str()))
                        .map(|a| a.target.as_str())
                        .collect();
                    let missing: Vec<&str> = acked
                        .iter()
                        .filter(|a| !names.contains(a.name.as_str()))
                        .map(|a| a.name.as_str())
                        .collect();
                    let when: Vec<String> = acked
                        .iter()
                        .filter(|a| !names.contains(a.name.as_str()))
                        .map(|a| format!("{:.1} s", a.at.as_secs_f64()))
                        .collect();
                    if !lost.is_empty() || !missing.is_empty() {
                        return Err(format!(
                            "locations missing: {lost:?}; entities missing: {missing:?} (registered at {when:?}); {}",
                            in_database(pg_port, &missing).await
                        ));
                    }
                    Ok((locations, entities))
                }
            },
        )
        .await;
        let (locations, entities) = &state;
        let targets: BTreeSet<&String> = locations.iter().map(|(t, _)| t).collect();
        assert_eq!(
            targets.len(),
            locations.len(),
            "{}: a location is registered twice: {locations:?}",
            r.name
        );
        let names: BTreeSet<&String> = entities.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names.len(),
            entities.len(),
            "{}: an entity is listed twice",
            r.name
        );
        for a in &acked {
            let url = format!(
                "{}/api/catalog/entities/by-name/component/default/{}",
                base, a.name
            );
            get_json(&http, &url).await.unwrap();
        }
        states.push(state);
    }
    // Every replica lists the same locations and entities (uids too): one catalog.
    let sorted = |(mut l, mut e): (Pairs, Pairs)| {
        l.sort();
        e.sort();
        (l, e)
    };
    let first = sorted(states[0].clone());
    // A registration that failed (5xx) may have stored its location before failing: such a
    // location should get its entity from the refresh loop; say which have none (yet).
    let names: BTreeSet<&str> = first.1.iter().map(|(n, _)| n.as_str()).collect();
    let without: Vec<&str> = first
        .0
        .iter()
        .filter_map(|(target, _)| {
            let name = Path::new(target).file_stem()?.to_str()?;
            (!names.contains(name)).then_some(name)
        })
        .collect();
    println!(
        "registered locations: {} ({} acknowledged); locations without their entity: {without:?}",
        first.0.len(),
        acked.len()
    );
    for (i, s) in states.iter().enumerate().skip(1) {
        assert!(
            sorted(s.clone()) == first,
            "replica-{i} serves another catalog than replica-0"
        );
    }

    // ---- search answers the same on every replica, the last registration included
    let last = acked.last().unwrap().name.clone();
    let answers = eventually(
        "every replica finds the last registration",
        Duration::from_secs(60),
        || {
            let (http, last) = (http.clone(), last.clone());
            let urls: Vec<String> = replicas.iter().map(Portal::url).collect();
            async move {
                let mut answers = Vec::new();
                for url in &urls {
                    let hits = search_locations(&http, url, &last).await?;
                    if !hits.iter().any(|h| h.ends_with(&format!("/{last}"))) {
                        return Err(format!("{url}: {last} not found: {hits:?}"));
                    }
                    answers.push(search_locations(&http, url, "replicated").await?);
                }
                if answers.windows(2).any(|w| w[0] != w[1]) {
                    return Err(format!("replicas answer differently: {answers:?}"));
                }
                Ok(answers)
            }
        },
    )
    .await;
    println!(
        "search for 'replicated' answers {} results on each replica",
        answers[0].len()
    );

    // ---- the global collator task ran once per period at most, and kept running
    let mut runs = victim_runs;
    for r in &replicas {
        runs += collator_runs(&http, &r.url()).await.unwrap();
    }
    let window = cluster_start.elapsed().as_secs_f64();
    // Runs start at least a period apart: at most one per started period.
    let periods = (window / COLLATOR_PERIOD_SECS as f64).ceil() as u64;
    println!(
        "catalog collator: {runs} runs over {window:.1} s across the replicas ({periods} periods of {COLLATOR_PERIOD_SECS} s)"
    );
    assert!(
        runs <= periods + 1,
        "the global task ran more than once per period: {runs} runs in {periods} periods"
    );
    assert!(
        runs >= 3,
        "the global task kept running through the faults: {runs} runs"
    );
    if !nginx.error_log().is_empty() {
        println!(
            "nginx error log (last lines):\n{}",
            nginx
                .error_log()
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    drop(replicas);
}
