//! The specs of the organisation kinds: Group and User, and the profile both carry.

use super::super::entity::Entity;
use super::super::error::SpecError;
use super::super::kinds::KnownKind;
use super::super::spec_reader::ObjReader;
use super::read_view;

/// The `profile` of a Group or User.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// `displayName`.
    pub display_name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `picture`: an image URL.
    pub picture: Option<String>,
}

impl Profile {
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Option<Self> {
        let map = r.opt_object("profile")?;
        let mut p = r.nested("profile", map);
        Some(Self {
            display_name: p.opt_string("displayName"),
            email: p.opt_string("email"),
            picture: p.opt_string("picture"),
        })
    }
}

/// The spec of a `Group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSpec {
    /// `type`, e.g. `team`, `business-unit`.
    pub group_type: String,
    /// `profile`.
    pub profile: Option<Profile>,
    /// `parent`: reference to the parent Group.
    pub parent: Option<String>,
    /// `children`: references to child Groups (required, may be empty).
    pub children: Vec<String>,
    /// `members`: references to Users.
    pub members: Vec<String>,
}

impl GroupSpec {
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            group_type: r.req_string("type"),
            profile: Profile::read(r),
            parent: r.opt_string("parent"),
            children: r.req_strings("children"),
            members: r.opt_strings("members"),
        }
    }
}
from_entity!(GroupSpec, KnownKind::Group, "Group");

/// The spec of a `User`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSpec {
    /// `profile`.
    pub profile: Option<Profile>,
    /// `memberOf`: references to Groups (required, may be empty).
    pub member_of: Vec<String>,
}

impl UserSpec {
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            profile: Profile::read(r),
            member_of: r.req_strings("memberOf"),
        }
    }
}
from_entity!(UserSpec, KnownKind::User, "User");
