//! Runs one audit: the `lighthouse` CLI as a child process in its own process group, driving
//! headless Chromium, its JSON report read from stdout up to a size limit, within a timeout.
//! On timeout the group gets SIGINT (lighthouse then closes the Chromium it launched, which
//! runs in a session of its own), then SIGKILL.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::store::CategoryScore;

/// The categories audited and stored.
pub(crate) const CATEGORIES: [&str; 4] = ["performance", "accessibility", "best-practices", "seo"];

/// How much of the CLI's stderr a failure keeps (its end).
const STDERR_TAIL: usize = 2000;

/// How to run the CLI.
#[derive(Debug, Clone)]
pub(crate) struct RunnerConfig {
    /// The `lighthouse` executable.
    pub(crate) command: String,
    /// Chromium, passed as `CHROME_PATH`.
    pub(crate) chrome_path: String,
    /// `--chrome-flags`.
    pub(crate) chrome_flags: Vec<String>,
    /// The longest an audit may run.
    pub(crate) timeout: Duration,
    /// The largest report read.
    pub(crate) max_report_bytes: usize,
}

/// A finished audit: the report as the CLI wrote it and its category scores.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) json: String,
    pub(crate) scores: Vec<CategoryScore>,
}

/// Why an audit failed; the text is what the audit records.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditFailure {
    /// The executable could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// The timeout passed.
    #[error("timed out after {0:?} (lighthouse.timeout); the process group was killed")]
    Timeout(Duration),
    /// The CLI exited unsuccessfully.
    #[error("lighthouse exited with {status}: {stderr}")]
    Exit { status: String, stderr: String },
    /// The report is larger than allowed.
    #[error("the report is larger than lighthouse.maxReportBytes ({0} bytes)")]
    TooLarge(usize),
    /// The output is not a Lighthouse report.
    #[error("unparsable lighthouse output: {0}")]
    Unparsable(String),
    /// Lighthouse ran but could not audit the page.
    #[error("lighthouse could not audit the page: {code}: {message}")]
    Runtime { code: String, message: String },
    /// The backend shut down.
    #[error("stopped: the backend shut down during the audit")]
    Stopped,
    /// Reading the child's output failed.
    #[error("reading lighthouse's output: {0}")]
    Io(#[from] std::io::Error),
}

/// The arguments for auditing `url` with `options` (`lighthouseConfig.settings.formFactor`
/// or `emulatedFormFactor` `desktop` selects the desktop preset).
pub(crate) fn args(config: &RunnerConfig, url: &str, options: &Value) -> Vec<String> {
    let mut args = vec![
        url.to_string(),
        "--output=json".to_string(),
        "--output-path=stdout".to_string(),
        "--quiet".to_string(),
        format!("--chrome-flags={}", config.chrome_flags.join(" ")),
        format!("--only-categories={}", CATEGORIES.join(",")),
    ];
    let settings = &options["lighthouseConfig"]["settings"];
    let form_factor = settings["formFactor"]
        .as_str()
        .or_else(|| settings["emulatedFormFactor"].as_str());
    if form_factor == Some("desktop") {
        args.push("--preset=desktop".to_string());
    }
    args
}

/// Reads `reader` to its end, or until more than `max` bytes came (then `Err(TooLarge)`).
async fn read_capped(reader: impl AsyncRead + Unpin, max: usize) -> Result<Vec<u8>, AuditFailure> {
    let mut buf = Vec::new();
    let read = reader.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if read > max {
        return Err(AuditFailure::TooLarge(max));
    }
    Ok(buf)
}

/// Reads `reader` to its end, keeping its last [`STDERR_TAIL`] bytes.
async fn read_tail(mut reader: impl AsyncRead + Unpin) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}

/// Signals the process group `pid` leads (ignoring a group already gone).
fn signal_group(pid: Option<u32>, signal: rustix::process::Signal) {
    let pid = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Stops the child's process group: SIGINT (lighthouse closes its Chromium), SIGKILL after
/// five seconds, then reaps the child.
async fn stop_group(child: &mut Child, pid: Option<u32>) {
    signal_group(pid, rustix::process::Signal::INT);
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        signal_group(pid, rustix::process::Signal::KILL);
    }
    // Whatever is left in the group goes too.
    signal_group(pid, rustix::process::Signal::KILL);
    let _ = child.wait().await;
}

/// Audits `url`; `stop` ends the audit early (backend shutdown).
pub(crate) async fn run(
    config: &RunnerConfig,
    url: &str,
    options: &Value,
    stop: &CancellationToken,
) -> Result<Report, AuditFailure> {
    let mut child = Command::new(&config.command)
        .args(args(config, url, options))
        .env("CHROME_PATH", &config.chrome_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| AuditFailure::Spawn {
            command: config.command.clone(),
            source,
        })?;
    let pid = child.id();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        stop_group(&mut child, pid).await;
        return Err(AuditFailure::Io(std::io::Error::other(
            "no pipes to the child",
        )));
    };
    let work = async {
        let (out, err) = tokio::join!(
            read_capped(stdout, config.max_report_bytes),
            read_tail(stderr)
        );
        (out, err)
    };
    let deadline = tokio::time::Instant::now() + config.timeout;
    let (out, stderr) = tokio::select! {
        done = tokio::time::timeout_at(deadline, work) => match done {
            Ok(done) => done,
            Err(_) => {
                stop_group(&mut child, pid).await;
                return Err(AuditFailure::Timeout(config.timeout));
            }
        },
        () = stop.cancelled() => {
            stop_group(&mut child, pid).await;
            return Err(AuditFailure::Stopped);
        }
    };
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            stop_group(&mut child, pid).await;
            return Err(e);
        }
    };
    // The pipes are closed: the CLI is exiting; give it the rest of the timeout.
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            stop_group(&mut child, pid).await;
            return Err(AuditFailure::Timeout(config.timeout));
        }
    };
    // Leftovers of the group (none when lighthouse cleaned up).
    signal_group(pid, rustix::process::Signal::KILL);
    if !status.success() {
        return Err(AuditFailure::Exit {
            status: status.to_string(),
            stderr,
        });
    }
    parse(out)
}

/// The scores of a report, or why it is not one.
pub(crate) fn parse(out: Vec<u8>) -> Result<Report, AuditFailure> {
    let json = String::from_utf8(out).map_err(|_| AuditFailure::Unparsable("not UTF-8".into()))?;
    let report: Value = serde_json::from_str(&json).map_err(|e| {
        let start: String = json.chars().take(120).collect();
        AuditFailure::Unparsable(format!("{e} (output starts {start:?})"))
    })?;
    if let Some(err) = report.get("runtimeError").filter(|e| e.is_object()) {
        return Err(AuditFailure::Runtime {
            code: err["code"].as_str().unwrap_or("UNKNOWN").to_string(),
            message: err["message"].as_str().unwrap_or_default().to_string(),
        });
    }
    let Some(categories) = report.get("categories").and_then(Value::as_object) else {
        return Err(AuditFailure::Unparsable(
            "no categories in the report".into(),
        ));
    };
    let scores = CATEGORIES
        .iter()
        .filter_map(|id| {
            let c = categories.get(*id)?;
            Some(CategoryScore {
                id: (*id).to_string(),
                title: c["title"].as_str().unwrap_or(id).to_string(),
                score: c["score"].as_f64().filter(|s| (0.0..=1.0).contains(s)),
            })
        })
        .collect::<Vec<_>>();
    if scores.is_empty() {
        return Err(AuditFailure::Unparsable(
            "none of the audited categories in the report".into(),
        ));
    }
    Ok(Report { json, scores })
}
