//! `/create/templates/:namespace/:name`: the template's form, one page per parameter step,
//! then a review and "Create". Every move is a form post carrying the values entered so far
//! in a hidden field; secrets stay in the app's memory ([`Drafts`]), never in a page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::drafts::Drafts;
use super::schema::{Field, Kind, Step, get_path, read_steps, set_path};
use super::values::{PARAM, choice_text, read_step};
use super::widgets::{FieldContext, fields};
use super::{FORM_SCRIPT, STYLE, api_error_page};
use crate::frontend::{PageContent, PageError, PageRequest, ui};
use crate::plugins::catalog::common::EntityRef;
use crate::plugins::catalog::react::{
    CATALOG_API, EntityFilter, QueryEntitiesRequest, humanize_ref,
};
use crate::plugins::scaffolder::react::{
    ONGOING_TASK_ROUTE, SCAFFOLDER_API, SCAFFOLDER_ROOT_ROUTE, ScaffoldRequest, ScaffolderApiError,
    TaskParams, TemplateParameterSchema,
};

/// The largest `_values` (and `?values=`) JSON taken, in bytes.
pub(crate) const MAX_VALUES_BYTES: usize = 256 * 1024;
/// The most entities an entity picker offers.
const MAX_PICKER_ENTITIES: usize = 500;

/// Where the form is and what it holds.
struct FormState {
    template: EntityRef,
    schema: TemplateParameterSchema,
    steps: Vec<Step>,
    values: Map<String, Value>,
    draft: Option<String>,
    user: String,
}

fn parse_values(text: Option<&str>) -> Map<String, Value> {
    text.filter(|t| t.len() <= MAX_VALUES_BYTES)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// The form fields a leaf's value would be posted as (to check stored values again).
fn as_form(
    step: &Step,
    values: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for leaf in step.leaves() {
        let name = leaf.name();
        let key = format!("{PARAM}{name}");
        let value = if matches!(leaf.kind, Kind::Secret) {
            secrets.get(&name)
        } else {
            get_path(values, &leaf.path)
        };
        let Some(value) = value else { continue };
        match (&leaf.kind, value) {
            (Kind::RepoUrl, Value::String(s)) => {
                let (h, o, r) = super::values::parse_repo_url(s);
                out.push((format!("{key}.host"), h));
                out.push((format!("{key}.owner"), o));
                out.push((format!("{key}.repo"), r));
            }
            (_, Value::Array(items)) => {
                out.extend(items.iter().map(|i| (key.clone(), choice_text(i))));
            }
            (_, v) => out.push((key, choice_text(v))),
        }
    }
    out
}

/// Puts a posted step's values in place of the step's old ones.
fn merge_step(
    state: &mut FormState,
    drafts: &Drafts,
    step: usize,
    form: &[(String, String)],
) -> BTreeMap<String, String> {
    let Some(s) = state.steps.get(step) else {
        return BTreeMap::new();
    };
    let mut input = read_step(s, form);
    // A secret entered on an earlier post is kept in the draft: leaving it empty keeps it.
    if let Some(d) = state.draft.as_deref() {
        let kept = drafts.get(d, &state.user);
        for leaf in s.leaves() {
            let name = leaf.name();
            if matches!(leaf.kind, Kind::Secret)
                && kept.contains_key(&name)
                && !input.secrets.contains_key(&name)
            {
                input.errors.remove(&name);
                let len = kept[&name].as_str().map_or(0, |v| v.chars().count());
                set_path(
                    &mut input.values,
                    &leaf.path,
                    Some(Value::String("*".repeat(len))),
                );
            }
        }
    }
    for leaf in s.leaves() {
        if !matches!(leaf.kind, Kind::Secret) {
            set_path(&mut state.values, &leaf.path, None);
        }
    }
    for (k, v) in input.values {
        let merged = match (state.values.remove(&k), v) {
            (Some(Value::Object(mut old)), Value::Object(new)) => {
                old.extend(new);
                Value::Object(old)
            }
            (_, v) => v,
        };
        state.values.insert(k, merged);
    }
    if !input.secrets.is_empty() || state.draft.is_some() {
        state.draft = Some(drafts.put(state.draft.as_deref(), &state.user, input.secrets));
    }
    input.errors
}

async fn entity_choices(req: &PageRequest, step: &Step) -> HashMap<String, Vec<(String, String)>> {
    let mut out = HashMap::new();
    let Ok(catalog) = req.api(&CATALOG_API) else {
        return out;
    };
    for leaf in step.leaves() {
        if leaf.kind != Kind::Entity {
            continue;
        }
        let opts = &leaf.options;
        let mut filters: Vec<EntityFilter> = match opts.get("catalogFilter") {
            Some(Value::Array(items)) => items.iter().filter_map(catalog_filter).collect(),
            Some(v) => catalog_filter(v).into_iter().collect(),
            None => Vec::new(),
        };
        if filters.is_empty() {
            let kinds: Vec<String> = opts
                .get("allowedKinds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| {
                    if leaf.ui_field.as_deref() == Some("OwnerPicker") {
                        vec!["Group".to_string(), "User".to_string()]
                    } else {
                        Vec::new()
                    }
                });
            let mut f = EntityFilter::new();
            for k in kinds {
                f = f.with("kind", k);
            }
            if !f.is_empty() {
                filters.push(f);
            }
        }
        // Labels leave out the default kind (Group for owners), as Backstage's pickers do.
        let default_kind =
            opts.get("defaultKind")
                .and_then(Value::as_str)
                .or((leaf.ui_field.as_deref() == Some("OwnerPicker")).then_some("Group"));
        let request = QueryEntitiesRequest {
            filter: filters,
            limit: Some(MAX_PICKER_ENTITIES),
            fields: [
                "apiVersion",
                "kind",
                "metadata.name",
                "metadata.namespace",
                "metadata.title",
            ]
            .map(str::to_string)
            .to_vec(),
            order_fields: vec![("metadata.name".to_string(), "asc".to_string())],
            ..QueryEntitiesRequest::default()
        };
        let page = match catalog.query_entities(&request).await {
            Ok(p) => p,
            Err(_) => continue,
        };
        let choices = page
            .items
            .iter()
            .map(|e| {
                let r = e.to_ref();
                let label = match &e.metadata.title {
                    Some(t) if !t.is_empty() => format!("{t} ({})", humanize_ref(&r, default_kind)),
                    _ => humanize_ref(&r, default_kind),
                };
                (r.to_string(), label)
            })
            .collect();
        out.insert(leaf.name(), choices);
    }
    out
}

