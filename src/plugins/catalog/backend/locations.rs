//! Locations: reading targets, YAML documents, `$text`/`$json`/`$yaml` placeholders,
//! kind allow-rules and the generated Location entities of registered locations.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::plugins::catalog::common::{ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity};
use crate::plugins::catalog::node::{CatalogProcessor, Emitter, LocationSpec, ProcessorError};
use crate::services::config::Config;
use crate::services::url_reader::{ReadUrlOptions, UrlReaderService};

use super::error::{CatalogError, chain};

/// Hex SHA-1 of `input`.
pub(crate) fn sha1_hex(input: &[u8]) -> String {
    let digest = Sha1::digest(input);
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The Location entity standing for a registered or configured location
/// (Backstage's `locationSpecToLocationEntity`).
pub(crate) fn generated_location_entity(location: &LocationSpec) -> Entity {
    let key = location.to_string();
    let mut entity = Entity::new(
        "backstage.io/v1alpha1",
        "Location",
        format!("generated-{}", sha1_hex(key.as_bytes())),
    )
    .with_spec(json!({ "type": location.location_type, "target": location.target }));
    entity.metadata.namespace = Some("default".into());
    entity
        .metadata
        .annotations
        .insert(ANNOTATION_LOCATION.into(), key.clone());
    entity
        .metadata
        .annotations
        .insert(ANNOTATION_ORIGIN_LOCATION.into(), key);
    entity
}

/// Lexically normalizes a path (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An absolute form of a `file` target given in config or the API: relative paths are taken
/// from the working directory.
pub(crate) fn absolute_file_target(target: &str) -> String {
    let target = target.strip_prefix("file://").unwrap_or(target);
    let path = Path::new(target);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    normalize(&path).to_string_lossy().into_owned()
}

/// Resolves `target` relative to the location `base` (a file's folder or a URL).
pub(crate) fn resolve_relative(base: &LocationSpec, location_type: &str, target: &str) -> String {
    if location_type == "file" && base.location_type == "file" {
        let t = Path::new(target);
        if t.is_absolute() {
            return normalize(t).to_string_lossy().into_owned();
        }
        let dir = Path::new(&base.target).parent().unwrap_or(Path::new("/"));
        return normalize(&dir.join(t)).to_string_lossy().into_owned();
    }
    if location_type == "file" && Path::new(target).is_relative() && base.location_type != "url" {
        return absolute_file_target(target);
    }
    if base.location_type == "url" {
        if let Ok(base_url) = url::Url::parse(&base.target) {
            if let Ok(joined) = base_url.join(target) {
                return joined.to_string();
            }
        }
    }
    target.to_owned()
}

/// Reads `file` and `url` locations: files straight from disk (absolute paths, as configured
/// and registered targets are made absolute), URLs through the backend's URL reader service,
/// so `backend.reading.allow` decides which hosts may be read.
#[derive(Debug, Clone)]
pub(crate) struct LocationReader {
    urls: Arc<dyn UrlReaderService>,
}

impl LocationReader {
    pub(crate) fn new(urls: Arc<dyn UrlReaderService>) -> Self {
        Self { urls }
    }

    /// Reads a location's contents; `Ok(None)` when it does not exist.
    pub(crate) async fn read(
        &self,
        location: &LocationSpec,
    ) -> Result<Option<String>, CatalogError> {
        let err = |message: String| CatalogError::Read {
            location: location.to_string(),
            message,
        };
        match location.location_type.as_str() {
            "file" => match tokio::fs::read_to_string(&location.target).await {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(err(e.to_string())),
            },
            "url" => match self
                .urls
                .read_url(&location.target, &ReadUrlOptions::new())
                .await
            {
                Ok(res) => String::from_utf8(res.bytes.to_vec())
                    .map(Some)
                    .map_err(|e| err(format!("content is not UTF-8 text: {e}"))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(err(chain(&e))),
            },
            other => Err(err(format!("unsupported location type {other}"))),
        }
    }
}

/// Splits YAML text into documents as JSON; empty documents are skipped.
pub(crate) fn parse_documents(text: &str) -> Vec<Result<Value, String>> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        match Value::deserialize(doc) {
            Ok(Value::Null) => {}
            Ok(v) => out.push(Ok(v)),
            Err(e) => {
                out.push(Err(format!("YAML error in document {}: {e}", i + 1)));
                // A syntax error stops the parser; later documents cannot be read.
                break;
            }
        }
    }
    out
}

