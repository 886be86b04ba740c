//! Typed, read-only views of the `spec` of each built-in kind.
//!
//! The entity keeps its spec as raw JSON (so unknown keys survive); these views read the
//! well-known fields out of it, checking the types the kind's JSON schema demands.
//!
//! One file per group of kinds: `software` (Component, API, Resource, System, Domain), `org`
//! (Group, User), `location` and `template`.

use serde_json::{Map, Value};

use super::entity::Entity;
use super::error::{SpecError, ValidationError, ValidationErrors};
use super::kinds::KnownKind;
use super::spec_reader::ObjReader;

/// Reads the spec of `entity` with `read` after checking its kind.
pub(super) fn read_view<T>(
    entity: &Entity,
    kind: KnownKind,
    read: impl FnOnce(&mut ObjReader<'_, '_>) -> T,
) -> Result<T, SpecError> {
    if entity.kind != kind.as_str() {
        return Err(SpecError::WrongKind {
            entity: entity.ref_string(),
            expected: kind.as_str(),
            found: entity.kind.clone(),
        });
    }
    let mut errors = Vec::new();
    let empty = Map::new();
    let spec = match &entity.spec {
        Some(spec) => spec,
        None => {
            errors.push(ValidationError::Missing {
                field: "spec".to_owned(),
            });
            &empty
        }
    };
    let view = read(&mut ObjReader::new(spec, "spec", &mut errors));
    if errors.is_empty() {
        Ok(view)
    } else {
        Err(SpecError::Invalid(ValidationErrors::new(
            entity.ref_string(),
            errors,
        )))
    }
}

/// Checks the spec of a built-in kind, recording every problem.
pub(crate) fn check_spec(
    kind: KnownKind,
    spec: &Map<String, Value>,
    errors: &mut Vec<ValidationError>,
) {
    let mut r = ObjReader::new(spec, "spec", errors).check_only();
    match kind {
        KnownKind::Api => drop(ApiSpec::read(&mut r)),
        KnownKind::Component => drop(ComponentSpec::read(&mut r)),
        KnownKind::Domain => drop(DomainSpec::read(&mut r)),
        KnownKind::Group => drop(GroupSpec::read(&mut r)),
        KnownKind::Location => drop(LocationEntitySpec::read(&mut r)),
        KnownKind::Resource => drop(ResourceSpec::read(&mut r)),
        KnownKind::System => drop(SystemSpec::read(&mut r)),
        KnownKind::Template => drop(TemplateSpec::read(&mut r)),
        KnownKind::User => drop(UserSpec::read(&mut r)),
    }
}

macro_rules! from_entity {
    ($ty:ident, $kind:expr, $kind_name:literal) => {
        impl $ty {
            #[doc = concat!("Reads the spec of a `", $kind_name, "` entity, reporting every missing or")]
            /// mistyped field.
            pub fn from_entity(entity: &Entity) -> Result<Self, SpecError> {
                read_view(entity, $kind, Self::read)
            }
        }
    };
}

mod location;
mod org;
mod software;
mod template;
#[cfg(test)]
mod tests;

pub use location::*;
pub use org::*;
pub use software::*;
pub use template::*;
