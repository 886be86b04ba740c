//! The `backstage.io/techdocs-ref` annotation and where it points.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why an entity's docs source could not be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocsRefError {
    /// The annotation is not `dir:<path>` or `url:<url>`.
    #[error("invalid techdocs-ref '{value}': expected 'dir:<relative path>' or 'url:<url>'")]
    Malformed {
        /// The annotation value.
        value: String,
    },
    /// A `dir:` reference without a location annotation to resolve it against.
    #[error(
        "techdocs-ref '{value}' is relative but the entity has no 'backstage.io/managed-by-location' or 'backstage.io/source-location' annotation"
    )]
    NoBaseLocation {
        /// The annotation value.
        value: String,
    },
    /// The location annotation is not `<type>:<target>` or its type is unsupported.
    #[error("unsupported location '{location}' for techdocs-ref '{value}'")]
    UnsupportedLocation {
        /// The location annotation value.
        location: String,
        /// The techdocs-ref value.
        value: String,
    },
    /// The relative path leaves the directory of the entity's location.
    #[error("techdocs-ref '{value}' points outside the directory of '{location}'")]
    OutsideLocation {
        /// The location annotation value.
        location: String,
        /// The techdocs-ref value.
        value: String,
    },
    /// A `url:` reference naming a local file (a `file:` URL or a path) on an entity that did
    /// not come from a local file: content read from a URL may not refer to local files.
    #[error(
        "techdocs-ref '{value}' is not allowed: an entity from '{location}' may not refer to local files"
    )]
    LocalFromRemote {
        /// The location annotation value (empty when the entity has none).
        location: String,
        /// The techdocs-ref value.
        value: String,
    },
}

/// A parsed `backstage.io/techdocs-ref` value.
///
/// ```
/// use backlot::plugins::techdocs::common::DocsRef;
///
/// assert_eq!(DocsRef::parse("dir:.")?, DocsRef::Dir(".".into()));
/// assert_eq!(
///     DocsRef::parse("url:https://example.com/repo/tree/main")?,
///     DocsRef::Url("https://example.com/repo/tree/main".into())
/// );
/// assert!(DocsRef::parse("github:x").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocsRef {
    /// `dir:<path>`: relative to the directory of the entity's catalog file.
    Dir(String),
    /// `url:<url>`: an absolute source tree URL.
    Url(String),
}

impl DocsRef {
    /// Parses an annotation value.
    ///
    /// # Errors
    ///
    /// [`DocsRefError::Malformed`] for another prefix or an empty target.
    pub fn parse(value: &str) -> Result<Self, DocsRefError> {
        let malformed = || DocsRefError::Malformed {
            value: value.to_owned(),
        };
        let (kind, target) = value.trim().split_once(':').ok_or_else(malformed)?;
        if target.is_empty() {
            return Err(malformed());
        }
        match kind {
            "dir" => Ok(Self::Dir(target.to_owned())),
            "url" => Ok(Self::Url(target.to_owned())),
            _ => Err(malformed()),
        }
    }

    /// Resolves the reference against the entity's location annotations: `managed_by` is
    /// `backstage.io/managed-by-location` (`file:<path>` or `url:<url>` of the catalog
    /// file), `source` is `backstage.io/source-location` (`url:<folder>/`), used when the
    /// former is absent.
    ///
    /// ```
    /// use backlot::plugins::techdocs::common::{DocsRef, LocationMetadata};
    ///
    /// let docs = DocsRef::parse("dir:./docs-src")?;
    /// let loc = docs.resolve(Some("file:/repo/catalog-info.yaml"), None)?;
    /// assert_eq!(loc, LocationMetadata::new("dir", "/repo/docs-src"));
    /// let loc = docs.resolve(Some("url:https://example.com/o/r/blob/main/catalog-info.yaml"), None)?;
    /// assert_eq!(loc.target, "https://example.com/o/r/blob/main/docs-src");
    /// assert!(DocsRef::parse("dir:../x")?.resolve(Some("file:/repo/c.yaml"), None).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DocsRefError`] when there is no usable base location or the path escapes it.
    pub fn resolve(
        &self,
        managed_by: Option<&str>,
        source: Option<&str>,
    ) -> Result<LocationMetadata, DocsRefError> {
        let rel = match self {
            Self::Url(url) => {
                let local = url::Url::parse(url).map_or(true, |u| u.scheme() == "file");
                let origin = managed_by.or(source).unwrap_or_default();
                if local && !origin.starts_with("file:") {
                    return Err(DocsRefError::LocalFromRemote {
                        location: origin.to_owned(),
                        value: format!("url:{url}"),
                    });
                }
                return Ok(LocationMetadata::new("url", url.clone()));
            }
            Self::Dir(rel) => rel,
        };
        let value = format!("dir:{rel}");
        let (location, is_folder) = match (managed_by, source) {
            (Some(m), _) => (m, false),
            (None, Some(s)) => (s, true),
            (None, None) => return Err(DocsRefError::NoBaseLocation { value }),
        };
        let unsupported = || DocsRefError::UnsupportedLocation {
            location: location.to_owned(),
            value: value.clone(),
        };
        let outside = || DocsRefError::OutsideLocation {
            location: location.to_owned(),
            value: value.clone(),
        };
        let (kind, target) = location.split_once(':').ok_or_else(unsupported)?;
        match kind {
            "file" => {
                let path = match url::Url::parse(target) {
                    Ok(u) if u.scheme() == "file" => {
                        u.to_file_path().map_err(|()| unsupported())?
                    }
                    _ => PathBuf::from(target),
                };
                let base = if is_folder {
                    path
                } else {
                    path.parent()
                        .map(Path::to_path_buf)
                        .ok_or_else(unsupported)?
                };
                let joined = join_within(&base, rel).ok_or_else(outside)?;
                Ok(LocationMetadata::new(
                    "dir",
                    joined.to_string_lossy().into_owned(),
                ))
            }
            "url" => {
                let mut base = url::Url::parse(target).map_err(|_| unsupported())?;
                if is_folder && !base.path().ends_with('/') {
                    let path = format!("{}/", base.path());
                    base.set_path(&path);
                }
                let folder = base.join(".").map_err(|_| unsupported())?;
                if Path::new(rel).is_absolute() {
                    return Err(outside());
                }
                let joined = folder.join(rel).map_err(|_| unsupported())?;
                if !joined.as_str().starts_with(folder.as_str())
                    && joined.as_str() != folder.as_str().trim_end_matches('/')
                {
                    return Err(outside());
                }
                Ok(LocationMetadata::new("url", joined.to_string()))
            }
            _ => Err(unsupported()),
        }
    }
}

