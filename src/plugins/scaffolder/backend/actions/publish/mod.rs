//! Built-in `publish:*` actions: `publish:git` (any smart-HTTP git server), `publish:github`
//! and `publish:gitlab` (which create the repository through the host's REST API first). All
//! push one commit of the workspace with the `git` CLI.
//!
//! git runs as a child process with the host's git config ignored, no terminal prompts, no
//! credential helpers, and credentials only in its environment (`GIT_CONFIG_COUNT`/
//! `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` carrying an `http.extraHeader`), never on its
//! command line or in a message. It is killed when the task is cancelled or the timeout passes.
//! In a dry run the commit is made (its hash is an output) but not pushed, and no API is called.
//!
//! ```yaml
//! integrations:
//!   gitea:                       # any smart-HTTP git server (publish:git)
//!     - host: git.example.com
//!       baseUrl: https://git.example.com
//!       username: bot
//!       password: ${GIT_PASSWORD}
//!   github:                      # publish:github (and publish:git to that host)
//!     - host: github.com
//!       token: ${GITHUB_TOKEN}
//!       apiBaseUrl: https://api.github.com
//!   gitlab:                      # publish:gitlab (and publish:git to that host)
//!     - host: gitlab.com
//!       token: ${GITLAB_TOKEN}
//! scaffolder:
//!   defaultAuthor: { name: Scaffolder, email: scaffolder@backstage.io }
//!   defaultCommitMessage: initial commit
//!   actions:
//!     publish:
//!       timeout: 5m              # each git command and API call (default 5 minutes)
//! ```

mod generic;
mod git;
mod github;
mod gitlab;
mod integrations;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::BuiltinActionDeps;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, TemplateAction, resolve_safe_child_path,
};
use crate::services::config::Config;

/// How long one git command or API call may take unless `scaffolder.actions.publish.timeout`
/// says.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest description and commit message taken.
const MAX_TEXT: usize = 64 * 1024;
/// The most topics taken.
const MAX_TOPICS: usize = 50;

/// The `publish:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    let settings = Arc::new(Settings::from_config(&deps.config));
    vec![
        Arc::new(generic::PublishGit::new(Arc::clone(&settings))),
        Arc::new(github::PublishGithub::new(Arc::clone(&settings))),
        Arc::new(gitlab::PublishGitlab::new(settings)),
    ]
}

/// What every publisher reads from config.
#[derive(Debug)]
pub(super) struct Settings {
    config: Arc<Config>,
    timeout: Duration,
    default_author_name: String,
    default_author_email: String,
    default_commit_message: String,
    /// The client for the hosts' REST APIs, built once with `backend.httpClient.*`; a config
    /// error fails the API publishers when they run.
    http: Result<reqwest::Client, String>,
    /// The first config value that could not be read; the actions fail with it when they run.
    problem: Option<String>,
}

impl Settings {
    fn from_config(config: &Arc<Config>) -> Self {
        let mut problem = None;
        let mut s = |key: &str, default: &str| match config.opt_string(key) {
            Ok(v) => v.unwrap_or_else(|| default.to_string()),
            Err(e) => {
                problem.get_or_insert(e.to_string());
                default.to_string()
            }
        };
        let default_author_name = s("scaffolder.defaultAuthor.name", "Scaffolder");
        let default_author_email = s("scaffolder.defaultAuthor.email", "scaffolder@backstage.io");
        let default_commit_message = s("scaffolder.defaultCommitMessage", "initial commit");
        let timeout = match config.opt_duration("scaffolder.actions.publish.timeout") {
            Ok(v) => v.unwrap_or(DEFAULT_TIMEOUT),
            Err(e) => {
                problem.get_or_insert(e.to_string());
                DEFAULT_TIMEOUT
            }
        };
        let http = crate::services::http_client::http_client(config)
            .map_err(|e| format!("backend.httpClient config: {e}"));
        Self {
            config: Arc::clone(config),
            timeout,
            default_author_name,
            default_author_email,
            default_commit_message,
            http,
            problem,
        }
    }

    /// The client for the hosts' REST APIs, or the config problem.
    pub(super) fn http(&self) -> Result<&reqwest::Client, ActionError> {
        self.http
            .as_ref()
            .map_err(|e| ActionError::Failed(e.clone()))
    }

    /// The timeout of one git command or API call, or the config problem.
    pub(super) fn timeout(&self) -> Result<Duration, ActionError> {
        match &self.problem {
            Some(p) => Err(ActionError::Failed(p.clone())),
            None => Ok(self.timeout),
        }
    }
}

