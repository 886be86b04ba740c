//! Reading a posted form step into values and secrets, with the checks of its schema.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::schema::{Field, Kind, Step, set_path};
use crate::plugins::catalog::common::EntityRef;

/// The longest value a field takes, in characters.
pub(crate) const MAX_VALUE_CHARS: usize = 10_000;
/// The prefix of parameter fields in the form (control fields start with `_`).
pub(crate) const PARAM: &str = "p.";

/// What a posted step gave: the values, the secrets and the messages per field name.
#[derive(Debug, Default)]
pub(crate) struct StepInput {
    pub(crate) values: Map<String, Value>,
    pub(crate) secrets: Map<String, Value>,
    pub(crate) errors: BTreeMap<String, String>,
}

fn posted<'a>(form: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    let key = format!("{PARAM}{name}");
    form.iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn first<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    posted(form, name).into_iter().next()
}

/// The text of a choice value, as the form sends it.
pub(crate) fn choice_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_text(field: &Field, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
    }
    if let Some(min) = field.min_length
        && (chars as u64) < min
    {
        return Err(format!("must be at least {min} characters"));
    }
    if let Some(max) = field.max_length
        && (chars as u64) > max
    {
        return Err(format!("must be at most {max} characters"));
    }
    if let Some(pattern) = &field.pattern {
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|_| "cannot be checked: the template's pattern is invalid".to_string())?;
        if !re.is_match(text) {
            return Err(format!("must match the pattern {pattern}"));
        }
    }
    Ok(())
}

fn check_number(field: &Field, text: &str, integer: bool) -> Result<Value, String> {
    let n: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| "must be a number".to_string())?;
    if integer && n.fract() != 0.0 {
        return Err("must be a whole number".to_string());
    }
    if let Some(min) = field.minimum
        && n < min
    {
        return Err(format!("must be at least {min}"));
    }
    if let Some(max) = field.maximum
        && n > max
    {
        return Err(format!("must be at most {max}"));
    }
    if integer {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
}

fn strings(options: &Map<String, Value>, key: &str) -> Vec<String> {
    options
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The allowed hosts of a `RepoUrlPicker` (`ui:options.allowedHosts`).
pub(crate) fn allowed_hosts(field: &Field) -> Vec<String> {
    strings(&field.options, "allowedHosts")
}

/// The allowed owners of a `RepoUrlPicker` (`ui:options.allowedOwners`).
pub(crate) fn allowed_owners(field: &Field) -> Vec<String> {
    strings(&field.options, "allowedOwners")
}

/// The parts of a `RepoUrlPicker` value (`host?owner=o&repo=r`).
pub(crate) fn parse_repo_url(value: &str) -> (String, String, String) {
    let (host, query) = value.split_once('?').unwrap_or((value, ""));
    let mut owner = String::new();
    let mut repo = String::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "owner" | "organization" | "workspace" => owner = v.into_owned(),
            "repo" => repo = v.into_owned(),
            _ => {}
        }
    }
    (host.to_string(), owner, repo)
}

fn repo_part_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with('.')
}

