#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The Lighthouse plugin of `examples/lighthouse.rs`: its API and tables over HTTP (SQLite,
//! and PostgreSQL when `BACKLOT_TEST_POSTGRES_URL` is set), failures recorded with their
//! reason (missing binary, non-zero exit, timeout with the process group killed, unparsable
//! or oversized output), the concurrency and pending caps, audits of a killed backend failed
//! at start, the entity card, and:
//!
//! - with `BACKLOT_TEST_LIGHTHOUSE` (the `lighthouse` CLI; `.ci/run` installs it), a real
//!   audit of a page this test's backend serves, then the card showing its scores (fails when
//!   the variable is set but the audit does not complete; prints `skipped` when unset);
//! - headless Chromium opening the entity page with the card and pressing "Audit now"
//!   (skipped without chromedriver).

mod support;

#[path = "../examples/lighthouse/mod.rs"]
mod lighthouse;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::services::database::Sql;
use backlot::services::permissions::PolicyDecision;
use backlot::testing::permissions::mock_permissions_policy;
use backlot::testing::{TestBackend, TestResponse};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::webdriver::Browser;

const ENTITY_PAGE: &str = "/catalog/default/component/northwind-website";

/// A backend with the lighthouse plugin and its card, the website plugin, the catalog and
/// the app; `yaml` is more config (`lighthouse:` ...).
async fn start(yaml: &str) -> TestBackend {
    start_with(yaml, false).await
}

async fn start_with(yaml: &str, real_auth: bool) -> TestBackend {
    let mut builder = TestBackend::builder();
    if real_auth {
        builder = builder
            .real_auth()
            .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
            .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n");
    }
    builder
        .feature(Feature::plugin(lighthouse::LighthousePlugin))
        .feature(Feature::plugin(lighthouse::site::WebsitePlugin))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(lighthouse::card::frontend_plugin()),
        ))
        .config_yaml(support::file_locations_yaml())
        .config_yaml("catalog:\n  rules:\n    - allow: [Component, Group]\n  locations: []\n")
        .config_yaml(yaml.to_string())
        .start()
        .await
        .unwrap()
}

