//! The scaffolder's own filters (`parseRepoUrl`, `parseEntityRef`, `pick`, `projectSlug`), the
//! Nunjucks built-ins (see [`super::nunjucks`]) and the extensions' filters and globals.

use minijinja::Environment;
use serde_json::{Map, Value, json};

use super::{TemplateFunction, TemplatingExtensions};

/// `host?owner=o&repo=r` (the RepoUrlPicker format) into
/// `{host, owner, repo, organization?, workspace?, project?}`.
pub(crate) fn parse_repo_url(args: &[Value]) -> Result<Value, String> {
    let raw = match args.first() {
        Some(Value::String(s)) => s.as_str(),
        other => {
            return Err(format!(
                "parseRepoUrl: expected a repo url string like 'github.com?owner=o&repo=r', got {}",
                other.map_or("nothing".to_string(), Value::to_string)
            ));
        }
    };
    let url = url::Url::parse(&format!("https://{raw}"))
        .map_err(|e| format!("Invalid repo URL passed to publisher, got {raw}, {e}"))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) if !h.is_empty() => format!("{h}:{p}"),
        (Some(h), None) if !h.is_empty() => h.to_string(),
        _ => {
            return Err(format!(
                "Invalid repo URL passed to publisher: {raw}, missing host"
            ));
        }
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let required = |name: &str| match param(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "Invalid repo URL passed to publisher: https://{raw}, missing {name}"
        )),
    };
    let repo = required("repo")?;
    let (project, workspace) = (param("project"), param("workspace"));
    let owner = if project.is_some() || workspace.is_some() {
        param("owner")
    } else {
        Some(required("owner")?)
    };
    let mut out = Map::new();
    out.insert("host".into(), Value::String(host));
    for (k, v) in [
        ("owner", owner),
        ("repo", Some(repo)),
        ("organization", param("organization")),
        ("workspace", workspace),
        ("project", project),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), Value::String(v));
        }
    }
    Ok(Value::Object(out))
}

/// `[kind:][namespace/]name` into `{kind, namespace, name}`, with the optional context
/// `{defaultKind, defaultNamespace}`.
pub(crate) fn parse_entity_ref(args: &[Value]) -> Result<Value, String> {
    let ctx = args.get(1).and_then(Value::as_object);
    let ctx_str = |k: &str| {
        ctx.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (kind, namespace, name) = match args.first() {
        Some(Value::String(r)) if !r.is_empty() => {
            let slash = r.find('/');
            let colon = r.find(':').filter(|c| slash.is_none_or(|s| *c < s));
            let kind = colon.map(|c| r[..c].to_string());
            let ns_start = colon.map_or(0, |c| c + 1);
            let namespace = slash.map(|s| r[ns_start..s].to_string());
            let name = r[slash.map_or(ns_start, |s| s + 1).max(ns_start)..].to_string();
            if kind.as_deref() == Some("") || namespace.as_deref() == Some("") || name.is_empty() {
                return Err(format!(
                    "Entity reference \"{r}\" was not on the form [<kind>:][<namespace>/]<name>"
                ));
            }
            (kind, namespace, Some(name))
        }
        Some(Value::Object(o)) => {
            let f = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            (f("kind"), f("namespace"), f("name"))
        }
        _ => return Err("Entity reference must not be empty".to_string()),
    };
    let textual = args.first().map(Value::to_string).unwrap_or_default();
    let kind = kind.or_else(|| ctx_str("defaultKind")).ok_or_else(|| {
        format!(
            "Entity reference {textual} had missing or empty kind (e.g. did not start with \"component:\" or similar)"
        )
    })?;
    let namespace = namespace
        .or_else(|| ctx_str("defaultNamespace"))
        .unwrap_or_else(|| "default".to_string());
    let name =
        name.ok_or_else(|| format!("Entity reference {textual} had missing or empty name"))?;
    Ok(json!({"kind": kind, "namespace": namespace, "name": name}))
}

/// lodash `get(obj, path)`: `a.b[0].c`.
pub(crate) fn pick(args: &[Value]) -> Result<Value, String> {
    let obj = args.first().cloned().unwrap_or(Value::Null);
    let path = match args.get(1) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Ok(Value::Null),
    };
    let mut cur = &obj;
    let normalized = path.replace('[', ".").replace(']', "");
    for part in normalized.split('.').filter(|p| !p.is_empty()) {
        let part = part.trim_matches(|c| c == '"' || c == '\'');
        let next = match cur {
            Value::Object(m) => m.get(part),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            // `undefined`, which the template sees as undefined.
            None => return Ok(Value::Null),
        }
    }
    Ok(cur.clone())
}