/// The built-in reader of `file` and `url` locations holding YAML entities.
#[derive(Debug)]
pub(crate) struct YamlLocationProcessor {
    pub(crate) reader: LocationReader,
}

#[async_trait::async_trait]
impl CatalogProcessor for YamlLocationProcessor {
    fn name(&self) -> &str {
        "builtin-yaml-reader"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        emit: &mut Emitter,
    ) -> Result<bool, ProcessorError> {
        if location.location_type != "file" && location.location_type != "url" {
            return Ok(false);
        }
        let text = match self.reader.read(location).await {
            Ok(Some(text)) => text,
            Ok(None) if optional => return Ok(true),
            Ok(None) => {
                return Err(ProcessorError::NotFound {
                    location: location.to_string(),
                });
            }
            Err(e) => {
                emit.error(e.to_string(), location.clone());
                return Ok(true);
            }
        };
        for doc in parse_documents(&text) {
            match doc {
                Ok(value @ Value::Object(_)) => match serde_json::from_value::<Entity>(value) {
                    Ok(entity) => emit.entity(entity, location.clone()),
                    Err(e) => emit.error(
                        format!("invalid entity in {location}: {e}"),
                        location.clone(),
                    ),
                },
                Ok(_) => emit.error(
                    format!("document in {location} is not an object"),
                    location.clone(),
                ),
                Err(message) => emit.error(format!("{message} of {location}"), location.clone()),
            }
        }
        Ok(true)
    }
}

/// Finds `{ "$text" | "$json" | "$yaml": target }` objects and replaces them with what the
/// target holds, read relative to `base`.
pub(crate) async fn resolve_placeholders(
    value: &mut Value,
    base: &LocationSpec,
    reader: &LocationReader,
) -> Result<(), String> {
    let mut found = Vec::new();
    collect_placeholders(value, String::new(), &mut found);
    for (pointer, kind, target) in found {
        let location_type =
            if url::Url::parse(&target).is_ok_and(|u| u.scheme().starts_with("http")) {
                "url"
            } else {
                base.location_type.as_str()
            };
        let resolved = LocationSpec::new(
            location_type,
            resolve_relative(base, location_type, &target),
        );
        let text = match reader.read(&resolved).await {
            Ok(Some(text)) => text,
            Ok(None) => return Err(format!("{kind} placeholder target {resolved} not found")),
            Err(e) => return Err(format!("{kind} placeholder: {e}")),
        };
        let replacement = match kind {
            "$text" => Value::String(text),
            "$json" => serde_json::from_str(&text)
                .map_err(|e| format!("$json placeholder {resolved}: {e}"))?,
            _ => serde_yaml::from_str(&text)
                .map_err(|e| format!("$yaml placeholder {resolved}: {e}"))?,
        };
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = replacement;
        }
    }
    Ok(())
}

