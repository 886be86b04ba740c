//! See the [plugin's overview](super).
