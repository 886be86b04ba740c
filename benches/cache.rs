//! Cache store overhead against the bare client in the same run.
//!
//! - memory: `MemoryStore` and `CacheClient` over it (absolute numbers).
//! - redis (`BACKLOT_TEST_REDIS_URL`): a bare `redis` multiplexed connection vs `RedisStore`
//!   vs `CacheClient` (namespacing + JSON) over it.
//! - memcache (`BACKLOT_TEST_MEMCACHE_URL`, `host:port`): a bare binary-protocol request on
//!   one TCP stream vs `MemcacheStore` vs `CacheClient`.
//!
//! Run: `cargo bench --all-features --bench cache`.
#![allow(missing_docs, clippy::unwrap_used)]
// Without the redis and memcache features only the memory benches exist.
#![cfg_attr(not(all(feature = "redis", feature = "memcache")), allow(dead_code))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use backlot::services::cache::{
    CacheManager, CacheStore, MemoryStore, MemoryStoreOptions, SetOptions,
};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const VALUE: &[u8] = br#"{"kind":"Component","name":"artist-lookup","tags":["java","data"]}"#;

/// Sums of paired timings: (bare, ours).
type Totals = Arc<parking_lot::Mutex<(Duration, Duration)>>;

/// Paired measurement: per iteration one bare operation and one through backlot, in
/// alternating order, so load drifting on a shared machine hits both sides equally.
/// Criterion reports the time of our operation; both sums go to `totals`, printed as the
/// overhead percentage by [`report`].
async fn paired<A, B, FA, FB>(iters: u64, totals: Totals, mut bare: A, mut ours: B) -> Duration
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: std::future::Future,
    FB: std::future::Future,
{
    let (mut t_bare, mut t_ours) = (Duration::ZERO, Duration::ZERO);
    for i in 0..iters {
        if i % 2 == 0 {
            let t = Instant::now();
            bare().await;
            t_bare += t.elapsed();
            let t = Instant::now();
            ours().await;
            t_ours += t.elapsed();
        } else {
            let t = Instant::now();
            ours().await;
            t_ours += t.elapsed();
            let t = Instant::now();
            bare().await;
            t_bare += t.elapsed();
        }
    }
    let mut t = totals.lock();
    t.0 += t_bare;
    t.1 += t_ours;
    t_ours
}

fn report(label: &str, totals: &Totals) {
    let (bare, ours) = *totals.lock();
    if !bare.is_zero() {
        let pct = (ours.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0;
        eprintln!("{label}: paired overhead vs bare client {pct:+.1}%");
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn bench_memory(c: &mut Criterion) {
    let rt = runtime();
    let store = Arc::new(MemoryStore::new(MemoryStoreOptions::default()));
    let manager = CacheManager::with_store(store.clone());
    let client = manager.for_plugin("bench");
    let value: serde_json::Value = serde_json::from_slice(VALUE).unwrap();
    rt.block_on(async {
        store.set("bench:k", VALUE.to_vec(), None).await.unwrap();
        client.set("k", &value, SetOptions::default()).await;
    });
    let mut g = c.benchmark_group("memory");
    g.bench_function("store_get", |b| {
        b.to_async(&rt)
            .iter(|| async { store.get("bench:k").await.unwrap() })
    });
    g.bench_function("store_set", |b| {
        b.to_async(&rt)
            .iter(|| async { store.set("bench:k", VALUE.to_vec(), None).await.unwrap() })
    });
    g.bench_function("client_get_json", |b| {
        b.to_async(&rt)
            .iter(|| async { client.get::<serde_json::Value>("k").await.unwrap() })
    });
    g.finish();
}

#[cfg(feature = "redis")]
fn bench_redis(c: &mut Criterion) {
    use backlot::services::cache::{RedisStore, RedisStoreOptions};
    let Ok(url) = std::env::var("BACKLOT_TEST_REDIS_URL") else {
        eprintln!("skipped redis: BACKLOT_TEST_REDIS_URL not set");
        return;
    };
    let rt = runtime();
    let bare = rt.block_on(async {
        redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    });
    let store = Arc::new(RedisStore::new(&url, RedisStoreOptions::default()).unwrap());
    let client = CacheManager::with_store(store.clone()).for_plugin("bench");
    let value: serde_json::Value = serde_json::from_slice(VALUE).unwrap();
    rt.block_on(async {
        store.set("bench:bare", VALUE.to_vec(), None).await.unwrap();
        client
            .try_set("k", &value, SetOptions::default())
            .await
            .unwrap();
    });
    let mut g = c.benchmark_group("redis");
    g.bench_function("bare_get", |b| {
        b.to_async(&rt).iter(|| {
            let mut conn = bare.clone();
            async move {
                redis::cmd("GET")
                    .arg("bench:bare")
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
                    .unwrap()
            }
        })
    });
    g.bench_function("store_get", |b| {
        b.to_async(&rt)
            .iter(|| async { store.get("bench:bare").await.unwrap() })
    });
    g.bench_function("client_get_json", |b| {
        b.to_async(&rt)
            .iter(|| async { client.try_get::<serde_json::Value>("k").await.unwrap() })
    });
    g.bench_function("bare_set", |b| {
        b.to_async(&rt).iter(|| {
            let mut conn = bare.clone();
            async move {
                redis::cmd("SET")
                    .arg("bench:bare")
                    .arg(VALUE)
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap()
            }
        })
    });
    g.bench_function("store_set", |b| {
        b.to_async(&rt)
            .iter(|| async { store.set("bench:bare", VALUE.to_vec(), None).await.unwrap() })
    });
    let totals = Totals::default();
    g.bench_function("get_overhead_paired", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (bare, store) = (bare.clone(), store.clone());
            let totals = totals.clone();
            async move {
                paired(
                    iters,
                    totals,
                    || {
                        let mut conn = bare.clone();
                        async move {
                            redis::cmd("GET")
                                .arg("bench:bare")
                                .query_async::<Option<Vec<u8>>>(&mut conn)
                                .await
                                .unwrap()
                        }
                    },
                    || {
                        let store = store.clone();
                        async move { store.get("bench:bare").await.unwrap() }
                    },
                )
                .await
            }
        })
    });
    report("redis get", &totals);
    let totals = Totals::default();
    g.bench_function("set_overhead_paired", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (bare, store) = (bare.clone(), store.clone());
            let totals = totals.clone();
            async move {
                paired(
                    iters,
                    totals,
                    || {
                        let mut conn = bare.clone();
                        async move {
                            redis::cmd("SET")
                                .arg("bench:bare")
                                .arg(VALUE)
                                .query_async::<()>(&mut conn)
                                .await
                                .unwrap()
                        }
                    },
                    || {
                        let store = store.clone();
                        async move { store.set("bench:bare", VALUE.to_vec(), None).await.unwrap() }
                    },
                )
                .await
            }
        })
    });
    report("redis set", &totals);
    g.finish();
}

