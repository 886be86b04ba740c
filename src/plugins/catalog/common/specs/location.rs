//! The spec of a `Location` entity.

use super::super::entity::Entity;
use super::super::error::SpecError;
use super::super::kinds::KnownKind;
use super::super::spec_reader::ObjReader;
use super::read_view;

/// The spec of a `Location` entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocationEntitySpec {
    /// `type`, e.g. `url` or `file`; inherited from the reading location when absent.
    pub location_type: Option<String>,
    /// `target`: one target, absolute or relative to this file.
    pub target: Option<String>,
    /// `targets`: more targets.
    pub targets: Vec<String>,
    /// `presence`: `required` (default) or `optional`, whether a missing target is an error.
    pub presence: Option<String>,
}

impl LocationEntitySpec {
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            location_type: r.opt_string("type"),
            target: r.opt_string("target"),
            targets: r.opt_strings("targets"),
            presence: r.opt_string("presence"),
        }
    }

    /// `target` followed by `targets`.
    pub fn all_targets(&self) -> impl Iterator<Item = &str> {
        self.target
            .iter()
            .chain(self.targets.iter())
            .map(String::as_str)
    }
}
from_entity!(LocationEntitySpec, KnownKind::Location, "Location");
