//! `/create/tasks/:taskId` (a task's steps, live log, output and cancel button) and
//! `/create/tasks` (the task list).

use std::collections::HashMap;

use maud::{Markup, PreEscaped, html};
use serde_json::Value;

use super::{STYLE, TASK_SCRIPT, api_error_page, markdown};
use crate::frontend::ui::{Column, Table};
use crate::frontend::{PageContent, PageError, PageRequest, core_apis, ui};
use crate::plugins::catalog::common::EntityRef;
use crate::plugins::catalog::react::{entity_href, humanize_ref};
use crate::plugins::scaffolder::common::{
    SerializedTask, SerializedTaskEvent, TaskEventType, TaskStatus,
};
use crate::plugins::scaffolder::react::{
    ListTasksRequest, ONGOING_TASK_ROUTE, SCAFFOLDER_API, SELECTED_TEMPLATE_ROUTE, TASKS_ROUTE,
    TaskParams, TemplateParams,
};

/// The most log lines a task page shows (the last ones).
const MAX_LOG_LINES: usize = 2_000;

fn status_label(s: TaskStatus) -> &'static str {
    s.as_str()
}

fn badge(s: TaskStatus) -> Markup {
    html! { span class={ "sc-status sc-status-" (s.as_str()) } { (status_label(s)) } }
}

fn template_title(task: &SerializedTask) -> String {
    let info = task.spec.template_info.as_ref();
    info.and_then(|i| i.entity.as_ref())
        .and_then(|e| {
            e.pointer("/metadata/title")
                .or_else(|| e.pointer("/metadata/name"))
        })
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| info.map(|i| i.entity_ref.clone()))
        .unwrap_or_else(|| "a template".to_string())
}

fn task_href(req: &PageRequest, id: &str) -> String {
    req.routes()
        .href(
            &ONGOING_TASK_ROUTE,
            &TaskParams {
                task_id: id.to_string(),
            },
        )
        .unwrap_or_else(|| format!("/create/tasks/{id}"))
}

/// A URL safe to put in a link: http(s) or a path of the app.
fn safe_url(url: &str) -> Option<&str> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("http://")
        || lower.starts_with("https://")
        || (lower.starts_with('/') && !lower.starts_with("//")))
    .then_some(url.trim())
}

fn output(req: &PageRequest, output: &Value) -> Markup {
    let links = output
        .get("links")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let texts = output
        .get("text")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    html! {
        @if !links.is_empty() {
            ul class="sc-output-links" {
                @for l in &links {
                    @let title = l.get("title").and_then(Value::as_str);
                    @if let Some(r) = l.get("entityRef").and_then(Value::as_str).and_then(|r| r.parse::<EntityRef>().ok()) {
                        @let text = title.map_or_else(|| humanize_ref(&r, None), str::to_string);
                        li { @match entity_href(req.routes(), &r) {
                            Some(h) => a class="bl-button" href=(h) data-entity-ref=(r.to_string()) { (text) },
                            None => (text),
                        } }
                    } @else if let Some(u) = l.get("url").and_then(Value::as_str).and_then(safe_url) {
                        li { a class="bl-button" href=(u) rel="noopener noreferrer" { (title.unwrap_or(u)) } }
                    }
                }
            }
        }
        @for t in &texts {
            section class="bl-card sc-output-text" {
                h3 class="bl-card-title" { (t.get("title").and_then(Value::as_str).unwrap_or("Output")) }
                (PreEscaped(markdown(t.get("content").and_then(Value::as_str).unwrap_or(""))))
            }
        }
    }
}

