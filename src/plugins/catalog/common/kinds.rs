//! The built-in kinds and the apiVersions each accepts.

use std::fmt;

/// `apiVersion`s accepted by every built-in kind except Template.
pub const BACKSTAGE_API_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];
/// The only `apiVersion` accepted by the Template kind.
pub const TEMPLATE_API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// A built-in kind. Kinds are matched case-sensitively (`Component`, not `component`), as
/// Backstage's kind validators do.
///
/// ```
/// use backlot::plugins::catalog::common::KnownKind;
/// assert_eq!(KnownKind::parse("API"), Some(KnownKind::Api));
/// assert_eq!(KnownKind::parse("api"), None);
/// assert!(KnownKind::Template.accepts_api_version("scaffolder.backstage.io/v1beta3"));
/// assert!(!KnownKind::Template.accepts_api_version("backstage.io/v1alpha1"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KnownKind {
    /// `API`: an interface a component provides.
    Api,
    /// `Component`: a piece of software.
    Component,
    /// `Domain`: a business area grouping systems.
    Domain,
    /// `Group`: an organizational unit.
    Group,
    /// `Location`: a pointer to more catalog files.
    Location,
    /// `Resource`: infrastructure a system needs.
    Resource,
    /// `System`: a collection of components, APIs and resources.
    System,
    /// `Template`: a scaffolder template (`scaffolder.backstage.io/v1beta3`).
    Template,
    /// `User`: a person.
    User,
}

impl KnownKind {
    /// Every built-in kind.
    pub const ALL: [KnownKind; 9] = [
        Self::Api,
        Self::Component,
        Self::Domain,
        Self::Group,
        Self::Location,
        Self::Resource,
        Self::System,
        Self::Template,
        Self::User,
    ];

    /// The built-in kind spelled exactly `kind`.
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "API" => Self::Api,
            "Component" => Self::Component,
            "Domain" => Self::Domain,
            "Group" => Self::Group,
            "Location" => Self::Location,
            "Resource" => Self::Resource,
            "System" => Self::System,
            "Template" => Self::Template,
            "User" => Self::User,
            _ => return None,
        })
    }

    /// The kind as written in entities.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "API",
            Self::Component => "Component",
            Self::Domain => "Domain",
            Self::Group => "Group",
            Self::Location => "Location",
            Self::Resource => "Resource",
            Self::System => "System",
            Self::Template => "Template",
            Self::User => "User",
        }
    }

    /// The `apiVersion`s this kind accepts.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Self::Template => &[TEMPLATE_API_VERSION],
            _ => BACKSTAGE_API_VERSIONS,
        }
    }

    /// Whether this kind accepts `api_version`.
    pub fn accepts_api_version(self, api_version: &str) -> bool {
        self.api_versions().contains(&api_version)
    }

    pub(crate) fn api_versions_text(self) -> &'static str {
        match self {
            Self::Template => TEMPLATE_API_VERSION,
            _ => "backstage.io/v1alpha1, backstage.io/v1beta1",
        }
    }
}

impl fmt::Display for KnownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_is_case_sensitive() {
        for k in KnownKind::ALL {
            assert_eq!(KnownKind::parse(k.as_str()), Some(k));
            assert_eq!(KnownKind::parse(&k.as_str().to_lowercase()), None);
        }
        assert_eq!(KnownKind::parse("Widget"), None);
    }

    #[test]
    fn api_versions() {
        for k in KnownKind::ALL {
            if k == KnownKind::Template {
                assert!(k.accepts_api_version(TEMPLATE_API_VERSION));
                assert!(!k.accepts_api_version("backstage.io/v1alpha1"));
            } else {
                assert!(k.accepts_api_version("backstage.io/v1alpha1"));
                assert!(k.accepts_api_version("backstage.io/v1beta1"));
                assert!(!k.accepts_api_version("backstage.io/v1"));
                assert!(!k.accepts_api_version(TEMPLATE_API_VERSION));
            }
        }
    }
}
