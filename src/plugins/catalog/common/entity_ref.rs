//! Entity references: `[<kind>:][<namespace>/]<name>` and the compound `{kind, namespace, name}`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::entity::{DEFAULT_NAMESPACE, Entity};
use super::error::EntityRefError;

/// Defaults used when a reference leaves out its kind or namespace.
///
/// ```
/// use backlot::plugins::catalog::common::RefDefaults;
/// let d = RefDefaults::kind("Group").with_namespace("music");
/// assert_eq!(d.default_kind, Some("Group"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefDefaults<'a> {
    /// Kind used when the reference has none; without it such a reference is an error.
    pub default_kind: Option<&'a str>,
    /// Namespace used when the reference has none; `None` means `default`.
    pub default_namespace: Option<&'a str>,
}

impl<'a> RefDefaults<'a> {
    /// No default kind, namespace `default`.
    pub const fn none() -> Self {
        Self {
            default_kind: None,
            default_namespace: None,
        }
    }

    /// A default kind, namespace `default`.
    pub const fn kind(kind: &'a str) -> Self {
        Self {
            default_kind: Some(kind),
            default_namespace: None,
        }
    }

    /// Builder-style: sets the default namespace.
    #[must_use]
    pub const fn with_namespace(mut self, namespace: &'a str) -> Self {
        self.default_namespace = Some(namespace);
        self
    }
}

/// A full (compound) entity reference: kind, namespace and name.
///
/// The parts keep the case they were written in, but equality, ordering-free hashing and
/// [`Display`](fmt::Display) are case-insensitive: two refs that differ only in case are equal,
/// and both print as the same lowercased `kind:namespace/name` (Backstage's
/// `stringifyEntityRef`). Serialized as `{ "kind", "namespace", "name" }`.
///
/// ```
/// use backlot::plugins::catalog::common::{EntityRef, RefDefaults};
///
/// let owner = EntityRef::parse("team-a", RefDefaults::kind("Group"))?;
/// assert_eq!(owner.to_string(), "group:default/team-a");
///
/// let user = EntityRef::parse("User:Music/Jane.Doe", RefDefaults::none())?;
/// assert_eq!((user.kind(), user.namespace(), user.name()), ("User", "Music", "Jane.Doe"));
/// assert_eq!(user.to_string(), "user:music/jane.doe");
/// assert_eq!(user, "user:music/jane.doe".parse()?);
///
/// assert!(EntityRef::parse("team-a", RefDefaults::none()).is_err()); // kind needed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityRef {
    kind: String,
    namespace: String,
    name: String,
}

/// Splits the string form into its optional kind, optional namespace and name.
fn split_ref(input: &str) -> Result<(Option<&str>, Option<&str>, &str), EntityRefError> {
    let colon = input.find(':');
    let slash = input.find('/');
    // A `/` before the first `:` means the `:` belongs to the name.
    let colon = match (colon, slash) {
        (Some(c), Some(s)) if s < c => None,
        (c, _) => c,
    };
    let kind = colon.map(|c| &input[..c]);
    let rest_start = colon.map_or(0, |c| c + 1);
    let (namespace, name) = match slash {
        Some(s) => (Some(&input[rest_start..s]), &input[s + 1..]),
        None => (None, &input[rest_start..]),
    };
    if kind == Some("") || namespace == Some("") || name.is_empty() {
        return Err(EntityRefError::Malformed {
            input: input.to_owned(),
        });
    }
    Ok((kind, namespace, name))
}

