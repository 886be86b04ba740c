//! The scaffolder frontend plugin (Backstage's `@backstage/plugin-scaffolder`): pages
//! rendered on the server that work without JavaScript; a small script adds live field
//! checks and a live task log.
//!
//! | id | path | what |
//! |---|---|---|
//! | `api:plugin.scaffolder.service` | | [`SCAFFOLDER_API`](super::react::SCAFFOLDER_API) over HTTP |
//! | `page:scaffolder` | `/create` | the catalog's templates as cards: type, title, description, tags, owner, "Choose"; filters by tag, type and text |
//! | `page:scaffolder/template` | `/create/templates/:namespace/:name` | the parameter form, one page per step, then a review and "Create" |
//! | `page:scaffolder/task` | `/create/tasks/:taskId` | steps with their status, the log (live), output links and text, cancel, start over |
//! | `page:scaffolder/tasks` | `/create/tasks` | the tasks (mine / all) |
//! | `nav-item:scaffolder` | | "Create..." in the sidebar |
//!
//! The form reads the template's parameter schema: JSON-Schema `string`, `number`,
//! `integer`, `boolean`, `enum` (with `enumNames`), arrays of enums, nested `object`s;
//! `title`, `description`, `default`, `pattern`, `minLength`/`maxLength`,
//! `minimum`/`maximum`, `required`; `ui:help`, `ui:autofocus`, `ui:order`, `ui:widget`
//! (`textarea`, `password`, `radio`, `select`), `ui:backstage.review.show: false`; the
//! field extensions `EntityPicker` and `OwnerPicker` (a select of catalog entities from
//! `ui:options.catalogFilter` or `allowedKinds`, labels shortened with `defaultKind`),
//! `EntityNamePicker`, `RepoUrlPicker` (`allowedHosts`, `allowedOwners`; the value is
//! `host?owner=o&repo=r`) and `Secret` (a password input whose value is sent as `secrets`).
//! Every move between steps is a form post that carries the values so far in a hidden field
//! and checks the step on the server (messages beside the fields); secrets are kept in the
//! app's memory for 30 minutes under a random draft id bound to the signed-in user, never
//! written back into a page. Posts are accepted from the app's own pages only.
//!
//! ```
//! use backlot::frontend::App;
//! use backlot::plugins::scaffolder::frontend::scaffolder_frontend_plugin;
//! use backlot::plugins::scaffolder::react::{ONGOING_TASK_ROUTE, SCAFFOLDER_ROOT_ROUTE, TaskParams};
//!
//! let app = App::builder().feature(scaffolder_frontend_plugin()).build()?;
//! assert_eq!(app.routes().href(&SCAFFOLDER_ROOT_ROUTE, &()), Some("/create".to_string()));
//! let task = TaskParams { task_id: "7f3a".into() };
//! assert_eq!(app.routes().href(&ONGOING_TASK_ROUTE, &task), Some("/create/tasks/7f3a".to_string()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod drafts;
mod form;
mod index;
mod schema;
mod task;
mod values;
mod widgets;

use std::sync::Arc;

use axum::http::StatusCode;
use maud::html;
use pulldown_cmark::{CowStr, Event, Parser, Tag};

use crate::frontend::{
    ApiBlueprint, FrontendPlugin, NavItemBlueprint, PageBlueprint, PageContent, PageRequest, ui,
};
use crate::plugins::scaffolder::react::{
    HttpScaffolderApi, ONGOING_TASK_ROUTE, SCAFFOLDER_ROOT_ROUTE, SELECTED_TEMPLATE_ROUTE,
    ScaffolderApiError, TASKS_ROUTE,
};

/// The scaffolder frontend plugin (id `scaffolder`); see the [module docs](self).
pub fn scaffolder_frontend_plugin() -> FrontendPlugin {
    let drafts = Arc::new(drafts::Drafts::default());
    FrontendPlugin::new("scaffolder")
        .route("root", &SCAFFOLDER_ROOT_ROUTE)
        .route("selectedTemplate", &SELECTED_TEMPLATE_ROUTE)
        .route("ongoingTask", &ONGOING_TASK_ROUTE)
        .route("listTasks", &TASKS_ROUTE)
        .extension(ApiBlueprint::make(HttpScaffolderApi::factory()))
        .extension(
            PageBlueprint::new("/create", index::render)
                .route_ref(&SCAFFOLDER_ROOT_ROUTE)
                .title("Create")
                .build(),
        )
        .extension(
            PageBlueprint::new("/create/templates/:namespace/:name", move |req| {
                form::render(req, drafts.clone())
            })
            .name("template")
            .route_ref(&SELECTED_TEMPLATE_ROUTE)
            .title("Create")
            .accept_forms()
            .build(),
        )
        .extension(
            PageBlueprint::new("/create/tasks", task::list)
                .name("tasks")
                .route_ref(&TASKS_ROUTE)
                .title("Tasks")
                .build(),
        )
        .extension(
            PageBlueprint::new("/create/tasks/:taskId", task::render)
                .name("task")
                .route_ref(&ONGOING_TASK_ROUTE)
                .title("Task")
                .accept_forms()
                .build(),
        )
        .extension(
            NavItemBlueprint::new("Create...", &SCAFFOLDER_ROOT_ROUTE)
                .icon("+")
                .build(),
        )
}

