//! The Kubernetes tab on entity pages.

use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};

use super::format::{name, namespace, safe_url};
use super::objects::other_objects;
use super::workloads::{PodContext, Workload, group, pod_table, workload_ready};
use crate::frontend::ui::{self, Column, Tab, Table};
use crate::frontend::{Extension, PageError};
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::react::{EntityContentBlueprint, EntityPredicate, EntityRequest};
use crate::plugins::kubernetes::common::{
    ClusterObjects, DecodedObjects, DetectedError, DetectedErrorsByCluster, FixSolution,
    KUBERNETES_ID_ANNOTATION, KUBERNETES_LABEL_SELECTOR_ANNOTATION, KubernetesErrorType,
    KubernetesRequestBody, detect_decoded_errors,
};
use crate::plugins::kubernetes::react::KUBERNETES_API;
use crate::services::config::Config;

/// The default of `kubernetes.frontend.maxRows`.
pub(super) const DEFAULT_MAX_ROWS: usize = 200;
const MAX_ROWS_KEY: &str = "kubernetes.frontend.maxRows";

const STYLE: &str = concat!(
    ".k8s-picker{margin-bottom:12px}.k8s-problems{margin-bottom:16px}",
    ".k8s-cluster-head{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:baseline;margin-bottom:12px}",
    ".k8s-cluster-head h2{margin:0}",
    ".k8s-ok{color:var(--bl-success,#15803d)}.k8s-bad{color:var(--bl-danger,#b91c1c);font-weight:600}",
    ".k8s-workload{border:1px solid var(--bl-border);border-radius:8px;margin:0 0 12px;background:var(--bl-bg)}",
    ".k8s-workload>summary{cursor:pointer;padding:10px 14px;display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline}",
    ".k8s-workload>.bl-table-wrap,.k8s-workload>p{margin:0 14px 14px}",
    ".k8s-kind{font-size:.7rem;font-weight:600;text-transform:uppercase;letter-spacing:.05em;color:var(--bl-muted)}",
    ".k8s-state{display:block;white-space:nowrap}",
    ".k8s-objects{margin-top:12px}.k8s-objects caption,.k8s-pods caption{text-align:left;font-weight:600;padding:8px 16px}",
    ".k8s-warning{border:1px solid var(--bl-warning,#b45309);border-radius:10px;padding:12px 16px;margin-bottom:16px;background:var(--bl-surface)}",
    ".k8s-warning p{margin:4px 0}.k8s-fix ul{margin:4px 0;padding-left:18px}",
);

/// The "Kubernetes" tab (`entity-content:kubernetes`, path `kubernetes`) for entities with a
/// `backstage.io/kubernetes-id` or `backstage.io/kubernetes-label-selector` annotation.
pub(super) fn kubernetes_tab() -> Extension {
    EntityContentBlueprint::new("kubernetes", "Kubernetes", render)
        .filter(EntityPredicate::new(has_kubernetes_annotation))
        .build()
}

/// Whether the tab is shown for `entity`.
pub(super) fn has_kubernetes_annotation(entity: &Entity) -> bool {
    let a = &entity.metadata.annotations;
    a.contains_key(KUBERNETES_ID_ANNOTATION) || a.contains_key(KUBERNETES_LABEL_SELECTOR_ANNOTATION)
}

fn max_rows(config: &Config) -> Result<usize, PageError> {
    match config.opt_u64(MAX_ROWS_KEY) {
        Ok(None) => Ok(DEFAULT_MAX_ROWS),
        Ok(Some(n)) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Ok(Some(_)) => Err(PageError::internal(format!(
            "{MAX_ROWS_KEY}: must be a positive number"
        ))),
        Err(e) => Err(PageError::internal(e.to_string())),
    }
}

fn cluster_title(c: &ClusterObjects) -> &str {
    c.cluster
        .title
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(&c.cluster.name)
}

fn cluster_href(path: &str, cluster: Option<&str>) -> String {
    match cluster {
        None => path.to_string(),
        Some(c) => format!(
            "{path}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("cluster", c)
                .finish()
        ),
    }
}

