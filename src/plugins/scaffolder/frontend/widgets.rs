//! Rendering form fields: one widget per field kind, with its description, help and message.

use std::collections::{BTreeMap, HashMap};

use maud::{Markup, html};
use serde_json::{Map, Value};

use super::schema::{Field, Kind, get_path};
use super::values::{PARAM, allowed_hosts, allowed_owners, choice_text, parse_repo_url};

/// What a step's fields are rendered with.
pub(crate) struct FieldContext<'a> {
    /// The values so far.
    pub(crate) values: &'a Map<String, Value>,
    /// Messages per field name.
    pub(crate) errors: &'a BTreeMap<String, String>,
    /// The choices of entity pickers per field name: `(ref, label)`.
    pub(crate) entities: &'a HashMap<String, Vec<(String, String)>>,
    /// Secret fields already entered (kept in the draft).
    pub(crate) secrets_given: &'a [String],
    /// The post being answered with messages: its raw values are shown again as entered.
    pub(crate) posted: Option<&'a [(String, String)]>,
}

/// The value of a leaf as a refused post sent it, to show it again.
fn posted_value(field: &Field, form: &[(String, String)]) -> Option<Value> {
    let key = format!("{PARAM}{}", field.name());
    let all = |k: &str| -> Vec<String> {
        form.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    match &field.kind {
        Kind::Secret | Kind::Object(_) => None,
        Kind::Boolean => Some(Value::Bool(all(&key).iter().any(|v| v == "true"))),
        Kind::MultiChoice(_) => Some(Value::Array(
            all(&key).into_iter().map(Value::String).collect(),
        )),
        Kind::RepoUrl => {
            let part = |p: &str| {
                all(&format!("{key}.{p}"))
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("owner", &part("owner"))
                .append_pair("repo", &part("repo"))
                .finish();
            Some(Value::String(format!("{}?{q}", part("host"))))
        }
        _ => all(&key).into_iter().next().map(Value::String),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Renders the fields of one step (objects as fieldsets).
pub(crate) fn fields(fields: &[Field], ctx: &FieldContext<'_>) -> Markup {
    html! {
        @for field in fields {
            (one(field, ctx))
        }
    }
}

fn one(field: &Field, ctx: &FieldContext<'_>) -> Markup {
    let name = field.name();
    let id = format!("f-{}", super::ui_id(&name));
    let error = ctx.errors.get(&name);
    let current = ctx
        .posted
        .and_then(|form| posted_value(field, form))
        .or_else(|| get_path(ctx.values, &field.path).cloned())
        .or_else(|| field.default.clone());
    let described = format!("{id}-desc {id}-help {id}-error");
    let input_name = format!("{PARAM}{name}");
    let pattern = field.pattern.clone();
    let widget = field.widget.as_deref();
    let body = match &field.kind {
        Kind::Object(children) => {
            return html! {
                fieldset class="sc-object" {
                    legend { (field.title) }
                    @if let Some(d) = &field.description { p class="bl-muted" { (d) } }
                    (fields(children, ctx))
                }
            };
        }
        Kind::Boolean => html! {
            label class="sc-check" {
                input type="checkbox" id=(id) name=(input_name) value="true"
                    checked[current.as_ref().and_then(Value::as_bool) == Some(true)]
                    autofocus[field.autofocus] aria-describedby=(described);
                " " (field.title)
            }
        },
        Kind::Choice(options) if widget == Some("radio") => {
            let now = current.as_ref().map(text_of);
            html! {
                div role="radiogroup" id=(id) aria-describedby=(described) {
                    @for (i, (v, label)) in options.iter().enumerate() {
                        label class="sc-check" {
                            input type="radio" name=(input_name) value=(choice_text(v))
                                required[field.required]
                                checked[now.as_deref() == Some(choice_text(v).as_str())]
                                autofocus[field.autofocus && i == 0];
                            " " (label)
                        }
                    }
                }
            }
        }
        Kind::Choice(options) => {
            let now = current.as_ref().map(text_of);
            html! {
                select id=(id) name=(input_name) required[field.required] autofocus[field.autofocus] aria-describedby=(described) {
                    option value="" { "Select…" }
                    @for (v, label) in options {
                        option value=(choice_text(v)) selected[now.as_deref() == Some(choice_text(v).as_str())] { (label) }
                    }
                }
            }
        }
        Kind::MultiChoice(options) => {
            let picked: Vec<String> = current
                .as_ref()
                .and_then(Value::as_array)
                .map(|a| a.iter().map(choice_text).collect())
                .unwrap_or_default();
            html! {
                div role="group" id=(id) aria-describedby=(described) {
                    @for (v, label) in options {
                        label class="sc-check" {
                            input type="checkbox" name=(input_name) value=(choice_text(v))
                                checked[picked.contains(&choice_text(v))];
                            " " (label)
                        }
                    }
                }
            }
        }
        Kind::Number { integer } => html! {
            input type="number" id=(id) name=(input_name)
                value=(current.as_ref().map(text_of).unwrap_or_default())
                step=(if *integer { "1" } else { "any" })
                min=[field.minimum] max=[field.maximum]
                required[field.required] autofocus[field.autofocus] aria-describedby=(described);
        },
        Kind::Entity => {
            let now = current.as_ref().map(text_of).unwrap_or_default();
            let empty = Vec::new();
            let choices = ctx.entities.get(&name).unwrap_or(&empty);
            html! {
                select id=(id) name=(input_name) required[field.required] autofocus[field.autofocus] aria-describedby=(described) data-picker=(field.ui_field.as_deref().unwrap_or("EntityPicker")) {
                    option value="" { "Select…" }
                    @if !now.is_empty() && !choices.iter().any(|(r, _)| *r == now) {
                        option value=(now) selected { (now) }
                    }
                    @for (r, label) in choices {
                        option value=(r) selected[*r == now] { (label) }
                    }
                }
            }
        }
        Kind::RepoUrl => {
            let (host, owner, repo) = current
                .as_ref()
                .map(|v| parse_repo_url(&text_of(v)))
                .unwrap_or_default();
            let hosts = allowed_hosts(field);
            let owners = allowed_owners(field);
            html! {
                div class="sc-repo" id=(id) aria-describedby=(described) {
                    label { "Host "
                        @if hosts.is_empty() {
                            input name={ (input_name) ".host" } value=(host) required[field.required];
                        } @else {
                            select name={ (input_name) ".host" } required[field.required] {
                                @for h in &hosts { option value=(h) selected[*h == host] { (h) } }
                            }
                        }
                    }
                    label { "Owner "
                        @if owners.is_empty() {
                            input name={ (input_name) ".owner" } value=(owner) required[field.required]
                                pattern="[A-Za-z0-9_.\\-]+" autofocus[field.autofocus];
                        } @else {
                            select name={ (input_name) ".owner" } required[field.required] {
                                @for o in &owners { option value=(o) selected[*o == owner] { (o) } }
                            }
                        }
                    }
                    label { "Repository "
                        input name={ (input_name) ".repo" } value=(repo) required[field.required]
                            pattern="[A-Za-z0-9_.\\-]+";
                    }
                }
            }
        }
        Kind::Secret => {
            let given = ctx.secrets_given.contains(&name);
            html! {
                input type="password" id=(id) name=(input_name) autocomplete="off"
                    required[field.required && !given] pattern=[pattern]
                    minlength=[field.min_length] maxlength=[field.max_length]
                    autofocus[field.autofocus] aria-describedby=(described);
                @if given { p class="bl-muted" { "Entered already; leave empty to keep it." } }
            }
        }
        Kind::Text if widget == Some("textarea") => html! {
            textarea id=(id) name=(input_name) rows="4"
                required[field.required] minlength=[field.min_length] maxlength=[field.max_length]
                autofocus[field.autofocus] aria-describedby=(described) {
                (current.as_ref().map(text_of).unwrap_or_default())
            }
        },
        Kind::Text => html! {
            input type=(if widget == Some("password") { "password" } else { "text" })
                id=(id) name=(input_name)
                value=(current.as_ref().map(text_of).unwrap_or_default())
                required[field.required] pattern=[pattern]
                minlength=[field.min_length] maxlength=[field.max_length]
                autofocus[field.autofocus] aria-describedby=(described);
        },
    };
    let checkbox = matches!(field.kind, Kind::Boolean);
    html! {
        div class={ "sc-field" @if error.is_some() { " sc-invalid" } } {
            @if !checkbox {
                label class="sc-label" for=(id) {
                    (field.title)
                    @if field.required { span class="sc-required" aria-hidden="true" { " *" } }
                }
            }
            @if let Some(d) = &field.description { p class="bl-muted sc-desc" id={ (id) "-desc" } { (d) } }
            (body)
            @if let Some(h) = &field.help { p class="sc-help" id={ (id) "-help" } { (h) } }
            p class="sc-error" id={ (id) "-error" } aria-live="polite" {
                @if let Some(e) = error { (e) }
            }
        }
    }
}