/// The scaffolder frontend plugin (id `scaffolder`), to add with
/// [`AppBuilder::feature`](crate::frontend::AppBuilder::feature); the same as
/// [`scaffolder_frontend_plugin`].
///
/// ```
/// use backlot::frontend::App;
/// use backlot::plugins::scaffolder;
///
/// let app = App::builder().feature(scaffolder::frontend::plugin()).build()?;
/// assert!(app.tree().get("page:scaffolder/template").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> FrontendPlugin {
    scaffolder_frontend_plugin()
}

/// An id-safe form of a field name.
pub(crate) fn ui_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A page for a failed scaffolder call: 404 and 403 as such, the visitor's 4xx as a bad
/// request, anything else as a failing upstream (502).
pub(crate) fn api_error_page(req: &PageRequest, what: &str, e: &ScaffolderApiError) -> PageContent {
    let (status, title) = match e.status() {
        Some(404) => (StatusCode::NOT_FOUND, format!("{what} not found")),
        Some(403) => (StatusCode::FORBIDDEN, "Not allowed".to_string()),
        Some(s @ 400..=499) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
            "Invalid request".to_string(),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            format!("Could not load the {}", what.to_lowercase()),
        ),
    };
    let body = html! {
        (ui::header(&title, None))
        (ui::error_state(&title, &e.user_message()))
        p { (ui::link(&form::root_href(req), "Back to the templates")) }
    };
    PageContent::new(body).status(status).title(title)
}