/// The inputs every publisher shares.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CommonInput {
    pub(super) repo_url: String,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) default_branch: Option<String>,
    #[serde(default)]
    pub(super) source_path: Option<String>,
    #[serde(default)]
    pub(super) git_commit_message: Option<String>,
    #[serde(default)]
    pub(super) git_author_name: Option<String>,
    #[serde(default)]
    pub(super) git_author_email: Option<String>,
    #[serde(default)]
    pub(super) repo_visibility: Option<String>,
    #[serde(default)]
    pub(super) topics: Option<Vec<String>>,
    #[serde(default)]
    pub(super) token: Option<String>,
}

impl CommonInput {
    pub(super) fn parse(ctx: &ActionContext) -> Result<Self, ActionError> {
        let input: Self = serde_json::from_value(ctx.input.clone())
            .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
        for (name, v) in [
            ("description", &input.description),
            ("gitCommitMessage", &input.git_commit_message),
        ] {
            if v.as_ref().is_some_and(|s| s.len() > MAX_TEXT) {
                return Err(ActionError::InvalidInput(format!(
                    "{name} is longer than {MAX_TEXT} bytes"
                )));
            }
        }
        if input.topics.as_ref().is_some_and(|t| t.len() > MAX_TOPICS) {
            return Err(ActionError::InvalidInput(format!(
                "at most {MAX_TOPICS} topics are allowed"
            )));
        }
        if let Some(v) = &input.repo_visibility {
            if !matches!(v.as_str(), "private" | "internal" | "public") {
                return Err(ActionError::InvalidInput(format!(
                    "repoVisibility must be private, internal or public, not '{v}'"
                )));
            }
        }
        Ok(input)
    }

    /// The branch to push, `default` unless given; checked.
    pub(super) fn branch(&self, default: &str) -> Result<String, ActionError> {
        let b = self.default_branch.as_deref().unwrap_or(default);
        if git::branch_ok(b) {
            Ok(b.to_string())
        } else {
            Err(ActionError::InvalidInput(format!(
                "defaultBranch '{b}' is not a valid branch name"
            )))
        }
    }

    fn commit(&self, settings: &Settings, branch: String) -> git::Commit {
        git::Commit {
            message: self
                .git_commit_message
                .clone()
                .unwrap_or_else(|| settings.default_commit_message.clone()),
            author_name: self
                .git_author_name
                .clone()
                .unwrap_or_else(|| settings.default_author_name.clone()),
            author_email: self
                .git_author_email
                .clone()
                .unwrap_or_else(|| settings.default_author_email.clone()),
            branch,
        }
    }
}

