#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! The catalog UI in headless Chromium, driven over the W3C WebDriver protocol: a backend with
//! the catalog (the demo catalog) and the app, `chromedriver` from PATH. Without chromedriver
//! the test prints `skipped: chromedriver not found` (Debian: `apt-get install -y chromium
//! chromium-driver`).
//!
//! Screenshots of the index and an entity page land in `<target tmpdir>/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::testing::TestBackend;
use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process, stopped (by its pid) when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start(driver: &str, profile: &Path) -> Browser {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{driver}/status")).send().await;
            if let Ok(res) = ready {
                let v: Value = res.json().await.unwrap_or_default();
                if v["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        } } });
        let res: Value = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        Browser {
            http,
            session: format!("{driver}/session/{session}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to 10 s for it.
    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            assert!(Instant::now() < deadline, "no element matches {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    async fn text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.text(&e).await
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn wait_for_url(&self, part: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.url().await.contains(part) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn screenshot(&self, path: &Path) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap();
        std::fs::write(path, png).unwrap();
        println!("screenshot: {}", path.display());
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

#[tokio::test]
async fn a_person_browses_the_catalog() {
    let Some(chromedriver) = find_on_path("chromedriver") else {
        println!("skipped: chromedriver not found");
        return;
    };
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/all.yaml");
    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(App::builder().feature(catalog_frontend_plugin())))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            demo.display()
        ))
        .start()
        .await
        .unwrap();

    let port = free_port();
    let _driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::start(&format!("http://127.0.0.1:{port}"), profile.path()).await;
    browser
        .call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": 1440, "height": 1000 })),
        )
        .await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The index: components by default, 20 rows, a total.
    browser.goto(&backend.url("/catalog")).await;
    assert_eq!(browser.text_of("h1").await, "Catalog");
    assert_eq!(
        browser.title().await,
        "Catalog · Components · Northwind Portal"
    );
    assert_eq!(browser.find_all("table.bl-table tbody tr").await.len(), 20);
    assert_eq!(browser.text_of("caption").await, "All Components (25)");
    browser.screenshot(&shots.join("catalog.png")).await;

    // Pick the System kind (the optional script submits the form; else press Apply).
    browser
        .click(&browser.find("select[name=kind]").await)
        .await;
    browser
        .click(&browser.find("select[name=kind] option[value=system]").await)
        .await;
    if !browser.wait_for_url("kind=system").await {
        browser
            .click(&browser.find(".cat-actions button").await)
            .await;
        assert!(browser.wait_for_url("kind=system").await);
    }
    assert_eq!(browser.text_of("caption").await, "All Systems (7)");
    let names: Vec<String> = {
        let mut out = Vec::new();
        for e in browser.find_all("td a.cat-name").await {
            out.push(browser.text(&e).await);
        }
        out
    };
    assert_eq!(names.len(), 7);
    assert!(
        names.contains(&"Shipment Tracking".to_string()),
        "{names:?}"
    );

    // Open a system, then follow its owner link.
    browser
        .click(
            &browser
                .find("a.cat-name[href$='/system/shipment-tracking']")
                .await,
        )
        .await;
    assert!(
        browser
            .wait_for_url("/catalog/default/system/shipment-tracking")
            .await
    );
    assert_eq!(browser.text_of("h1").await, "Shipment Tracking");
    let owner = browser.find(".cat-about a[href*='/group/']").await;
    assert_eq!(browser.text(&owner).await, "tracking-team");
    browser.click(&owner).await;
    assert!(
        browser
            .wait_for_url("/catalog/default/group/tracking-team")
            .await
    );
    assert_eq!(browser.text_of("h1").await, "Tracking");
    let relations = browser.text_of("#card-relations + .bl-card-body").await;
    assert!(relations.contains("ada.okafor"), "{relations}");
    assert!(relations.contains("tracking-service"), "{relations}");

    // A component page, for the screenshot.
    browser
        .goto(&backend.url("/catalog/default/component/tracking-service"))
        .await;
    assert_eq!(browser.text_of("h1").await, "tracking-service");
    assert!(
        browser
            .text_of(".cat-about")
            .await
            .contains("shipment-tracking")
    );
    browser.screenshot(&shots.join("entity.png")).await;

    // A missing entity is a page a person can read.
    browser
        .goto(&backend.url("/catalog/default/component/nope"))
        .await;
    assert_eq!(browser.text_of("h1").await, "Page not found");

    browser.close().await;
    backend.stop().await.unwrap();
}