impl EntityRef {
    /// A reference from its three parts, taken as they are.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses the string form `[<kind>:][<namespace>/]<name>` (Backstage's `parseEntityRef`).
    ///
    /// The first `:` ends the kind unless a `/` comes before it; the first `/` ends the
    /// namespace; the rest is the name (it may hold further `:` or `/`). Missing parts come
    /// from `defaults`; the namespace falls back to `default`. Fails on an empty string, an
    /// empty part, or a missing kind without a default kind.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::{EntityRef, EntityRefError, RefDefaults};
    ///
    /// let r = EntityRef::parse("resource:artists-db", RefDefaults::none().with_namespace("music"))?;
    /// assert_eq!(r.to_string(), "resource:music/artists-db");
    /// let r = EntityRef::parse("a/b:c", RefDefaults::kind("Component"))?;
    /// assert_eq!((r.namespace(), r.name()), ("a", "b:c"));
    /// assert!(matches!(
    ///     EntityRef::parse("component:", RefDefaults::none()),
    ///     Err(EntityRefError::Malformed { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(input: &str, defaults: RefDefaults<'_>) -> Result<Self, EntityRefError> {
        if input.is_empty() {
            return Err(EntityRefError::Empty);
        }
        let (kind, namespace, name) = split_ref(input)?;
        let kind = match kind.or(defaults.default_kind) {
            Some(k) if !k.is_empty() => k,
            _ => {
                return Err(EntityRefError::MissingKind {
                    input: input.to_owned(),
                });
            }
        };
        let namespace = namespace
            .or(defaults.default_namespace.filter(|n| !n.is_empty()))
            .unwrap_or(DEFAULT_NAMESPACE);
        Ok(Self::new(kind, namespace, name))
    }

    /// Builds a reference from the compound form, where kind and namespace may be left out.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::{EntityRef, RefDefaults};
    /// let r = EntityRef::from_parts(None, None, "my:odd/name", RefDefaults::kind("API"))?;
    /// assert_eq!(r.to_string(), "api:default/my:odd/name");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_parts(
        kind: Option<&str>,
        namespace: Option<&str>,
        name: &str,
        defaults: RefDefaults<'_>,
    ) -> Result<Self, EntityRefError> {
        let describe = || format!("{{kind: {kind:?}, namespace: {namespace:?}, name: {name:?}}}");
        let kind = kind.or(defaults.default_kind).unwrap_or("");
        if kind.is_empty() {
            return Err(EntityRefError::MissingKind { input: describe() });
        }
        let namespace = namespace
            .or(defaults.default_namespace.filter(|n| !n.is_empty()))
            .unwrap_or(DEFAULT_NAMESPACE);
        if namespace.is_empty() {
            return Err(EntityRefError::MissingNamespace { input: describe() });
        }
        if name.is_empty() {
            return Err(EntityRefError::MissingName { input: describe() });
        }
        Ok(Self::new(kind, namespace, name))
    }

    /// The reference of an entity (Backstage's `getCompoundEntityRef`): its kind, effective
    /// namespace and name.
    pub fn from_entity(entity: &Entity) -> Self {
        Self::new(
            entity.kind.as_str(),
            entity.metadata.namespace(),
            entity.metadata.name.as_str(),
        )
    }

    /// The kind, as written.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The namespace, as written.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name, as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same reference with all three parts lowercased, as stored in `relations[].target`.
    #[must_use]
    pub fn to_lowercase(&self) -> Self {
        Self::new(lower(&self.kind), lower(&self.namespace), lower(&self.name))
    }

    /// Whether this reference names `entity` (case-insensitively).
    pub fn matches(&self, entity: &Entity) -> bool {
        eq_ci(&self.kind, &entity.kind)
            && eq_ci(&self.namespace, entity.metadata.namespace())
            && eq_ci(&self.name, &entity.metadata.name)
    }
}

/// Lowercases like JavaScript's `toLocaleLowerCase('en-US')`, without allocating twice for
/// ASCII input.
fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Case-insensitive equality consistent with [`lower`].
fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Hashes the lowercased characters of `s`, then a terminator that no `char` can equal.
fn hash_ci<H: Hasher>(s: &str, state: &mut H) {
    if s.is_ascii() {
        for b in s.bytes() {
            state.write_u32(u32::from(b.to_ascii_lowercase()));
        }
    } else {
        for c in s.chars().flat_map(char::to_lowercase) {
            state.write_u32(u32::from(c));
        }
    }
    state.write_u32(u32::MAX);
}

impl PartialEq for EntityRef {
    fn eq(&self, other: &Self) -> bool {
        eq_ci(&self.kind, &other.kind)
            && eq_ci(&self.namespace, &other.namespace)
            && eq_ci(&self.name, &other.name)
    }
}

impl Eq for EntityRef {}

impl Hash for EntityRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ci(&self.kind, state);
        hash_ci(&self.namespace, state);
        hash_ci(&self.name, state);
    }
}

/// Case-insensitive ordering consistent with [`eq_ci`].
fn cmp_ci(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .cmp(b.chars().flat_map(char::to_lowercase))
    }
}

impl Ord for EntityRef {
    /// Orders by kind, namespace, then name, ignoring case (the order of the canonical
    /// strings' parts).
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_ci(&self.kind, &other.kind)
            .then_with(|| cmp_ci(&self.namespace, &other.namespace))
            .then_with(|| cmp_ci(&self.name, &other.name))
    }
}

