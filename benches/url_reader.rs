//! URL reader throughput: allow-list matching, file reads, trees, globs and local HTTP reads.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use axum::Router;
use axum::routing::get;
use backlot::services::url_reader::{
    AllowList, ReadTreeOptions, ReadUrlOptions, SearchOptions, UrlReaders,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use url::Url;

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn allow_list(c: &mut Criterion) {
    let rules: Vec<_> = (0..20)
        .map(|i| json!({ "host": format!("*.host{i}.example.com"), "paths": ["/a/", "/b/"] }))
        .collect();
    let allow = AllowList::from_config(Some(&json!(rules))).unwrap();
    let hit = Url::parse("https://x.host19.example.com/b/catalog-info.yaml").unwrap();
    let miss = Url::parse("https://other.test/catalog-info.yaml").unwrap();
    c.bench_function("url_reader/allow_20_rules_last_hit", |b| {
        b.iter(|| allow.allows(black_box(&hit)))
    });
    c.bench_function("url_reader/allow_20_rules_miss", |b| {
        b.iter(|| allow.allows(black_box(&miss)))
    });
}

fn files(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "one.yaml", &[b'x'; 4096]);
    for d in 0..20 {
        for f in 0..10 {
            write(tmp.path(), &format!("tree/d{d}/f{f}.md"), &[b'm'; 2048]);
            write(tmp.path(), &format!("tree/d{d}/f{f}.png"), &[b'p'; 2048]);
        }
        write(
            tmp.path(),
            &format!("tree/d{d}/catalog-info.yaml"),
            b"kind: Component",
        );
    }
    let readers = UrlReaders::builder().base_dir(tmp.path()).build().unwrap();

    c.bench_function("url_reader/file_read_url_4k", |b| {
        b.to_async(&rt).iter(|| async {
            readers
                .read_url("one.yaml", &ReadUrlOptions::new())
                .await
                .unwrap()
        })
    });
    c.bench_function("url_reader/file_read_tree_420_files", |b| {
        b.to_async(&rt).iter(|| async {
            readers
                .read_tree("tree", &ReadTreeOptions::new())
                .await
                .unwrap()
        })
    });
    let md = ReadTreeOptions::new().glob("**/*.md").unwrap();
    c.bench_function("url_reader/file_read_tree_200_of_420_by_glob", |b| {
        b.to_async(&rt)
            .iter(|| async { readers.read_tree("tree", &md).await.unwrap() })
    });
    c.bench_function("url_reader/file_search_20_of_420", |b| {
        b.to_async(&rt).iter(|| async {
            readers
                .search("tree/**/catalog-info.yaml", &SearchOptions::new())
                .await
                .unwrap()
        })
    });
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(async {
        let app = Router::new().route("/one.yaml", get(|| async { vec![b'x'; 4096] }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let readers =
        UrlReaders::from_config(Some(&json!({ "allow": [{ "host": addr.to_string() }] }))).unwrap();
    let url = format!("http://{addr}/one.yaml");
    c.bench_function("url_reader/http_read_url_4k_loopback", |b| {
        b.to_async(&rt).iter(|| async {
            readers
                .read_url(&url, &ReadUrlOptions::new())
                .await
                .unwrap()
        })
    });
}

criterion_group!(benches, allow_list, files, http);
criterion_main!(benches);