/// Commits `sourcePath` (default the workspace) and, unless this is a dry run, pushes it to
/// `remote`. Returns the commit's hash.
pub(super) async fn commit_and_push(
    ctx: &ActionContext,
    settings: &Settings,
    input: &CommonInput,
    branch: &str,
    remote: &str,
    basic: Option<(&str, &str)>,
) -> Result<String, ActionError> {
    let source: PathBuf = match &input.source_path {
        Some(p) => resolve_safe_child_path(&ctx.workspace_path, p)?,
        None => ctx.workspace_path.clone(),
    };
    if !tokio::fs::metadata(&source).await.is_ok_and(|m| m.is_dir()) {
        return Err(ActionError::NotFound(format!(
            "sourcePath {} is not a directory of the workspace",
            input.source_path.as_deref().unwrap_or(".")
        )));
    }
    let scratch = ctx.create_temporary_directory()?;
    let mut git = git::Git::new(&scratch, source, settings.timeout()?, ctx.signal.clone());
    let result = async {
        let commit = input.commit(settings, branch.to_string());
        let hash = git.commit_all(&commit).await?;
        if ctx.is_dry_run {
            ctx.logger.info(&format!(
                "Dry run: committed {hash}, not pushed to {remote} ({branch})"
            ));
        } else {
            ctx.logger
                .info(&format!("Pushing {hash} to {remote} ({branch})"));
            git.push(remote, branch, basic).await?;
        }
        Ok(hash)
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    result
}

/// The input schema properties every publisher has.
/// What a hosted publisher (`publish:github`, `publish:gitlab`) starts from: its input, the
/// repository named by `repoUrl`, the host's integration of `kind` and the branch.
struct HostedTarget {
    input: CommonInput,
    repo: integrations::RepoUrl,
    integration: integrations::Integration,
    branch: String,
}

impl HostedTarget {
    /// Reads the target; `nested_owner` lets the owner hold `/` (GitLab groups).
    fn parse(
        ctx: &ActionContext,
        settings: &Settings,
        kind: integrations::Kind,
        nested_owner: bool,
    ) -> Result<Self, ActionError> {
        let input = CommonInput::parse(ctx)?;
        let repo = integrations::parse_repo_url(&input.repo_url, nested_owner)?;
        let integration = integrations::find(&settings.config, &repo.host, &[kind])?
            .ok_or_else(|| {
                ActionError::InvalidInput(format!(
                    "No matching integration configuration for host {}, please check your integrations config",
                    repo.host
                ))
            })?;
        let branch = input.branch("master")?;
        Ok(Self {
            input,
            repo,
            integration,
            branch,
        })
    }

    /// A dry run: the commit is made (so its hash is real), nothing is created or pushed, and
    /// the outputs are those the host would give; `blob` is the host's path to a branch's
    /// files (`blob`, `-/blob`).
    async fn dry_run(
        &self,
        ctx: &mut ActionContext,
        settings: &Settings,
        blob: &str,
    ) -> Result<(), ActionError> {
        let base = format!(
            "{}/{}/{}",
            self.integration.base_url, self.repo.owner, self.repo.repo
        );
        let remote = format!("{base}.git");
        let hash = commit_and_push(ctx, settings, &self.input, &self.branch, &remote, None).await?;
        ctx.output("remoteUrl", remote);
        ctx.output("repoContentsUrl", format!("{base}/{blob}/{}", self.branch));
        ctx.output("commitHash", hash);
        Ok(())
    }
}

pub(super) fn common_properties() -> serde_json::Map<String, Value> {
    let props = json!({
        "repoUrl": { "title": "Repository Location", "type": "string",
            "description": "RepoUrlPicker value: host?owner=<owner>&repo=<repo>" },
        "description": { "title": "Repository Description", "type": "string" },
        "defaultBranch": { "title": "Default Branch", "type": "string",
            "description": "Sets the default branch on the repository." },
        "sourcePath": { "title": "Source Path", "type": "string",
            "description": "Path within the workspace that will be used as the repository root. If omitted, the entire workspace will be published as the repository." },
        "gitCommitMessage": { "title": "Git Commit Message", "type": "string",
            "description": "Sets the commit message on the repository. The default value is 'initial commit' (scaffolder.defaultCommitMessage)" },
        "gitAuthorName": { "title": "Default Author Name", "type": "string",
            "description": "Sets the default author name for the commit. The default value is 'Scaffolder' (scaffolder.defaultAuthor.name)" },
        "gitAuthorEmail": { "title": "Default Author Email", "type": "string",
            "description": "Sets the default author email for the commit (scaffolder.defaultAuthor.email)" }
    });
    match props {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The output schema every publisher has.
pub(super) fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "remoteUrl": { "title": "A URL to the repository with the provider", "type": "string" },
            "repoContentsUrl": { "title": "A URL to the root of the repository", "type": "string" },
            "commitHash": { "title": "The git commit hash of the initial commit", "type": "string" }
        }
    })
}

pub(super) fn example(description: &str, yaml: &str) -> ActionExample {
    ActionExample {
        description: description.to_string(),
        example: yaml.to_string(),
    }
}

/// The most bytes of a REST API answer read.
const MAX_API_BODY: usize = 1024 * 1024;

/// Sends an API request and reads its JSON answer (at most 1 MiB); a non-2xx status is an
/// error quoting the host's `message`. `what` names the call in errors.
pub(super) async fn send_json(
    req: reqwest::RequestBuilder,
    what: &str,
    timeout: Duration,
    signal: &tokio_util::sync::CancellationToken,
) -> Result<(u16, Value), ActionError> {
    let call = async {
        let mut res = req
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ActionError::Failed(format!("{what} failed: {}", error_chain(&e))))?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| ActionError::Failed(format!("{what} failed: {}", error_chain(&e))))?
        {
            if body.len() + chunk.len() > MAX_API_BODY {
                return Err(ActionError::Failed(format!(
                    "{what}: the answer is larger than {MAX_API_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        if !(200..300).contains(&status) {
            let message = json
                .get("message")
                .map(|m| match m {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .or_else(|| json.get("error").map(|e| e.to_string()))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Err(ActionError::Failed(format!(
                "{what} answered {status}: {message}"
            )));
        }
        Ok((status, json))
    };
    tokio::select! {
        r = call => r,
        () = signal.cancelled() => Err(ActionError::Cancelled),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A string field of an API answer.
pub(super) fn field<'a>(json: &'a Value, key: &str, what: &str) -> Result<&'a str, ActionError> {
    json.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ActionError::Failed(format!("{what}: the answer has no '{key}'")))
}
