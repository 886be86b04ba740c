//! Proxy overhead and throughput on small responses.
//!
//! A small target (axum, 2-byte answers) on 127.0.0.1 is called directly and through a
//! backend's `/api/proxy/t` endpoint (`credentials: require`, a static external-access token
//! checked on every request), with one pooled keep-alive client each:
//!
//! - criterion `proxy/direct` and `proxy/through_proxy`: one request at a time;
//! - a printed median over 5,000 sequential requests each way, and their difference (the
//!   proxy's overhead);
//! - a printed throughput: 2 connections (two clients of one connection each) sending
//!   back-to-back for 5 s through the proxy.
//!
//! Load generator, backend and target share this process (and the machine's cores), so the
//! throughput is a lower bound of what the proxy does on its own.
//!
//! ```sh
//! cargo bench --bench proxy
//! ```
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use backlot::backend::{Backend, BackendHandle};
use backlot::plugins::proxy;
use criterion::{Criterion, criterion_group, criterion_main};

const TOKEN: &str = "bench-static-token-0123456789";

async fn start() -> (String, BackendHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/ok", get(|| async { "ok" })))
            .await
            .unwrap();
    });
    let handle = Backend::builder()
        .config_yaml(format!(
            "backend:
  logging: {{ level: warn }}
  auth:
    externalAccess:
      - type: static
        options: {{ token: {TOKEN}, subject: bench }}
proxy:
  endpoints:
    /t: {target}
"
        ))
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .add(proxy::backend::plugin())
        .start()
        .await
        .unwrap();
    (target, handle)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap()
}

async fn call(client: &reqwest::Client, url: &str) {
    let res = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), 2);
}

async fn median(client: &reqwest::Client, url: &str, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call(client, url).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

async fn throughput(url: &str, connections: usize, run_for: Duration) -> f64 {
    let deadline = Instant::now() + run_for;
    let workers = (0..connections).map(|_| {
        let url = url.to_string();
        tokio::spawn(async move {
            let client = client();
            let mut done = 0u64;
            while Instant::now() < deadline {
                call(&client, &url).await;
                done += 1;
            }
            done
        })
    });
    let started = Instant::now();
    let mut total = 0;
    for w in workers.collect::<Vec<_>>() {
        total += w.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (target, handle) = rt.block_on(start());
    let direct = format!("{target}/ok");
    let proxied = handle.url("/api/proxy/t/ok");
    let (c1, c2) = (client(), client());

    rt.block_on(async {
        for _ in 0..500 {
            call(&c1, &direct).await;
            call(&c2, &proxied).await;
        }
        let d = median(&c1, &direct, 5000).await;
        let p = median(&c2, &proxied, 5000).await;
        println!(
            "median latency: direct {:.1} µs, through the proxy {:.1} µs, overhead {:.1} µs",
            d.as_secs_f64() * 1e6,
            p.as_secs_f64() * 1e6,
            (p.as_secs_f64() - d.as_secs_f64()) * 1e6
        );
        let rps = throughput(&proxied, 2, Duration::from_secs(5)).await;
        println!("throughput through the proxy, 2 connections: {rps:.0} requests/s");
        let rps = throughput(&direct, 2, Duration::from_secs(5)).await;
        println!("throughput direct, 2 connections: {rps:.0} requests/s");
    });

    let mut group = c.benchmark_group("proxy");
    group.bench_function("direct", |b| b.to_async(&rt).iter(|| call(&c1, &direct)));
    group.bench_function("through_proxy", |b| {
        b.to_async(&rt).iter(|| call(&c2, &proxied))
    });
    group.finish();
    rt.block_on(handle.stop()).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
