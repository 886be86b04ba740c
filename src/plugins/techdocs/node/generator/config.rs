//! `mkdocs.yml`: the keys the generator reads.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::plugins::techdocs::node::GeneratorError;

/// One entry of a site's navigation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NavItem {
    /// A Markdown page, by its path relative to `docs_dir`; `title` `None` takes the page's
    /// own title.
    Page {
        /// The title shown in the nav.
        title: Option<String>,
        /// The page source, e.g. `guides/setup.md`.
        path: String,
    },
    /// An external (or absolute) link.
    Link {
        /// The title shown in the nav.
        title: String,
        /// The URL.
        url: String,
    },
    /// A titled group of entries.
    Section {
        /// The section title.
        title: String,
        /// Its entries.
        children: Vec<NavItem>,
    },
}

/// The parts of `mkdocs.yml` the generator uses; other keys (`theme`, `plugins`,
/// `markdown_extensions`, ...) are accepted and ignored.
///
/// ```
/// use backlot::plugins::techdocs::node::{MkDocsConfig, NavItem};
///
/// let config = MkDocsConfig::parse(
///     "site_name: Demo\nnav:\n  - Home: index.md\n  - Guides:\n      - guides/a.md\n  - Repo: https://example.com\n",
///     "mkdocs.yml".as_ref(),
/// )?;
/// assert_eq!(config.site_name, "Demo");
/// assert_eq!(config.docs_dir, "docs");
/// let nav = config.nav.unwrap_or_default();
/// assert!(matches!(&nav[1], NavItem::Section { title, children } if title == "Guides" && children.len() == 1));
/// assert!(matches!(&nav[2], NavItem::Link { url, .. } if url == "https://example.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MkDocsConfig {
    /// `site_name` (required).
    pub site_name: String,
    /// `site_description` (empty when absent).
    pub site_description: String,
    /// `docs_dir`, relative to the config file (default `docs`).
    pub docs_dir: String,
    /// `nav`, when given.
    pub nav: Option<Vec<NavItem>>,
}

impl MkDocsConfig {
    /// Parses the text of `file`.
    ///
    /// # Errors
    ///
    /// [`GeneratorError::InvalidConfig`] naming the file and, where known, the line.
    pub fn parse(text: &str, file: &Path) -> Result<Self, GeneratorError> {
        let invalid = |line: Option<usize>, reason: String| GeneratorError::InvalidConfig {
            file: file.to_path_buf(),
            line,
            reason,
        };
        let value: Value = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            invalid(line, e.to_string())
        })?;
        let Value::Mapping(map) = &value else {
            return Err(invalid(None, "expected a mapping of settings".to_owned()));
        };
        let line_of = |key: &str| find_key_line(text, key);
        let string = |key: &str| -> Result<Option<String>, GeneratorError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(_) => Err(invalid(line_of(key), format!("'{key}' must be a string"))),
            }
        };
        let site_name = string("site_name")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(None, "'site_name' is required".to_owned()))?;
        let site_description = string("site_description")?.unwrap_or_default();
        let docs_dir = string("docs_dir")?.unwrap_or_else(|| "docs".to_owned());
        let nav = match map.get("nav") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_nav(v, "nav").map_err(|reason| invalid(line_of("nav"), reason))?),
        };
        if let Some(ext) = map.get("markdown_extensions") {
            if !matches!(ext, Value::Sequence(_) | Value::Mapping(_) | Value::Null) {
                return Err(invalid(
                    line_of("markdown_extensions"),
                    "'markdown_extensions' must be a list".to_owned(),
                ));
            }
        }
        Ok(Self {
            site_name,
            site_description,
            docs_dir,
            nav,
        })
    }

    /// Finds and parses `mkdocs.yml` (or `mkdocs.yaml`) in `dir`; returns the config and
    /// the file it came from.
    ///
    /// # Errors
    ///
    /// [`GeneratorError::MissingConfig`], [`GeneratorError::Io`] or
    /// [`GeneratorError::InvalidConfig`].
    pub fn load(dir: &Path) -> Result<(Self, PathBuf), GeneratorError> {
        for name in ["mkdocs.yml", "mkdocs.yaml"] {
            let file = dir.join(name);
            match std::fs::read_to_string(&file) {
                Ok(text) => return Ok((Self::parse(&text, &file)?, file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(GeneratorError::Io { path: file, source }),
            }
        }
        Err(GeneratorError::MissingConfig {
            dir: dir.to_path_buf(),
        })
    }
}

fn find_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with(':'))
        .map(|i| i + 1)
}

fn is_link(target: &str) -> bool {
    target.contains("://") || target.starts_with('/') || target.starts_with("mailto:")
}

fn parse_nav(value: &Value, at: &str) -> Result<Vec<NavItem>, String> {
    let Value::Sequence(items) = value else {
        return Err(format!("'{at}' must be a list"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match item {
            Value::String(path) if is_link(path) => out.push(NavItem::Link {
                title: path.clone(),
                url: path.clone(),
            }),
            Value::String(path) => out.push(NavItem::Page {
                title: None,
                path: path.clone(),
            }),
            Value::Mapping(map) if map.len() == 1 => {
                let Some((k, v)) = map.iter().next() else {
                    continue;
                };
                let title = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(format!("'{here}' must have a string title")),
                };
                match v {
                    Value::String(target) if is_link(target) => out.push(NavItem::Link {
                        title,
                        url: target.clone(),
                    }),
                    Value::String(target) => out.push(NavItem::Page {
                        title: Some(title),
                        path: target.clone(),
                    }),
                    Value::Sequence(_) => out.push(NavItem::Section {
                        children: parse_nav(v, &format!("{here}.{title}"))?,
                        title,
                    }),
                    _ => {
                        return Err(format!(
                            "'{here}' ('{title}') must be a page path, a url or a list"
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "'{here}' must be a page path or a single 'Title: target' entry"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_name_file_and_line() {
        let err = MkDocsConfig::parse("site_name: x\nnav: [\n  - a: b\n", Path::new("m.yml"))
            .unwrap_err();
        match err {
            GeneratorError::InvalidConfig { line, ref file, .. } => {
                assert!(line.is_some());
                assert_eq!(file, Path::new("m.yml"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn site_name_is_required_and_nav_must_be_a_list() {
        assert!(matches!(
            MkDocsConfig::parse("docs_dir: x\n", Path::new("m.yml")),
            Err(GeneratorError::InvalidConfig { .. })
        ));
        let err = MkDocsConfig::parse("site_name: a\nnav: 3\n", Path::new("m.yml")).unwrap_err();
        assert!(matches!(
            err,
            GeneratorError::InvalidConfig { line: Some(2), .. }
        ));
    }

    #[test]
    fn python_tags_and_extension_lists_are_tolerated() {
        let c = MkDocsConfig::parse(
            "site_name: a\nmarkdown_extensions:\n  - admonition\n  - toc:\n      permalink: true\n  - pymdownx.emoji:\n      emoji_index: !!python/name:material.extensions.emoji.twemoji\nplugins:\n  - techdocs-core\n",
            Path::new("m.yml"),
        )
        .unwrap();
        assert_eq!(c.site_name, "a");
        assert!(c.nav.is_none());
    }
}
