//! Errors and warnings from building an app.

use crate::backend::BoxError;

/// Why an [`App`](super::App) could not be built. Every message names the extensions, plugins,
/// inputs or routes involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// An extension id is malformed.
    #[error("invalid extension id '{id}': {reason}")]
    InvalidExtensionId {
        /// The id as given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A plugin id is malformed.
    #[error(
        "invalid plugin id '{id}': ids are lowercase words of letters and digits joined by '-'"
    )]
    InvalidPluginId {
        /// The id as given.
        id: String,
    },
    /// Two plugins with the same id were installed.
    #[error("plugin '{id}' is installed twice")]
    DuplicatePlugin {
        /// The plugin id.
        id: String,
    },
    /// Two extensions with the same id came from plugins (overrides replace instead).
    #[error("extension '{id}' is provided by both {first} and {second}")]
    DuplicateExtension {
        /// The extension id.
        id: String,
        /// Where the first came from (`plugin 'x'`, `the app`, `the overrides`).
        first: String,
        /// Where the second came from.
        second: String,
    },
    /// `app.extensions` is malformed.
    #[error("invalid app.extensions config at item {index}: {reason}")]
    InvalidExtensionsConfig {
        /// The list index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// `app.extensions` names an extension no plugin provides.
    #[error("app.extensions configures extension '{id}', which does not exist")]
    UnknownConfiguredExtension {
        /// The id in config.
        id: String,
    },
    /// An extension's config does not match its schema.
    #[error("invalid config for extension '{extension}': {reason}")]
    ExtensionConfig {
        /// The extension id.
        extension: String,
        /// The deserializer's message, with the path of the bad value.
        reason: String,
    },
    /// A singleton input has more than one child.
    #[error("input '{input}' of extension '{extension}' takes one extension, but {} are attached: {}", children.len(), children.join(", "))]
    SingletonInputConflict {
        /// The parent extension id.
        extension: String,
        /// The input name.
        input: String,
        /// The ids of the attached children.
        children: Vec<String>,
    },
    /// A required singleton input has no child.
    #[error(
        "input '{input}' of extension '{extension}' requires one extension, but none is attached"
    )]
    MissingRequiredInput {
        /// The parent extension id.
        extension: String,
        /// The input name.
        input: String,
    },
    /// A child does not output data the parent's input requires.
    #[error("extension '{extension}' cannot attach to input '{input}' of '{parent}': it does not provide {}", missing.join(", "))]
    UnacceptedData {
        /// The child extension id.
        extension: String,
        /// The parent extension id.
        parent: String,
        /// The input name.
        input: String,
        /// The data ref ids the input requires and the child lacks.
        missing: Vec<String>,
    },
    /// A factory left out a required output.
    #[error("extension '{extension}' did not output required data '{data_ref}'")]
    MissingOutput {
        /// The extension id.
        extension: String,
        /// The data ref id.
        data_ref: String,
    },
    /// A factory returned data it did not declare.
    #[error("extension '{extension}' output undeclared data '{data_ref}'")]
    UndeclaredOutput {
        /// The extension id.
        extension: String,
        /// The data ref id.
        data_ref: String,
    },
    /// A factory failed.
    #[error("extension '{extension}' failed to instantiate")]
    Factory {
        /// The extension id.
        extension: String,
        /// The factory's error.
        #[source]
        source: BoxError,
    },
    /// The root `app` extension is missing or disabled.
    #[error("the root extension 'app' is missing or disabled")]
    MissingRoot,
    /// Two API extensions provide the same API.
    #[error("api '{api}' is provided by both '{first}' and '{second}'")]
    DuplicateApi {
        /// The API id.
        api: String,
        /// The first extension id.
        first: String,
        /// The second extension id.
        second: String,
    },
    /// An API depends on an API nothing provides.
    #[error("api '{api}' depends on api '{dependency}', which no extension provides")]
    MissingApiDependency {
        /// The API id.
        api: String,
        /// The missing API id.
        dependency: String,
    },
    /// APIs depend on each other in a cycle.
    #[error("api dependency cycle: {}", cycle.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(" -> "))]
    ApiCycle {
        /// The API ids, first repeated at the end.
        cycle: Vec<String>,
    },
    /// An API factory failed.
    #[error("api '{api}' failed to build")]
    ApiFactory {
        /// The API id.
        api: String,
        /// The factory's error.
        #[source]
        source: BoxError,
    },
    /// A required external route is bound to nothing.
    #[error("external route '{route}' of plugin '{plugin}' is required but not bound")]
    UnboundExternalRoute {
        /// The plugin id.
        plugin: String,
        /// The external route name.
        route: String,
    },
    /// A route binding names an unknown plugin, external route or route.
    #[error("invalid route binding '{binding}': {reason}")]
    InvalidRouteBinding {
        /// The binding (`plugin.externalRoute` or `plugin.externalRoute: plugin.route`).
        binding: String,
        /// What is wrong.
        reason: String,
    },
    /// Two pages claim the same path.
    #[error("pages '{first}' and '{second}' both use path '{path}'")]
    DuplicatePagePath {
        /// The path.
        path: String,
        /// The first page extension id.
        first: String,
        /// The second page extension id.
        second: String,
    },
    /// A page path is malformed or lacks its route ref's params.
    #[error("invalid path '{path}' for extension '{extension}': {reason}")]
    InvalidPagePath {
        /// The page extension id.
        extension: String,
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The app's config cannot be read.
    #[error("invalid app config")]
    Config(#[from] crate::services::config::ConfigError),
}

/// A problem that does not stop the app: the extension is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppWarning {
    /// The extension attaches to an extension that does not exist.
    UnknownParent {
        /// The extension id.
        extension: String,
        /// The missing parent id.
        parent: String,
    },
    /// The parent exists but has no input of that name.
    UnknownInput {
        /// The extension id.
        extension: String,
        /// The parent id.
        parent: String,
        /// The missing input name.
        input: String,
    },
    /// A nav item links to a route no mounted page provides (the page is missing or
    /// disabled); the item is left out of the sidebar.
    NavItemWithoutPage {
        /// The item's title.
        title: String,
        /// The route ref id.
        route: String,
    },
}

impl std::fmt::Display for AppWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownParent { extension, parent } => write!(
                f,
                "extension '{extension}' is detached: it attaches to '{parent}', which does not exist"
            ),
            Self::UnknownInput {
                extension,
                parent,
                input,
            } => write!(
                f,
                "extension '{extension}' is detached: '{parent}' has no input '{input}'"
            ),
            Self::NavItemWithoutPage { title, route } => write!(
                f,
                "nav item '{title}' is left out of the sidebar: no page mounts route '{route}'"
            ),
        }
    }
}