async fn render(req: EntityRequest) -> Result<Markup, PageError> {
    let page = req.page();
    let api = page.api(&KUBERNETES_API)?;
    let max_rows = max_rows(page.config())?;
    let entity = serde_json::to_value(req.entity())
        .map_err(|e| PageError::internal(format!("the entity could not be encoded: {e}")))?;
    let style = html! { style { (PreEscaped(STYLE)) } };
    let objects = match api
        .get_objects_by_entity(&KubernetesRequestBody { entity, auth: None })
        .await
    {
        Ok(objects) => objects,
        Err(e) => {
            return Ok(html! {
                (style)
                (ui::error_state("Could not load Kubernetes objects", &e.user_message()))
            });
        }
    };
    let now = Utc::now();
    // Every object is decoded once, for the problems and the tables.
    let decoded: Vec<DecodedObjects> = objects
        .items
        .iter()
        .map(|c| DecodedObjects::new(c, None))
        .collect();
    let problems: DetectedErrorsByCluster = objects
        .items
        .iter()
        .zip(&decoded)
        .map(|(c, d)| (c.cluster.name.clone(), detect_decoded_errors(d, now)))
        .collect();
    let selected = page
        .query("cluster")
        .filter(|c| !c.is_empty() && *c != "all");
    let path = page.path();
    let mut tabs = vec![Tab::new(
        "All clusters",
        cluster_href(path, None),
        selected.is_none(),
    )];
    for c in &objects.items {
        tabs.push(Tab::new(
            cluster_title(c),
            cluster_href(path, Some(&c.cluster.name)),
            selected == Some(c.cluster.name.as_str()),
        ));
    }
    let shown_decoded: Vec<(&ClusterObjects, &DecodedObjects)> = objects
        .items
        .iter()
        .zip(&decoded)
        .filter(|(c, _)| selected.is_none_or(|s| c.cluster.name == s))
        .collect();
    let shown: Vec<&ClusterObjects> = shown_decoded.iter().map(|(c, _)| *c).collect();
    let entity_name = &req.entity().metadata.name;
    let rows: Vec<(&ClusterObjects, &DetectedError)> = shown
        .iter()
        .flat_map(|c| {
            problems
                .get(&c.cluster.name)
                .into_iter()
                .flatten()
                .map(move |p| (*c, p))
        })
        .collect();
    Ok(html! {
        (style)
        div class="k8s" {
            @if objects.items.is_empty() {
                (ui::empty_state(
                    "No Kubernetes clusters",
                    "No cluster answered for this entity. Check the kubernetes.clusterLocatorMethods config.",
                ))
            } @else {
                div class="k8s-picker" { (ui::tabs("Clusters", &tabs)) }
                @if let (Some(name), true) = (selected, shown.is_empty()) {
                    (ui::empty_state(
                        &format!("No cluster named '{name}'"),
                        "Pick one of the clusters above.",
                    ))
                }
                (errors_panel(entity_name, &shown))
                (problems_panel(&rows, max_rows))
                @for (cluster, decoded) in &shown_decoded {
                    (cluster_section(cluster, decoded, problems.get(&cluster.cluster.name).map_or(&[], Vec::as_slice), now, max_rows))
                }
            }
        }
    })
}

