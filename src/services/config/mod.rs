//! The root configuration service: Backstage's `app-config.yaml` system.
//!
//! [`ConfigLoader`] reads layered YAML files (later files win, objects deep-merged, arrays
//! replaced), substitutes `${VAR}` placeholders, resolves the `$env`, `$file` and `$include`
//! directives and applies `APP_CONFIG_*` environment overrides. The result is a [`Config`]:
//! immutable, cheap to clone, with typed getters whose errors name the full config path.
//!
//! See `docs/configuration.md` for the file format.
//!
//! ```
//! use backlot::services::config::{Config, ConfigError, ConfigLoader};
//!
//! let config: Config = ConfigLoader::new()
//!     .yaml("inline", "backend:\n  listen:\n    port: 7007\n")
//!     .env_vars(Vec::<(String, String)>::new())
//!     .load()?;
//! assert_eq!(config.u16("backend.listen.port")?, 7007);
//! let err: ConfigError = config.string("backend.baseUrl").unwrap_err();
//! assert_eq!(err.to_string(), "backend.baseUrl: missing required config value");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod duration;
mod env;
mod error;
mod listen;
mod loader;
mod merge;
mod parse;
mod path;
mod transform;
mod value;

pub use duration::parse_duration_value;
pub use error::{ConfigError, DirectiveError};
pub use listen::{DEFAULT_PORT, parse_listen};
pub use loader::ConfigLoader;
pub use value::Config;
