//! [`ConfigLoader`]: reads and layers config sources into a [`Config`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::env::{ENV_PREFIX, env_overrides};
use super::error::ConfigError;
use super::merge::merge_into;
use super::parse::parse_yaml;
use super::transform::Transformer;
use super::value::Config;

/// One config source, in the order given.
enum Source {
    File { path: PathBuf, optional: bool },
    Yaml { name: String, content: String },
    Value(Value),
}

/// Builds the root [`Config`] from layered sources, the way Backstage's config loader does.
///
/// Sources are applied in the order they are added; a later source wins. Objects are merged
/// key by key, recursively; arrays and scalars from a later source replace earlier ones.
/// `APP_CONFIG_*` environment overrides are applied last, over every source.
///
/// In file and YAML sources (not in [`value`](Self::value) sources):
/// - `${VAR}` in a string is replaced by the variable's value (trimmed); if any variable in the
///   string is unset, the whole value is treated as absent, so a lower layer's value (or none)
///   shows through. `$${VAR}` yields a literal `${VAR}`.
/// - `{$env: VAR}` is the variable's value (absent if unset); `{$file: path}` is the file's
///   text with trailing whitespace removed; `{$include: path.yaml#a.b}` is the parsed YAML or
///   JSON file (or the value at `a.b` in it). Relative paths resolve against the directory of
///   the file holding the directive (the working directory for inline YAML), and the arguments
///   themselves may use `${VAR}`.
///
/// Environment variables come from [`env_vars`](Self::env_vars), or the process environment
/// when that is not called.
///
/// ```
/// use backlot::services::config::ConfigLoader;
/// use serde_json::json;
///
/// let config = ConfigLoader::new()
///     .yaml("app-config.yaml", "app:\n  title: Portal\nbackend:\n  baseUrl: http://${HOST}:7007\n  listen:\n    port: 7007\n")
///     .yaml("app-config.local.yaml", "backend:\n  listen:\n    port: 8080\n")
///     .value(json!({"catalog": {"rules": [{"allow": ["Component"]}]}}))
///     .env_vars([
///         ("HOST".to_owned(), "localhost".to_owned()),
///         ("APP_CONFIG_app_title".to_owned(), "\"My Portal\"".to_owned()),
///     ])
///     .load()?;
///
/// assert_eq!(config.string("app.title")?, "My Portal");
/// assert_eq!(config.string("backend.baseUrl")?, "http://localhost:7007");
/// assert_eq!(config.u16("backend.listen.port")?, 8080);
/// assert_eq!(config.string_array("catalog.rules[0].allow")?, ["Component"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct ConfigLoader {
    sources: Vec<Source>,
    env: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|s| match s {
                Source::File { path, optional } => format!(
                    "file {}{}",
                    path.display(),
                    if *optional { " (optional)" } else { "" }
                ),
                Source::Yaml { name, .. } => format!("yaml {name}"),
                Source::Value(_) => "value".to_owned(),
            })
            .collect();
        f.debug_struct("ConfigLoader")
            .field("sources", &sources)
            .field("env_vars", &self.env.as_ref().map(BTreeMap::len))
            .finish()
    }
}

impl ConfigLoader {
    /// A loader with no sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a YAML file. It must exist. An empty file contributes nothing.
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.sources.push(Source::File {
            path: path.as_ref().to_path_buf(),
            optional: false,
        });
        self
    }

    /// Adds a YAML file that is skipped when it does not exist, like `app-config.local.yaml`.
    pub fn optional_file(mut self, path: impl AsRef<Path>) -> Self {
        self.sources.push(Source::File {
            path: path.as_ref().to_path_buf(),
            optional: true,
        });
        self
    }

    /// Adds Backstage's default files from `dir`: `app-config.yaml` (required) and then
    /// `app-config.local.yaml` (if it exists).
    pub fn default_files(self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        self.file(dir.join("app-config.yaml"))
            .optional_file(dir.join("app-config.local.yaml"))
    }

    /// Adds inline YAML; `name` stands for it in errors.
    pub fn yaml(mut self, name: impl Into<String>, content: impl Into<String>) -> Self {
        self.sources.push(Source::Yaml {
            name: name.into(),
            content: content.into(),
        });
        self
    }

    /// Adds already-built data, used as it is (no substitution, no directives). It must be a
    /// JSON object.
    pub fn value(mut self, value: Value) -> Self {
        self.sources.push(Source::Value(value));
        self
    }

    /// Sets the environment used for `${VAR}`, `$env` and `APP_CONFIG_*` overrides, instead of
    /// the process environment. Calling it again replaces the previous set.
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Reads every source, applies substitution and directives, layers them and applies the
    /// environment overrides.
    pub fn load(self) -> Result<Config, ConfigError> {
        let env = match self.env {
            Some(env) => env,
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        };
        let transformer = Transformer::new(&env);
        let mut merged = Value::Object(Map::new());
        for source in self.sources {
            let layer = match source {
                Source::File { path, optional } => {
                    let name = path.display().to_string();
                    let text = match std::fs::read_to_string(&path) {
                        Ok(text) => text,
                        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(source) => return Err(ConfigError::ReadFile { path, source }),
                    };
                    let dir = match path.parent() {
                        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    transformed(&transformer, &name, &text, &dir)?
                }
                Source::Yaml { name, content } => {
                    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                    transformed(&transformer, &name, &content, &dir)?
                }
                Source::Value(value) => {
                    if !value.is_object() {
                        return Err(ConfigError::NotAnObject {
                            name: "value".to_owned(),
                        });
                    }
                    Some(value)
                }
            };
            if let Some(layer) = layer {
                merge_into(&mut merged, layer);
            }
        }
        let overrides = if env.keys().any(|k| k.starts_with(ENV_PREFIX)) {
            env_overrides(&env)?
        } else {
            None
        };
        if let Some(overrides) = overrides {
            merge_into(&mut merged, overrides);
        }
        Ok(Config::from_value(merged))
    }
}

