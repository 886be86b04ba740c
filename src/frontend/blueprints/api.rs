//! `ApiBlueprint`: a utility API implementation.

use crate::frontend::api::ApiFactory;
use crate::frontend::core_data::API_FACTORY;
use crate::frontend::data_ref::Outputs;
use crate::frontend::extension::Extension;

/// Installs a utility API: kind `api`, id `api:<api id>`, attached to `app` input `apis`.
/// Another extension with the same id — an override given to the app — replaces it.
///
/// ```
/// use std::sync::Arc;
/// use backlot::frontend::{ApiBlueprint, ApiFactory, ApiRef};
///
/// pub struct Clock;
/// pub static CLOCK: ApiRef<Clock> = ApiRef::new("plugin.clock");
/// let ext = ApiBlueprint::make(ApiFactory::instance(&CLOCK, Arc::new(Clock)));
/// assert_eq!(ext.id()?.to_string(), "api:plugin.clock");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ApiBlueprint;

impl ApiBlueprint {
    /// The API extension for a factory.
    pub fn make(factory: ApiFactory) -> Extension {
        Extension::builder("api", "")
            .namespace(factory.api_id())
            .attach_to(&crate::frontend::core_data::APP_APIS)
            .output(&[API_FACTORY.any()])
            .factory(move |_| Ok(Outputs::new().with(&API_FACTORY, factory.clone())))
    }
}