#[cfg(not(feature = "redis"))]
fn bench_redis(_: &mut Criterion) {}

#[cfg(feature = "memcache")]
fn bench_memcache(c: &mut Criterion) {
    use backlot::services::cache::{MemcacheStore, MemcacheStoreOptions};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::Mutex;

    let Ok(addr) = std::env::var("BACKLOT_TEST_MEMCACHE_URL") else {
        eprintln!("skipped memcache: BACKLOT_TEST_MEMCACHE_URL not set");
        return;
    };
    let rt = runtime();
    let store = Arc::new(
        MemcacheStore::new(
            &addr,
            MemcacheStoreOptions {
                // one connection, like the bare client (more only help concurrent callers)
                pool_size: 1,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let client = CacheManager::with_store(store.clone()).for_plugin("bench");
    let value: serde_json::Value = serde_json::from_slice(VALUE).unwrap();
    rt.block_on(async {
        store.set("bench:bare", VALUE.to_vec(), None).await.unwrap();
        client
            .try_set("k", &value, SetOptions::default())
            .await
            .unwrap();
    });
    // The bare client: one binary-protocol request/response on one socket, nothing else.
    let bare = Arc::new(Mutex::new(rt.block_on(async {
        let s = TcpStream::connect(&addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        s
    })));
    async fn bare_request(
        sock: &Mutex<TcpStream>,
        opcode: u8,
        extras: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Vec<u8> {
        let mut sock = sock.lock().await;
        let mut req = vec![0u8; 24];
        req[0] = 0x80;
        req[1] = opcode;
        req[2..4].copy_from_slice(&(key.len() as u16).to_be_bytes());
        req[4] = extras.len() as u8;
        req[8..12]
            .copy_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
        req.extend_from_slice(extras);
        req.extend_from_slice(key);
        req.extend_from_slice(value);
        sock.write_all(&req).await.unwrap();
        let mut head = [0u8; 24];
        sock.read_exact(&mut head).await.unwrap();
        let total = u32::from_be_bytes(head[8..12].try_into().unwrap()) as usize;
        let mut body = vec![0u8; total];
        sock.read_exact(&mut body).await.unwrap();
        body.split_off(usize::from(head[4]))
    }
    let mut g = c.benchmark_group("memcache");
    g.bench_function("bare_get", |b| {
        b.to_async(&rt)
            .iter(|| async { bare_request(&bare, 0x00, &[], b"bench:bare", &[]).await })
    });
    g.bench_function("store_get", |b| {
        b.to_async(&rt)
            .iter(|| async { store.get("bench:bare").await.unwrap() })
    });
    g.bench_function("client_get_json", |b| {
        b.to_async(&rt)
            .iter(|| async { client.try_get::<serde_json::Value>("k").await.unwrap() })
    });
    g.bench_function("bare_set", |b| {
        b.to_async(&rt)
            .iter(|| async { bare_request(&bare, 0x01, &[0; 8], b"bench:bare", VALUE).await })
    });
    g.bench_function("store_set", |b| {
        b.to_async(&rt)
            .iter(|| async { store.set("bench:bare", VALUE.to_vec(), None).await.unwrap() })
    });
    let totals = Totals::default();
    g.bench_function("get_overhead_paired", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (bare, store) = (bare.clone(), store.clone());
            let totals = totals.clone();
            async move {
                paired(
                    iters,
                    totals,
                    || {
                        let bare = bare.clone();
                        async move { bare_request(&bare, 0x00, &[], b"bench:bare", &[]).await }
                    },
                    || {
                        let store = store.clone();
                        async move { store.get("bench:bare").await.unwrap() }
                    },
                )
                .await
            }
        })
    });
    report("memcache get", &totals);
    let totals = Totals::default();
    g.bench_function("set_overhead_paired", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (bare, store) = (bare.clone(), store.clone());
            let totals = totals.clone();
            async move {
                paired(
                    iters,
                    totals,
                    || {
                        let bare = bare.clone();
                        async move { bare_request(&bare, 0x01, &[0; 8], b"bench:bare", VALUE).await }
                    },
                    || {
                        let store = store.clone();
                        async move { store.set("bench:bare", VALUE.to_vec(), None).await.unwrap() }
                    },
                )
                .await
            }
        })
    });
    report("memcache set", &totals);
    g.finish();
}

#[cfg(not(feature = "memcache"))]
fn bench_memcache(_: &mut Criterion) {}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_memory, bench_redis, bench_memcache
}
criterion_main!(benches);