/// Markdown (template output text) as HTML without raw HTML or script links.
pub(crate) fn markdown(text: &str) -> String {
    let safe = |url: CowStr<'_>| -> CowStr<'static> {
        let lower = url.trim().to_ascii_lowercase();
        let scheme = lower.split_once(':').map(|(s, _)| s.to_string());
        match scheme {
            Some(s)
                if !matches!(s.as_str(), "http" | "https" | "mailto")
                    && !lower.starts_with('/')
                    && !lower.starts_with('#')
                    && !lower.starts_with('.')
                    && !s.contains('/')
                    && !s.contains('?') =>
            {
                CowStr::from("#")
            }
            _ => CowStr::from(url.into_string()),
        }
    };
    let events = Parser::new(text).map(|ev| match ev {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

pub(crate) const STYLE: &str = ".sc-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(18rem,1fr));gap:16px}\
.sc-card{display:flex;flex-direction:column;gap:6px}.sc-card .bl-card-title{margin:0}.sc-type{margin:0;text-transform:uppercase;font-size:.75rem;letter-spacing:.05em;color:var(--bl-muted,#666)}\
.sc-filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end;margin-bottom:16px}.sc-filters label{display:flex;flex-direction:column;gap:4px;font-size:.85rem}\
.sc-steps{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0;margin:0 0 16px}.sc-steps li{padding:4px 12px;border-radius:999px;border:1px solid var(--bl-border)}\
.sc-steps li[aria-current]{font-weight:600;border-color:var(--bl-accent,#2563eb)}.sc-steps li.sc-done{opacity:.7}\
.sc-form{max-width:46rem}.sc-field{margin:0 0 16px;display:flex;flex-direction:column;gap:4px}.sc-label{font-weight:600}.sc-required{color:var(--bl-danger,#b91c1c)}\
.sc-field input[type=text],.sc-field input[type=password],.sc-field input[type=number],.sc-field select,.sc-field textarea{max-width:100%;font:inherit;padding:7px 10px}\
.sc-desc,.sc-help{margin:0;font-size:.85rem}.sc-error{margin:0;color:var(--bl-danger,#b91c1c);font-size:.85rem;min-height:0}.sc-invalid input,.sc-invalid select,.sc-invalid textarea{border-color:var(--bl-danger,#b91c1c)}\
.sc-check{display:flex;gap:6px;align-items:center}.sc-repo{display:flex;flex-wrap:wrap;gap:10px}.sc-repo label{display:flex;flex-direction:column;font-size:.85rem}\
.sc-object{border:1px solid var(--bl-border);border-radius:8px;padding:8px 14px;margin:0 0 16px}\
.sc-actions{display:flex;gap:8px;align-items:center;margin-top:12px}.sc-inline{display:inline}.sc-primary{font-weight:600}\
.sc-review{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}.sc-review dt{font-weight:600}.sc-review dd{margin:0;overflow-wrap:anywhere}\
.sc-link-button{font-size:.8rem;padding:2px 8px}.sc-summary{text-align:left;padding:12px 16px;margin-bottom:16px}\
.sc-status{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;border:1px solid var(--bl-border)}\
.sc-status-completed{background:#dcfce7;color:#166534}.sc-status-failed{background:#fee2e2;color:#991b1b}.sc-status-processing{background:#dbeafe;color:#1e40af}.sc-status-cancelled,.sc-status-skipped{opacity:.75}\
.sc-task-steps{padding-left:1.2rem}.sc-task-steps li{margin:4px 0}.sc-log{max-height:28rem;overflow:auto;background:var(--bl-bg);border:1px solid var(--bl-border);border-radius:6px;padding:10px;font-size:.8rem;white-space:pre-wrap}\
.sc-output-links{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0}";

/// Live checks of the form's fields (the browser's constraint validation, shown beside
/// the field as the person types); the server checks again on every post.
pub(crate) const FORM_SCRIPT: &str = r#"(function(){
var form=document.querySelector("form[data-scaffolder-form]");if(!form)return;
function show(el){var f=el.closest(".sc-field");if(!f)return;var m=f.querySelector(".sc-error");if(!m)return;
var ok=el.checkValidity();m.textContent=ok?"":el.validationMessage;f.classList.toggle("sc-invalid",!ok);}
form.addEventListener("input",function(e){if(e.target.willValidate)show(e.target);});
form.addEventListener("focusout",function(e){if(e.target.willValidate&&e.target.value)show(e.target);});
})();"#;

/// The live task page: follows the backend's event stream when the browser may read it
/// (the scaffolder in `app.signInPage.userCookiePlugins`, so the browser holds its user
/// cookie), else reloads the task's part of the page every two seconds, until the task
/// ends. A stream refused before its first event (the user cookie may still be on its way
/// on a first visit) is tried again, up to five times, while the page polls.
/// `<body data-sc-live>` says which (`sse` or `poll`).
pub(crate) const TASK_SCRIPT: &str = r##"(function(){
var live=document.getElementById("sc-live");if(!live||live.dataset.final==="true")return;
var busy=false,timer=null,es=null;
function refresh(){if(busy)return;busy=true;fetch(location.href,{credentials:"same-origin",headers:{"Accept":"text/html"}}).then(function(r){return r.text();}).then(function(t){
var doc=new DOMParser().parseFromString(t,"text/html");var next=doc.getElementById("sc-live");var cur=document.getElementById("sc-live");
if(next&&cur){var log=cur.querySelector("#sc-log");var atEnd=log&&log.scrollTop+log.clientHeight>=log.scrollHeight-4;cur.replaceWith(next);var nl=next.querySelector("#sc-log");if(nl&&atEnd)nl.scrollTop=nl.scrollHeight;
if(next.dataset.final==="true"){if(timer)clearInterval(timer);if(es)es.close();var acts=document.querySelector(".sc-actions form");if(acts)acts.remove();}}
}).catch(function(){}).then(function(){busy=false;});}
function poll(){document.body.dataset.scLive="poll";if(!timer)timer=setInterval(refresh,2000);}
var url=live.dataset.eventstream,tries=0;
function connect(){if(!url||!window.EventSource){poll();return;}tries++;try{es=new EventSource(url,{withCredentials:true});var got=false;
var on=function(){if(!got){got=true;document.body.dataset.scLive="sse";if(timer){clearInterval(timer);timer=null;}}refresh();};["log","completion","cancelled","recovered","message"].forEach(function(t){es.addEventListener(t,on);});
es.onerror=function(){if(!got){es.close();es=null;poll();if(tries<5)setTimeout(connect,1000*tries);}};}catch(e){poll();}}
connect();
setTimeout(function(){if(es&&!es.readyState){poll();}},3000);
})();"##;