fn read_repo_url(field: &Field, form: &[(String, String)]) -> Result<Option<Value>, String> {
    let name = field.name();
    let part = |p: &str| {
        first(form, &format!("{name}.{p}"))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let (host, owner, repo) = (part("host"), part("owner"), part("repo"));
    if host.is_empty() && owner.is_empty() && repo.is_empty() {
        return Ok(None);
    }
    let hosts = allowed_hosts(field);
    if host.is_empty() || (!hosts.is_empty() && !hosts.contains(&host)) {
        return Err(format!("the host must be one of: {}", hosts.join(", ")));
    }
    if host.contains(['?', '&', '/', '#', ' ']) {
        return Err("the host is not a host name".to_string());
    }
    let owners = allowed_owners(field);
    if !repo_part_ok(&owner) || (!owners.is_empty() && !owners.contains(&owner)) {
        return Err(if owners.is_empty() {
            "the owner must be letters, digits, '-', '_' or '.'".to_string()
        } else {
            format!("the owner must be one of: {}", owners.join(", "))
        });
    }
    if !repo_part_ok(&repo) {
        return Err("the repository must be letters, digits, '-', '_' or '.'".to_string());
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("owner", &owner)
        .append_pair("repo", &repo)
        .finish();
    Ok(Some(Value::String(format!("{host}?{query}"))))
}

/// Reads one leaf field: `Ok(None)` when left empty.
fn read_leaf(field: &Field, form: &[(String, String)]) -> Result<Option<Value>, String> {
    let name = field.name();
    match &field.kind {
        Kind::Boolean => Ok(Some(Value::Bool(posted(form, &name).contains(&"true")))),
        Kind::RepoUrl => read_repo_url(field, form),
        Kind::MultiChoice(options) => {
            let picked = posted(form, &name);
            let mut out = Vec::new();
            for p in picked {
                match options.iter().find(|(v, _)| choice_text(v) == p) {
                    Some((v, _)) => out.push(v.clone()),
                    None => return Err(format!("'{p}' is not one of the choices")),
                }
            }
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
        kind => {
            let raw = first(form, &name).unwrap_or("");
            let text = if matches!(kind, Kind::Secret) {
                raw
            } else {
                raw.trim()
            };
            if text.is_empty() {
                return Ok(None);
            }
            match kind {
                Kind::Number { integer } => check_number(field, text, *integer).map(Some),
                Kind::Choice(options) => options
                    .iter()
                    .find(|(v, _)| choice_text(v) == text)
                    .map(|(v, _)| Some(v.clone()))
                    .ok_or_else(|| format!("'{text}' is not one of the choices")),
                Kind::Entity => {
                    if text.chars().count() > 500 || text.parse::<EntityRef>().is_err() {
                        return Err(
                            "must be an entity reference such as group:default/team-a".into()
                        );
                    }
                    check_text(field, text)?;
                    Ok(Some(Value::String(text.to_string())))
                }
                _ => {
                    check_text(field, text)?;
                    Ok(Some(Value::String(text.to_string())))
                }
            }
        }
    }
}

/// Reads the fields of `step` from a post: values, secrets (`Secret` fields) and a message
/// per field that is missing or wrong.
pub(crate) fn read_step(step: &Step, form: &[(String, String)]) -> StepInput {
    let mut input = StepInput::default();
    for field in step.leaves() {
        let name = field.name();
        match read_leaf(field, form) {
            Ok(None) if field.required => {
                input
                    .errors
                    .insert(name, format!("{} is required", field.title));
            }
            Ok(value) => {
                if matches!(field.kind, Kind::Secret) {
                    // As Backstage: the value goes to `secrets`, the parameters get a mask of
                    // the same length so that `required` still holds on the backend.
                    if let Some(v) = value {
                        let mask = "*".repeat(v.as_str().map_or(0, |s| s.chars().count()));
                        set_path(&mut input.values, &field.path, Some(Value::String(mask)));
                        input.secrets.insert(name, v);
                    }
                } else {
                    set_path(&mut input.values, &field.path, value);
                }
            }
            Err(message) => {
                input
                    .errors
                    .insert(name, format!("{} {message}", field.title));
            }
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::scaffolder::frontend::schema::read_steps;
    use crate::plugins::scaffolder::react::ParameterStep;
    use serde_json::json;

    fn step() -> Step {
        read_steps(&[ParameterStep::new(
            "s",
            json!({
                "required": ["name", "repoUrl"],
                "properties": {
                    "name": { "type": "string", "pattern": "^[a-z]+$" },
                    "count": { "type": "integer", "minimum": 1, "maximum": 3 },
                    "color": { "type": "string", "enum": ["red", "blue"] },
                    "flags": { "type": "array", "items": { "enum": ["x", "y"] } },
                    "on": { "type": "boolean" },
                    "repoUrl": { "type": "string", "ui:field": "RepoUrlPicker", "ui:options": { "allowedHosts": ["127.0.0.1:7900"] } },
                    "token": { "type": "string", "ui:field": "Secret" },
                    "owner": { "type": "string", "ui:field": "OwnerPicker" }
                }
            }),
        )])
        .unwrap()
        .remove(0)
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{PARAM}{k}"), (*v).to_string()))
            .collect()
    }

    #[test]
    fn good_values_are_typed_and_secrets_kept_apart() {
        let input = read_step(
            &step(),
            &form(&[
                ("name", "billing"),
                ("count", "2"),
                ("color", "blue"),
                ("flags", "x"),
                ("flags", "y"),
                ("on", "true"),
                ("repoUrl.host", "127.0.0.1:7900"),
                ("repoUrl.owner", "northwind"),
                ("repoUrl.repo", "billing"),
                ("token", " s3cret "),
                ("owner", "group:default/team-a"),
            ]),
        );
        assert!(input.errors.is_empty(), "{:?}", input.errors);
        assert_eq!(
            Value::Object(input.values),
            json!({
                "name": "billing", "count": 2, "color": "blue", "flags": ["x", "y"], "on": true,
                "repoUrl": "127.0.0.1:7900?owner=northwind&repo=billing", "owner": "group:default/team-a", "token": "********"
            })
        );
        assert_eq!(Value::Object(input.secrets), json!({ "token": " s3cret " }));
    }

    #[test]
    fn bad_values_get_a_message_each() {
        let input = read_step(
            &step(),
            &form(&[
                ("name", "Bad Name"),
                ("count", "7"),
                ("color", "green"),
                ("flags", "z"),
                ("repoUrl.host", "evil.example"),
                ("repoUrl.owner", "o"),
                ("repoUrl.repo", "r"),
                ("owner", "not a ref:/"),
            ]),
        );
        let e = &input.errors;
        assert!(e["name"].contains("must match the pattern"), "{e:?}");
        assert!(e["count"].contains("at most 3"), "{e:?}");
        assert!(e["color"].contains("not one of"), "{e:?}");
        assert!(e["flags"].contains("not one of"), "{e:?}");
        assert!(e["repoUrl"].contains("127.0.0.1:7900"), "{e:?}");
        assert!(e["owner"].contains("entity reference"), "{e:?}");
        let missing = read_step(&step(), &form(&[("count", "1.5")]));
        assert_eq!(missing.errors["name"], "name is required");
        assert_eq!(missing.errors["repoUrl"], "repoUrl is required");
        assert!(missing.errors["count"].contains("whole number"));
    }

    #[test]
    fn repo_urls_round_trip() {
        assert_eq!(
            parse_repo_url("h:1?owner=a%20b&repo=c"),
            ("h:1".into(), "a b".into(), "c".into())
        );
    }
}