/// `owner/repo` of a RepoUrlPicker value.
pub(crate) fn project_slug(args: &[Value]) -> Result<Value, String> {
    let parsed = parse_repo_url(args)?;
    let part = |k: &str| parsed.get(k).and_then(Value::as_str).unwrap_or("undefined");
    Ok(Value::String(format!("{}/{}", part("owner"), part("repo"))))
}

fn documented(
    f: fn(&[Value]) -> Result<Value, String>,
    description: &str,
    schema: Value,
    examples: Vec<Value>,
) -> TemplateFunction {
    let mut t = TemplateFunction::new(f).description(description);
    t.schema = Some(schema);
    t.examples = examples;
    t
}

/// The scaffolder's own filters with their documentation, for [`describe`](super::describe).
pub(super) fn builtin_docs() -> Vec<(&'static str, TemplateFunction)> {
    let repo_out = json!({"type": "object", "properties": {
        "host": {"type": "string"}, "owner": {"type": "string"}, "repo": {"type": "string"},
        "organization": {"type": "string"}, "workspace": {"type": "string"}, "project": {"type": "string"}},
        "required": ["host", "repo"]});
    vec![
        (
            "parseRepoUrl",
            documented(
                parse_repo_url,
                "Parses a repository URL in the RepoUrlPicker format (host?owner=o&repo=r, optionally with organization, workspace and project) into its parts.",
                json!({"input": {"type": "string"}, "output": repo_out}),
                vec![json!({
                    "description": "Parse the value of a RepoUrlPicker field",
                    "example": "- id: log\n  action: debug:log\n  input:\n    message: ${{ parameters.repoUrl | parseRepoUrl }}",
                    "notes": "For repoUrl `github.com?repo=backstage&owner=acme` the result is `{\"host\":\"github.com\",\"owner\":\"acme\",\"repo\":\"backstage\"}`.",
                })],
            ),
        ),
        (
            "parseEntityRef",
            documented(
                parse_entity_ref,
                "Parses an entity reference [kind:][namespace/]name into {kind, namespace, name}; the optional argument {defaultKind, defaultNamespace} fills missing parts (the namespace defaults to `default`).",
                json!({
                    "input": {"type": "string"},
                    "arguments": [{"type": "object", "properties": {
                        "defaultKind": {"type": "string"}, "defaultNamespace": {"type": "string"}}}],
                    "output": {"type": "object", "properties": {
                        "kind": {"type": "string"}, "namespace": {"type": "string"}, "name": {"type": "string"}},
                        "required": ["kind", "namespace", "name"]},
                }),
                vec![
                    json!({
                        "description": "Parse a full entity reference",
                        "example": "${{ parameters.owner | parseEntityRef }}",
                        "notes": "For `group:default/team-a` the result is `{\"kind\":\"group\",\"namespace\":\"default\",\"name\":\"team-a\"}`.",
                    }),
                    json!({
                        "description": "Parse a short reference with defaults",
                        "example": "${{ parameters.owner | parseEntityRef({ defaultKind: 'group', defaultNamespace: 'platform' }) }}",
                        "notes": "For `team-a` the result is `{\"kind\":\"group\",\"namespace\":\"platform\",\"name\":\"team-a\"}`.",
                    }),
                ],
            ),
        ),
        (
            "pick",
            documented(
                pick,
                "Picks the value at a path (`a.b[0].c`) of an object.",
                json!({"input": {"type": "object"}, "arguments": [{"type": "string"}], "output": {}}),
                vec![json!({
                    "description": "Pick the name of a parsed entity reference",
                    "example": "${{ parameters.owner | parseEntityRef | pick('name') }}",
                    "notes": "For `group:default/team-a` the result is `team-a`.",
                })],
            ),
        ),
        (
            "projectSlug",
            documented(
                project_slug,
                "Turns a repository URL in the RepoUrlPicker format into `owner/repo`.",
                json!({"input": {"type": "string"}, "output": {"type": "string"}}),
                vec![json!({
                    "description": "The slug of the chosen repository",
                    "example": "${{ parameters.repoUrl | projectSlug }}",
                    "notes": "For `github.com?repo=backstage&owner=acme` the result is `acme/backstage`.",
                })],
            ),
        ),
    ]
}