impl PartialOrd for EntityRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EntityRef {
    /// The canonical string form: `kind:namespace/name`, all lowercased.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in [&self.kind, &self.namespace, &self.name]
            .into_iter()
            .enumerate()
        {
            match i {
                1 => f.write_str(":")?,
                2 => f.write_str("/")?,
                _ => {}
            }
            if part.is_ascii() {
                for c in part.bytes() {
                    fmt::Write::write_char(f, char::from(c.to_ascii_lowercase()))?;
                }
            } else {
                for c in part.chars().flat_map(char::to_lowercase) {
                    fmt::Write::write_char(f, c)?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for EntityRef {
    type Err = EntityRefError;

    /// Parses a reference that names its kind; the namespace defaults to `default`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, RefDefaults::none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn p(s: &str, d: RefDefaults<'_>) -> Result<(String, String, String), EntityRefError> {
        EntityRef::parse(s, d).map(|r| (r.kind, r.namespace, r.name))
    }

    fn t(k: &str, ns: &str, n: &str) -> (String, String, String) {
        (k.into(), ns.into(), n.into())
    }

    #[test]
    fn parses_the_three_forms() {
        let d = RefDefaults::kind("Group").with_namespace("ns");
        assert_eq!(p("user:other/jane", d), Ok(t("user", "other", "jane")));
        assert_eq!(p("user:jane", d), Ok(t("user", "ns", "jane")));
        assert_eq!(p("other/jane", d), Ok(t("Group", "other", "jane")));
        assert_eq!(p("jane", d), Ok(t("Group", "ns", "jane")));
        assert_eq!(
            p("jane", RefDefaults::kind("Group")),
            Ok(t("Group", "default", "jane"))
        );
    }

    #[test]
    fn colon_after_slash_belongs_to_the_name() {
        let d = RefDefaults::kind("K");
        assert_eq!(p("ns/a:b", d), Ok(t("K", "ns", "a:b")));
        assert_eq!(p("k:ns/a/b", d), Ok(t("k", "ns", "a/b")));
        assert_eq!(p("k:ns/a:b", d), Ok(t("k", "ns", "a:b")));
    }

    #[test]
    fn rejects_empty_parts_and_missing_kind() {
        let d = RefDefaults::kind("K");
        assert_eq!(p("", d), Err(EntityRefError::Empty));
        for bad in [":a", "k:", "k:/a", "/a", "k:ns/", "ns/"] {
            assert!(
                matches!(p(bad, d), Err(EntityRefError::Malformed { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            p("jane", RefDefaults::none()),
            Err(EntityRefError::MissingKind { .. })
        ));
        assert!(matches!(
            p("ns/jane", RefDefaults::none()),
            Err(EntityRefError::MissingKind { .. })
        ));
    }

    #[test]
    fn compound_form() {
        let r = EntityRef::from_parts(
            Some("User"),
            None,
            "x",
            RefDefaults::none().with_namespace("n"),
        )
        .unwrap();
        assert_eq!(r.to_string(), "user:n/x");
        assert!(matches!(
            EntityRef::from_parts(None, None, "x", RefDefaults::none()),
            Err(EntityRefError::MissingKind { .. })
        ));
        assert!(matches!(
            EntityRef::from_parts(Some("k"), Some(""), "x", RefDefaults::none()),
            Err(EntityRefError::MissingNamespace { .. })
        ));
        assert!(matches!(
            EntityRef::from_parts(Some("k"), None, "", RefDefaults::none()),
            Err(EntityRefError::MissingName { .. })
        ));
    }

    #[test]
    fn display_lowercases_all_parts() {
        assert_eq!(
            EntityRef::new("Component", "Default", "Artist-Web").to_string(),
            "component:default/artist-web"
        );
        assert_eq!(EntityRef::new("K", "N", "ÄÖ").to_string(), "k:n/äö");
    }

    #[test]
    fn equality_and_hash_ignore_case() {
        let a = EntityRef::new("Component", "default", "Artist-Web");
        let b = EntityRef::new("component", "DEFAULT", "artist-web");
        let c = EntityRef::new("component", "default", "artist-web2");
        assert_eq!(a, b);
        assert_ne!(a, c);
        // the parts must not run into each other
        assert_ne!(
            EntityRef::new("ab", "c", "d"),
            EntityRef::new("a", "bc", "d")
        );
        let set: HashSet<_> = [a.clone(), b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&EntityRef::new("COMPONENT", "Default", "ARTIST-WEB")));
        assert_eq!(EntityRef::new("K", "N", "Ä"), EntityRef::new("k", "n", "ä"));
        assert_eq!(a.to_lowercase().name(), "artist-web");
        assert_eq!(
            a.cmp(&EntityRef::new("COMPONENT", "default", "artist-web")),
            Ordering::Equal
        );
        assert!(EntityRef::new("API", "z", "z") < EntityRef::new("component", "a", "a"));
        assert!(EntityRef::new("k", "N", "a") < EntityRef::new("k", "n", "B"));
    }

    #[test]
    fn from_entity_and_matches() {
        let e = Entity::new("backstage.io/v1alpha1", "Component", "Artist-Web");
        let r = EntityRef::from_entity(&e);
        assert_eq!(
            (r.kind(), r.namespace(), r.name()),
            ("Component", "default", "Artist-Web")
        );
        assert!(
            "component:default/artist-web"
                .parse::<EntityRef>()
                .unwrap()
                .matches(&e)
        );
        assert!(
            !"component:other/artist-web"
                .parse::<EntityRef>()
                .unwrap()
                .matches(&e)
        );
    }

    #[test]
    fn serializes_as_compound() {
        let r = EntityRef::new("Group", "default", "team-a");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({ "kind": "Group", "namespace": "default", "name": "team-a" })
        );
        assert_eq!(serde_json::from_value::<EntityRef>(v).unwrap(), r);
    }
}