/// The clusters' fetch errors, as Backstage's `ErrorPanel` words them.
fn errors_panel(entity_name: &str, clusters: &[&ClusterObjects]) -> Markup {
    let failing: Vec<&&ClusterObjects> = clusters.iter().filter(|c| !c.errors.is_empty()).collect();
    if failing.is_empty() {
        return html! {};
    }
    html! {
        section class="k8s-warning k8s-errors" role="alert" aria-label="Cluster errors" {
            p class="bl-error-title" { strong { "There was a problem retrieving Kubernetes objects" } }
            p class="bl-muted" {
                "There was a problem retrieving some Kubernetes resources for the entity: " (entity_name)
                ". The detected problems below may be incomplete."
            }
            @for c in failing {
                div class="k8s-cluster-errors" data-cluster=(c.cluster.name) {
                    p { strong { "Cluster: " (cluster_title(c)) } }
                    @for e in &c.errors {
                        p {
                            @if e.error_type == KubernetesErrorType::FetchError {
                                "Error communicating with Kubernetes: FETCH_ERROR, message: "
                                (e.message.as_deref().unwrap_or("unknown"))
                            } @else {
                                "Error fetching Kubernetes resource: '"
                                (e.resource_path.as_deref().unwrap_or("?"))
                                "', error: "
                                (serde_json::to_value(e.error_type).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                                ", status code: "
                                (e.status_code.map_or_else(|| "none".to_string(), |s| s.to_string()))
                                @if let Some(m) = &e.message { ", message: " (m) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn fix_cell(e: &DetectedError) -> Markup {
    let Some(fix) = &e.proposed_fix else {
        return html! { span class="bl-muted" { "—" } };
    };
    html! {
        div class="k8s-fix" {
            strong { (fix.error_type) } ": " (fix.root_cause_explanation)
            ul { @for a in &fix.actions { li { (a) } } }
            @match &fix.solution {
                FixSolution::Docs { docs_link } if safe_url(docs_link) => {
                    a class="bl-link" href=(docs_link) rel="noopener noreferrer" { "Read the docs" }
                }
                FixSolution::Logs { container } => { span class="bl-muted" { "See the logs of container " (container) } }
                FixSolution::Events { pod_name } => { span class="bl-muted" { "See the events of pod " (pod_name) } }
                _ => {}
            }
        }
    }
}

/// Detected problems of the shown clusters, most severe first (Backstage's `ErrorReporting`).
fn problems_panel(rows: &[(&ClusterObjects, &DetectedError)], max_rows: usize) -> Markup {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.severity));
    let shown = &rows[..rows.len().min(max_rows)];
    let table = Table::new(format!("Detected problems ({})", rows.len()))
        .columns(vec![
            Column::new("cluster", "Cluster"),
            Column::new("namespace", "Namespace"),
            Column::new("kind", "Kind"),
            Column::new("name", "Name"),
            Column::new("severity", "Severity"),
            Column::new("message", "Problem"),
            Column::new("fix", "Proposed fix"),
        ])
        .rows(shown.iter().map(|(c, e)| {
            vec![
                html! { (cluster_title(c)) },
                html! { (e.source_ref.namespace) },
                html! { (e.source_ref.kind) },
                html! { (e.source_ref.name) },
                html! { (e.severity) },
                html! { span class="k8s-problem" { (e.message) } },
                fix_cell(e),
            ]
        }));
    html! {
        section class="k8s-problems" aria-label="Detected problems" {
            @if rows.is_empty() {
                p class="k8s-ok" role="status" { "No problems detected." }
            } @else {
                (table.render())
                @if rows.len() > shown.len() {
                    p class="bl-muted k8s-more" { (rows.len() - shown.len()) " more problems not shown" }
                }
            }
        }
    }
}

fn workload_block(w: &Workload<'_>, hpas: &[&serde_json::Value], ctx: &PodContext<'_>) -> Markup {
    let (ready, desired) = workload_ready(w);
    let with_errors = w.pods.iter().filter(|p| ctx.problems_of(p) > 0).count();
    let hpa = hpas.iter().find(|h| {
        super::format::text(h, &["spec", "scaleTargetRef", "kind"])
            .is_some_and(|k| k.eq_ignore_ascii_case(w.kind))
            && super::format::text(h, &["spec", "scaleTargetRef", "name"]) == Some(name(w.object))
            && namespace(h) == namespace(w.object)
    });
    let caption = format!("Pods of {} {}", w.kind.to_ascii_lowercase(), name(w.object));
    html! {
        details class="k8s-workload" open data-workload=(name(w.object)) data-kind=(w.kind) {
            summary {
                span class="k8s-kind" { (w.kind) }
                strong { (name(w.object)) }
                span class="bl-muted" { "namespace " (namespace(w.object)) }
                span class=(if ready >= desired { "k8s-ok" } else { "k8s-bad" }) { "ready " (ready) "/" (desired) }
                span { (w.pods.len()) " pods" }
                @if with_errors > 0 {
                    span class="k8s-bad" { (with_errors) " pods with errors" }
                } @else {
                    span class="k8s-ok" { "no pods with errors" }
                }
                @if let Some(h) = hpa {
                    span class="bl-muted" {
                        "autoscaler: min " (super::format::int(h, &["spec", "minReplicas"]).unwrap_or(1))
                        ", max " (super::format::int(h, &["spec", "maxReplicas"]).unwrap_or(0))
                        ", current " (super::format::int(h, &["status", "currentReplicas"]).unwrap_or(0))
                    }
                }
            }
            div class="k8s-pods" { (pod_table(&caption, &w.pods, ctx)) }
        }
    }
}

fn cluster_section(
    cluster: &ClusterObjects,
    decoded: &DecodedObjects,
    problems: &[DetectedError],
    now: DateTime<Utc>,
    max_rows: usize,
) -> Markup {
    let ctx = PodContext::new(
        now,
        &cluster.pod_metrics,
        &decoded.metric_pods,
        problems,
        max_rows,
    );
    let (workloads, other_pods) = group(decoded);
    let all_pods = super::workloads::objects(decoded, "pods");
    let with_errors = all_pods.iter().filter(|p| ctx.problems_of(p) > 0).count();
    let hpas = super::workloads::objects(decoded, "horizontalpodautoscalers");
    let empty = cluster.resources.iter().all(|r| r.resources.is_empty());
    let dashboard = cluster
        .cluster
        .dashboard_url
        .as_deref()
        .filter(|u| safe_url(u));
    html! {
        section class="bl-card k8s-cluster" data-cluster=(cluster.cluster.name) aria-label=(format!("Cluster {}", cluster_title(cluster))) {
            div class="k8s-cluster-head" {
                h2 class="bl-card-title" { (cluster_title(cluster)) }
                span class="bl-muted" { "Cluster" }
                span class="k8s-ok" { (all_pods.len()) " pods" }
                @if with_errors > 0 {
                    span class="k8s-bad" { (with_errors) " pods with errors" }
                } @else {
                    span class="k8s-ok" { "no pods with errors" }
                }
                @if let Some(url) = dashboard {
                    a class="bl-link" href=(url) rel="noopener noreferrer" { "Dashboard" }
                }
            }
            @if empty {
                (ui::empty_state("No objects", "This cluster has no objects for this entity."))
            }
            @for w in workloads.iter().take(max_rows) {
                (workload_block(w, &hpas, &ctx))
            }
            @if workloads.len() > max_rows {
                p class="bl-muted k8s-more" { (workloads.len() - max_rows) " more workloads not shown" }
            }
            @if !other_pods.is_empty() {
                div class="k8s-pods k8s-other-pods" { (pod_table("Other pods", &other_pods, &ctx)) }
            }
            (other_objects(decoded, now, max_rows))
        }
    }
}
