//! `${VAR}` substitution and the `$file`, `$env` and `$include` directives.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::{ConfigError, DirectiveError};
use super::parse::{parse_json, parse_yaml};
use super::path::{Segment, render};

/// The directives an object may consist of.
const DIRECTIVES: [&str; 3] = ["$file", "$env", "$include"];

/// How deep `$include`s may nest before we assume a cycle.
const MAX_INCLUDE_DEPTH: usize = 32;

/// `${VAR}` or the escaped form `$${...}`.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$?\$\{[^{}]*\}").unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Looks like a directive: `$` followed by a letter.
fn is_directive_like(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next() == Some('$') && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Applies substitution and directives to one parsed config source.
#[derive(Debug)]
pub(crate) struct Transformer<'a> {
    env: &'a BTreeMap<String, String>,
}

/// Where the value being transformed comes from.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    /// File path or inline source name, for errors.
    name: &'a str,
    /// Directory that relative `$file` / `$include` paths resolve against.
    dir: &'a Path,
    /// Number of `$include`s entered to get here.
    depth: usize,
}

impl<'a> Transformer<'a> {
    pub(crate) fn new(env: &'a BTreeMap<String, String>) -> Self {
        Self { env }
    }

    /// Looks up an environment variable for substitution; values are trimmed.
    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).map(|v| v.trim().to_owned())
    }

    /// Substitutes `${VAR}` placeholders; `$${...}` yields a literal `${...}`. If any variable
    /// is not set, the whole string is undefined and the name of the first such variable is
    /// returned as the error.
    pub(crate) fn substitute(&self, input: &str) -> Result<String, String> {
        if !input.contains("${") {
            return Ok(input.to_owned());
        }
        let mut out = String::with_capacity(input.len());
        let mut missing: Option<String> = None;
        let mut last = 0;
        for m in PLACEHOLDER.find_iter(input) {
            out.push_str(&input[last..m.start()]);
            let text = m.as_str();
            if let Some(escaped) = text.strip_prefix('$').filter(|t| t.starts_with('$')) {
                out.push_str(escaped);
            } else {
                let name = text[2..text.len() - 1].trim();
                match self.var(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        missing.get_or_insert_with(|| name.to_owned());
                    }
                }
            }
            last = m.end();
        }
        out.push_str(&input[last..]);
        match missing {
            Some(name) => Err(name),
            None => Ok(out),
        }
    }

    /// Transforms a whole source. `None` means the source became entirely undefined.
    pub(crate) fn apply(
        &self,
        value: Value,
        name: &str,
        dir: &Path,
    ) -> Result<Option<Value>, ConfigError> {
        let mut path = Vec::new();
        self.walk(
            value,
            &mut path,
            Origin {
                name,
                dir,
                depth: 0,
            },
        )
    }

    fn walk(
        &self,
        value: Value,
        path: &mut Vec<Segment>,
        origin: Origin<'_>,
    ) -> Result<Option<Value>, ConfigError> {
        match value {
            Value::String(s) => Ok(self.substitute(&s).ok().map(Value::String)),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    path.push(Segment::Index(index));
                    let result = self.walk(item, path, origin);
                    path.pop();
                    if let Some(v) = result? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| DIRECTIVES.contains(&k.as_str())) {
                    let key = key.clone();
                    if map.len() != 1 {
                        return Err(directive_error(
                            &key,
                            "",
                            origin,
                            path,
                            "a directive may not have adjacent keys".to_owned(),
                            None,
                        ));
                    }
                    let arg = map
                        .into_iter()
                        .next()
                        .map(|(_, v)| v)
                        .unwrap_or(Value::Null);
                    return self.directive(&key, arg, path, origin);
                }
                if let Some(key) = map.keys().find(|k| is_directive_like(k)) {
                    return Err(directive_error(
                        key,
                        "",
                        origin,
                        path,
                        format!(
                            "unknown directive '{key}'; expected one of {}",
                            DIRECTIVES.join(", ")
                        ),
                        None,
                    ));
                }
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    path.push(Segment::Key(key.clone()));
                    let result = self.walk(item, path, origin);
                    path.pop();
                    if let Some(v) = result? {
                        out.insert(key, v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other)),
        }
    }

    fn directive(
        &self,
        key: &str,
        arg: Value,
        path: &mut Vec<Segment>,
        origin: Origin<'_>,
    ) -> Result<Option<Value>, ConfigError> {
        let Value::String(raw) = arg else {
            return Err(directive_error(
                key,
                "",
                origin,
                path,
                "the directive's value must be a string".to_owned(),
                None,
            ));
        };
        let at = path.clone();
        let fail = |message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
            directive_error(key, &raw, origin, &at, message, source)
        };
        let target = self.substitute(&raw).map_err(|var| {
            fail(
                format!("environment variable '{var}' used in the directive is not set"),
                None,
            )
        })?;
        // Paths in messages use the argument as written, so a substituted value is never shown.
        let raw_file = raw.split_once('#').map_or(raw.as_str(), |(file, _)| file);
        let shown = origin.dir.join(raw_file).display().to_string();
        match key {
            "$env" => Ok(self.var(&target).map(Value::String)),
            "$file" => {
                let full = origin.dir.join(&target);
                match std::fs::read_to_string(&full) {
                    Ok(text) => Ok(Some(Value::String(text.trim_end().to_owned()))),
                    Err(e) => Err(fail(
                        format!("failed to read file '{shown}': {e}"),
                        Some(Box::new(e)),
                    )),
                }
            }
            _ => {
                if origin.depth >= MAX_INCLUDE_DEPTH {
                    return Err(fail(
                        format!(
                            "includes nested more than {MAX_INCLUDE_DEPTH} deep; is there a cycle?"
                        ),
                        None,
                    ));
                }
                let (file, fragment) = match target.split_once('#') {
                    Some((file, fragment)) => (file, Some(fragment)),
                    None => (target.as_str(), None),
                };
                let full = origin.dir.join(file);
                let ext = full
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                let is_json = match ext.as_deref() {
                    Some("json") => true,
                    Some("yaml" | "yml") => false,
                    _ => {
                        return Err(fail(
                            format!(
                                "no configuration parser available for included file '{raw_file}'; use .yaml, .yml or .json"
                            ),
                            None,
                        ));
                    }
                };
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    fail(
                        format!("failed to read file '{shown}': {e}"),
                        Some(Box::new(e)),
                    )
                })?;
                let full_name = shown.clone();
                let parsed = if is_json {
                    parse_json(&full_name, &text).map(Some)
                } else {
                    parse_yaml(&full_name, &text)
                }
                .map_err(|e| fail(e.to_string(), Some(Box::new(e))))?;
                let mut value = parsed.unwrap_or(Value::Null);
                if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                    let parts: Vec<&str> = fragment.split('.').collect();
                    for (index, part) in parts.iter().enumerate() {
                        let Value::Object(mut map) = value else {
                            return Err(fail(
                                format!(
                                    "value at '{}' in included file '{raw_file}' is not an object",
                                    parts[..index].join(".")
                                ),
                                None,
                            ));
                        };
                        match map.remove(*part) {
                            Some(next) => value = next,
                            None if index + 1 == parts.len() => return Ok(None),
                            None => {
                                return Err(fail(
                                    format!(
                                        "value at '{}' in included file '{raw_file}' is not an object",
                                        parts[..=index].join(".")
                                    ),
                                    None,
                                ));
                            }
                        }
                    }
                }
                let dir = full.parent().unwrap_or(origin.dir);
                let inner = Origin {
                    name: &full_name,
                    dir,
                    depth: origin.depth + 1,
                };
                self.walk(value, path, inner)
                    .map_err(|e| fail(e.to_string(), Some(Box::new(e))))
            }
        }
    }
}

