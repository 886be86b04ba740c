//! `publish:gitlab`: creates a GitLab project through the REST API (`POST /api/v4/projects`
//! in the owner's namespace), then pushes the workspace to it.

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

/// `publish:gitlab`.
#[derive(Debug)]
pub(super) struct PublishGitlab {
    settings: Arc<Settings>,
}

impl PublishGitlab {
    pub(super) fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl TemplateAction for PublishGitlab {
    fn id(&self) -> &str {
        "publish:gitlab"
    }

    fn description(&self) -> Option<&str> {
        Some(
            "Initializes a git repository of the content in the workspace, and publishes it to GitLab.",
        )
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Initializes a GitLab repository with default settings.",
                "steps:\n  - action: publish:gitlab\n    id: publish-gitlab\n    name: Publish to GitLab\n    input:\n      repoUrl: gitlab.com?repo=project_name&owner=group_name\n",
            ),
            example(
                "Initializes a public GitLab repository in a subgroup, with topics.",
                "steps:\n  - action: publish:gitlab\n    id: publish-gitlab\n    name: Publish to GitLab\n    input:\n      repoUrl: gitlab.com?repo=project_name&owner=group_name/subgroup\n      repoVisibility: public\n      defaultBranch: main\n      topics:\n        - backstage\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        let mut props = common_properties();
        props.insert("defaultBranch".into(), json!({"title": "Default Branch", "type": "string",
            "description": "Sets the default branch on the repository. The default value is 'master'"}));
        props.insert(
            "repoVisibility".into(),
            json!({"title": "Repository Visibility", "type": "string",
            "enum": ["private", "public", "internal"]}),
        );
        props.insert(
            "topics".into(),
            json!({"title": "Topic labels", "type": "array", "items": {"type": "string"}}),
        );
        props.insert(
            "token".into(),
            json!({"title": "Authentication Token", "type": "string",
            "description": "The token to use for authorization to GitLab"}),
        );
        Some(json!({ "type": "object", "required": ["repoUrl"], "properties": props }))
    }

    fn output_schema(&self) -> Option<Value> {
        let mut schema = output_schema();
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "projectId".into(),
                json!({"title": "The ID of the project", "type": "number"}),
            );
        }
        Some(schema)
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let target = HostedTarget::parse(ctx, &self.settings, Kind::Gitlab, true)?;
        if ctx.is_dry_run {
            return target.dry_run(ctx, &self.settings, "-/blob").await;
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
                ActionError::InvalidInput(format!("No token available for host {}", repo.host))
            })?;
        let http = self.settings.http()?;
        let api = integration.api_base_url.as_str();
        let timeout = self.settings.timeout()?;
        let auth = |req: reqwest::RequestBuilder| req.header("PRIVATE-TOKEN", token.as_str());

        let encoded_owner: String =
            url::form_urlencoded::byte_serialize(repo.owner.as_bytes()).collect();
        let (_, namespace) = send_json(
            auth(http.get(format!("{api}/namespaces/{encoded_owner}"))),
            "GitLab: looking up the namespace",
            timeout,
            &ctx.signal,
        )
        .await?;
        let namespace_id = namespace.get("id").and_then(Value::as_i64).ok_or_else(|| {
            ActionError::Failed("GitLab: the namespace answer has no 'id'".to_string())
        })?;

        let mut body = Map::new();
        body.insert("namespace_id".into(), json!(namespace_id));
        body.insert("name".into(), json!(repo.repo));
        body.insert("path".into(), json!(repo.repo));
        body.insert(
            "visibility".into(),
            json!(input.repo_visibility.as_deref().unwrap_or("private")),
        );
        if let Some(d) = &input.description {
            body.insert("description".into(), json!(d));
        }
        if let Some(t) = input.topics.as_ref().filter(|t| !t.is_empty()) {
            body.insert("topics".into(), json!(t));
        }
        ctx.logger.info(&format!(
            "Creating the GitLab project {}/{}",
            repo.owner, repo.repo
        ));
        let (_, project) = send_json(
            auth(http.post(format!("{api}/projects")).json(&body)),
            "GitLab: creating the project",
            timeout,
            &ctx.signal,
        )
        .await?;
        let clone_url =
            field(&project, "http_url_to_repo", "GitLab: creating the project")?.to_string();
        let web_url = field(&project, "web_url", "GitLab: creating the project")?
            .trim_end_matches('/')
            .to_string();
        let project_id = project.get("id").cloned().unwrap_or(Value::Null);

        let hash = commit_and_push(
            ctx,
            &self.settings,
            &input,
            &branch,
            &clone_url,
            Some(("oauth2", token.as_str())),
        )
        .await?;
        ctx.output("remoteUrl", clone_url);
        ctx.output("repoContentsUrl", format!("{web_url}/-/blob/{branch}"));
        ctx.output("commitHash", hash);
        ctx.output("projectId", project_id);
        Ok(())
    }
}
