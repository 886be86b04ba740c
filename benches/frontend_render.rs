//! App build time and server-side page rendering throughput.

use std::hint::black_box;

use axum::body::Body;
use backlot::frontend::ui::{Column, Table, TableState};
use backlot::frontend::{App, FrontendPlugin, NavItemBlueprint, PageBlueprint, RouteRef};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use maud::html;
use tower::ServiceExt;

static LIST: RouteRef = RouteRef::new("bench.list");

fn plugin() -> FrontendPlugin {
    let page = PageBlueprint::new("/list", |req| async move {
        let state = TableState::from_query(req.query_pairs(), 50);
        let rows: Vec<(String, String)> = (0..500)
            .map(|i| (format!("component-{i}"), format!("team <{}>", i % 7)))
            .collect();
        let table =
            Table::new("Components")
                .columns(vec![
                    Column::sortable("name", "Name"),
                    Column::new("owner", "Owner"),
                ])
                .rows(state.page_slice(&rows).iter().map(|(n, o)| {
                    vec![html! { a href=(format!("/c/{n}")) { (n) } }, html! { (o) }]
                }))
                .total(rows.len())
                .state(state)
                .link_base(req.path(), req.query_pairs())
                .render();
        Ok(html! { (table) }.into())
    })
    .route_ref(&LIST)
    .build();
    let mut plugin = FrontendPlugin::new("bench")
        .route("list", &LIST)
        .extension(page)
        .extension(NavItemBlueprint::new("List", &LIST).build());
    for i in 0..20 {
        plugin = plugin.extension(
            PageBlueprint::new(&format!("/extra/{i}"), |_| async {
                Ok(html! { "x" }.into())
            })
            .name(&format!("extra{i}"))
            .build(),
        );
    }
    plugin
}

fn bench(c: &mut Criterion) {
    c.bench_function("app build (25 extensions)", |b| {
        b.iter(|| {
            black_box(
                App::builder()
                    .feature(plugin())
                    .build()
                    .map(|a| a.page_paths().len()),
            )
        })
    });

    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let app = match App::builder().feature(plugin()).build() {
        Ok(app) => app,
        Err(e) => panic!("app: {e}"),
    };
    let router = app.router();
    c.bench_function("render table page (50 of 500 rows)", |b| {
        b.to_async(&rt).iter(|| {
            let router = router.clone();
            async move {
                let req = Request::get("/list?sort=name&page=3").body(Body::empty());
                let res = match req {
                    Ok(req) => router.oneshot(req).await,
                    Err(e) => panic!("request: {e}"),
                };
                let body = match res {
                    Ok(res) => axum::body::to_bytes(res.into_body(), usize::MAX).await,
                    Err(never) => match never {},
                };
                black_box(body.map(|b| b.len()).unwrap_or_default())
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