/// Backstage's catalog filter object (`{ kind: [Group, User], 'metadata.annotations.x': { exists: true } }`).
fn catalog_filter(v: &Value) -> Option<EntityFilter> {
    let mut f = EntityFilter::new();
    for (key, value) in v.as_object()? {
        match value {
            Value::String(s) => f = f.with(key.clone(), s.clone()),
            Value::Array(items) => {
                for i in items {
                    f = f.with(key.clone(), i.as_str()?.to_string());
                }
            }
            Value::Object(o) if o.get("exists") == Some(&Value::Bool(true)) => {
                f = f.exists(key.clone());
            }
            _ => return None,
        }
    }
    Some(f)
}

fn hidden(state: &FormState, step: usize) -> Markup {
    let values = serde_json::to_string(&state.values).unwrap_or_else(|_| "{}".to_string());
    html! {
        input type="hidden" name="_values" value=(values);
        input type="hidden" name="_step" value=(step);
        @if let Some(d) = &state.draft { input type="hidden" name="_draft" value=(d); }
    }
}

fn steps_nav(state: &FormState, current: usize) -> Markup {
    html! {
        ol class="sc-steps" aria-label="Steps" {
            @for (i, s) in state.steps.iter().enumerate() {
                li aria-current=[(i == current).then_some("step")] class=[(i < current).then_some("sc-done")] { (s.title) }
            }
            li aria-current=[(current == state.steps.len()).then_some("step")] { "Review" }
        }
    }
}

fn header(state: &FormState) -> Markup {
    html! {
        style { (maud::PreEscaped(STYLE)) }
        (ui::header(&state.schema.title, state.schema.description.as_deref()))
    }
}

