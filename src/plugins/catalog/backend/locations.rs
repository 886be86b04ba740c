//! Locations: resolving targets, kind allow-rules and the generated Location entities of
//! registered locations. Reading them is in `read.rs`.

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::path::{Component, Path, PathBuf};

use crate::plugins::catalog::common::{ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity};
use crate::plugins::catalog::node::LocationSpec;
use crate::services::config::Config;

use super::error::CatalogError;

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
    annotate_location(&mut entity, key.clone(), key);
    entity
}

/// Records where `entity` was read (`backstage.io/managed-by-location`) and where the tree
/// it belongs to was registered (`backstage.io/managed-by-origin-location`).
pub(crate) fn annotate_location(entity: &mut Entity, location: String, origin: String) {
    let annotations = &mut entity.metadata.annotations;
    annotations.insert(ANNOTATION_LOCATION.into(), location);
    annotations.insert(ANNOTATION_ORIGIN_LOCATION.into(), origin);
}

/// Drops what the catalog itself writes on an entity (uid, etag, relations, status), so that
/// what a provider or location emits is stored and hashed without it.
pub(crate) fn strip_catalog_fields(entity: &mut Entity) {
    entity.metadata.uid = None;
    entity.metadata.etag = None;
    entity.relations = None;
    entity.status = None;
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
        let target = target.strip_prefix("file://").unwrap_or(target);
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

/// Refuses a target found in the content of `base` that would read a local file when
/// `base` is not itself a local file: a `file` location, a `file:` URL, or a plain path given
/// as a URL. Content read from a URL (or from anywhere but a configured or registered file)
/// can never make the catalog read local files.
pub(crate) fn check_origin(base: &LocationSpec, target: &LocationSpec) -> Result<(), String> {
    if base.location_type == "file" {
        return Ok(());
    }
    let local = target.location_type == "file"
        || url::Url::parse(&target.target).map_or(true, |u| u.scheme() == "file");
    if local {
        return Err(format!(
            "{target} is not allowed: content read from {base} may not refer to local files"
        ));
    }
    Ok(())
}

/// The targets a Location entity points to, resolved against the file it came from; targets
/// its origin may not refer to (see [`check_origin`]) are errors.
pub(crate) fn location_entity_targets(
    entity: &Entity,
) -> Result<(Vec<Result<LocationSpec, String>>, bool), String> {
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
        .map(|t| match &base {
            Some(b) => {
                let resolved = LocationSpec::new(
                    location_type.clone(),
                    resolve_relative(b, &location_type, &t),
                );
                check_origin(b, &resolved).map(|()| resolved)
            }
            None => Ok(LocationSpec::new(location_type.clone(), t)),
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
    fn content_of_urls_may_not_name_local_files() {
        let url = LocationSpec::new("url", "https://example.com/all.yaml");
        let file = LocationSpec::new("file", "/srv/all.yaml");
        for bad in [
            LocationSpec::new("file", "/etc/passwd"),
            LocationSpec::new("url", "file:///etc/passwd"),
            LocationSpec::new("url", "/etc/passwd"),
        ] {
            assert!(check_origin(&url, &bad).is_err(), "{bad}");
            assert!(check_origin(&file, &bad).is_ok(), "{bad}");
        }
        assert!(check_origin(&url, &LocationSpec::new("url", "https://example.com/x")).is_ok());
        let mut entity = Entity::new("backstage.io/v1alpha1", "Location", "l")
            .with_spec(json!({ "type": "file", "targets": ["/etc/passwd", "./x.yaml"] }));
        entity
            .metadata
            .annotations
            .insert(ANNOTATION_LOCATION.into(), url.to_string());
        let (targets, _) = location_entity_targets(&entity).unwrap();
        assert!(targets.iter().all(Result::is_err), "{targets:?}");
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
}
