//! `publish:github`: creates a GitHub repository through the REST API, then pushes the
//! workspace to it.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::integrations::Kind;
use super::{
    HostedTarget, Settings, commit_and_push, common_properties, example, field, output_schema,
    send_json,
};
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{ActionContext, ActionError, TemplateAction};

/// Boolean inputs passed to GitHub as they are (input name, API field).
const FLAGS: &[(&str, &str)] = &[
    ("deleteBranchOnMerge", "delete_branch_on_merge"),
    ("allowMergeCommit", "allow_merge_commit"),
    ("allowSquashMerge", "allow_squash_merge"),
    ("allowRebaseMerge", "allow_rebase_merge"),
    ("allowAutoMerge", "allow_auto_merge"),
    ("hasProjects", "has_projects"),
    ("hasWiki", "has_wiki"),
    ("hasIssues", "has_issues"),
];

/// `publish:github`.
#[derive(Debug)]
pub(super) struct PublishGithub {
    settings: Arc<Settings>,
}

impl PublishGithub {
    pub(super) fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl TemplateAction for PublishGithub {
    fn id(&self) -> &str {
        "publish:github"
    }

    fn description(&self) -> Option<&str> {
        Some("Initializes a git repository of contents in workspace and publishes it to GitHub.")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Initializes a GitHub repository with default settings.",
                "steps:\n  - action: publish:github\n    id: publish-github\n    name: Publish to GitHub\n    input:\n      repoUrl: github.com?repo=repo&owner=owner\n",
            ),
            example(
                "Initializes a public GitHub repository with a description and topics.",
                "steps:\n  - action: publish:github\n    id: publish-github\n    name: Publish to GitHub\n    input:\n      repoUrl: github.com?repo=repo&owner=owner\n      description: Initialize a git repository\n      repoVisibility: public\n      defaultBranch: main\n      topics:\n        - backstage\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        let mut props = common_properties();
        props.insert("defaultBranch".into(), json!({"title": "Default Branch", "type": "string",
            "description": "Sets the default branch on the repository. The default value is 'master'"}));
        props.insert(
            "homepage".into(),
            json!({"title": "Repository Homepage", "type": "string"}),
        );
        props.insert(
            "repoVisibility".into(),
            json!({"title": "Repository Visibility", "type": "string",
            "enum": ["private", "public", "internal"]}),
        );
        props.insert(
            "topics".into(),
            json!({"title": "Topics", "type": "array", "items": {"type": "string"}}),
        );
        props.insert(
            "token".into(),
            json!({"title": "Authentication Token", "type": "string",
            "description": "The token to use for authorization to GitHub"}),
        );
        for (name, _) in FLAGS {
            props.insert((*name).into(), json!({"type": "boolean"}));
        }
        Some(json!({ "type": "object", "required": ["repoUrl"], "properties": props }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(output_schema())
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let target = HostedTarget::parse(ctx, &self.settings, Kind::Github, false)?;
        if ctx.is_dry_run {
            return target.dry_run(ctx, &self.settings, "blob").await;
        }
        let HostedTarget {
            input,
            repo,
            integration,
            branch,
        } = target;
        let token = input
            .token
            .clone()
            .or_else(|| integration.token.clone())
            .ok_or_else(|| {
                ActionError::InvalidInput(format!(
                    "No token available for host: {}, with owner {}, and repo {}",
                    repo.host, repo.owner, repo.repo
                ))
            })?;
        let http = self.settings.http()?;
        let api = integration.api_base_url.as_str();
        let timeout = self.settings.timeout()?;
        let auth = |req: reqwest::RequestBuilder| {
            req.header("Authorization", format!("token {token}"))
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header("User-Agent", "backlot-scaffolder")
        };

        let (_, owner) = send_json(
            auth(http.get(format!("{api}/users/{}", repo.owner))),
            "GitHub: looking up the owner",
            timeout,
            &ctx.signal,
        )
        .await?;
        let is_org = owner.get("type").and_then(Value::as_str) == Some("Organization");

        let visibility = input.repo_visibility.as_deref().unwrap_or("private");
        let mut body = Map::new();
        body.insert("name".into(), json!(repo.repo));
        body.insert("private".into(), json!(visibility == "private"));
        if is_org {
            body.insert("visibility".into(), json!(visibility));
        }
        if let Some(d) = &input.description {
            body.insert("description".into(), json!(d));
        }
        if let Some(h) = ctx.input.get("homepage").and_then(Value::as_str) {
            body.insert("homepage".into(), json!(h));
        }
        for (name, api_name) in FLAGS {
            if let Some(b) = ctx.input.get(*name).and_then(Value::as_bool) {
                body.insert((*api_name).into(), json!(b));
            }
        }
        let create_url = if is_org {
            format!("{api}/orgs/{}/repos", repo.owner)
        } else {
            format!("{api}/user/repos")
        };
        ctx.logger.info(&format!(
            "Creating the GitHub repository {}/{}",
            repo.owner, repo.repo
        ));
        let (_, created) = send_json(
            auth(http.post(create_url).json(&body)),
            "GitHub: creating the repository",
            timeout,
            &ctx.signal,
        )
        .await?;
        let clone_url =
            field(&created, "clone_url", "GitHub: creating the repository")?.to_string();
        let html_url = field(&created, "html_url", "GitHub: creating the repository")?
            .trim_end_matches('/')
            .to_string();

        if let Some(topics) = input.topics.as_ref().filter(|t| !t.is_empty()) {
            let names: Vec<String> = topics.iter().map(|t| t.to_lowercase()).collect();
            send_json(
                auth(
                    http.put(format!("{api}/repos/{}/{}/topics", repo.owner, repo.repo))
                        .json(&json!({ "names": names })),
                ),
                "GitHub: setting the topics",
                timeout,
                &ctx.signal,
            )
            .await?;
        }

        let hash = commit_and_push(
            ctx,
            &self.settings,
            &input,
            &branch,
            &clone_url,
            Some(("x-access-token", token.as_str())),
        )
        .await?;
        ctx.output("remoteUrl", clone_url);
        ctx.output("repoContentsUrl", format!("{html_url}/blob/{branch}"));
        ctx.output("commitHash", hash);
        Ok(())
    }
}
