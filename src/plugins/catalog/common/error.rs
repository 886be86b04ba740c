//! Errors of the catalog model: entity references, validation and typed spec views.

use std::fmt;

/// Why a string or compound entity reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntityRefError {
    /// The reference was the empty string.
    #[error("entity reference must not be empty")]
    Empty,
    /// A part of the string form was empty, e.g. `component:` or `default/`.
    #[error("entity reference \"{input}\" was not on the form [<kind>:][<namespace>/]<name>")]
    Malformed {
        /// The reference as given.
        input: String,
    },
    /// The reference has no kind and no default kind was given.
    #[error(
        "entity reference \"{input}\" had missing or empty kind (e.g. did not start with \"component:\" or similar)"
    )]
    MissingKind {
        /// The reference as given.
        input: String,
    },
    /// The compound reference has an empty namespace.
    #[error("entity reference \"{input}\" had missing or empty namespace")]
    MissingNamespace {
        /// The reference as given.
        input: String,
    },
    /// The compound reference has an empty name.
    #[error("entity reference \"{input}\" had missing or empty name")]
    MissingName {
        /// The reference as given.
        input: String,
    },
}

/// One broken rule of an entity, naming the field path (`metadata.name`, `spec.owner`,
/// `metadata.tags.2`, ...) that broke it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required field is absent or `null`.
    #[error("{field} must have a value")]
    Missing {
        /// Path of the field.
        field: String,
    },
    /// A field holds a value of the wrong JSON type.
    #[error("{field} must be {expected}, found {found}")]
    WrongType {
        /// Path of the field.
        field: String,
        /// What the field must hold, e.g. `a string`.
        expected: &'static str,
        /// The JSON type found, e.g. `a boolean`.
        found: &'static str,
    },
    /// A string field does not follow its format rule.
    #[error("{field} \"{value}\" is not valid; expected {expected}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// The offending value.
        value: String,
        /// The rule, in words.
        expected: &'static str,
    },
    /// A root key other than the six envelope keys.
    #[error(
        "{field} is not a valid root field; only apiVersion, kind, metadata, spec, relations and status are allowed"
    )]
    ForeignRootField {
        /// The root key.
        field: String,
    },
    /// The kind is known but does not accept this apiVersion.
    #[error(
        "apiVersion \"{api_version}\" is not supported by kind {kind}; expected one of {supported}"
    )]
    UnsupportedApiVersion {
        /// The entity's kind.
        kind: String,
        /// The entity's apiVersion.
        api_version: String,
        /// Accepted versions, comma separated.
        supported: &'static str,
    },
    /// No built-in kind matches (kinds are matched case-sensitively, as Backstage does).
    #[error(
        "kind \"{kind}\" is not a known kind; expected one of API, Component, Domain, Group, Location, Resource, System, Template, User"
    )]
    UnknownKind {
        /// The entity's kind.
        kind: String,
    },
    /// A spec field that holds an entity reference cannot be parsed.
    #[error("{field} \"{value}\" is not a valid entity reference")]
    InvalidRef {
        /// Path of the field.
        field: String,
        /// The offending value.
        value: String,
        /// Why it cannot be parsed.
        #[source]
        source: EntityRefError,
    },
}

impl ValidationError {
    /// The path of the field that broke a rule (`metadata.name`, `spec.providesApis.1`, ...).
    pub fn field(&self) -> &str {
        match self {
            Self::Missing { field }
            | Self::WrongType { field, .. }
            | Self::Invalid { field, .. }
            | Self::ForeignRootField { field }
            | Self::InvalidRef { field, .. } => field,
            Self::UnsupportedApiVersion { .. } => "apiVersion",
            Self::UnknownKind { .. } => "kind",
        }
    }
}

/// Every problem found in one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationErrors {
    entity: String,
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    pub(crate) fn new(entity: String, errors: Vec<ValidationError>) -> Self {
        Self { entity, errors }
    }

    /// A best-effort reference of the entity (`kind:namespace/name`, `<unknown>` parts when
    /// they are missing).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The problems, in the order they were found (envelope first, then spec).
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }

    /// Consumes the collection, returning the problems.
    pub fn into_errors(self) -> Vec<ValidationError> {
        self.errors
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entity {} is invalid: ", self.entity)?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors
            .first()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why a typed spec view (`ComponentSpec::from_entity`, ...) could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The entity is of another kind than the view.
    #[error("entity {entity} has kind {found}, expected kind {expected}")]
    WrongKind {
        /// Reference of the entity.
        entity: String,
        /// The kind the view reads.
        expected: &'static str,
        /// The entity's kind.
        found: String,
    },
    /// The spec lacks required fields or has fields of the wrong type.
    #[error("spec of entity {} is invalid", .0.entity())]
    Invalid(#[source] ValidationErrors),
}
