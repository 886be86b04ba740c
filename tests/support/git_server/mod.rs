//! Test helpers for the scaffolder's actions: the git server of `start.sh` (from the
//! `BACKLOT_TEST_GIT_*` variables) and a harness running built-in actions with a backend's
//! services.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

pub mod harness;

use std::path::Path;
use std::process::Command;

/// The git server the tests push to.
#[derive(Debug, Clone)]
pub struct GitServer {
    /// `http://127.0.0.1:7900`.
    pub url: String,
    /// The user allowed to push.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl GitServer {
    /// The server of `BACKLOT_TEST_GIT_URL` (with `BACKLOT_TEST_GIT_USER`/`_PASSWORD`), or `None`
    /// after printing that `test` is skipped. With the variable set, the server must answer.
    pub fn from_env(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var("BACKLOT_TEST_GIT_URL") else {
            println!("{test} skipped: BACKLOT_TEST_GIT_URL is unset (.ci/run starts a git server)");
            return None;
        };
        let server = Self {
            url: url.trim_end_matches('/').to_string(),
            user: std::env::var("BACKLOT_TEST_GIT_USER").expect("BACKLOT_TEST_GIT_USER"),
            password: std::env::var("BACKLOT_TEST_GIT_PASSWORD")
                .expect("BACKLOT_TEST_GIT_PASSWORD"),
        };
        let host = server.host();
        assert!(
            std::net::TcpStream::connect(&host).is_ok(),
            "BACKLOT_TEST_GIT_URL is set but nothing answers on {host}"
        );
        Some(server)
    }

    /// `127.0.0.1:7900`.
    pub fn host(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string()
    }

    /// A fresh owner name, so runs never collide.
    pub fn fresh_owner(tag: &str) -> String {
        format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
    }
}

/// `git clone` of `url` into `dest` (anonymous), on `branch` when given.
pub fn git_clone(url: &str, dest: &Path, branch: Option<&str>) {
    let mut cmd = Command::new("git");
    cmd.arg("clone").arg("-q");
    if let Some(b) = branch {
        cmd.args(["-b", b]);
    }
    let out = cmd
        .arg(url)
        .arg(dest)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git clone {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git` in `dir`, its trimmed stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every file below `dir` (relative, sorted), `.git` left out, with its contents.
pub fn files_of(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() == ".git" {
                continue;
            }
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