/// The task page (POST `_action=cancel` cancels it, `_action=retry` runs a failed or
/// cancelled task again).
pub(crate) async fn render(req: PageRequest) -> Result<PageContent, PageError> {
    let id = req.param("taskId").unwrap_or("").to_string();
    let api = req.api(&SCAFFOLDER_API)?;
    let here = task_href(&req, &id);
    if let Some("cancel") = req.form_value("_action") {
        if let Err(e) = api.cancel_task(&id).await {
            return Ok(api_error_page(&req, "Task", &e));
        }
        return Ok(PageContent::redirect(here));
    }
    if let Some("retry") = req.form_value("_action") {
        return Ok(match api.retry(&id, &serde_json::Map::new()).await {
            Ok(new_id) => PageContent::redirect(task_href(&req, &new_id)),
            Err(e) => api_error_page(&req, "Task", &e),
        });
    }
    let task = match api.get_task(&id).await {
        Ok(t) => t,
        Err(e) => return Ok(api_error_page(&req, "Task", &e)),
    };
    let events: Vec<SerializedTaskEvent> = api.list_events(&id, None).await.unwrap_or_default();
    let mut step_status: HashMap<String, TaskStatus> = HashMap::new();
    let mut completion: Option<&SerializedTaskEvent> = None;
    let mut log: Vec<String> = Vec::new();
    for ev in &events {
        if let (Some(step), Some(status)) = (&ev.body.step_id, ev.body.status) {
            step_status.insert(step.clone(), status);
        }
        match ev.event_type {
            TaskEventType::Log => {
                let prefix = ev
                    .body
                    .step_id
                    .as_deref()
                    .map(|s| format!("[{s}] "))
                    .unwrap_or_default();
                log.push(format!("{} {prefix}{}", ev.created_at, ev.body.message));
            }
            TaskEventType::Completion | TaskEventType::Cancelled => completion = Some(ev),
            _ => {}
        }
    }
    let skip = log.len().saturating_sub(MAX_LOG_LINES);
    let status = task.status;
    let done = status.is_final();
    let title = template_title(&task);
    let error = completion
        .and_then(|c| c.body.error.as_ref())
        .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            (status == TaskStatus::Failed).then(|| {
                completion
                    .map(|c| c.body.message.clone())
                    .unwrap_or_default()
            })
        });
    let out = completion.and_then(|c| c.body.output.clone());
    let start_over = task
        .spec
        .template_info
        .as_ref()
        .and_then(|i| i.entity_ref.parse::<EntityRef>().ok())
        .map(|r| {
            let params = TemplateParams {
                namespace: r.namespace().to_string(),
                name: r.name().to_string(),
            };
            let base = req
                .routes()
                .href(&SELECTED_TEMPLATE_ROUTE, &params)
                .unwrap_or_else(|| {
                    format!("/create/templates/{}/{}", params.namespace, params.name)
                });
            let values = serde_json::to_string(&task.spec.parameters).unwrap_or_default();
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("values", &values)
                .finish();
            format!("{base}?{q}")
        });
    let stream = req.api(&core_apis::DISCOVERY).ok().map(|d| {
        format!(
            "{}/v2/tasks/{}/eventstream",
            d.external_base_url("scaffolder").trim_end_matches('/'),
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        )
    });
    let body = html! {
        style { (PreEscaped(STYLE)) }
        (ui::header(&format!("Run of {title}"), Some(&format!("Task {id}"))))
        div id="sc-live" data-final=(if done { "true" } else { "false" }) data-eventstream=[stream.as_deref()] {
            @if !done {
                noscript { meta http-equiv="refresh" content="3"; }
            }
            p class="sc-task-status" { "Status: " (badge(status)) }
            @if let Some(e) = &error { div class="bl-error" role="alert" { p class="bl-error-title" { "The task failed" } p { (e) } } }
            ol class="sc-task-steps" {
                @for step in &task.spec.steps {
                    @let s = step_status.get(&step.id).copied().unwrap_or(TaskStatus::Open);
                    li data-step=(step.id) data-status=(s.as_str()) {
                        (if step.name.is_empty() { &step.id } else { &step.name }) " " (badge(s))
                    }
                }
            }
            @if let Some(o) = &out { (output(&req, o)) }
            details class="sc-log-box" open[!done || status == TaskStatus::Failed] {
                summary { "Log (" (log.len()) " lines)" }
                pre id="sc-log" class="sc-log" { @for line in &log[skip..] { (line) "\n" } }
            }
            @if !done { p class="bl-muted" { "This page updates until the task ends. " a class="bl-link" href=(here) { "Reload" } } }
        }
        div class="sc-actions" {
            @if !done {
                form method="post" action=(here) class="sc-inline" {
                    button class="bl-button" type="submit" name="_action" value="cancel" { "Cancel" }
                }
            }
            @if matches!(status, TaskStatus::Failed | TaskStatus::Cancelled) {
                form method="post" action=(here) class="sc-inline" {
                    button class="bl-button" type="submit" name="_action" value="retry" { "Retry" }
                }
            }
            @if let Some(h) = &start_over { " " a class="bl-button" href=(h) { "Start over" } }
        }
        script { (PreEscaped(TASK_SCRIPT)) }
    };
    Ok(PageContent::new(body).title(format!("Task · {title}")))
}

/// The task list: mine (`?owner=mine`, the default when signed in) or all.
pub(crate) async fn list(req: PageRequest) -> Result<PageContent, PageError> {
    let api = req.api(&SCAFFOLDER_API)?;
    let me = req.user().map(|u| u.user_entity_ref().to_string());
    let all = req.query("owner") == Some("all") || me.is_none();
    let request = match (&me, all) {
        (Some(me), false) => ListTasksRequest::created_by(me.clone()).limit(100),
        _ => ListTasksRequest::all().limit(100),
    };
    let here = req
        .routes()
        .href(&TASKS_ROUTE, &())
        .unwrap_or_else(|| "/create/tasks".to_string());
    let res = match api.list_tasks(&request).await {
        Ok(r) => r,
        Err(e) => return Ok(api_error_page(&req, "Tasks", &e)),
    };
    let rows = res.tasks.iter().map(|t| {
        vec![
            ui::link(&task_href(&req, &t.id), &t.id),
            html! { (template_title(t)) },
            badge(t.status),
            html! { (t.created_at) },
            html! { (t.created_by.clone().unwrap_or_default()) },
        ]
    });
    let body = html! {
        style { (PreEscaped(STYLE)) }
        (ui::header("Tasks", Some("Templates run in this portal")))
        nav class="sc-owner" aria-label="Whose tasks" {
            @if me.is_some() {
                a class="bl-button" href={ (here) "?owner=mine" } aria-current=[(!all).then_some("page")] { "Mine" } " "
            }
            a class="bl-button" href={ (here) "?owner=all" } aria-current=[all.then_some("page")] { "All" }
        }
        @if res.tasks.is_empty() {
            (ui::empty_state("No tasks", "Run a template from the Create page."))
        } @else {
            (Table::new(if all { "All tasks" } else { "My tasks" })
                .columns(vec![
                    Column::new("id", "Task"),
                    Column::new("template", "Template"),
                    Column::new("status", "Status"),
                    Column::new("created", "Created"),
                    Column::new("owner", "Created by"),
                ])
                .rows(rows)
                .render())
        }
    };
    Ok(PageContent::new(body))
}
