//! The `namespace/kind/name` triplet that names an entity's docs.

use std::fmt;

/// Why a docs entity name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocsEntityError {
    /// Not three non-empty `/`-separated parts, or a part that is not a safe path segment.
    #[error("invalid entity '{input}': expected <namespace>/<kind>/<name> with plain segments")]
    Invalid {
        /// The input as given.
        input: String,
    },
}

/// The entity whose docs are stored: namespace, kind and name, as in TechDocs' URLs
/// (`/static/docs/:namespace/:kind/:name`) and storage paths.
///
/// ```
/// use backlot::plugins::techdocs::common::DocsEntity;
///
/// let entity: DocsEntity = "default/Component/Petstore".parse()?;
/// assert_eq!(entity.storage_path(false), "default/component/petstore");
/// assert_eq!(entity.storage_path(true), "default/Component/Petstore");
/// assert_eq!(entity.to_string(), "component:default/Petstore");
/// assert!("default/../x".parse::<DocsEntity>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocsEntity {
    /// The namespace, e.g. `default`.
    pub namespace: String,
    /// The kind, e.g. `Component`.
    pub kind: String,
    /// The name.
    pub name: String,
}

impl DocsEntity {
    /// An entity name from its parts; each must be a safe path segment.
    ///
    /// # Errors
    ///
    /// [`DocsEntityError::Invalid`] when a part is empty, `.`/`..`, or holds `/`, `\` or NUL.
    pub fn new(
        namespace: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, DocsEntityError> {
        let entity = Self {
            namespace: namespace.into(),
            kind: kind.into(),
            name: name.into(),
        };
        let ok = [&entity.namespace, &entity.kind, &entity.name]
            .iter()
            .all(|p| is_safe_segment(p));
        if ok {
            Ok(entity)
        } else {
            Err(DocsEntityError::Invalid {
                input: format!("{}/{}/{}", entity.namespace, entity.kind, entity.name),
            })
        }
    }

    /// The storage folder `<namespace>/<kind>/<name>`: lowercased unless `case_sensitive`
    /// (Backstage `techdocs.legacyUseCaseSensitiveTripletPaths`).
    pub fn storage_path(&self, case_sensitive: bool) -> String {
        let path = format!("{}/{}/{}", self.namespace, self.kind, self.name);
        if case_sensitive {
            path
        } else {
            path.to_lowercase()
        }
    }

    /// A key identifying the entity regardless of letter case.
    pub fn key(&self) -> String {
        self.storage_path(false)
    }
}

fn is_safe_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

impl std::str::FromStr for DocsEntity {
    type Err = DocsEntityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [ns, kind, name] => {
                Self::new(*ns, *kind, *name).map_err(|_| DocsEntityError::Invalid {
                    input: s.to_owned(),
                })
            }
            _ => Err(DocsEntityError::Invalid {
                input: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for DocsEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.kind.to_lowercase(),
            self.namespace.to_lowercase(),
            self.name
        )
    }
}