/// Joins a relative path below `base`, refusing absolute paths and `..` that leave it.
fn join_within(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    let mut depth = 0usize;
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(part) => {
                out.push(part);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1)?;
                out.pop();
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Where an entity's docs source was resolved to (the `locationMetadata` of Backstage's
/// `/metadata/entity` response).
///
/// ```
/// use backlot::plugins::techdocs::common::LocationMetadata;
///
/// let loc = LocationMetadata::new("url", "https://example.com/repo");
/// assert_eq!(serde_json::to_value(&loc)?, serde_json::json!({"type": "url", "target": "https://example.com/repo"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationMetadata {
    /// `dir` (a local directory) or `url`.
    #[serde(rename = "type")]
    pub location_type: String,
    /// The directory path or URL.
    pub target: String,
}

impl LocationMetadata {
    /// Location metadata from its parts.
    pub fn new(location_type: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            location_type: location_type.into(),
            target: target.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entities_from_local_files_may_name_local_urls() {
        for value in ["url:file:///etc", "url:/etc"] {
            let r = DocsRef::parse(value).unwrap();
            for origin in [Some("url:https://example.com/catalog-info.yaml"), None] {
                assert!(
                    matches!(
                        r.resolve(origin, None),
                        Err(DocsRefError::LocalFromRemote { .. })
                    ),
                    "{value} from {origin:?}"
                );
            }
            assert!(
                r.resolve(Some("file:/repo/catalog-info.yaml"), None)
                    .is_ok()
            );
        }
        let remote = DocsRef::parse("url:https://example.com/repo/tree/main").unwrap();
        assert!(remote.resolve(None, None).is_ok());
    }

    #[test]
    fn dir_refs_resolve_against_file_and_url_locations() {
        let r = DocsRef::parse("dir:.").unwrap();
        assert_eq!(
            r.resolve(Some("file:/a/b/catalog-info.yaml"), None)
                .unwrap(),
            LocationMetadata::new("dir", "/a/b")
        );
        assert_eq!(
            r.resolve(Some("url:https://h/o/r/blob/main/c.yaml"), None)
                .unwrap()
                .target,
            "https://h/o/r/blob/main/"
        );
        assert_eq!(
            r.resolve(None, Some("url:https://h/o/r/tree/main/sub/"))
                .unwrap()
                .target,
            "https://h/o/r/tree/main/sub/"
        );
        let sub = DocsRef::parse("dir:sub/../docs").unwrap();
        assert_eq!(
            sub.resolve(Some("file:/a/c.yaml"), None).unwrap().target,
            "/a/docs"
        );
    }

    #[test]
    fn escaping_and_missing_bases_are_errors() {
        let up = DocsRef::parse("dir:../../etc").unwrap();
        assert!(matches!(
            up.resolve(Some("file:/a/c.yaml"), None),
            Err(DocsRefError::OutsideLocation { .. })
        ));
        assert!(matches!(
            up.resolve(Some("url:https://h/o/r/c.yaml"), None),
            Err(DocsRefError::OutsideLocation { .. })
        ));
        assert!(matches!(
            DocsRef::parse("dir:/etc")
                .unwrap()
                .resolve(Some("file:/a/c.yaml"), None),
            Err(DocsRefError::OutsideLocation { .. })
        ));
        assert!(matches!(
            DocsRef::parse("dir:.").unwrap().resolve(None, None),
            Err(DocsRefError::NoBaseLocation { .. })
        ));
        assert!(matches!(
            DocsRef::parse("dir:.")
                .unwrap()
                .resolve(Some("github:x"), None),
            Err(DocsRefError::UnsupportedLocation { .. })
        ));
        assert!(matches!(
            DocsRef::parse("dir:"),
            Err(DocsRefError::Malformed { .. })
        ));
    }
}