fn collect_placeholders(
    value: &Value,
    pointer: String,
    out: &mut Vec<(String, &'static str, String)>,
) {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                for kind in ["$text", "$json", "$yaml"] {
                    if let Some(Value::String(target)) = map.get(kind) {
                        out.push((pointer, kind, target.clone()));
                        return;
                    }
                }
            }
            for (k, v) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_placeholders(v, format!("{pointer}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_placeholders(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A rule's location matcher: `type`, exact `target`, glob `pattern`.
type LocationMatcher = (String, Option<String>, Option<globset::GlobMatcher>);

/// One `allow` rule of `catalog.rules` or of a configured location.
#[derive(Debug, Clone)]
struct Rule {
    allow: Vec<String>,
    /// Restricts the rule to these locations (`type` plus exact `target` or glob `pattern`).
    locations: Option<Vec<LocationMatcher>>,
}

impl Rule {
    fn from_config(config: &Config, key: &str) -> Result<Self, CatalogError> {
        let bad = |e: crate::services::config::ConfigError| CatalogError::Config {
            key: key.to_owned(),
            message: e.to_string(),
        };
        let allow = config.string_array("allow").map_err(bad)?;
        let locations = match config.opt_config_array("locations").map_err(bad)? {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for l in list {
                    let location_type = l.string("type").map_err(bad)?;
                    let target = l.opt_string("target").map_err(bad)?;
                    let pattern = match l.opt_string("pattern").map_err(bad)? {
                        Some(p) => Some(
                            globset::Glob::new(&p)
                                .map_err(|e| CatalogError::Config {
                                    key: format!("{key}.locations.pattern"),
                                    message: e.to_string(),
                                })?
                                .compile_matcher(),
                        ),
                        None => None,
                    };
                    out.push((location_type, target, pattern));
                }
                Some(out)
            }
        };
        Ok(Self { allow, locations })
    }

    fn allows(&self, kind: &str, location: &LocationSpec) -> bool {
        if !self.allow.iter().any(|k| k.eq_ignore_ascii_case(kind)) {
            return false;
        }
        match &self.locations {
            None => true,
            Some(list) => list.iter().any(|(t, target, pattern)| {
                t == &location.location_type
                    && target.as_ref().is_none_or(|x| x == &location.target)
                    && pattern
                        .as_ref()
                        .is_none_or(|p| p.is_match(&location.target))
            }),
        }
    }
}

/// Which kinds may come from which locations (Backstage's `DefaultCatalogRulesEnforcer`).
#[derive(Debug, Clone)]
pub(crate) struct RulesEnforcer {
    global: Vec<Rule>,
    per_location: Vec<(LocationSpec, Vec<Rule>)>,
}

impl Default for RulesEnforcer {
    fn default() -> Self {
        Self {
            global: vec![Rule {
                allow: vec!["Component".into(), "API".into(), "Location".into()],
                locations: None,
            }],
            per_location: Vec::new(),
        }
    }
}

impl RulesEnforcer {
    /// Reads `catalog.rules` and the `rules` of `catalog.locations`.
    pub(crate) fn from_config(
        config: &Config,
        configured: &[(LocationSpec, Option<Config>)],
    ) -> Result<Self, CatalogError> {
        let mut rules = Self::default();
        let bad = |key: &str, e: crate::services::config::ConfigError| CatalogError::Config {
            key: key.to_owned(),
            message: e.to_string(),
        };
        if let Some(list) = config
            .opt_config_array("catalog.rules")
            .map_err(|e| bad("catalog.rules", e))?
        {
            rules.global = list
                .iter()
                .enumerate()
                .map(|(i, c)| Rule::from_config(c, &format!("catalog.rules[{i}]")))
                .collect::<Result<_, _>>()?;
        }
        for (i, (spec, location_config)) in configured.iter().enumerate() {
            let Some(location_config) = location_config else {
                continue;
            };
            if let Some(list) = location_config
                .opt_config_array("rules")
                .map_err(|e| bad(&format!("catalog.locations[{i}].rules"), e))?
            {
                let parsed = list
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        Rule::from_config(c, &format!("catalog.locations[{i}].rules[{j}]"))
                    })
                    .collect::<Result<_, _>>()?;
                rules.per_location.push((spec.clone(), parsed));
            }
        }
        Ok(rules)
    }

    /// Whether an entity of `kind` read from `location` is allowed.
    pub(crate) fn is_allowed(&self, kind: &str, location: &LocationSpec) -> bool {
        self.global.iter().any(|r| r.allows(kind, location))
            || self
                .per_location
                .iter()
                .filter(|(spec, _)| spec == location)
                .any(|(_, rules)| rules.iter().any(|r| r.allows(kind, location)))
    }
}

/// The locations of `catalog.locations`, file targets made absolute, with their config.
pub(crate) fn configured_locations(
    config: &Config,
) -> Result<Vec<(LocationSpec, Option<Config>)>, CatalogError> {
    let list = config
        .opt_config_array("catalog.locations")
        .map_err(|e| CatalogError::Config {
            key: "catalog.locations".into(),
            message: e.to_string(),
        })?
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, c) in list.into_iter().enumerate() {
        let key = format!("catalog.locations[{i}]");
        let bad = |e: crate::services::config::ConfigError| CatalogError::Config {
            key: key.clone(),
            message: e.to_string(),
        };
        let location_type = c.string("type").map_err(bad)?;
        let mut target = c.string("target").map_err(bad)?;
        if location_type == "file" {
            target = absolute_file_target(&target);
        }
        out.push((LocationSpec::new(location_type, target), Some(c)));
    }
    Ok(out)
}

