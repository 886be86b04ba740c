//! Extension ids: `[<kind>:][<namespace>][/][<name>]`.

use std::fmt;

use super::error::AppError;

/// The parts of an extension id.
///
/// `kind:namespace/name`, with `/` only when both namespace and name exist: `page:catalog`,
/// `page:catalog/entity`, `nav-item:search`, `app/nav`, `api:core.config`.
///
/// ```
/// use backlot::frontend::ExtensionId;
///
/// let id = ExtensionId::parse("entity-card:catalog/about")?;
/// assert_eq!(id.kind(), Some("entity-card"));
/// assert_eq!(id.namespace(), Some("catalog"));
/// assert_eq!(id.name(), Some("about"));
/// assert_eq!(id.to_string(), "entity-card:catalog/about");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionId {
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl ExtensionId {
    /// An id from its parts; at least one of namespace and name must be given.
    pub fn new(
        kind: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Self, AppError> {
        let id = Self {
            kind: kind.filter(|k| !k.is_empty()).map(str::to_string),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            name: name.filter(|n| !n.is_empty()).map(str::to_string),
        };
        let invalid = |reason: &str| AppError::InvalidExtensionId {
            id: id.to_string(),
            reason: reason.to_string(),
        };
        if id.namespace.is_none() && id.name.is_none() {
            return Err(invalid("an extension id needs a namespace or a name"));
        }
        for part in [&id.kind, &id.namespace, &id.name].into_iter().flatten() {
            if !valid_part(part) {
                return Err(invalid(&format!(
                    "'{part}' may hold only letters, digits, '-', '_' and '.'"
                )));
            }
        }
        Ok(id)
    }

    /// Parses `kind:namespace/name` and its shorter forms.
    pub fn parse(id: &str) -> Result<Self, AppError> {
        let (kind, rest) = match id.split_once(':') {
            Some((k, r)) => (Some(k), r),
            None => (None, id),
        };
        if kind == Some("") {
            return Err(AppError::InvalidExtensionId {
                id: id.to_string(),
                reason: "the kind before ':' is empty".to_string(),
            });
        }
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => (Some(ns), Some(name)),
            Some(_) => {
                return Err(AppError::InvalidExtensionId {
                    id: id.to_string(),
                    reason: "'/' needs both a namespace and a name".to_string(),
                });
            }
            None => (Some(rest), None),
        };
        let parsed = Self::new(kind, namespace, name)?;
        if parsed.to_string() != id {
            return Err(AppError::InvalidExtensionId {
                id: id.to_string(),
                reason: "malformed id".to_string(),
            });
        }
        Ok(parsed)
    }

    /// The kind (`page`, `nav-item`, ...).
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// The namespace, by default the plugin id.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ExtensionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(kind) = &self.kind {
            write!(f, "{kind}:")?;
        }
        match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => write!(f, "{ns}/{name}"),
            (Some(ns), None) => write!(f, "{ns}"),
            (None, Some(name)) => write!(f, "{name}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_every_form() {
        let cases = [
            (Some("page"), Some("catalog"), None, "page:catalog"),
            (
                Some("page"),
                Some("catalog"),
                Some("entity"),
                "page:catalog/entity",
            ),
            (None, Some("app"), Some("nav"), "app/nav"),
            (Some("page"), None, Some("home"), "page:home"),
            (Some("api"), Some("core.config"), None, "api:core.config"),
        ];
        for (kind, ns, name, text) in cases {
            let id = ExtensionId::new(kind, ns, name).unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(ExtensionId::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "", "page:", ":x", "page:/x", "page:a/", "a b", "a/b/c", "page:a:b",
        ] {
            assert!(
                matches!(
                    ExtensionId::parse(bad),
                    Err(AppError::InvalidExtensionId { .. })
                ),
                "{bad}"
            );
        }
    }
}
