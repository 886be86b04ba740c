//! `backlot-probe`: the container's health checker. The runtime image has no shell and no
//! curl, so its `HEALTHCHECK` runs this instead: one HTTP/1.1 `GET` to a plain-`http` URL,
//! exit status 0 when the answer is `200`, 1 otherwise (the reason on stderr).
//!
//! ```sh
//! backlot-probe                                   # http://127.0.0.1:7007/.backstage/health/v1/liveness
//! backlot-probe http://127.0.0.1:7007/.backstage/health/v1/readiness
//! BACKLOT_PROBE_TIMEOUT_MS=5000 backlot-probe URL # whole-probe bound; default 3000 ms
//! ```
//!
//! It uses only the standard library, so `deploy/build-image.sh` and `deploy/Containerfile`
//! build it with plain `rustc`, statically linked: `rustc --edition 2024 -O -C panic=abort
//! -C target-feature=+crt-static deploy/probe.rs -o backlot-probe`. `tests/deploy_image.rs`
//! includes this file as a module and runs [`probe`] against a real backend.
//!
//! Every input is bounded: the connection, the write and the read share one deadline, and at
//! most [`MAX_RESPONSE_HEAD`] bytes of the answer are read (the status line is all it needs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The URL probed when none is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7007/.backstage/health/v1/liveness";
/// The whole probe's time bound when `BACKLOT_PROBE_TIMEOUT_MS` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);
/// At most this many bytes of the answer are read.
pub const MAX_RESPONSE_HEAD: usize = 8192;

/// Why a probe failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The URL is not `http://host[:port]/path`.
    BadUrl(String),
    /// The host did not resolve, refused, or the deadline passed.
    Connect(String),
    /// Writing the request or reading the answer failed or timed out.
    Io(String),
    /// The answer is not an HTTP/1.x status line.
    BadResponse(String),
    /// The server answered with another status than 200.
    Status(u16),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadUrl(m) => write!(f, "bad url: {m}"),
            Self::Connect(m) => write!(f, "cannot connect: {m}"),
            Self::Io(m) => write!(f, "request failed: {m}"),
            Self::BadResponse(m) => write!(f, "not an http answer: {m}"),
            Self::Status(s) => write!(f, "status {s}, expected 200"),
        }
    }
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port; 80 when the URL has none.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Parses a plain-`http` URL; `https`, user info and fragments are refused.
pub fn parse_url(url: &str) -> Result<Target, ProbeError> {
    let bad = |m: &str| ProbeError::BadUrl(format!("{m} in '{url}'"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') || path.contains('#') {
        return Err(bad("user info and fragments are not supported"));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("control characters or spaces in the path"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => 80,
    };
    Ok(Target {
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    })
}

fn remaining(deadline: Instant) -> Result<Duration, ProbeError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ProbeError::Io("deadline passed".to_owned()))
}

/// `GET`s `url` and succeeds when the status is 200, all within `timeout`.
pub fn probe(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    let deadline = Instant::now() + timeout;
    let target = parse_url(url)?;
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| ProbeError::Connect(format!("{}: {e}", target.host)))?
        .collect();
    let mut last = format!("{} resolved to no address", target.host);
    let mut stream = None;
    for addr in addrs {
        let left = remaining(deadline).map_err(|_| ProbeError::Connect("timed out".into()))?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(ProbeError::Connect(last))?;
    let io = |e: std::io::Error| ProbeError::Io(e.to_string());
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(io)?;
    let host_header = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: backlot-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_RESPONSE_HEAD {
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(io)?;
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        let take = n.min(MAX_RESPONSE_HEAD - head.len());
        head.extend_from_slice(&buf[..take]);
    }
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| ProbeError::BadResponse("no status line".to_owned()))?;
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(ProbeError::BadResponse(line.chars().take(80).collect()));
    }
    let status = code
        .parse::<u16>()
        .map_err(|_| ProbeError::BadResponse(line.chars().take(80).collect()))?;
    if status == 200 {
        Ok(())
    } else {
        Err(ProbeError::Status(status))
    }
}

/// The timeout from `BACKLOT_PROBE_TIMEOUT_MS` (1..=60000), else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env(value: Option<&str>) -> Result<Duration, String> {
    match value {
        None | Some("") => Ok(DEFAULT_TIMEOUT),
        Some(v) => match v.parse::<u64>() {
            Ok(ms @ 1..=60_000) => Ok(Duration::from_millis(ms)),
            _ => Err(format!(
                "BACKLOT_PROBE_TIMEOUT_MS must be 1..=60000 milliseconds, got '{v}'"
            )),
        },
    }
}

#[allow(dead_code)] // unused when tests/deploy_image.rs includes this file as a module
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() > 1 || args.first().is_some_and(|a| a.starts_with('-')) {
        eprintln!("usage: backlot-probe [http://host:port/path]  (default {DEFAULT_URL})");
        return std::process::ExitCode::from(2);
    }
    let url = args.first().map_or(DEFAULT_URL, String::as_str);
    let env = std::env::var("BACKLOT_PROBE_TIMEOUT_MS").ok();
    let timeout = match timeout_from_env(env.as_deref()) {
        Ok(t) => t,
        Err(m) => {
            eprintln!("backlot-probe: {m}");
            return std::process::ExitCode::from(2);
        }
    };
    match probe(url, timeout) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backlot-probe: {url}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
