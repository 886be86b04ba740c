//! See the [plugin overview](super).
