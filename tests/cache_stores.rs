//! One behaviour suite run against every cache store, plus failure tests (server down,
//! silent, answering garbage, restarted).
//!
//! Servers:
//! - memory: always.
//! - redis: `BACKLOT_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`).
//! - valkey: `BACKLOT_TEST_VALKEY_URL` (e.g. `redis://127.0.0.1:6380`).
//! - memcache: `BACKLOT_TEST_MEMCACHE_URL` (`host:port`).
//! - infinispan: always against an in-test HTTP server that keeps real state and speaks the
//!   subset of Infinispan's REST API v2 the store uses (GET/PUT/DELETE of
//!   `/rest/v2/caches/<cache>/<key>`, `timeToLiveSeconds`, Basic and Digest auth); also
//!   against a real server when `BACKLOT_TEST_INFINISPAN_URL` is set
//!   (`http://user:pass@host:11222/<cacheName>`, the cache must exist).
//!
//! Restart tests start their own `redis-server` / `memcached` on a free 127.0.0.1 port when
//! the binary is on PATH.

// Helpers shared by the #[test] functions unwrap and print `skipped` like the tests do.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
// Without the store features only the memory suite runs.
#![cfg_attr(
    not(all(feature = "redis", feature = "memcache", feature = "infinispan")),
    allow(dead_code, unused_imports)
)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use backlot::services::cache::{CacheClientOptions, CacheManager, SetOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entity {
    kind: String,
    name: String,
    tags: Vec<String>,
    annotations: BTreeMap<String, String>,
    owner: Option<String>,
    score: f64,
    nested: Vec<Inner>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    id: u64,
    ok: bool,
}

fn entity() -> Entity {
    Entity {
        kind: "Component".into(),
        name: "artist-lookup ✓ «ünïcode»".into(),
        tags: vec!["java".into(), "data".into()],
        annotations: [("backstage.io/techdocs-ref".to_string(), "dir:.".to_string())].into(),
        owner: None,
        score: 0.25,
        nested: vec![
            Inner { id: 1, ok: true },
            Inner {
                id: u64::MAX,
                ok: false,
            },
        ],
    }
}

fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// The behaviour every store must have. Uses the `try_*` methods so that an unreachable
/// server fails the suite instead of turning into silent misses.
async fn suite(label: &str, manager: &CacheManager) {
    let id = run_id();
    let a = manager.for_plugin(&format!("suite-{id}-a"));
    let b = manager.for_plugin(&format!("suite-{id}-b"));

    // get / set / delete
    assert_eq!(
        a.try_get::<String>("missing").await.unwrap(),
        None,
        "{label}"
    );
    a.try_set("greeting", "hello", SetOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{label}: set failed: {e:?}"));
    assert_eq!(
        a.try_get::<String>("greeting").await.unwrap().as_deref(),
        Some("hello"),
        "{label}"
    );
    a.try_set("greeting", "bonjour", SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        a.get::<String>("greeting").await.as_deref(),
        Some("bonjour"),
        "{label}: overwrite"
    );
    a.try_delete("greeting").await.unwrap();
    assert_eq!(
        a.try_get::<String>("greeting").await.unwrap(),
        None,
        "{label}: delete"
    );
    a.try_delete("greeting").await.unwrap();

    // keys that are awkward for some servers: spaces, unicode, very long
    let long_key = "x".repeat(400);
    for key in ["with space", "ünï/cödé?&=", long_key.as_str(), ""] {
        a.try_set(key, &key.len(), SetOptions::default())
            .await
            .unwrap();
        assert_eq!(
            a.try_get::<usize>(key).await.unwrap(),
            Some(key.len()),
            "{label}: key {key:?}"
        );
    }
    assert_eq!(
        a.try_get::<usize>(&"x".repeat(401)).await.unwrap(),
        None,
        "{label}: long keys differ"
    );

    // namespaces of two plugins never collide
    a.try_set("shared", &1, SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        b.try_get::<i32>("shared").await.unwrap(),
        None,
        "{label}: b sees a's key"
    );
    b.try_set("shared", &2, SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        a.try_get::<i32>("shared").await.unwrap(),
        Some(1),
        "{label}"
    );
    assert_eq!(
        b.try_get::<i32>("shared").await.unwrap(),
        Some(2),
        "{label}"
    );
    b.try_delete("shared").await.unwrap();
    assert_eq!(
        a.try_get::<i32>("shared").await.unwrap(),
        Some(1),
        "{label}: b's delete hit a"
    );

    // JSON round trip of a struct, and a value of the wrong type is a miss
    let e = entity();
    a.try_set("entity", &e, SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        a.try_get::<Entity>("entity").await.unwrap(),
        Some(e),
        "{label}"
    );
    assert_eq!(
        a.get::<Vec<u8>>("entity").await,
        None,
        "{label}: wrong type"
    );
    let raw: Value = a.try_get("entity").await.unwrap().unwrap();
    assert_eq!(raw["nested"][1]["id"], json!(u64::MAX), "{label}");

    // TTL expiry (one-second resolution on memcached and infinispan), per call and default
    let short = a.with_options(CacheClientOptions::default_ttl(Duration::from_secs(1)));
    a.try_set("ttl", "soon gone", SetOptions::ttl(Duration::from_secs(1)))
        .await
        .unwrap();
    short
        .try_set("default-ttl", "soon gone", SetOptions::default())
        .await
        .unwrap();
    short
        .try_set(
            "explicit",
            "stays",
            SetOptions::ttl(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    a.try_set("forever", "stays", SetOptions::default())
        .await
        .unwrap();
    assert!(
        a.try_get::<String>("ttl").await.unwrap().is_some(),
        "{label}: expired early"
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(
        a.try_get::<String>("ttl").await.unwrap(),
        None,
        "{label}: ttl"
    );
    assert_eq!(
        a.try_get::<String>("default-ttl").await.unwrap(),
        None,
        "{label}: default ttl"
    );
    assert!(
        a.try_get::<String>("explicit").await.unwrap().is_some(),
        "{label}"
    );
    assert!(
        a.try_get::<String>("forever").await.unwrap().is_some(),
        "{label}"
    );

    // concurrent use of one client
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                a.try_set(&format!("c{i}"), &i, SetOptions::default())
                    .await
                    .unwrap();
                a.try_get::<i32>(&format!("c{i}")).await.unwrap()
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), Some(i as i32), "{label}: concurrent");
    }

    let mut keys: Vec<String> = (0..32).map(|i| format!("c{i}")).collect();
    keys.extend(
        [
            "forever",
            "explicit",
            "entity",
            "shared",
            "with space",
            "ünï/cödé?&=",
            "",
        ]
        .map(String::from),
    );
    keys.push(long_key);
    for key in keys {
        a.try_delete(&key).await.unwrap();
    }
}

fn manager(config: Value) -> CacheManager {
    CacheManager::from_config(Some(&config)).unwrap()
}

fn env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            println!("skipped: {var} not set");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_suite() {
    suite("memory", &manager(json!({"store": "memory"}))).await;
    suite(
        "memory (defaults)",
        &CacheManager::from_config(None).unwrap(),
    )
    .await;
}

/// Runs `fut` and fails when it takes longer than `limit` (the store must answer within its
/// timeout; the limit leaves room for a loaded CI machine).
async fn within<T>(label: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    let took = start.elapsed();
    assert!(took < limit, "{label}: took {took:?}, limit {limit:?}");
    out
}

const TIMEOUT_MS: u64 = 200;

fn limit() -> Duration {
    Duration::from_millis(TIMEOUT_MS * 4)
}

/// Every client call on a broken server answers in time: `get` misses, the others return.
async fn degrades_gracefully(label: &str, manager: &CacheManager) {
    let cache = manager.for_plugin("robust");
    for round in 0..3 {
        let l = format!("{label} round {round}");
        assert_eq!(
            within(&l, limit(), cache.get::<String>("k")).await,
            None,
            "{l}"
        );
        within(&l, limit(), cache.set("k", "v", SetOptions::default())).await;
        within(&l, limit(), cache.delete("k")).await;
        let err = within(&l, limit(), cache.try_get::<String>("k")).await;
        assert!(err.is_err(), "{l}: expected an error, got {err:?}");
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A TCP server that accepts connections and never says anything.
async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

/// A TCP server that answers every connection with junk bytes.
async fn garbage_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let junk = b"\x93\x00garbage\xff\xfe{]]\r\n-not a reply\r\n\x81\x00";
                            if sock.write_all(junk).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A child server process killed on drop.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary_on_path(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if !found {
        println!("skipped: {name} not on PATH");
    }
    found
}

fn spawn(cmd: &str, args: &[String]) -> ServerProcess {
    ServerProcess(
        std::process::Command::new(cmd)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not start");
}

/// Kill the server mid-test: calls degrade; restart it: the same manager works again.
async fn recovers_after_restart(
    label: &str,
    manager: &CacheManager,
    mut start: impl FnMut() -> ServerProcess,
    port: u16,
) {
    let cache = manager.for_plugin("restart");
    let server = start();
    wait_for_port(port).await;
    cache
        .try_set("k", "before", SetOptions::default())
        .await
        .unwrap();
    assert_eq!(
        cache.try_get::<String>("k").await.unwrap().as_deref(),
        Some("before")
    );

    drop(server);
    degrades_gracefully(&format!("{label} (stopped)"), manager).await;

    let _server = start();
    wait_for_port(port).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if cache
            .try_set("k", "after", SetOptions::default())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "{label}: store did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cache.try_get::<String>("k").await.unwrap().as_deref(),
        Some("after"),
        "{label}"
    );
}

#[cfg(feature = "redis")]
mod redis_valkey {
    use super::*;

    fn redis_manager(url: &str, extra: Value) -> CacheManager {
        let mut config = json!({"store": "redis", "connection": url, "timeout": TIMEOUT_MS});
        merge(&mut config, extra);
        manager(config)
    }

    fn merge(into: &mut Value, extra: Value) {
        if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
            into.extend(extra);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_store_passes_suite() {
        let Some(url) = env("BACKLOT_TEST_REDIS_URL") else {
            return;
        };
        suite("redis", &redis_manager(&url, json!({}))).await;
        let namespaced = redis_manager(
            &url,
            json!({"redis": {"client": {"namespace": "backlot-test", "keyPrefixSeparator": "|"}}}),
        );
        suite("redis (namespace)", &namespaced).await;

        // the key layout is Backstage's: <namespace><sep><pluginId><sep><base64 key>
        let cache = namespaced.for_plugin("layout");
        cache
            .try_set("k", "v", SetOptions::default())
            .await
            .unwrap();
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let raw: Option<String> = redis::cmd("GET")
            .arg("backlot-test|layout|aw==")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(raw.as_deref(), Some("\"v\""));
        cache.try_delete("k").await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn valkey_store_passes_suite() {
        let Some(url) = env("BACKLOT_TEST_VALKEY_URL") else {
            return;
        };
        let m = manager(json!({
            "store": "valkey", "connection": url, "timeout": TIMEOUT_MS,
            "valkey": {"keyPrefix": "backlot-test:"}
        }));
        suite("valkey", &m).await;
        let cache = m.for_plugin("layout");
        cache
            .try_set("k", "v", SetOptions::default())
            .await
            .unwrap();
        let raw = m.store().get("backlot-test:layout:aw==").await.unwrap();
        assert_eq!(raw.as_deref(), Some(&b"\"v\""[..]));
        cache.try_delete("k").await.unwrap();
    }

    #[tokio::test]
    async fn redis_unreachable_port_degrades() {
        let url = format!("redis://127.0.0.1:{}", free_port());
        degrades_gracefully("redis refused", &redis_manager(&url, json!({}))).await;
    }

    #[tokio::test]
    async fn redis_silent_server_degrades() {
        let url = format!("redis://{}", silent_server().await);
        degrades_gracefully("redis silent", &redis_manager(&url, json!({}))).await;
    }

    #[tokio::test]
    async fn redis_garbage_answers_are_misses() {
        let url = format!("redis://{}", garbage_server().await);
        degrades_gracefully("redis garbage", &redis_manager(&url, json!({}))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_recovers_after_restart() {
        for bin in ["redis-server", "valkey-server"] {
            if !binary_on_path(bin) {
                continue;
            }
            let port = free_port();
            let url = format!("redis://127.0.0.1:{port}");
            let args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
                .iter()
                .map(|s| s.to_string())
                .chain([
                    "--save".into(),
                    "".into(),
                    "--appendonly".into(),
                    "no".into(),
                ])
                .collect();
            recovers_after_restart(
                bin,
                &redis_manager(&url, json!({})),
                || spawn(bin, &args),
                port,
            )
            .await;
        }
    }
}

#[cfg(feature = "memcache")]
mod memcache {
    use super::*;

    fn memcache_manager(connection: &str) -> CacheManager {
        manager(json!({"store": "memcache", "connection": connection, "timeout": TIMEOUT_MS}))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memcache_store_passes_suite() {
        let Some(url) = env("BACKLOT_TEST_MEMCACHE_URL") else {
            return;
        };
        suite("memcache", &memcache_manager(&url)).await;
        // several servers (the same one twice): keys spread by hash, behaviour unchanged
        suite(
            "memcache (2 servers)",
            &memcache_manager(&format!("{url},{url}")),
        )
        .await;
    }

    #[tokio::test]
    async fn memcache_unreachable_port_degrades() {
        let conn = format!("127.0.0.1:{}", free_port());
        degrades_gracefully("memcache refused", &memcache_manager(&conn)).await;
    }

    #[tokio::test]
    async fn memcache_silent_server_degrades() {
        let conn = silent_server().await.to_string();
        degrades_gracefully("memcache silent", &memcache_manager(&conn)).await;
        // with credentials the SASL handshake itself hangs: still bounded
        let conn = format!("user:pass@{}", silent_server().await);
        degrades_gracefully("memcache silent sasl", &memcache_manager(&conn)).await;
    }

    #[tokio::test]
    async fn memcache_garbage_answers_are_misses() {
        let conn = garbage_server().await.to_string();
        degrades_gracefully("memcache garbage", &memcache_manager(&conn)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memcache_recovers_after_restart() {
        if !binary_on_path("memcached") {
            return;
        }
        let port = free_port();
        let mut args: Vec<String> = vec![
            "-l".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        // memcached refuses to run as root without -u
        if std::env::var("USER").is_ok_and(|u| u == "root") || is_root() {
            args.extend(["-u".into(), "root".into()]);
        }
        recovers_after_restart(
            "memcached",
            &memcache_manager(&format!("127.0.0.1:{port}")),
            || spawn("memcached", &args),
            port,
        )
        .await;
    }

    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
    }
}

#[cfg(feature = "infinispan")]
mod infinispan {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, Method, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use base64::Engine as _;
    use md5::Digest as _;
    use parking_lot::Mutex;

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Auth {
        None,
        Basic,
        Digest,
    }

    struct Entry {
        value: Bytes,
        content_type: String,
        expires: Option<Instant>,
    }

    /// The in-test Infinispan: real state, the REST v2 subset the store uses.
    #[derive(Clone)]
    struct Fake {
        entries: Arc<Mutex<HashMap<(String, String), Entry>>>,
        caches: Arc<Vec<String>>,
        auth: Auth,
        nonce: Arc<String>,
    }

    const USER: &str = "admin";
    const PASS: &str = "s3cret:pw";
    const REALM: &str = "default";

    fn md5_hex(s: &str) -> String {
        md5::Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    impl Fake {
        fn new(auth: Auth) -> Self {
            Fake {
                entries: Arc::default(),
                caches: Arc::new(vec!["cache".into(), "backstage".into()]),
                auth,
                nonce: Arc::new(uuid::Uuid::new_v4().simple().to_string()),
            }
        }

        fn authorized(&self, method: &Method, uri: &str, headers: &HeaderMap) -> bool {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match self.auth {
                Auth::None => true,
                Auth::Basic => {
                    let token =
                        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
                    given == format!("Basic {token}")
                }
                Auth::Digest => {
                    let Some(params) = given.strip_prefix("Digest ") else {
                        return false;
                    };
                    let p: HashMap<String, String> = params
                        .split(", ")
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                        .collect();
                    let get = |k: &str| p.get(k).cloned().unwrap_or_default();
                    if get("nonce") != *self.nonce || get("uri") != uri || get("username") != USER {
                        return false;
                    }
                    let ha1 = md5_hex(&format!("{USER}:{REALM}:{PASS}"));
                    let ha2 = md5_hex(&format!("{method}:{uri}"));
                    let expected = md5_hex(&format!(
                        "{ha1}:{}:{}:{}:auth:{ha2}",
                        self.nonce,
                        get("nc"),
                        get("cnonce")
                    ));
                    get("qop") == "auth" && get("response") == expected
                }
            }
        }

        fn challenge(&self) -> Response {
            let value = match self.auth {
                Auth::Digest => format!(
                    "Digest realm=\"{REALM}\", nonce=\"{}\", qop=\"auth\", algorithm=MD5",
                    self.nonce
                ),
                _ => format!("Basic realm=\"{REALM}\""),
            };
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, value)],
            )
                .into_response()
        }
    }

    async fn handle(
        State(fake): State<Fake>,
        method: Method,
        uri: axum::http::Uri,
        Path((cache, key)): Path<(String, String)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        if !fake.authorized(&method, uri.path(), &headers) {
            return fake.challenge();
        }
        if !fake.caches.contains(&cache) {
            return (StatusCode::NOT_FOUND, format!("cache '{cache}' not found")).into_response();
        }
        let now = Instant::now();
        let mut entries = fake.entries.lock();
        let id = (cache, key);
        if entries
            .get(&id)
            .is_some_and(|e| e.expires.is_some_and(|x| x <= now))
        {
            entries.remove(&id);
        }
        match method {
            Method::GET => match entries.get(&id) {
                Some(e) => (
                    [(header::CONTENT_TYPE, e.content_type.clone())],
                    e.value.clone(),
                )
                    .into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
            Method::PUT => {
                let ttl = match headers
                    .get("timeToLiveSeconds")
                    .map(|v| v.to_str().map(str::parse::<i64>))
                {
                    None => None,
                    Some(Ok(Ok(secs))) if secs > 0 => Some(Duration::from_secs(secs as u64)),
                    Some(Ok(Ok(_))) => None,
                    _ => return (StatusCode::BAD_REQUEST, "bad timeToLiveSeconds").into_response(),
                };
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                entries.insert(
                    id,
                    Entry {
                        value: body,
                        content_type,
                        expires: ttl.map(|t| now + t),
                    },
                );
                StatusCode::NO_CONTENT.into_response()
            }
            Method::DELETE => match entries.remove(&id) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
            _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        }
    }

    struct Running {
        addr: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Running {
        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            let _ = (&mut self.task).await;
        }
    }

    async fn start(fake: Fake, port: u16) -> Running {
        let app = axum::Router::new()
            .route("/rest/v2/caches/{cache}/{key}", axum::routing::any(handle))
            .with_state(fake);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    fn ispn_manager(addr: SocketAddr, extra: Value) -> CacheManager {
        let mut ispn = json!({"servers": [{"host": addr.ip().to_string(), "port": addr.port()}]});
        if let (Some(o), Value::Object(extra)) = (ispn.as_object_mut(), extra) {
            o.extend(extra);
        }
        manager(json!({"store": "infinispan", "timeout": TIMEOUT_MS, "infinispan": ispn}))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn infinispan_in_test_server_passes_suite() {
        let server = start(Fake::new(Auth::None), 0).await;
        suite(
            "infinispan (in-test)",
            &ispn_manager(server.addr, json!({})),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn infinispan_basic_and_digest_auth() {
        for (auth, mechanism) in [
            (Auth::Basic, "PLAIN"),
            (Auth::Digest, "DIGEST-MD5"),
            (Auth::Digest, "PLAIN"),
        ] {
            let server = start(Fake::new(auth), 0).await;
            let label = format!("infinispan {auth:?} via {mechanism}");
            let m = ispn_manager(
                server.addr,
                json!({
                    "cacheName": "backstage",
                    "authentication": {"enabled": true, "userName": USER, "password": PASS, "saslMechanism": mechanism}
                }),
            );
            let cache = m.for_plugin("auth");
            cache
                .try_set("k", &entity(), SetOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(
                cache.try_get::<Entity>("k").await.unwrap(),
                Some(entity()),
                "{label}"
            );
            cache.try_delete("k").await.unwrap();
            assert_eq!(cache.try_get::<Entity>("k").await.unwrap(), None, "{label}");

            let wrong = ispn_manager(
                server.addr,
                json!({"authentication": {"enabled": true, "userName": USER, "password": "nope", "saslMechanism": mechanism}}),
            );
            assert!(
                wrong.for_plugin("auth").try_get::<i32>("k").await.is_err(),
                "{label}: wrong password"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn infinispan_real_server_passes_suite() {
        let Some(raw) = env("BACKLOT_TEST_INFINISPAN_URL") else {
            return;
        };
        let url = url::Url::parse(&raw).unwrap();
        let mut ispn = json!({
            "servers": [{"host": url.host_str().unwrap(), "port": url.port_or_known_default().unwrap()}],
            "ssl": {"enabled": url.scheme() == "https"},
        });
        let cache_name = url.path().trim_matches('/');
        if !cache_name.is_empty() {
            ispn["cacheName"] = json!(cache_name);
        }
        if !url.username().is_empty() {
            ispn["authentication"] = json!({
                "enabled": true,
                "userName": url.username(),
                "password": url.password().unwrap_or_default(),
            });
        }
        let m = manager(json!({"store": "infinispan", "timeout": 2000, "infinispan": ispn}));
        suite("infinispan (real)", &m).await;
    }

    #[tokio::test]
    async fn infinispan_unreachable_port_degrades() {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        degrades_gracefully("infinispan refused", &ispn_manager(addr, json!({}))).await;
    }

    #[tokio::test]
    async fn infinispan_silent_server_degrades() {
        degrades_gracefully(
            "infinispan silent",
            &ispn_manager(silent_server().await, json!({})),
        )
        .await;
    }

    #[tokio::test]
    async fn infinispan_garbage_answers_are_misses() {
        degrades_gracefully(
            "infinispan garbage",
            &ispn_manager(garbage_server().await, json!({})),
        )
        .await;
        // well-formed HTTP with a body that is not JSON: a miss as well
        let app = axum::Router::new().fallback(|| async { "<html>not json</html>" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let cache = ispn_manager(addr, json!({})).for_plugin("robust");
        assert_eq!(
            within("infinispan html", limit(), cache.get::<Entity>("k")).await,
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn infinispan_fails_over_and_recovers_after_restart() {
        let fake = Fake::new(Auth::None);
        let server = start(fake.clone(), 0).await;
        let addr = server.addr;
        // a dead first server: the store moves on to the live one
        let dead = format!("127.0.0.1:{}", free_port());
        let m = manager(
            json!({"store": "infinispan", "timeout": TIMEOUT_MS, "infinispan": {"servers": [
                {"host": "127.0.0.1", "port": dead.rsplit(':').next().unwrap().parse::<u16>().unwrap()},
                {"host": "127.0.0.1", "port": addr.port()},
            ]}}),
        );
        let cache = m.for_plugin("restart");
        cache
            .try_set("k", "before", SetOptions::default())
            .await
            .unwrap();
        assert_eq!(
            cache.try_get::<String>("k").await.unwrap().as_deref(),
            Some("before")
        );

        server.stop().await;
        degrades_gracefully("infinispan stopped", &m).await;

        let _server = start(fake, addr.port()).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while cache
            .try_set("k", "after", SetOptions::default())
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "infinispan did not recover");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            cache.try_get::<String>("k").await.unwrap().as_deref(),
            Some("after")
        );
    }
}