/// The targets a Location entity points to, resolved against the file it came from.
pub(crate) fn location_entity_targets(
    entity: &Entity,
) -> Result<(Vec<LocationSpec>, bool), String> {
    let spec = entity.spec.clone().unwrap_or_default();
    let base = entity
        .metadata
        .annotation(ANNOTATION_LOCATION)
        .and_then(|l| l.split_once(':'))
        .map(|(t, target)| LocationSpec::new(t, target));
    let location_type = match spec.get("type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None => match &base {
            Some(b) => b.location_type.clone(),
            None => {
                return Err("Location entity has no spec.type and no managed-by-location".into());
            }
        },
    };
    let mut targets: Vec<String> = Vec::new();
    if let Some(t) = spec.get("target").and_then(Value::as_str) {
        targets.push(t.to_owned());
    }
    if let Some(Value::Array(items)) = spec.get("targets") {
        targets.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let optional = spec.get("presence").and_then(Value::as_str) == Some("optional");
    let specs = targets
        .into_iter()
        .map(|t| {
            let resolved = match &base {
                Some(b) => resolve_relative(b, &location_type, &t),
                None => t,
            };
            LocationSpec::new(location_type.clone(), resolved)
        })
        .collect();
    Ok((specs, optional))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_resolve_against_the_file_or_url() {
        let file = LocationSpec::new("file", "/srv/catalog/all.yaml");
        assert_eq!(
            resolve_relative(&file, "file", "./a/b.yaml"),
            "/srv/catalog/a/b.yaml"
        );
        assert_eq!(resolve_relative(&file, "file", "../x.yaml"), "/srv/x.yaml");
        let url = LocationSpec::new("url", "https://example.com/org/repo/blob/main/all.yaml");
        assert_eq!(
            resolve_relative(&url, "url", "./apis/x.yaml"),
            "https://example.com/org/repo/blob/main/apis/x.yaml"
        );
    }

    #[test]
    fn generated_names_use_sha1_of_the_location_ref() {
        let e = generated_location_entity(&LocationSpec::new("url", "https://x/y.yaml"));
        assert_eq!(
            e.metadata.name,
            format!("generated-{}", sha1_hex(b"url:https://x/y.yaml"))
        );
        assert_eq!(e.metadata.name.len(), "generated-".len() + 40);
        assert_eq!(
            e.metadata.annotation(ANNOTATION_ORIGIN_LOCATION),
            Some("url:https://x/y.yaml")
        );
    }

    #[test]
    fn default_rules_allow_component_api_location_only() {
        let rules = RulesEnforcer::default();
        let l = LocationSpec::new("file", "/x.yaml");
        assert!(rules.is_allowed("component", &l));
        assert!(rules.is_allowed("API", &l));
        assert!(!rules.is_allowed("Group", &l));
    }

    #[test]
    fn location_rules_apply_to_their_location_only() {
        let config = Config::from_value(json!({
            "catalog": { "locations": [
                { "type": "file", "target": "/org.yaml", "rules": [{ "allow": ["Group", "User"] }] }
            ]}
        }));
        let configured = configured_locations(&config).unwrap();
        let rules = RulesEnforcer::from_config(&config, &configured).unwrap();
        assert!(rules.is_allowed("Group", &LocationSpec::new("file", "/org.yaml")));
        assert!(!rules.is_allowed("Group", &LocationSpec::new("file", "/other.yaml")));
    }

    #[test]
    fn multi_document_yaml_keeps_good_documents() {
        let docs = parse_documents("a: 1\n---\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(Result::is_ok));
    }

    #[test]
    fn placeholders_are_found_at_any_depth() {
        let v = json!({ "spec": { "definition": { "$text": "./api.yaml" }, "x": [ { "$json": "a.json" } ] } });
        let mut out = Vec::new();
        collect_placeholders(&v, String::new(), &mut out);
        assert_eq!(out.len(), 2);
        assert!(
            out.iter()
                .any(|(p, k, t)| p == "/spec/definition" && *k == "$text" && t == "./api.yaml")
        );
    }
}
