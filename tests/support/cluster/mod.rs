//! Processes of a replicated portal, started by a test on 127.0.0.1 and stopped when dropped:
//! a PostgreSQL server and a Redis server of the test's own (so the test may stop and restart
//! them), the `portal` example binary, and nginx as the load balancer.
//!
//! The binaries come from the environment: `BACKLOT_TEST_PG_BIN` (the directory holding
//! `initdb` and `pg_ctl`), `BACKLOT_TEST_REDIS_SERVER` (`redis-server`) and
//! `BACKLOT_TEST_NGINX` (`nginx`). [`binaries`] says which is missing (the test is then
//! skipped); a variable that is set but names nothing runnable fails the test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the servers' binaries are.
pub struct Binaries {
    pub pg_bin: PathBuf,
    pub redis_server: PathBuf,
    pub nginx: PathBuf,
}

/// The binaries named by the environment, or the names of the unset variables.
pub fn binaries() -> Result<Binaries, Vec<&'static str>> {
    let vars = [
        "BACKLOT_TEST_PG_BIN",
        "BACKLOT_TEST_REDIS_SERVER",
        "BACKLOT_TEST_NGINX",
    ];
    let values: Vec<Option<String>> = vars.iter().map(|v| std::env::var(v).ok()).collect();
    let missing: Vec<&'static str> = vars
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let [pg, redis, nginx] = [0, 1, 2].map(|i| PathBuf::from(values[i].clone().unwrap()));
    for (var, exe) in [
        ("BACKLOT_TEST_PG_BIN", pg.join("pg_ctl")),
        ("BACKLOT_TEST_PG_BIN", pg.join("initdb")),
        ("BACKLOT_TEST_REDIS_SERVER", redis.clone()),
        ("BACKLOT_TEST_NGINX", nginx.clone()),
    ] {
        assert!(
            exe.is_file(),
            "{var} is set but {} is not a file",
            exe.display()
        );
    }
    Ok(Binaries {
        pg_bin: pg,
        redis_server: redis,
        nginx,
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Waits until something accepts connections on `port` (at most 30 s).
pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------ PostgreSQL

/// A PostgreSQL server of the test's own, in a temp dir, on a free port (as `postgres` when
/// the test runs as root: PostgreSQL refuses root).
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl OwnPostgres {
    pub fn start(bin: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = Self {
            dir,
            bin: bin.to_path_buf(),
            port: free_port(),
        };
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(pg.dir.path())
                .status();
        }
        let data = pg.data();
        pg.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D", &data],
        );
        pg.ctl(&["start"]);
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl ACTION...` with this server's options, waiting for it (60 s at most).
    pub fn ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60"];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    /// Fast shutdown (clients disconnected, transactions rolled back), then start again.
    pub fn restart(&self) {
        self.ctl(&["-m", "fast", "restart"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ------------------------------------------------------------------ Redis

/// A `redis-server` of the test's own on a free port, without persistence.
pub struct OwnRedis {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start(bin: &Path) -> Self {
        let mut redis = Self {
            bin: bin.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
        };
        redis.resume();
        redis
    }

    /// Starts the server (again) on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "redis-server already runs");
        let port = self.port.to_string();
        let child = Command::new(&self.bin)
            .args(["--bind", "127.0.0.1", "--port", &port])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_port(self.port);
    }

    /// `kill -9`: connections drop, the port refuses.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------------ nginx

/// The body nginx answers when no replica could answer (its own 502/504), in Backstage's
/// error JSON, so clients see one error format whoever failed.
pub const LB_ERROR_MESSAGE: &str = "the load balancer found no replica to answer";

/// nginx in front of `upstreams`, on a free port: connections to the replicas are kept
/// alive; a request is passed to the next replica when the connection fails or times out —
/// only idempotent requests once sent (nginx's default: a POST is passed on only when it
/// never reached a replica); nginx's own 502/504 answer error JSON.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// The nginx config of [`Nginx`] (also shown in `docs/deployment.md`).
pub fn nginx_config(dir: &Path, port: u16, upstreams: &[u16]) -> String {
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let error = |status: u16, name: &str| {
        format!(
            "  location @lb{status} {{\n    default_type application/json;\n    \
             return {status} '{{\"error\":{{\"name\":\"{name}\",\"message\":\"{LB_ERROR_MESSAGE}\"}},\
             \"request\":{{\"method\":\"$request_method\",\"url\":\"$request_uri\"}},\
             \"response\":{{\"statusCode\":{status}}}}}';\n  }}\n"
        )
    };
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log {d}/access.log;\n\
         \x20 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         \x20 upstream portal {{\n{servers}    keepalive 16;\n  }}\n\
         \x20 server {{\n    listen 127.0.0.1:{port};\n\
         \x20   proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n\
         \x20   proxy_set_header Host $http_host;\n\
         \x20   proxy_connect_timeout 2s;\n    proxy_read_timeout 8s;\n    proxy_send_timeout 8s;\n\
         \x20   proxy_next_upstream error timeout;\n    proxy_next_upstream_tries 3;\n\
         \x20   proxy_next_upstream_timeout 9s;\n\
         \x20   error_page 502 @lb502;\n    error_page 504 @lb504;\n\
         \x20   location / {{ proxy_pass http://portal; }}\n\
         {}{}  }}\n}}\n",
        error(502, "BadGatewayError"),
        error(504, "GatewayTimeoutError"),
    )
}

impl Nginx {
    pub fn start(bin: &Path, upstreams: &[u16]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, nginx_config(dir.path(), port, upstreams)).unwrap();
        let test = Command::new(bin)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(port);
        Self { child, dir, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ the portal

/// Every feature of the crate, with whether this test was built with it: a feature added to
/// Cargo.toml must be added here too, or the example is built with other features than the
/// test and the crate compiles twice (`tests/cluster_split.rs` checks the list).
pub const FEATURES: [(bool, &str); 8] = [
    (cfg!(feature = "testing"), "testing"),
    (cfg!(feature = "postgres"), "postgres"),
    (cfg!(feature = "mysql"), "mysql"),
    (cfg!(feature = "redis"), "redis"),
    (cfg!(feature = "memcache"), "memcache"),
    (cfg!(feature = "infinispan"), "infinispan"),
    (cfg!(feature = "s3"), "s3"),
    (cfg!(feature = "otel"), "otel"),
];

/// The crate's features this test was built with, to build the example with the same ones.
fn features() -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect()
}

/// Builds `examples/portal.rs` next to this test binary with the same cargo, target
/// directory, profile and features (a no-op when fresh) and returns its path.
pub fn portal_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    // The package's own variables would make build scripts that watch them rebuild.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_",
            "CARGO_TARGET_TMPDIR",
            "OUT_DIR",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix))
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", "portal", "--target-dir"])
        .arg(target_dir);
    if release {
        cmd.arg("--release");
    }
    let features = features();
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let status = cmd.status().expect("run cargo build --example portal");
    assert!(status.success(), "cargo build --example portal failed");
    let bin = profile_dir.join("examples").join("portal");
    assert!(bin.exists(), "no portal binary at {}", bin.display());
    bin
}

/// A portal process reading `<root>/cluster.yaml` plus its own port, killed when dropped;
/// its output goes to `<root>/<name>/log`.
pub struct Portal {
    pub name: String,
    bin: PathBuf,
    dir: PathBuf,
    plugins: String,
    child: Option<Child>,
    pub port: u16,
}

impl Portal {
    pub fn start(bin: &Path, root: &Path, name: &str, plugins: &str, port: u16) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("port.yaml"),
            format!("backend:\n  listen:\n    port: {port}\n"),
        )
        .unwrap();
        let mut portal = Self {
            name: name.to_string(),
            bin: bin.to_path_buf(),
            dir,
            plugins: plugins.to_string(),
            child: None,
            port,
        };
        portal.spawn();
        portal
    }

    /// Starts the process (again), appending to its log.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .current_dir(&self.dir)
            .args(["--config", "../cluster.yaml", "--config", "port.yaml"])
            .args(["--plugins", &self.plugins])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Waits until readiness answers 200 (at most `limit`); panics with the log if the process
    /// exits first.
    pub async fn ready(&mut self, http: &reqwest::Client, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().unwrap()
            {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            let url = format!("{}/.backstage/health/v1/readiness", self.url());
            if let Ok(res) = http.get(&url).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready in {limit:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Like [`Portal::ready`], but a process that exits before it is ready is started again
    /// (as a supervisor such as Kubernetes would), up to 5 times. Returns the failed starts'
    /// last log lines.
    pub async fn ready_supervised(
        &mut self,
        http: &reqwest::Client,
        limit: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut failures = Vec::new();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().unwrap()
            {
                self.child = None;
                let log = self.log();
                let last = log
                    .lines()
                    .rev()
                    .find(|l| l.contains("Error"))
                    .unwrap_or("");
                failures.push(format!("exit {status}: {last}"));
                assert!(
                    failures.len() <= 5,
                    "{} failed to start 6 times:\n{log}",
                    self.name
                );
                self.spawn();
            }
            let url = format!("{}/.backstage/health/v1/readiness", self.url());
            if let Ok(res) = http.get(&url).send().await
                && res.status() == 200
            {
                return failures;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready in {limit:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.kill();
    }
}
