//! `publish:git`: pushes the workspace to a repository of any git server speaking smart HTTP,
//! found by host in the `integrations` config.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::integrations::{self, Kind};
use super::{CommonInput, Settings, commit_and_push, common_properties, example, output_schema};
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{ActionContext, ActionError, TemplateAction};

/// `publish:git`.
#[derive(Debug)]
pub(super) struct PublishGit {
    settings: Arc<Settings>,
}

impl PublishGit {
    pub(super) fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl TemplateAction for PublishGit {
    fn id(&self) -> &str {
        "publish:git"
    }

    fn description(&self) -> Option<&str> {
        Some(
            "Pushes the workspace as one commit to a repository of a git server over smart HTTP(S), \
             with the credentials of its host in the integrations config (integrations.gitea, \
             .github or .gitlab). A server that creates repositories on push is expected.",
        )
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Publish to a git server",
                "steps:\n  - action: publish:git\n    id: publish\n    name: Publish\n    input:\n      repoUrl: git.example.com?owner=acme&repo=my-service\n",
            ),
            example(
                "Publish a subdirectory on branch main with a commit message",
                "steps:\n  - action: publish:git\n    id: publish\n    name: Publish\n    input:\n      repoUrl: git.example.com?owner=acme&repo=my-service\n      sourcePath: ./service\n      defaultBranch: main\n      gitCommitMessage: Create my-service\n      gitAuthorName: Scaffolder Bot\n      gitAuthorEmail: bot@example.com\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        let mut props = common_properties();
        props.insert(
            "defaultBranch".to_string(),
            json!({ "title": "Default Branch", "type": "string",
                    "description": "The branch pushed. The default value is 'main'" }),
        );
        Some(json!({ "type": "object", "required": ["repoUrl"], "properties": props }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(output_schema())
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input = CommonInput::parse(ctx)?;
        let repo = integrations::parse_repo_url(&input.repo_url, true)?;
        let integration = integrations::find(
            &self.settings.config,
            &repo.host,
            &[Kind::Gitea, Kind::Github, Kind::Gitlab],
        )?
        .ok_or_else(|| {
            ActionError::InvalidInput(format!(
                "No matching integration configuration for host {}, please check your integrations config",
                repo.host
            ))
        })?;
        let branch = input.branch("main")?;
        let (remote, contents) = match integration.kind {
            Kind::Gitea => {
                let base = format!("{}/{}/{}", integration.base_url, repo.owner, repo.repo);
                (format!("{base}.git"), format!("{base}/raw/branch/{branch}"))
            }
            Kind::Github => {
                let base = format!("{}/{}/{}", integration.base_url, repo.owner, repo.repo);
                (format!("{base}.git"), format!("{base}/blob/{branch}"))
            }
            Kind::Gitlab => {
                let base = format!("{}/{}/{}", integration.base_url, repo.owner, repo.repo);
                (format!("{base}.git"), format!("{base}/-/blob/{branch}"))
            }
        };
        let token_basic;
        let basic = match (&input.token, integration.kind) {
            (Some(t), Kind::Github) => {
                token_basic = ("x-access-token".to_string(), t.clone());
                Some(&token_basic)
            }
            (Some(t), Kind::Gitlab) => {
                token_basic = ("oauth2".to_string(), t.clone());
                Some(&token_basic)
            }
            _ => integration.basic.as_ref(),
        };
        let hash = commit_and_push(
            ctx,
            &self.settings,
            &input,
            &branch,
            &remote,
            basic.map(|(u, p)| (u.as_str(), p.as_str())),
        )
        .await?;
        ctx.output("remoteUrl", remote);
        ctx.output("repoContentsUrl", contents);
        ctx.output("commitHash", hash);
        Ok(())
    }
}
