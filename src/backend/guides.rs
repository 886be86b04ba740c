//! The backend guides from `docs/`, rendered here so that `cargo doc` shows them and
//! `cargo test --doc` compiles and runs their examples. Their tests use the test kit, so the
//! guide is included with the `testing` feature (`cargo test --all-features --doc`).

/// `docs/writing-a-backend-plugin.md`: the todo plugin, from the service refs to its tests.
#[cfg_attr(
    feature = "testing",
    doc = include_str!("../../docs/writing-a-backend-plugin.md")
)]
#[cfg_attr(
    not(feature = "testing"),
    doc = "Build the docs with `--features testing` to read `docs/writing-a-backend-plugin.md` here."
)]
pub mod writing_a_backend_plugin {}

/// Compiles the examples of the guide `docs/plugin-forms.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/plugin-forms.md")]
pub struct PluginFormsGuide;
