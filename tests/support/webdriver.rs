//! A small W3C WebDriver client for browser tests: starts `chromedriver` (from `$CHROMEDRIVER`
//! or `PATH`) on a free local port and drives headless Chromium (`$CHROME_BIN` if set).
//! Tests call [`Browser::start`] and skip when it returns `None`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

fn find_chromedriver() -> Option<String> {
    if let Ok(path) = std::env::var("CHROMEDRIVER") {
        return Some(path);
    }
    let path = std::env::var("PATH").ok()?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless session, or prints `skipped: ...` and returns
    /// `None` when chromedriver is not installed.
    pub async fn start() -> Option<Browser> {
        let Some(driver_path) = find_chromedriver() else {
            println!("skipped: chromedriver not found (set CHROMEDRIVER or put it on PATH)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {driver_path}: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(res) = http.get(format!("{base}/status")).send().await {
                if res.status().is_success() {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            http,
        };
        assert!(ready, "chromedriver at {driver_path} did not start");
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]
        });
        if let Ok(bin) = std::env::var("CHROME_BIN") {
            options["binary"] = json!(bin);
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        } } });
        let res = browser.call("POST", "/session", caps).await;
        browser.session = res["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        Some(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let value: Value = res.json().await.unwrap();
        if value["value"]["error"].is_string() {
            panic!("{method} {path}: {}", value["value"]);
        }
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{}", self.session, rest)
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), json!({ "url": url }))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call("GET", &self.session_path("/url"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page source.
    pub async fn source(&self) -> String {
        self.call("GET", &self.session_path("/source"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page title.
    pub async fn title(&self) -> String {
        self.call("GET", &self.session_path("/title"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Resizes the window.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.session_path("/window/rect"),
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Every element matching a CSS selector now (no waiting).
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        self.call(
            "POST",
            &self.session_path("/elements"),
            json!({ "using": "css selector", "value": css }),
        )
        .await
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The text of the first element matching a CSS selector (waiting for it as `find`).
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.text(&element).await
    }

    /// Saves a PNG screenshot of the window.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let data = self
            .call("GET", &self.session_path("/screenshot"), Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap();
        std::fs::write(path, png).unwrap();
        println!("screenshot: {}", path.display());
    }

    /// Whether the current URL contains `part` within 5 s.
    pub async fn url_reaches(&self, part: &str) -> bool {
        for _ in 0..50 {
            if self.url().await.contains(part) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The first element matching a CSS selector, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> String {
        let mut last = Value::Null;
        for _ in 0..100 {
            let url = format!("{}{}", self.base, self.session_path("/element"));
            let res: Value = self
                .http
                .post(&url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = res["value"][ELEMENT_KEY].as_str() {
                return id.to_string();
            }
            last = res;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element matches {css} ({last}): {}", self.source().await);
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.session_path(&format!("/element/{element}/click")),
            json!({}),
        )
        .await;
    }

    /// Types text into an element.
    pub async fn type_text(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.session_path(&format!("/element/{element}/value")),
            json!({ "text": text }),
        )
        .await;
    }

    /// An element's text.
    pub async fn text(&self, element: &str) -> String {
        self.call(
            "GET",
            &self.session_path(&format!("/element/{element}/text")),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits up to 10 s until the current URL satisfies `pred`.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            let url = self.url().await;
            if pred(&url) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("url never matched; at {}", self.url().await);
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let path = self.session_path("");
        let _ = self
            .http
            .delete(format!("{}{}", self.base, path))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// Also when a test panics: the session is ended first (chromedriver then closes
    /// Chromium), else Chromium would outlive its killed chromedriver.
    fn drop(&mut self) {
        self.delete_session_blocking();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// `DELETE /session/{id}` without the async runtime (it may be gone or panicking).
    fn delete_session_blocking(&self) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let path = self.session_path("");
        let _ = write!(
            stream,
            "DELETE {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        // The answer's first bytes come once the session (and Chromium) is closed.
        let mut answer = [0u8; 512];
        let _ = stream.read(&mut answer);
    }
}

impl Browser {
    /// Signs in as guest through the app's sign-in page (one click), then stays on the page
    /// the app lands on.
    pub async fn sign_in_as_guest(&self, base_url: &str) {
        self.goto(&format!("{}/signin", base_url.trim_end_matches('/')))
            .await;
        self.click(&self.find("form[action='/signin/guest'] button").await)
            .await;
        self.wait_for_url(|u| !u.contains("/signin")).await;
    }
}