/// Registers the built-in filters.
pub(super) fn register_builtins(env: &mut Environment<'static>) {
    super::nunjucks::register(env);
    for (name, f) in builtin_docs() {
        // Backstage's results list their keys in this order (our JSON maps sort them).
        let order: &'static [&'static str] = match name {
            "parseRepoUrl" => &[
                "host",
                "owner",
                "repo",
                "organization",
                "workspace",
                "project",
            ],
            "parseEntityRef" => &["kind", "namespace", "name"],
            _ => &[],
        };
        let func = f.func;
        env.add_filter(
            name,
            move |value: minijinja::Value, args: minijinja::value::Rest<minijinja::Value>| {
                let out = call_json(&func, Some(value), &args)?;
                if order.is_empty() || out.kind() != minijinja::value::ValueKind::Map {
                    return Ok(out);
                }
                Ok(minijinja::Value::from_pairs(order.iter().filter_map(|k| {
                    out.get_attr(k)
                        .ok()
                        .filter(|v| !v.is_undefined())
                        .map(|v| (*k, v))
                })))
            },
        );
    }
}

/// Registers the filters and globals modules added.
pub(super) fn register_extensions(env: &mut Environment<'static>, ext: &TemplatingExtensions) {
    for (name, f) in ext.filters() {
        add_json_filter(env, name, f.func);
    }
    for (name, f) in ext.global_functions() {
        let func = f.func.clone();
        env.add_function(
            name,
            move |args: minijinja::value::Rest<minijinja::Value>| call_json(&func, None, &args),
        );
    }
    for (name, v) in ext.global_values() {
        env.add_global(name, super::js::from_json(&v));
    }
}

fn add_json_filter(env: &mut Environment<'static>, name: String, func: super::TemplateFn) {
    env.add_filter(
        name,
        move |value: minijinja::Value, args: minijinja::value::Rest<minijinja::Value>| {
            call_json(&func, Some(value), &args)
        },
    );
}

/// Calls a JSON function the way Backstage's sandbox does: arguments through `JSON.stringify`
/// (`undefined` becomes `null`), the result through `JSON.parse`.
fn call_json(
    func: &super::TemplateFn,
    first: Option<minijinja::Value>,
    rest: &[minijinja::Value],
) -> Result<minijinja::Value, minijinja::Error> {
    let to_json = |v: &minijinja::Value| super::js::to_json(v).unwrap_or(Value::Null);
    let mut args = Vec::with_capacity(rest.len() + 1);
    if let Some(f) = first {
        args.push(to_json(&f));
    }
    for a in rest {
        args.push(to_json(a));
    }
    func(&args)
        .map(|v| super::js::from_json(&v))
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_urls() {
        assert_eq!(
            parse_repo_url(&[json!("github.com?owner=o&repo=r")]).ok(),
            Some(json!({"host": "github.com", "owner": "o", "repo": "r"}))
        );
        assert_eq!(
            parse_repo_url(&[json!("dev.azure.com?organization=org&project=p&repo=r")]).ok(),
            Some(
                json!({"host": "dev.azure.com", "repo": "r", "organization": "org", "project": "p"})
            )
        );
        let err = parse_repo_url(&[json!("github.com?owner=o")]).unwrap_err();
        assert!(err.contains("missing repo"), "{err}");
        let err = parse_repo_url(&[json!("?owner=o&repo=r")]).unwrap_err();
        assert!(err.contains("host"), "{err}");
        assert_eq!(
            project_slug(&[json!("github.com?owner=o&repo=r")]).ok(),
            Some(json!("o/r"))
        );
    }

    #[test]
    fn entity_refs() {
        assert_eq!(
            parse_entity_ref(&[json!("group:default/team-a")]).ok(),
            Some(json!({"kind": "group", "namespace": "default", "name": "team-a"}))
        );
        assert_eq!(
            parse_entity_ref(&[
                json!("team-a"),
                json!({"defaultKind": "group", "defaultNamespace": "p"})
            ])
            .ok(),
            Some(json!({"kind": "group", "namespace": "p", "name": "team-a"}))
        );
        assert!(parse_entity_ref(&[json!("team-a")]).is_err());
        assert!(parse_entity_ref(&[json!("group:/x")]).is_err());
    }

    #[test]
    fn picks() {
        let o = json!({"a": {"b": [{"c": 1}]}});
        assert_eq!(pick(&[o.clone(), json!("a.b[0].c")]).ok(), Some(json!(1)));
        assert_eq!(pick(&[o, json!("a.x")]).ok(), Some(Value::Null));
    }
}
