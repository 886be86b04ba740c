//! The error type of the configuration service.

use std::path::PathBuf;

/// An error from loading configuration or reading a value out of it.
///
/// Messages name the full config path (`backend.listen.port`) or the file involved. They never
/// contain a config value, so a secret substituted from the environment cannot leak through an
/// error message or a log line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is absent (or `null`).
    #[error("{path}: missing required config value")]
    Missing {
        /// Full path of the value, e.g. `backend.baseUrl`.
        path: String,
    },
    /// A value is present but has the wrong type.
    #[error("{path}: expected {expected}")]
    WrongType {
        /// Full path of the value.
        path: String,
        /// What was expected, e.g. `a number`.
        expected: &'static str,
    },
    /// A value has the right type but cannot be used (out of range, bad duration, ...).
    #[error("{path}: {message}")]
    Invalid {
        /// Full path of the value.
        path: String,
        /// Why the value was rejected; never contains the value itself.
        message: String,
    },
    /// A value could not be deserialized into the requested type.
    #[error("{path}: {message}")]
    Deserialize {
        /// Full path of the value that failed, including fields inside the requested type.
        path: String,
        /// The deserializer's message, with string values removed. (The deserializer's own
        /// error is not kept as a source, since its message quotes the offending value.)
        message: String,
    },
    /// A path given to a getter is malformed.
    #[error("invalid config path '{path}': {message}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        message: &'static str,
    },
    /// A config file could not be read.
    #[error("failed to read config file '{path}': {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A config source is not valid YAML or JSON.
    #[error("config file '{name}'{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        /// The file path or the name given to an inline source.
        name: String,
        /// 1-based line of the problem, when the parser reports one.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A config source does not hold a mapping at its top level.
    #[error("config file '{name}': expected an object at the config root")]
    NotAnObject {
        /// The file path or the name given to an inline source.
        name: String,
    },
    /// A `$file`, `$env` or `$include` directive failed, or an unknown `$` directive was used.
    #[error(transparent)]
    Directive(Box<DirectiveError>),
    /// An `APP_CONFIG_*` environment override is malformed.
    #[error("invalid config override in environment variable '{name}': {message}")]
    EnvOverride {
        /// The environment variable name.
        name: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The full config path the error is about, for value errors.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Missing { path }
            | Self::WrongType { path, .. }
            | Self::Invalid { path, .. }
            | Self::Deserialize { path, .. } => Some(path),
            Self::Directive(d) => Some(&d.path),
            _ => None,
        }
    }

    /// Whether this is a [`ConfigError::Missing`] error.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing { .. })
    }
}

/// Details of a failed config directive ([`ConfigError::Directive`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error("{directive} '{target}' in '{name}' at {path}: {message}")]
pub struct DirectiveError {
    /// The directive, e.g. `$include`.
    pub directive: String,
    /// The directive's argument as written (before `${VAR}` substitution); empty when it is
    /// not a string.
    pub target: String,
    /// The file path or the name of the source holding the directive.
    pub name: String,
    /// Config path of the directive, `<root>` for a whole file.
    pub path: String,
    /// What went wrong.
    pub message: String,
    /// The underlying error, if any (the I/O error, or the error inside an included file).
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}