fn directive_error(
    directive: &str,
    target: &str,
    origin: Origin<'_>,
    path: &[Segment],
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> ConfigError {
    let path = render("", path);
    ConfigError::Directive(Box::new(DirectiveError {
        directive: directive.to_owned(),
        target: target.to_owned(),
        name: origin.name.to_owned(),
        path: if path.is_empty() {
            "<root>".to_owned()
        } else {
            path
        },
        message,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn run(value: Value, vars: &[(&str, &str)], dir: &Path) -> Result<Option<Value>, ConfigError> {
        let env = env(vars);
        Transformer::new(&env).apply(value, "test.yaml", dir)
    }

    #[test]
    fn substitutes_variables_and_trims_values() {
        let env = env(&[("HOST", " example.com\n"), ("PORT", "8080"), ("EMPTY", "")]);
        let t = Transformer::new(&env);
        assert_eq!(
            t.substitute("https://${HOST}:${ PORT }/x"),
            Ok("https://example.com:8080/x".into())
        );
        assert_eq!(t.substitute("plain"), Ok("plain".into()));
        assert_eq!(t.substitute("a${EMPTY}b"), Ok("ab".into()));
        assert_eq!(
            t.substitute("$${HOST} is ${HOST}"),
            Ok("${HOST} is example.com".into())
        );
        assert_eq!(t.substitute("$$${HOST}"), Ok("$${HOST}".into()));
        assert_eq!(
            t.substitute("${MISSING} and ${HOST}"),
            Err("MISSING".into())
        );
        // Braces cannot nest: only the inner `${PORT}` is a placeholder.
        assert_eq!(t.substitute("${A${PORT}}"), Ok("${A8080}".into()));
        assert_eq!(t.substitute("${unclosed"), Ok("${unclosed".into()));
    }

    #[test]
    fn undefined_substitution_removes_the_key_and_array_item() {
        let out = run(
            json!({"a": "${SET}", "b": "x-${UNSET}", "list": ["${UNSET}", "keep", "${SET}"], "n": 1}),
            &[("SET", "yes")],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            out,
            Some(json!({"a": "yes", "list": ["keep", "yes"], "n": 1}))
        );
    }

    #[test]
    fn env_directive_reads_the_variable_or_drops_the_key() {
        let out = run(
            json!({"token": {"$env": "TOKEN"}, "other": {"$env": "NOPE"}, "dyn": {"$env": "${WHICH}"}}),
            &[("TOKEN", " abc "), ("WHICH", "TOKEN")],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(out, Some(json!({"token": "abc", "dyn": "abc"})));
    }

    #[test]
    fn file_directive_reads_relative_to_dir_and_trims_the_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.txt"), "  s3cret\n\n").unwrap();
        let out = run(
            json!({"a": {"b": {"$file": "secret.txt"}}}),
            &[],
            dir.path(),
        )
        .unwrap();
        assert_eq!(out, Some(json!({"a": {"b": "  s3cret"}})));

        let err = run(json!({"a": {"b": {"$file": "nope.txt"}}}), &[], dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("$file 'nope.txt' in 'test.yaml' at a.b: failed to read file"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn include_directive_with_fragment_and_nested_relative_includes() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            sub.join("inc.yaml"),
            "top:\n  inner:\n    url: https://${HOST}\n    key: {$file: key.txt}\n  plain: text ${HOST}\n",
        )
        .unwrap();
        std::fs::write(sub.join("key.txt"), "k\n").unwrap();
        std::fs::write(dir.path().join("data.json"), r#"{"list": [1, 2]}"#).unwrap();
        let out = run(
            json!({
                "whole": {"$include": "sub/inc.yaml"},
                "part": {"$include": "sub/inc.yaml#top.inner"},
                "str": {"$include": "sub/inc.yaml#top.plain"},
                "missing": {"$include": "sub/inc.yaml#top.none"},
                "json": {"$include": "data.json#list"},
            }),
            &[("HOST", "h.example")],
            dir.path(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(out["part"], json!({"url": "https://h.example", "key": "k"}));
        assert_eq!(out["whole"]["top"]["inner"], out["part"]);
        assert_eq!(out["str"], json!("text h.example"));
        assert_eq!(out["json"], json!([1, 2]));
        assert!(out.get("missing").is_none());
    }

    #[test]
    fn include_errors_name_directive_file_and_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "a: 1\n b: [\n").unwrap();
        std::fs::write(dir.path().join("scalar.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("nested.yaml"), "x: {$include: bad.yaml}\n").unwrap();

        let err = run(
            json!({"catalog": {"locations": {"$include": "bad.yaml"}}}),
            &[],
            dir.path(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "$include 'bad.yaml' in 'test.yaml' at catalog.locations: config file '"
            ),
            "{text}"
        );
        assert!(text.contains("bad.yaml' line "), "{text}");

        let err = run(
            json!({"v": {"$include": "scalar.yaml#a.b"}}),
            &[],
            dir.path(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("value at 'a' in included file 'scalar.yaml' is not an object"),
            "{err}"
        );

        let err = run(json!({"v": {"$include": "data.txt"}}), &[], dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("no configuration parser available"),
            "{err}"
        );

        let err = run(json!({"v": {"$include": "nested.yaml"}}), &[], dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "$include 'nested.yaml' in 'test.yaml' at v: $include 'bad.yaml' in '"
            ),
            "{text}"
        );
        assert!(text.contains("nested.yaml' at v.x: config file"), "{text}");
    }

    #[test]
    fn include_cycles_are_stopped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "x: {$include: b.yaml}\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "y: {$include: a.yaml}\n").unwrap();
        let err = run(json!({"v": {"$include": "a.yaml"}}), &[], dir.path()).unwrap_err();
        assert!(err.to_string().contains("is there a cycle?"), "{err}");
    }

    #[test]
    fn directive_shape_errors() {
        let dot = Path::new(".");
        let err = run(json!({"a": {"$file": "x", "other": 1}}), &[], dot).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$file '' in 'test.yaml' at a: a directive may not have adjacent keys"
        );
        let err = run(json!({"a": [{"$env": 5}]}), &[], dot).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$env '' in 'test.yaml' at a[0]: the directive's value must be a string"
        );
        let err = run(json!({"a": {"$secret": "x"}}), &[], dot).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$secret '' in 'test.yaml' at a: unknown directive '$secret'; expected one of $file, $env, $include"
        );
        let err = run(json!({"a": {"$file": "${DIR}/x"}}), &[], dot).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$file '${DIR}/x' in 'test.yaml' at a: environment variable 'DIR' used in the directive is not set"
        );
        // Not directive-like keys are ordinary keys.
        let out = run(json!({"a": {"$": 1, "$1": 2}}), &[], dot).unwrap();
        assert_eq!(out, Some(json!({"a": {"$": 1, "$1": 2}})));
    }

    #[test]
    fn escaped_placeholder_in_directive_value_is_literal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("${NAME}.txt"), "literal\n").unwrap();
        let out = run(
            json!({"a": {"$file": "$${NAME}.txt"}}),
            &[("NAME", "other")],
            dir.path(),
        )
        .unwrap();
        assert_eq!(out, Some(json!({"a": "literal"})));
    }
}
