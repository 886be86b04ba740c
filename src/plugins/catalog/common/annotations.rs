//! Well-known annotation keys and the location references some of them hold.

use std::fmt;

/// Location (`<type>:<target>`) of the file the entity was read from; set by the catalog.
pub const ANNOTATION_LOCATION: &str = "backstage.io/managed-by-location";
/// Location of the registered root location the entity descends from (e.g.
/// `bootstrap:bootstrap` for locations from config); set by the catalog.
pub const ANNOTATION_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// Exactly `"true"` when no parent emits the entity any more; set by the catalog.
pub const ANNOTATION_ORPHAN: &str = "backstage.io/orphan";
/// Where the entity's docs source lives: `dir:<relative path>` or `url:<url>`.
pub const ANNOTATION_TECHDOCS_REF: &str = "backstage.io/techdocs-ref";
/// Reference of another entity whose docs this entity shows.
pub const ANNOTATION_TECHDOCS_ENTITY: &str = "backstage.io/techdocs-entity";
/// `url:<folder-url>/` of the entity's source (folder URLs end in `/`).
pub const ANNOTATION_SOURCE_LOCATION: &str = "backstage.io/source-location";
/// Link to view the entity's descriptor file.
pub const ANNOTATION_VIEW_URL: &str = "backstage.io/view-url";
/// Link to edit the entity's descriptor file.
pub const ANNOTATION_EDIT_URL: &str = "backstage.io/edit-url";
/// Kubernetes objects labelled `backstage.io/kubernetes-id=<value>` belong to the entity.
pub const ANNOTATION_KUBERNETES_ID: &str = "backstage.io/kubernetes-id";
/// A Kubernetes label selector for the entity's objects; wins over the id annotation.
pub const ANNOTATION_KUBERNETES_LABEL_SELECTOR: &str = "backstage.io/kubernetes-label-selector";
/// Restricts the Kubernetes lookup to one namespace.
pub const ANNOTATION_KUBERNETES_NAMESPACE: &str = "backstage.io/kubernetes-namespace";
/// ISO-8601 duration a Template saves each run.
pub const ANNOTATION_TIME_SAVED: &str = "backstage.io/time-saved";
/// Reference of the Template that created the entity.
pub const ANNOTATION_SOURCE_TEMPLATE: &str = "backstage.io/source-template";
/// Deprecated pointer to an API definition; use a `$text` substitution instead.
pub const ANNOTATION_DEFINITION_AT_LOCATION: &str = "backstage.io/definition-at-location";
/// GitHub `owner/repo` of the entity.
pub const ANNOTATION_GITHUB_PROJECT_SLUG: &str = "github.com/project-slug";
/// GitHub `org/team` slug of a Group.
pub const ANNOTATION_GITHUB_TEAM_SLUG: &str = "github.com/team-slug";

/// A location reference `<type>:<target>`, as held by the `managed-by-location` annotations.
///
/// ```
/// use backlot::plugins::catalog::common::LocationRef;
///
/// let loc = LocationRef::parse("url:https://github.com/o/r/blob/main/catalog-info.yaml")?;
/// assert_eq!(loc.location_type, "url");
/// assert_eq!(loc.target, "https://github.com/o/r/blob/main/catalog-info.yaml");
/// assert_eq!(loc.to_string(), "url:https://github.com/o/r/blob/main/catalog-info.yaml");
/// assert!(LocationRef::parse("no-colon").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationRef {
    /// The location type, e.g. `url` or `file`.
    pub location_type: String,
    /// The target, e.g. a URL or an absolute path.
    pub target: String,
}

/// Why a location reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationRefError {
    /// No `:`, or an empty type or target.
    #[error("location reference \"{input}\" was not on the form <type>:<target>")]
    Malformed {
        /// The reference as given.
        input: String,
    },
}

impl LocationRef {
    /// A location reference from its parts.
    pub fn new(location_type: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            location_type: location_type.into(),
            target: target.into(),
        }
    }

    /// Splits `<type>:<target>` on the first `:` only (targets are URLs with their own `:`).
    pub fn parse(input: &str) -> Result<Self, LocationRefError> {
        match input.split_once(':') {
            Some((t, target)) if !t.is_empty() && !target.is_empty() => Ok(Self::new(t, target)),
            _ => Err(LocationRefError::Malformed {
                input: input.to_owned(),
            }),
        }
    }
}

impl fmt::Display for LocationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.location_type, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_on_the_first_colon() {
        let l = LocationRef::parse("file:/tmp/a:b.yaml").unwrap();
        assert_eq!(
            (l.location_type.as_str(), l.target.as_str()),
            ("file", "/tmp/a:b.yaml")
        );
        assert_eq!(
            LocationRef::parse("bootstrap:bootstrap")
                .unwrap()
                .to_string(),
            "bootstrap:bootstrap"
        );
        for bad in ["", ":x", "url:", "url"] {
            assert!(LocationRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_valid_annotation_keys() {
        for key in [
            ANNOTATION_LOCATION,
            ANNOTATION_ORIGIN_LOCATION,
            ANNOTATION_ORPHAN,
            ANNOTATION_TECHDOCS_REF,
            ANNOTATION_TECHDOCS_ENTITY,
            ANNOTATION_SOURCE_LOCATION,
            ANNOTATION_VIEW_URL,
            ANNOTATION_EDIT_URL,
            ANNOTATION_KUBERNETES_ID,
            ANNOTATION_KUBERNETES_LABEL_SELECTOR,
            ANNOTATION_KUBERNETES_NAMESPACE,
            ANNOTATION_TIME_SAVED,
            ANNOTATION_SOURCE_TEMPLATE,
            ANNOTATION_DEFINITION_AT_LOCATION,
            ANNOTATION_GITHUB_PROJECT_SLUG,
            ANNOTATION_GITHUB_TEAM_SLUG,
        ] {
            assert!(
                super::super::validators::is_valid_annotation_key(key),
                "{key}"
            );
        }
    }
}