/// A shell script standing in for a *failing* `lighthouse` (failure recording only).
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn error(res: &TestResponse) -> (String, String) {
    let body: Value = res.json().unwrap();
    (
        body["error"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn trigger(b: &TestBackend, url: &str) -> Value {
    let res = b
        .client()
        .post_json("/api/lighthouse/v1/audits", &json!({ "url": url }))
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let audit: Value = res.json().unwrap();
    assert_eq!(audit["status"], "RUNNING");
    assert_eq!(audit["url"], url);
    audit
}

/// Polls the audit until it is no longer running.
async fn finished(b: &TestBackend, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let res = b
            .client()
            .get(&format!("/api/lighthouse/v1/audits/{id}"))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let audit: Value = res.json().unwrap();
        if audit["status"] != "RUNNING" {
            return audit;
        }
        assert!(
            Instant::now() < deadline,
            "audit {id} still running: {audit}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stores a completed audit of `url` with `scores` (performance, accessibility,
/// best-practices, seo), as the plugin does, directly in its tables.
async fn seed(b: &TestBackend, id: &str, url: &str, at: DateTime<Utc>, scores: [f64; 4]) {
    let db = b.database("lighthouse").await.unwrap();
    let report = json!({ "lighthouseVersion": "12.2.3", "finalDisplayedUrl": url });
    Sql::new("INSERT INTO lighthouse_audits (id, url, status, time_created, time_completed, heartbeat_at, report) VALUES (?, ?, 'COMPLETED', ?, ?, ?, ?)")
        .bind(id)
        .bind(url)
        .bind(at)
        .bind(at + chrono::Duration::seconds(20))
        .bind(at)
        .bind(report.to_string())
        .execute(&db)
        .await
        .unwrap();
    let titles = ["Performance", "Accessibility", "Best Practices", "SEO"];
    for (i, category) in lighthouse::runner::CATEGORIES.iter().enumerate() {
        Sql::new("INSERT INTO lighthouse_categories (audit_id, category, title, score) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(*category)
            .bind(titles[i])
            .bind(scores[i])
            .execute(&db)
            .await
            .unwrap();
    }
}

async fn register_entity(b: &TestBackend, dir: &Path, website: &str) {
    let file = dir.join("catalog-info.yaml");
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lighthouse/catalog-info.yaml"),
    )
    .unwrap()
    .replace("http://127.0.0.1:7007/api/website/home", website);
    let yaml = format!(
        "{yaml}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: no-website\nspec:\n  type: service\n  lifecycle: production\n  owner: group:web-team\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: evil-website\n  annotations:\n    lighthouse.com/website-url: 'javascript:alert(1)//\"><script>x</script>'\nspec:\n  type: website\n  lifecycle: production\n  owner: group:web-team\n"
    );
    std::fs::write(&file, yaml).unwrap();
    let res = b
        .client()
        .post_json(
            "/api/catalog/locations",
            &json!({ "type": "file", "target": file.display().to_string() }),
        )
        .await
        .unwrap();
    assert!(res.status() < 300, "{}", res.text());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut found = 0;
        for name in ["northwind-website", "no-website", "evil-website"] {
            let res = b
                .client()
                .get(&format!(
                    "/api/catalog/entities/by-name/component/default/{name}"
                ))
                .await
                .unwrap();
            found += usize::from(res.status() == 200);
        }
        if found == 3 {
            return;
        }
        assert!(Instant::now() < deadline, "the entities never showed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn failures_are_recorded_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "/nonexistent/bin/lighthouse".to_string(),
            "cannot run /nonexistent/bin/lighthouse",
        ),
        (
            script(
                dir.path(),
                "exit3.sh",
                "echo 'Chrome crashed: no display' >&2\nexit 3",
            ),
            "lighthouse exited with exit status: 3: Chrome crashed: no display",
        ),
        (
            script(dir.path(), "garbage.sh", "echo 'Runtime error encountered'"),
            "unparsable lighthouse output",
        ),
        (
            script(dir.path(), "big.sh", "head -c 5000 /dev/zero | tr '\\0' x"),
            "the report is larger than lighthouse.maxReportBytes (4096 bytes)",
        ),
        (
            script(
                dir.path(),
                "runtime.sh",
                r#"echo '{"runtimeError":{"code":"ERRORED_DOCUMENT_REQUEST","message":"status code 404"},"categories":{}}'"#,
            ),
            "lighthouse could not audit the page: ERRORED_DOCUMENT_REQUEST: status code 404",
        ),
    ];
    for (command, reason) in cases {
        let b = start(&format!(
            "lighthouse:\n  command: '{command}'\n  maxReportBytes: 4096\n  timeout: 20s\n"
        ))
        .await;
        let url = b.url("/api/website/home");
        let audit = trigger(&b, &url).await;
        let done = finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(20)).await;
        assert_eq!(done["status"], "FAILED", "{command}: {done}");
        let failure = done["failure"].as_str().unwrap();
        assert!(failure.contains(reason), "{command}: {failure}");
        assert!(done["timeCompleted"].is_string() && done.get("report").is_none());
        // The failure is in the table, not only in memory.
        let db = b.database("lighthouse").await.unwrap();
        let (status, stored): (String, String) =
            Sql::new("SELECT status, failure FROM lighthouse_audits WHERE id = ?")
                .bind(audit["id"].as_str().unwrap())
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!((status.as_str(), stored.as_str()), ("FAILED", failure));
        assert!(
            b.logger()
                .records()
                .iter()
                .any(|r| r.message == "audit failed")
        );
        b.stop().await.unwrap();
    }
}

/// The state letter of `/proc/<pid>/stat` (`None` once the process is gone).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // A stand-in that hangs with a child of its own, like lighthouse with its browser.
    let hang = script(
        dir.path(),
        "hang.sh",
        &format!("sleep 300 &\necho $$ $! > {}\nwait", pids.display()),
    );
    let b = start(&format!(
        "lighthouse:\n  command: '{hang}'\n  timeout: 1s\n"
    ))
    .await;
    let audit = trigger(&b, &b.url("/api/website/home")).await;
    let started = Instant::now();
    let done = finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(done["status"], "FAILED");
    assert!(
        done["failure"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s (lighthouse.timeout)"),
        "{done}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace().map(|p| p.parse::<u32>().unwrap()) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(proc_state(pid), None | Some('Z')) {
            assert!(
                Instant::now() < deadline,
                "process {pid} outlived the timeout"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_backend_shutting_down_stops_its_audits_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let hang = script(
        dir.path(),
        "hang.sh",
        &format!("sleep 300 &\necho $$ $! > {}\nwait", pids.display()),
    );
    let db_yaml = format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
        dir.path().join("data").display()
    );
    let config = format!(
        "{db_yaml}lighthouse:\n  command: '{hang}'\n  timeout: 5m\n  maxConcurrentAudits: 1\n"
    );
    let b = start(&config).await;
    let running = trigger(&b, &b.url("/api/website/home")).await;
    let waiting = trigger(&b, &b.url("/api/website/home")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.exists()
        || std::fs::read_to_string(&pids)
            .unwrap()
            .split_whitespace()
            .count()
            < 2
    {
        assert!(Instant::now() < deadline, "the audit never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopped_at = Instant::now();
    b.stop().await.unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    for pid in std::fs::read_to_string(&pids).unwrap().split_whitespace() {
        let pid: u32 = pid.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(proc_state(pid), None | Some('Z')) {
            assert!(
                Instant::now() < deadline,
                "process {pid} outlived the backend"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let b = start(&config).await;
    for audit in [&running, &waiting] {
        let done = finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(1)).await;
        assert_eq!(done["status"], "FAILED");
        assert_eq!(
            done["failure"],
            "stopped: the backend shut down during the audit"
        );
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_scheduled_reaudit_audits_every_known_website() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "exit 1");
    let b = start(&format!(
        "lighthouse:\n  command: '{failing}'\n  reauditEvery: 1d\n"
    ))
    .await;
    let t = Utc::now() - chrono::Duration::days(2);
    seed(&b, "x1", "https://a.example.com/", t, [0.5; 4]).await;
    seed(&b, "x2", "https://b.example.com/", t, [0.5; 4]).await;
    seed(&b, "x3", "https://b.example.com/", t, [0.6; 4]).await;
    b.trigger_task("lighthouse", lighthouse::REAUDIT_TASK)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list: Value = b
            .client()
            .get("/api/lighthouse/v1/websites")
            .await
            .unwrap()
            .json()
            .unwrap();
        let fresh: Vec<&Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["lastAudit"]["status"] == "FAILED")
            .collect();
        if fresh.len() == 2 {
            assert_eq!(
                list["items"][0]["audits"].as_array().unwrap().len()
                    + list["items"][1]["audits"].as_array().unwrap().len(),
                5
            );
            break;
        }
        assert!(Instant::now() < deadline, "not re-audited: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn audits_wait_for_a_slot_and_too_many_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = dir.path().join("running");
    let slow = script(
        dir.path(),
        "slow.sh",
        &format!(
            "[ -e {r} ] && echo overlap >> {l}\ntouch {r}\necho start >> {l}\nsleep 1\nrm -f {r}\nexit 1",
            r = running.display(),
            l = log.display()
        ),
    );
    let b = start(&format!(
        "lighthouse:\n  command: '{slow}'\n  maxConcurrentAudits: 1\n  maxPendingAudits: 2\n"
    ))
    .await;
    let url = b.url("/api/website/home");
    let first = trigger(&b, &url).await;
    let second = trigger(&b, &url).await;
    let res = b
        .client()
        .post_json("/api/lighthouse/v1/audits", &json!({ "url": url }))
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "{}", res.text());
    let (name, message) = error(&res);
    assert_eq!(name, "ServiceUnavailableError");
    assert!(message.contains("lighthouse.maxPendingAudits"), "{message}");
    for audit in [&first, &second] {
        let done = finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(20)).await;
        assert_eq!(done["status"], "FAILED");
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "start").count(), 2, "{log}");
    assert!(!log.contains("overlap"), "two audits ran at once: {log}");
    // The places are free again.
    let third = trigger(&b, &url).await;
    finished(&b, third["id"].as_str().unwrap(), Duration::from_secs(20)).await;
    b.stop().await.unwrap();
}

async fn api_shapes(db_yaml: &str) {
    let b = start(&format!(
        "{db_yaml}lighthouse:\n  command: /nonexistent/lighthouse\n  maxPageSize: 10\n  maxBodyBytes: 1024\n"
    ))
    .await;
    let site = "https://www.example.com/";
    let other = "https://shop.example.com/a?b=c";
    let t0 = Utc::now() - chrono::Duration::hours(3);
    seed(&b, "a1", site, t0, [0.5, 0.9, 0.8, 0.7]).await;
    seed(
        &b,
        "a2",
        site,
        t0 + chrono::Duration::hours(1),
        [0.6, 0.95, 0.85, 0.75],
    )
    .await;
    seed(
        &b,
        "b1",
        other,
        t0 + chrono::Duration::minutes(30),
        [0.9, 1.0, 1.0, 0.9],
    )
    .await;

    let res = b.client().get("/api/lighthouse/v1/websites").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let list: Value = res.json().unwrap();
    assert_eq!(
        (
            list["total"].clone(),
            list["limit"].clone(),
            list["offset"].clone()
        ),
        (json!(2), json!(10), json!(0)),
        "limit: 25 or lighthouse.maxPageSize"
    );
    let urls: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, [site, other], "most recently audited first");
    let first = &list["items"][0];
    let ids: Vec<&str> = first["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a2", "a1"], "newest first");
    assert_eq!(first["lastAudit"]["id"], "a2");
    assert_eq!(first["lastAudit"]["status"], "COMPLETED");
    assert_eq!(
        first["lastAudit"]["categories"]["accessibility"],
        json!({ "id": "accessibility", "title": "Accessibility", "score": 0.95 })
    );

    let encoded = percent_encoding::utf8_percent_encode(other, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let res = b
        .client()
        .get(&format!("/api/lighthouse/v1/websites/{encoded}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let one: Value = res.json().unwrap();
    assert_eq!(one["url"], other);
    assert_eq!(one["audits"].as_array().unwrap().len(), 1);
    let res = b
        .client()
        .get("/api/lighthouse/v1/websites/https%3A%2F%2Fnope.example")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error(&res).0, "NotFoundError");

    let res = b
        .client()
        .get("/api/lighthouse/v1/audits?limit=2&offset=1")
        .await
        .unwrap();
    let page: Value = res.json().unwrap();
    assert_eq!(
        (
            page["total"].as_i64(),
            page["limit"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b1", "a1"]);
    assert!(
        page["items"][0].get("report").is_none(),
        "lists carry no report"
    );

    let res = b
        .client()
        .get("/api/lighthouse/v1/audits/a2")
        .await
        .unwrap();
    let audit: Value = res.json().unwrap();
    assert_eq!(audit["report"]["lighthouseVersion"], "12.2.3");
    assert_eq!(audit["categories"]["performance"]["score"], 0.6);

    for (query, message) in [
        ("limit=abc", "limit must be a number."),
        ("offset=-1", "offset must be a number."),
        (
            "limit=11",
            "limit must be at most 10 (lighthouse.maxPageSize)",
        ),
    ] {
        let res = b
            .client()
            .get(&format!("/api/lighthouse/v1/audits?{query}"))
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(error(&res), ("InputError".to_string(), message.to_string()));
    }
    let res = b
        .client()
        .get("/api/lighthouse/v1/audits/nope")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        error(&res),
        (
            "NotFoundError".into(),
            "audit with id \"nope\" not found".into()
        )
    );

    for body in [
        json!({ "url": "ftp://example.com/" }),
        json!({ "url": "not a url" }),
        json!({ "url": "javascript:alert(1)" }),
        json!({ "url": format!("https://example.com/{}", "a".repeat(2100)) }),
        json!({ "url": "https://example.com/", "options": "fast" }),
        json!({ "website": "https://example.com/" }),
    ] {
        let res = b
            .client()
            .post_json("/api/lighthouse/v1/audits", &body)
            .await
            .unwrap();
        assert!(matches!(res.status(), 400 | 413), "{body}: {}", res.text());
        if res.status() == 400 {
            assert_eq!(error(&res).0, "InputError", "{body}");
        }
    }
    let huge = json!({ "url": "https://example.com/", "options": { "pad": "x".repeat(2000) } });
    let res = b
        .client()
        .post_json("/api/lighthouse/v1/audits", &huge)
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "lighthouse.maxBodyBytes: {}", res.text());
    assert_eq!(
        error(&res),
        (
            "PayloadTooLargeError".to_string(),
            "the body is larger than lighthouse.maxBodyBytes (1024)".to_string()
        )
    );

    // A valid request is stored (options as JSON) and its failure recorded.
    let options = json!({ "lighthouseConfig": { "settings": { "formFactor": "desktop" } } });
    let res = b
        .client()
        .post_json(
            "/api/lighthouse/v1/audits",
            &json!({ "url": other, "options": options }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let id = res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = finished(&b, &id, Duration::from_secs(10)).await;
    let failure = done["failure"].as_str().unwrap();
    assert!(
        failure.contains("cannot run /nonexistent/lighthouse"),
        "{done}"
    );
    let db = b.database("lighthouse").await.unwrap();
    let (stored,): (Value,) = Sql::new("SELECT options FROM lighthouse_audits WHERE id = ?")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, options);

    let res = b
        .client()
        .delete("/api/lighthouse/v1/audits/a1")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let db = b.database("lighthouse").await.unwrap();
    let (left,): (i64,) =
        Sql::new("SELECT COUNT(*) FROM lighthouse_categories WHERE audit_id = 'a1'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        b.client()
            .get("/api/lighthouse/v1/audits/a1")
            .await
            .unwrap()
            .status(),
        404
    );

    // Every route needs credentials (the backend's default-deny auth layer).
    let anonymous = b.client().unauthenticated();
    for path in [
        "/api/lighthouse/v1/websites",
        "/api/lighthouse/v1/audits/a2",
    ] {
        assert_eq!(anonymous.get(path).await.unwrap().status(), 401, "{path}");
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_api_has_the_audit_service_shapes_on_sqlite() {
    api_shapes("").await;
}

#[tokio::test]
async fn the_api_has_the_audit_service_shapes_on_postgres() {
    let Some(db) = support::postgres_database_yaml("lighthouse") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL is not set");
        return;
    };
    api_shapes(&db).await;
}

#[tokio::test]
async fn the_api_has_the_audit_service_shapes_on_mysql() {
    let Some(db) = support::mysql_database_yaml("lighthouse") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL is not set");
        return;
    };
    api_shapes(&db).await;
}

#[tokio::test]
async fn triggering_needs_the_create_permission() {
    let b = TestBackend::builder()
        .service(mock_permissions_policy(|query, user| {
            let jane = user.is_some_and(|u| u.info.user_entity_ref == "user:default/jane");
            if query.permission.name != "lighthouse.audit.create" || jane {
                PolicyDecision::Allow
            } else {
                PolicyDecision::Deny
            }
        }))
        .feature(Feature::plugin(lighthouse::LighthousePlugin))
        .config_yaml("lighthouse:\n  command: /nonexistent/lighthouse\n")
        .start()
        .await
        .unwrap();
    let body = json!({ "url": "https://example.com/" });
    let joe = b.client().as_user("user:default/joe");
    let res = joe
        .post_json("/api/lighthouse/v1/audits", &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text());
    assert_eq!(
        error(&res),
        (
            "NotAllowedError".to_string(),
            "you are not allowed to do this (lighthouse.audit.create)".to_string()
        )
    );
    // Reading needs no permission; nothing was stored.
    let list: Value = joe
        .get("/api/lighthouse/v1/audits")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["total"], 0);
    let jane = b.client().as_user("user:default/jane");
    let res = jane
        .post_json("/api/lighthouse/v1/audits", &body)
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let id = res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = joe
        .delete(&format!("/api/lighthouse/v1/audits/{id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The permission is listed in the plugin's permission metadata.
    let meta = b
        .client()
        .as_service("plugin:permission")
        .get("/api/lighthouse/.well-known/backstage/permissions/metadata")
        .await
        .unwrap();
    assert!(
        meta.text().contains("lighthouse.audit.create"),
        "{}",
        meta.text()
    );
    b.stop().await.unwrap();
}

#[tokio::test]
async fn audits_of_a_killed_backend_fail_at_start_and_live_ones_keep_beating() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db_yaml = format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
        data.display()
    );
    let slow = script(dir.path(), "slow.sh", "sleep 8\nexit 2");
    let config =
        format!("{db_yaml}lighthouse:\n  command: '{slow}'\n  staleAfter: 3s\n  timeout: 20s\n");

    let b = start(&config).await;
    let db = b.database("lighthouse").await.unwrap();
    // A row like the ones a backend killed mid-audit leaves: running, its heartbeat old.
    let old = Utc::now() - chrono::Duration::minutes(10);
    Sql::new("INSERT INTO lighthouse_audits (id, url, status, time_created, heartbeat_at) VALUES ('dead', 'https://example.com/', 'RUNNING', ?, ?)")
        .bind(old)
        .bind(old)
        .execute(&db)
        .await
        .unwrap();
    b.stop().await.unwrap();

    let b = start(&config).await;
    let dead = finished(&b, "dead", Duration::from_secs(1)).await;
    assert_eq!(dead["status"], "FAILED");
    assert_eq!(dead["failure"], lighthouse::INTERRUPTED);

    // A live audit is not failed by the sweep: its heartbeat is fresh.
    let live = trigger(&b, &b.url("/api/website/home")).await;
    let id = live["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    // (It also runs every `staleAfter` by itself: a trigger may find it running.)
    let _ = b.trigger_task("lighthouse", lighthouse::STALE_TASK).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = b
        .client()
        .get(&format!("/api/lighthouse/v1/audits/{id}"))
        .await
        .unwrap();
    let now: Value = res.json().unwrap();
    assert_eq!(
        now["status"], "RUNNING",
        "the sweep failed a live audit: {now}"
    );
    // A row whose process is gone while this backend runs is failed by the sweep.
    let db = b.database("lighthouse").await.unwrap();
    Sql::new("INSERT INTO lighthouse_audits (id, url, status, time_created, heartbeat_at) VALUES ('dead2', 'https://example.com/', 'RUNNING', ?, ?)")
        .bind(old)
        .bind(old)
        .execute(&db)
        .await
        .unwrap();
    // (It also runs every `staleAfter` by itself: a trigger may find it running.)
    let _ = b.trigger_task("lighthouse", lighthouse::STALE_TASK).await;
    let dead = finished(&b, "dead2", Duration::from_secs(10)).await;
    assert_eq!(dead["failure"], lighthouse::INTERRUPTED);
    let done = finished(&b, id, Duration::from_secs(20)).await;
    assert!(
        done["failure"].as_str().unwrap().contains("exit status: 2"),
        "{done}"
    );
    b.stop().await.unwrap();
}

#[tokio::test]
async fn bad_config_fails_the_start() {
    for (yaml, key) in [
        (
            "lighthouse:\n  maxConcurrentAudits: 0\n",
            "maxConcurrentAudits",
        ),
        ("lighthouse:\n  timeout: soon\n", "timeout"),
        ("lighthouse:\n  chromeFlag: [x]\n", "chromeFlag"),
    ] {
        let err = TestBackend::builder()
            .feature(Feature::plugin(lighthouse::LighthousePlugin))
            .config_yaml(yaml)
            .start()
            .await
            .expect_err(yaml);
        let message = format!("{err:#}");
        assert!(message.contains(key), "{yaml}: {message}");
    }
}

/// The scores the card shows for `category` (its `<tr data-category=..>`).
fn card_row<'a>(html: &'a str, category: &str) -> &'a str {
    html.split(&format!("<tr data-category=\"{category}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {category} row: {html}"))
        .split("</tr>")
        .next()
        .unwrap()
}

#[tokio::test]
async fn the_card_shows_the_latest_scores_and_sparklines() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "echo 'no chrome' >&2\nexit 1");
    let b = start(&format!("lighthouse:\n  command: '{failing}'\n")).await;
    let site = b.url("/api/website/home");
    register_entity(&b, dir.path(), &site).await;

    let html = b.client().get(ENTITY_PAGE).await.unwrap().text();
    assert!(
        html.contains("This website has not been audited yet."),
        "{html}"
    );
    assert!(html.contains("Audit now"));

    let t0 = Utc::now() - chrono::Duration::days(3);
    for (i, p) in [0.42, 0.61, 0.93].iter().enumerate() {
        seed(
            &b,
            &format!("s{i}"),
            &site,
            t0 + chrono::Duration::days(i as i64),
            [*p, 1.0, 0.79, 0.5],
        )
        .await;
    }
    let html = b.client().get(ENTITY_PAGE).await.unwrap().text();
    let perf = card_row(&html, "performance");
    assert!(
        perf.contains("<strong>93</strong>") && perf.contains("lh-good"),
        "{perf}"
    );
    assert!(perf.contains("data-points=\"3\""), "{perf}");
    assert!(card_row(&html, "best-practices").contains("<strong>79</strong>"));
    assert!(card_row(&html, "best-practices").contains("lh-average"));
    assert!(card_row(&html, "seo").contains("<strong>50</strong>"));
    // The sparkline rises: its last point is higher (smaller y) than its first.
    let points = perf
        .split("polyline points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let ys: Vec<f64> = points
        .split(' ')
        .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ys.len(), 3);
    assert!(ys[0] > ys[1] && ys[1] > ys[2], "{ys:?}");

    // A hostile annotation is shown escaped and never linked.
    let evil = b
        .client()
        .get("/catalog/default/component/evil-website")
        .await
        .unwrap()
        .text();
    assert!(evil.contains("lh-audit-now"), "{evil}");
    assert!(
        !evil.contains("<script>x") && !evil.contains("href=\"javascript:"),
        "{evil}"
    );
    assert!(evil.contains("&lt;script&gt;x"), "{evil}");

    // No card without the annotation.
    let other = b
        .client()
        .get("/catalog/default/component/no-website")
        .await
        .unwrap()
        .text();
    assert!(!other.contains("lh-audit-now"));

    // A failed newest audit says why, and the scores stay.
    let audit = trigger(&b, &site).await;
    finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(20)).await;
    let html = b.client().get(ENTITY_PAGE).await.unwrap().text();
    assert!(
        html.contains("lh-status-failed") && html.contains("no chrome"),
        "{html}"
    );
    assert!(card_row(&html, "performance").contains("<strong>93</strong>"));

    // The websites page lists it.
    let page = b.client().get("/lighthouse").await.unwrap().text();
    assert!(page.contains(&site), "{page}");
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_real_lighthouse_audit_of_a_page_this_backend_serves() {
    let Ok(command) = std::env::var("BACKLOT_TEST_LIGHTHOUSE") else {
        println!("skipped: BACKLOT_TEST_LIGHTHOUSE is not set (the path of the lighthouse CLI)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let b = start(&format!(
        "lighthouse:\n  command: '{command}'\n  timeout: 3m\n"
    ))
    .await;
    let site = b.url("/api/website/home");
    register_entity(&b, dir.path(), &site).await;
    let audit = trigger(&b, &site).await;
    let id = audit["id"].as_str().unwrap();
    let done = finished(&b, id, Duration::from_secs(200)).await;
    assert_eq!(done["status"], "COMPLETED", "the real audit failed: {done}");
    assert_eq!(done["report"]["lighthouseVersion"], "12.2.3");
    let mut percents = Vec::new();
    for category in lighthouse::runner::CATEGORIES {
        let score = done["categories"][category]["score"].as_f64();
        let score = score.unwrap_or_else(|| panic!("no {category} score: {}", done["categories"]));
        assert!((0.0..=1.0).contains(&score));
        percents.push((category, (score * 100.0).round() as i64));
    }
    println!("lighthouse scores of {site}: {percents:?}");
    let db = b.database("lighthouse").await.unwrap();
    let (stored,): (i64,) = Sql::new(
        "SELECT COUNT(*) FROM lighthouse_categories WHERE audit_id = ? AND score IS NOT NULL",
    )
    .bind(id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(stored, 4);
    let html = b.client().get(ENTITY_PAGE).await.unwrap().text();
    for (category, percent) in percents {
        assert!(
            card_row(&html, category).contains(&format!("<strong>{percent}</strong>")),
            "{category}"
        );
    }
    b.stop().await.unwrap();

    // A real audit cut by the timeout leaves no Chromium behind (lighthouse's browser runs in
    // a session of its own; the SIGINT to the group makes lighthouse close it).
    let b = start(&format!(
        "lighthouse:\n  command: '{command}'\n  timeout: 3s\n"
    ))
    .await;
    let audit = trigger(&b, &b.url("/api/website/home")).await;
    let done = finished(&b, audit["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    assert!(
        done["failure"]
            .as_str()
            .unwrap()
            .contains("timed out after 3s"),
        "{done}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = lighthouse_browsers();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Chromium outlived the audit: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.stop().await.unwrap();
}

/// Live Chromium processes launched by lighthouse (their profile is `/tmp/lighthouse.*`).
fn lighthouse_browsers() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("--user-data-dir=/tmp/lighthouse.")
                && !matches!(proc_state(*pid), None | Some('Z'))
        })
        .collect()
}

#[tokio::test]
async fn chromium_opens_the_entity_page_with_the_lighthouse_card() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "echo 'chromium is busy' >&2\nexit 1");
    // The example's own catalog file: its website URL is the example portal's; the audits
    // shown are seeded for it, and "Audit now" runs the failing command.
    let catalog =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/lighthouse/catalog-info.yaml");
    let site = "http://127.0.0.1:7007/api/website/home";
    let b = start_with(
        &format!(
            "lighthouse:\n  command: '{failing}'\ncatalog:\n  locations:\n    - type: file\n      target: '{}'\n",
            catalog.display()
        ),
        true,
    )
    .await;
    let Some(browser) = Browser::start().await else {
        b.stop().await.unwrap();
        return;
    };
    seed(
        &b,
        "c1",
        site,
        Utc::now() - chrono::Duration::days(1),
        [0.71, 0.88, 0.96, 0.9],
    )
    .await;
    seed(
        &b,
        "c2",
        site,
        Utc::now() - chrono::Duration::hours(1),
        [0.97, 0.98, 1.0, 0.92],
    )
    .await;

    browser.sign_in_as_guest(&b.url("/")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        browser.goto(&b.url(ENTITY_PAGE)).await;
        if browser.source().await.contains("lh-scores") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no Lighthouse card: {}",
            browser.source().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let row = browser
        .text_of("table.lh-scores tr[data-category='performance']")
        .await;
    assert!(row.contains("97"), "{row}");
    assert_eq!(
        browser
            .find_all("svg.lh-spark[data-points='2']")
            .await
            .len(),
        4
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    browser.screenshot(&shots.join("lighthouse-card.png")).await;

    // "Audit now" posts the form, triggers an audit with the user's token, and comes back.
    browser
        .click(&browser.find("form.lh-audit-now button").await)
        .await;
    browser.wait_for_url(|u| u.ends_with(ENTITY_PAGE)).await;
    // The post reaches the backend before the page comes back: wait for the new row.
    let db = b.database("lighthouse").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (count,): (i64,) = Sql::new("SELECT COUNT(*) FROM lighthouse_audits")
            .fetch_one(&db)
            .await
            .unwrap();
        if count == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no audit was triggered from the browser"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&b.url(ENTITY_PAGE)).await;
        let source = browser.source().await;
        if source.contains("chromium is busy") {
            assert!(source.contains("lh-status-failed"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the audit never showed: {source}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.close().await;
    b.stop().await.unwrap();
}
