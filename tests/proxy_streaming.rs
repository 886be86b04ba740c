//! Streaming through the proxy: a 200 MB download and a 200 MB upload pass with flat memory
//! (the resident set of this process, backend included, measured before and after), and a
//! WebSocket echo through the upgraded connection, with `proxy.maxWebSocketConnections`.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod proxy_common;

use backlot::backend::Feature;
use backlot::plugins::proxy;
use backlot::testing::{TestBackend, mock_credentials};
use futures::{SinkExt, StreamExt};
use proxy_common::start_target;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIG: u64 = 200 * 1024 * 1024;

/// This process's resident set in bytes (`VmRSS` of /proc/self/status).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

async fn backend(target: &str, extra: &str) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(proxy::backend::plugin()))
        .config_yaml(format!(
            "backend:\n  http:\n    maxBodySize: 1000000000\nproxy:\n{extra}  endpoints:\n    /t: {target}\n"
        ))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_download_and_upload_stream_with_flat_memory() {
    let target = start_target().await;
    let b = backend(&target.url, "").await;
    // Warm up the client, the pool and the allocator first.
    let warm = b.client().get("/api/proxy/t/bytes/1048576").await.unwrap();
    assert_eq!(warm.bytes().len(), 1 << 20);

    let before = rss();
    let res = b
        .client()
        .request(reqwest::Method::GET, &format!("/api/proxy/t/bytes/{BIG}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.content_length(), Some(BIG));
    let mut stream = res.bytes_stream();
    let (mut got, mut peak) = (0u64, before);
    while let Some(chunk) = stream.next().await {
        got += chunk.unwrap().len() as u64;
        if got % (16 << 20) < 65536 {
            peak = peak.max(rss());
        }
    }
    assert_eq!(got, BIG);
    let growth = peak.max(rss()).saturating_sub(before);
    eprintln!("download of {BIG} bytes: RSS grew by {growth} bytes");
    assert!(growth < 40 * 1024 * 1024, "memory grew by {growth} bytes");

    let before = rss();
    let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    let chunks = (BIG / chunk.len() as u64) as usize;
    let body =
        futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let res = b
        .client()
        .request(reqwest::Method::POST, "/api/proxy/t/count")
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), BIG.to_string());
    let growth = rss().saturating_sub(before);
    eprintln!("upload of {BIG} bytes: RSS grew by {growth} bytes");
    assert!(growth < 40 * 1024 * 1024, "memory grew by {growth} bytes");
}

/// A WebSocket echo server on 127.0.0.1; it stops when the test ends.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        let _ = ws.send(msg).await;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_websocket_echo_through_the_proxy_and_its_limit() {
    let echo = echo_server().await;
    let b = backend(&echo, "  maxWebSocketConnections: 1\n").await;
    let connect = || {
        let mut req = b
            .url("/api/proxy/t/socket")
            .replace("http://", "ws://")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "authorization",
            mock_credentials::user_header("user:default/mo")
                .parse()
                .unwrap(),
        );
        tokio_tungstenite::connect_async(req)
    };
    let (mut ws, res) = connect().await.unwrap();
    assert_eq!(res.status(), 101);
    for text in ["hello", "through the proxy"] {
        ws.send(Message::text(text)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    }
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );

    // The limit: a second connection is refused while the first is open.
    match connect().await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 503),
        other => panic!("expected a 503, got {other:?}"),
    }
    ws.close(None).await.unwrap();
    drop(ws);
    // Once the first has closed, its slot is free again.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = connect().await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut ws = reopened.expect("the slot was not freed");
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("again"));

    // Without credentials the upgrade is refused like any request.
    let req = b.url("/api/proxy/t/socket").replace("http://", "ws://");
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
}
