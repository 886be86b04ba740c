//! The "CI builds" plugin, a third-party-backed plugin shared by `examples/ci_builds.rs` and
//! `tests/example_ci_builds.rs`: a frontend plugin with no backend code of its own that shows
//! an entity's builds from CircleCI's v2 API, reached only through the proxy.
//!
//! - Entities opt in with Backstage's annotation `circleci.com/project-slug`
//!   (`github/acme/payments`).
//! - The card asks the proxy endpoint `/circleci/api` (→ `https://circleci.com/api/v2`) for
//!   the project's pipelines (`GET /project/{slug}/pipeline`), then for each pipeline's
//!   workflows (`GET /pipeline/{id}/workflow`), concurrently.
//! - The CircleCI token lives in the proxy's config (`Circle-Token: ${CIRCLECI_TOKEN}`); the
//!   browser never sees it, and the user's backlot token never leaves the portal (the
//!   endpoint's `credentials: require` checks it and drops it).

use std::collections::BTreeMap;

use backlot::frontend::ui::{self, Column, Table};
use backlot::frontend::{FetchApi, FetchError, FrontendPlugin, PageError, core_apis};
use backlot::plugins::catalog::react::{EntityCardBlueprint, EntityPredicate, EntityRequest};
use maud::{Markup, html};
use serde::Deserialize;

/// Backstage's annotation naming an entity's CircleCI project.
pub(crate) const ANNOTATION: &str = "circleci.com/project-slug";
/// The proxy route the card calls (Backstage's CircleCI plugin uses the same).
pub(crate) const PROXY_ROUTE: &str = "/circleci/api";
/// How many pipelines the card shows (the first page of CircleCI's answer holds 20).
pub(crate) const MAX_PIPELINES: usize = 10;

/// The proxy config of the example: the endpoint, with the token from the environment.
pub(crate) fn proxy_config(target: &str) -> String {
    format!(
        "proxy:
  endpoints:
    {PROXY_ROUTE}:
      target: {target}
      headers:
        Circle-Token: ${{CIRCLECI_TOKEN}}
      allowedMethods: [GET]
      credentials: require
"
    )
}

// ------------------------------------------------------------------ CircleCI's v2 shapes

/// A page of CircleCI's list answers.
#[derive(Debug, Deserialize)]
pub(crate) struct Paged<T> {
    pub(crate) items: Vec<T>,
    #[allow(dead_code)]
    pub(crate) next_page_token: Option<String>,
}

/// A pipeline (`GET /project/{slug}/pipeline`).
#[derive(Debug, Deserialize)]
pub(crate) struct Pipeline {
    pub(crate) id: String,
    pub(crate) number: u64,
    pub(crate) project_slug: String,
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) vcs: Option<Vcs>,
}

/// A pipeline's version control details.
#[derive(Debug, Deserialize)]
pub(crate) struct Vcs {
    #[serde(default)]
    pub(crate) branch: Option<String>,
    #[serde(default)]
    pub(crate) tag: Option<String>,
    pub(crate) revision: String,
    #[serde(default)]
    pub(crate) commit: Option<Commit>,
}

/// The commit of a pipeline.
#[derive(Debug, Deserialize)]
pub(crate) struct Commit {
    #[serde(default)]
    pub(crate) subject: Option<String>,
}

/// A workflow (`GET /pipeline/{id}/workflow`).
#[derive(Debug, Deserialize)]
pub(crate) struct Workflow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) status: String,
}

/// One row of the card: a pipeline and its workflows.
#[derive(Debug)]
pub(crate) struct Build {
    pub(crate) pipeline: Pipeline,
    pub(crate) workflows: Result<Vec<Workflow>, String>,
}

// ------------------------------------------------------------------ fetching