/// Parses and transforms one YAML source; `None` when it contributes nothing.
fn transformed(
    transformer: &Transformer<'_>,
    name: &str,
    text: &str,
    dir: &Path,
) -> Result<Option<Value>, ConfigError> {
    let Some(parsed) = parse_yaml(name, text)? else {
        return Ok(None);
    };
    if !parsed.is_object() {
        return Err(ConfigError::NotAnObject {
            name: name.to_owned(),
        });
    }
    let out = transformer.apply(parsed, name, dir)?;
    match out {
        Some(v) if !v.is_object() => Err(ConfigError::NotAnObject {
            name: name.to_owned(),
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn later_sources_win_and_objects_merge() {
        let config = ConfigLoader::new()
            .yaml("a", "app:\n  title: A\n  support: {url: x}\nlist: [1, 2]\n")
            .yaml("b", "app:\n  title: B\nlist: [3]\n")
            .value(json!({"app": {"extra": true}}))
            .env_vars(no_env())
            .load()
            .unwrap();
        assert_eq!(
            config.as_value(),
            &json!({"app": {"title": "B", "support": {"url": "x"}, "extra": true}, "list": [3]})
        );
    }

    #[test]
    fn unset_substitution_lets_the_lower_layer_show_through() {
        let config = ConfigLoader::new()
            .yaml("base", "backend:\n  baseUrl: http://default\n")
            .yaml("override", "backend:\n  baseUrl: http://${PUBLIC_HOST}\n")
            .env_vars(no_env())
            .load()
            .unwrap();
        assert_eq!(config.string("backend.baseUrl").unwrap(), "http://default");

        let config = ConfigLoader::new()
            .yaml("base", "backend:\n  baseUrl: http://default\n")
            .yaml("override", "backend:\n  baseUrl: http://${PUBLIC_HOST}\n")
            .env_vars([("PUBLIC_HOST", "portal.example")])
            .load()
            .unwrap();
        assert_eq!(
            config.string("backend.baseUrl").unwrap(),
            "http://portal.example"
        );
    }

    #[test]
    fn env_overrides_apply_last_and_are_not_substituted() {
        let config = ConfigLoader::new()
            .yaml(
                "base",
                "backend:\n  listen:\n    port: 7007\n    host: 127.0.0.1\n",
            )
            .value(json!({"app": {"title": "value"}}))
            .env_vars([
                ("APP_CONFIG_backend_listen_port", "9000"),
                ("APP_CONFIG_app_title", "${NOT_SUBSTITUTED}"),
            ])
            .load()
            .unwrap();
        assert_eq!(config.u16("backend.listen.port").unwrap(), 9000);
        assert_eq!(config.string("backend.listen.host").unwrap(), "127.0.0.1");
        assert_eq!(config.string("app.title").unwrap(), "${NOT_SUBSTITUTED}");
    }

    #[test]
    fn null_in_a_later_layer_unsets_a_section() {
        let config = ConfigLoader::new()
            .yaml(
                "base",
                "auth:\n  providers:\n    github: {clientId: x}\n    gitlab: {clientId: y}\n",
            )
            .yaml("prod", "auth:\n  providers:\n    github: null\n")
            .env_vars(no_env())
            .load()
            .unwrap();
        assert_eq!(config.config("auth.providers").unwrap().keys(), ["gitlab"]);
        assert!(!config.has("auth.providers.github"));
        assert!(
            config
                .opt_config("auth.providers.github")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn value_sources_are_not_transformed() {
        let config = ConfigLoader::new()
            .value(json!({"a": "${X}", "b": {"$env": "X"}}))
            .env_vars([("X", "1")])
            .load()
            .unwrap();
        assert_eq!(config.as_value(), &json!({"a": "${X}", "b": {"$env": "X"}}));
    }

    #[test]
    fn source_errors() {
        let err = ConfigLoader::new()
            .yaml("inline", "- a\n- b\n")
            .env_vars(no_env())
            .load()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file 'inline': expected an object at the config root"
        );

        let err = ConfigLoader::new()
            .value(json!([1]))
            .env_vars(no_env())
            .load()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NotAnObject { .. }));

        let err = ConfigLoader::new()
            .yaml("inline", "a: 1\nb: [\n")
            .env_vars(no_env())
            .load()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("config file 'inline' line "),
            "{err}"
        );

        let err = ConfigLoader::new()
            .file("/definitely/not/here/app-config.yaml")
            .env_vars(no_env())
            .load()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to read config file '/definitely/not/here/app-config.yaml': "),
            "{err}"
        );

        let err = ConfigLoader::new()
            .env_vars([("APP_CONFIG_bad__key", "1")])
            .load()
            .unwrap_err();
        assert!(matches!(err, ConfigError::EnvOverride { .. }), "{err}");
    }

    #[test]
    fn optional_missing_file_and_empty_yaml_contribute_nothing() {
        let config = ConfigLoader::new()
            .yaml("empty", "# nothing\n")
            .optional_file("/definitely/not/here/app-config.local.yaml")
            .env_vars(no_env())
            .load()
            .unwrap();
        assert_eq!(config.as_value(), &json!({}));
    }

    #[test]
    fn debug_hides_values_and_env() {
        let loader = ConfigLoader::new()
            .yaml("inline", "token: s3cret")
            .env_vars([("TOKEN", "s3cret")]);
        let dbg = format!("{loader:?}");
        assert!(dbg.contains("yaml inline"), "{dbg}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }
}
