//! Commits a directory and pushes it with the `git` CLI, run as a child process isolated from
//! the host's git config, with credentials only in its environment.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::plugins::scaffolder::node::ActionError;

/// The most of git's stderr an error message quotes.
const MAX_STDERR: usize = 4096;
/// Environment variables passed through to git (network proxies).
const PASSED_ENV: &[&str] = &[
    "PATH",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
];

/// Who commits, and how.
#[derive(Debug, Clone)]
pub(super) struct Commit {
    pub(super) message: String,
    pub(super) author_name: String,
    pub(super) author_email: String,
    pub(super) branch: String,
}

/// Runs git for one publish step.
#[derive(Debug)]
pub(super) struct Git {
    git_dir: PathBuf,
    home: PathBuf,
    work_tree: PathBuf,
    timeout: Duration,
    signal: CancellationToken,
    /// Values hidden from every message (the password or token, the header).
    secrets: Vec<String>,
}

impl Git {
    /// A runner keeping git's own files in `scratch` (outside the workspace) and committing
    /// `work_tree`.
    pub(super) fn new(
        scratch: &Path,
        work_tree: PathBuf,
        timeout: Duration,
        signal: CancellationToken,
    ) -> Self {
        Self {
            git_dir: scratch.join("repo.git"),
            home: scratch.join("home"),
            work_tree,
            timeout,
            signal,
            secrets: Vec::new(),
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    async fn run(
        &self,
        args: &[&str],
        commit: Option<&Commit>,
        auth_header: Option<&str>,
    ) -> Result<String, ActionError> {
        let mut cmd = Command::new("git");
        cmd.env_clear();
        for key in PASSED_ENV {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        cmd.env("HOME", &self.home)
            .env("LC_ALL", "C")
            .env("GIT_DIR", &self.git_dir)
            .env("GIT_WORK_TREE", &self.work_tree)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env("GCM_INTERACTIVE", "never");
        if let Some(c) = commit {
            cmd.env("GIT_AUTHOR_NAME", &c.author_name)
                .env("GIT_AUTHOR_EMAIL", &c.author_email)
                .env("GIT_COMMITTER_NAME", &c.author_name)
                .env("GIT_COMMITTER_EMAIL", &c.author_email);
        }
        // Config through the environment, never the command line: `ps` shows arguments.
        let mut config: Vec<(&str, String)> = vec![
            ("core.hooksPath", "/dev/null".to_string()),
            ("credential.helper", String::new()),
            ("http.followRedirects", "false".to_string()),
            ("http.lowSpeedLimit", "1".to_string()),
            (
                "http.lowSpeedTime",
                self.timeout.as_secs().max(1).to_string(),
            ),
            ("protocol.allow", "never".to_string()),
            ("protocol.http.allow", "always".to_string()),
            ("protocol.https.allow", "always".to_string()),
            ("commit.gpgSign", "false".to_string()),
        ];
        if let Some(h) = auth_header {
            config.push(("http.extraHeader", format!("Authorization: {h}")));
        }
        cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
        for (i, (k, v)) in config.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
                .env(format!("GIT_CONFIG_VALUE_{i}"), v);
        }
        cmd.args(args)
            .current_dir(&self.work_tree)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let what = args.first().copied().unwrap_or("git");
        let child = cmd.spawn().map_err(|e| {
            ActionError::Failed(format!("could not run git (is it installed?): {e}"))
        })?;
        // Dropping the losing future kills git (kill_on_drop).
        let output = tokio::select! {
            out = child.wait_with_output() => out.map_err(|e| ActionError::Failed(format!("git {what}: {e}")))?,
            () = self.signal.cancelled() => return Err(ActionError::Cancelled),
            () = tokio::time::sleep(self.timeout) => {
                return Err(ActionError::Failed(format!(
                    "git {what} did not finish within {} (scaffolder.actions.publish.timeout)",
                    humantime::format_duration(self.timeout)
                )));
            }
        };
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_string());
        }
        let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if stderr.len() > MAX_STDERR {
            let mut cut = MAX_STDERR;
            while !stderr.is_char_boundary(cut) {
                cut -= 1;
            }
            stderr.truncate(cut);
            stderr.push('…');
        }
        Err(ActionError::Failed(format!(
            "git {what} failed ({}): {}",
            output.status,
            self.redact(stderr.trim())
        )))
    }

    /// Commits everything below the work tree as the first commit of `commit.branch` and
    /// returns its hash.
    pub(super) async fn commit_all(&self, commit: &Commit) -> Result<String, ActionError> {
        tokio::fs::create_dir_all(&self.home).await?;
        let branch_arg = format!("--initial-branch={}", commit.branch);
        self.run(&["init", "-q", &branch_arg], None, None).await?;
        self.run(&["add", "--all", "."], None, None).await?;
        self.run(
            &[
                "commit",
                "-q",
                "--allow-empty",
                "--no-verify",
                "-m",
                &commit.message,
            ],
            Some(commit),
            None,
        )
        .await?;
        self.run(&["rev-parse", "HEAD"], None, None).await
    }

    /// Pushes the commit to `remote`'s `branch`, authenticating with HTTP basic auth when
    /// `basic` is given.
    pub(super) async fn push(
        &mut self,
        remote: &str,
        branch: &str,
        basic: Option<(&str, &str)>,
    ) -> Result<(), ActionError> {
        let parsed = url::Url::parse(remote)
            .map_err(|e| ActionError::InvalidInput(format!("bad remote URL {remote}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(ActionError::InvalidInput(format!(
                "the remote URL must be http(s) without credentials in it: {remote}"
            )));
        }
        let header = basic.map(|(u, p)| super::integrations::basic_header(u, p));
        if let Some((_, p)) = basic {
            self.secrets.push(p.to_string());
        }
        if let Some(h) = &header {
            self.secrets.push(h.clone());
            if let Some(encoded) = h.strip_prefix("Basic ") {
                self.secrets.push(encoded.to_string());
            }
        }
        let refspec = format!("HEAD:refs/heads/{branch}");
        match self
            .run(&["push", "-q", remote, &refspec], None, header.as_deref())
            .await
        {
            Ok(_) => Ok(()),
            Err(ActionError::Failed(msg))
                if msg.contains("could not read Username")
                    || msg.contains("Authentication failed")
                    || msg.contains(" 401")
                    || msg.contains(" 403") =>
            {
                let host = parsed.host_str().unwrap_or_default();
                let why = if basic.is_some() {
                    "the configured credentials were refused"
                } else {
                    "it asked for credentials and none are configured for this host"
                };
                Err(ActionError::Failed(format!(
                    "authentication to {host} failed, {why} (check the integrations config); {msg}"
                )))
            }
            Err(e) => Err(e),
        }
    }
}

/// A branch name git accepts (`git check-ref-format` rules, simplified and stricter).
pub(super) fn branch_ok(branch: &str) -> bool {
    !branch.is_empty()
        && branch.len() <= 200
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.ends_with(".lock")
        && !branch.contains("@{")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}