/// Checks an annotation value: `<vcs>/<org>/<repo>`, each part a plain name, so that a
/// catalog entry cannot steer the request to another API path.
pub(crate) fn valid_slug(slug: &str) -> bool {
    let parts: Vec<&str> = slug.split('/').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// A pipeline id as CircleCI writes them (a UUID).
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The builds of project `slug`, newest first, through the proxy.
pub(crate) async fn builds(fetch: &FetchApi, slug: &str) -> Result<Vec<Build>, FetchError> {
    let pipelines: Paged<Pipeline> = fetch
        .get_json("proxy", &format!("{PROXY_ROUTE}/project/{slug}/pipeline"))
        .await?;
    let rows = pipelines
        .items
        .into_iter()
        .take(MAX_PIPELINES)
        .map(|pipeline| async move {
            let workflows = if valid_id(&pipeline.id) {
                fetch
                    .get_json::<Paged<Workflow>>(
                        "proxy",
                        &format!("{PROXY_ROUTE}/pipeline/{}/workflow", pipeline.id),
                    )
                    .await
                    .map(|p| p.items)
                    .map_err(|e| e.to_string())
            } else {
                Err(format!("invalid pipeline id '{}'", pipeline.id))
            };
            Build {
                pipeline,
                workflows,
            }
        });
    Ok(futures::future::join_all(rows).await)
}

// ------------------------------------------------------------------ the card

/// The status of a pipeline: its workflows' statuses, worst first.
fn status_of(build: &Build) -> String {
    match &build.workflows {
        Err(_) => "unknown".to_string(),
        Ok(w) if w.is_empty() => "no workflows".to_string(),
        Ok(w) => {
            let mut counts: BTreeMap<u8, &str> = BTreeMap::new();
            for wf in w {
                let rank = match wf.status.as_str() {
                    "failed" | "error" | "failing" | "unauthorized" => 0,
                    "running" | "on_hold" => 1,
                    "canceled" | "not_run" => 2,
                    _ => 3,
                };
                counts.entry(rank).or_insert(wf.status.as_str());
            }
            counts
                .values()
                .next()
                .copied()
                .unwrap_or("unknown")
                .to_string()
        }
    }
}

/// The link to a build in CircleCI's app.
fn link_of(build: &Build) -> String {
    let p = &build.pipeline;
    match build.workflows.as_ref().ok().and_then(|w| w.first()) {
        Some(wf) => format!(
            "https://app.circleci.com/pipelines/{}/{}/workflows/{}",
            p.project_slug, p.number, wf.id
        ),
        None => format!(
            "https://app.circleci.com/pipelines/{}/{}",
            p.project_slug, p.number
        ),
    }
}

fn row(build: &Build) -> Vec<Markup> {
    let p = &build.pipeline;
    let vcs = p.vcs.as_ref();
    let branch = vcs
        .and_then(|v| v.branch.as_deref().or(v.tag.as_deref()))
        .unwrap_or("-");
    let sha: String = vcs
        .map(|v| v.revision.chars().take(7).collect())
        .unwrap_or_default();
    let subject = vcs
        .and_then(|v| v.commit.as_ref())
        .and_then(|c| c.subject.as_deref())
        .unwrap_or("");
    let status = status_of(build);
    let names = match &build.workflows {
        Ok(w) => w
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => e.clone(),
    };
    vec![
        html! { span class={"ci-status ci-" (status.replace(' ', "-"))} title=(names) { (status) } },
        html! { span class="ci-branch" { (branch) } },
        html! { code class="ci-commit" { (sha) } " " span class="bl-muted" { (subject) } },
        html! { time datetime=(p.created_at) { (p.created_at.replace('T', " ").trim_end_matches('Z')) } },
        html! { a class="bl-link ci-link" href=(link_of(build)) { "#" (p.number) } },
    ]
}

/// Renders the card for the entity of `req`.
async fn builds_card(req: EntityRequest) -> Result<Markup, PageError> {
    let slug = req
        .entity()
        .metadata
        .annotations
        .get(ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let body = if !valid_slug(&slug) {
        ui::error_state(
            "Invalid annotation",
            &format!("{ANNOTATION} must be <vcs>/<org>/<repo>, got '{slug}'"),
        )
    } else {
        let fetch = req.page().api(&core_apis::FETCH)?;
        match builds(&fetch, &slug).await {
            Err(e) => ui::error_state("Could not load builds", &e.to_string()),
            Ok(list) if list.is_empty() => ui::empty_state(
                "No builds yet",
                &format!("CircleCI has no pipelines for {slug}."),
            ),
            Ok(list) => Table::new(format!("Builds of {slug}"))
                .columns(vec![
                    Column::new("status", "Status"),
                    Column::new("branch", "Branch"),
                    Column::new("commit", "Commit"),
                    Column::new("time", "Time"),
                    Column::new("link", "Build"),
                ])
                .rows(list.iter().map(row))
                .render(),
        }
    };
    Ok(ui::card("CI builds", body))
}

/// The frontend plugin `circleci`: the builds card on entity pages of annotated entities.
pub(crate) fn frontend_plugin() -> FrontendPlugin {
    FrontendPlugin::new("circleci").extension(
        EntityCardBlueprint::new("builds", builds_card)
            .filter(EntityPredicate::has_annotation(ANNOTATION))
            .build(),
    )
}
