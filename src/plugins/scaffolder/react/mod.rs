//! The scaffolder's client side: the [`ScaffolderApi`] the app uses.

/// The scaffolder's API as the app sees it.
#[derive(Debug, Clone, Default)]
pub struct ScaffolderApi;