async fn render_step(
    req: &PageRequest,
    state: &FormState,
    drafts: &Drafts,
    index: usize,
    errors: &BTreeMap<String, String>,
    posted: Option<&[(String, String)]>,
) -> PageContent {
    let Some(step) = state.steps.get(index) else {
        return render_review(req, state, drafts, &[]);
    };
    let entities = entity_choices(req, step).await;
    let secrets = state
        .draft
        .as_deref()
        .map(|d| drafts.get(d, &state.user))
        .unwrap_or_default();
    let given: Vec<String> = secrets.keys().cloned().collect();
    let ctx = FieldContext {
        values: &state.values,
        errors,
        entities: &entities,
        secrets_given: &given,
        posted: if errors.is_empty() { None } else { posted },
    };
    let last = index + 1 == state.steps.len();
    let body = html! {
        (header(state))
        (steps_nav(state, index))
        @if !errors.is_empty() {
            div class="bl-error sc-summary" role="alert" {
                p class="bl-error-title" { "Please fix " (errors.len()) " field" @if errors.len() > 1 { "s" } }
            }
        }
        form method="post" class="sc-form bl-card" novalidate data-scaffolder-form {
            h2 class="bl-card-title" { (step.title) }
            @if let Some(d) = &step.description { p class="bl-muted" { (d) } }
            (hidden(state, index))
            (fields(&step.fields, &ctx))
            div class="sc-actions" {
                @if index > 0 { button class="bl-button" type="submit" name="_action" value="back" formnovalidate { "Back" } " " }
                button class="bl-button sc-primary" type="submit" name="_action" value="next" { @if last { "Review" } @else { "Next" } }
            }
        }
        script { (maud::PreEscaped(FORM_SCRIPT)) }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    PageContent::new(body)
        .title(format!("{} · Create", state.schema.title))
        .status(status)
}

fn show_value(field: &Field, value: Option<&Value>, secret_given: bool) -> Markup {
    match (&field.kind, value) {
        (Kind::Secret, _) => {
            html! { @if secret_given { span class="sc-masked" { "••••••" } } @else { span class="bl-muted" { "—" } } }
        }
        (_, None | Some(Value::Null)) => html! { span class="bl-muted" { "—" } },
        (_, Some(Value::Bool(b))) => html! { (if *b { "Yes" } else { "No" }) },
        (Kind::Choice(options), Some(v)) => {
            let label = options
                .iter()
                .find(|(o, _)| o == v)
                .map_or_else(|| choice_text(v), |(_, l)| l.clone());
            html! { (label) }
        }
        (_, Some(Value::Array(items))) => {
            html! { (items.iter().map(choice_text).collect::<Vec<_>>().join(", ")) }
        }
        (_, Some(v)) => html! { (choice_text(v)) },
    }
}

fn render_review(
    req: &PageRequest,
    state: &FormState,
    drafts: &Drafts,
    problems: &[String],
) -> PageContent {
    let _ = req;
    let secrets = state
        .draft
        .as_deref()
        .map(|d| drafts.get(d, &state.user))
        .unwrap_or_default();
    let n = state.steps.len();
    let body = html! {
        (header(state))
        (steps_nav(state, n))
        @if !problems.is_empty() {
            div class="bl-error sc-summary" role="alert" {
                p class="bl-error-title" { "The task could not be created" }
                ul { @for p in problems { li { (p) } } }
            }
        }
        form method="post" class="sc-form bl-card" {
            h2 class="bl-card-title" { "Review" }
            (hidden(state, n))
            @for (i, step) in state.steps.iter().enumerate() {
                section class="sc-review-step" {
                    h3 { (step.title) " "
                        button class="bl-button sc-link-button" type="submit" name="_action" value={ "edit:" (i) } { "Edit" }
                    }
                    dl class="sc-review" {
                        @for leaf in step.leaves().into_iter().filter(|l| l.show_in_review) {
                            dt { (leaf.title) }
                            dd data-field=(leaf.name()) { (show_value(leaf, get_path(&state.values, &leaf.path), secrets.contains_key(&leaf.name()))) }
                        }
                    }
                }
            }
            div class="sc-actions" {
                button class="bl-button" type="submit" name="_action" value="back" { "Back" } " "
                button class="bl-button sc-primary" type="submit" name="_action" value="create" { "Create" }
            }
        }
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    PageContent::new(body)
        .title(format!("Review · {}", state.schema.title))
        .status(status)
}

async fn create(req: &PageRequest, mut state: FormState, drafts: &Drafts) -> PageContent {
    let secrets = state
        .draft
        .as_deref()
        .map(|d| drafts.get(d, &state.user))
        .unwrap_or_default();
    // Check every step again: the values came back from the browser.
    for i in 0..state.steps.len() {
        let form = as_form(&state.steps[i], &state.values, &secrets);
        let errors = read_step(&state.steps[i], &form).errors;
        if !errors.is_empty() {
            return render_step(req, &state, drafts, i, &errors, Some(&form)).await;
        }
    }
    let mut request = ScaffoldRequest::new(state.template.to_string());
    request.values = state.values.clone();
    // Secret fields go in `secrets`, and also in `values` in place of their mask: the
    // backend checks the values against the schema (the secret's own pattern included),
    // then moves every Secret field out of them into the task's sealed secrets, so the
    // parameters stored with the task never hold it.
    for step in &state.steps {
        for leaf in step.leaves() {
            if matches!(leaf.kind, Kind::Secret)
                && let Some(v) = secrets.get(&leaf.name())
            {
                set_path(&mut request.values, &leaf.path, Some(v.clone()));
            }
        }
    }
    request.secrets = secrets;
    let Ok(api) = req.api(&SCAFFOLDER_API) else {
        return render_review(
            req,
            &state,
            drafts,
            &["The scaffolder is not installed.".to_string()],
        );
    };
    match api.scaffold(&request).await {
        Ok(id) => {
            if let Some(d) = state.draft.take() {
                drafts.remove(&d);
            }
            let href = req
                .routes()
                .href(
                    &ONGOING_TASK_ROUTE,
                    &TaskParams {
                        task_id: id.clone(),
                    },
                )
                .unwrap_or_else(|| format!("/create/tasks/{id}"));
            PageContent::redirect(href)
        }
        Err(ScaffolderApiError::Validation { errors }) => {
            let problems: Vec<String> = errors
                .iter()
                .map(|e| match e.field() {
                    Some(f) => format!("{f}: {}", e.message),
                    None => e.message.clone(),
                })
                .collect();
            render_review(req, &state, drafts, &problems)
        }
        Err(e) => render_review(req, &state, drafts, &[e.user_message()]),
    }
}

/// The form page (GET: the first step, or values from `?values=`; POST: a move).
pub(crate) async fn render(
    req: PageRequest,
    drafts: Arc<Drafts>,
) -> Result<PageContent, PageError> {
    let namespace = req.param("namespace").unwrap_or("default").to_string();
    let name = req.param("name").unwrap_or("").to_string();
    let template = EntityRef::from_parts(
        Some("template"),
        Some(&namespace),
        &name,
        crate::plugins::catalog::common::RefDefaults::default(),
    )
    .map_err(|e| PageError::bad_request(format!("invalid template: {e}")))?;
    let api = req.api(&SCAFFOLDER_API)?;
    let schema = match api.get_template_parameter_schema(&template).await {
        Ok(s) => s,
        Err(e) => return Ok(api_error_page(&req, "Template", &e)),
    };
    let steps = read_steps(&schema.steps).map_err(|e| PageError::bad_request(e.to_string()))?;
    let user = req
        .user()
        .map(|u| u.user_entity_ref().to_string())
        .unwrap_or_default();
    let Some(form) = req.form().map(<[(String, String)]>::to_vec) else {
        let state = FormState {
            values: parse_values(req.query("values")),
            template,
            schema,
            steps,
            draft: None,
            user,
        };
        return Ok(render_step(&req, &state, &drafts, 0, &BTreeMap::new(), None).await);
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let n = steps.len();
    let step = get("_step")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0)
        .min(n);
    let action = get("_action").unwrap_or("next").to_string();
    let mut state = FormState {
        values: parse_values(get("_values")),
        draft: get("_draft").filter(|d| d.len() <= 64).map(str::to_string),
        template,
        schema,
        steps,
        user,
    };
    if action == "create" {
        return Ok(create(&req, state, &drafts).await);
    }
    if let Some(i) = action
        .strip_prefix("edit:")
        .and_then(|i| i.parse::<usize>().ok())
    {
        return Ok(render_step(&req, &state, &drafts, i.min(n), &BTreeMap::new(), None).await);
    }
    if action == "back" {
        if step < n {
            let _ = merge_step(&mut state, &drafts, step, &form);
        }
        return Ok(render_step(
            &req,
            &state,
            &drafts,
            step.saturating_sub(1),
            &BTreeMap::new(),
            None,
        )
        .await);
    }
    // "next": check this step, then go on.
    let errors = merge_step(&mut state, &drafts, step, &form);
    if !errors.is_empty() {
        return Ok(render_step(&req, &state, &drafts, step, &errors, Some(&form)).await);
    }
    if step + 1 >= n {
        return Ok(render_review(&req, &state, &drafts, &[]));
    }
    Ok(render_step(&req, &state, &drafts, step + 1, &BTreeMap::new(), None).await)
}

/// The link back to the template list.
pub(crate) fn root_href(req: &PageRequest) -> String {
    req.routes()
        .href(&SCAFFOLDER_ROOT_ROUTE, &())
        .unwrap_or_else(|| "/create".to_string())
}
