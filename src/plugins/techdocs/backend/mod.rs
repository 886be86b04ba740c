//! The TechDocs backend plugin, mounted at `/api/techdocs` (Backstage
//! `@backstage/plugin-techdocs-backend`).
//!
//! | route | answer |
//! |---|---|
//! | `GET /static/docs/:namespace/:kind/:name/*path` | a file of the published site (directories serve `index.html`); with `techdocs.builder: local` a site that was never built is built first |
//! | `GET /metadata/techdocs/:namespace/:kind/:name` | `techdocs_metadata.json` |
//! | `GET /metadata/entity/:namespace/:kind/:name` | the catalog entity plus `locationMetadata` |
//! | `GET /sync/:namespace/:kind/:name` | `text/event-stream`: `log` events while building, then `finish {"updated": bool}` or `error` |
//!
//! Entities are read through the [`CATALOG`] service ref (by default the catalog plugin over
//! HTTP, found through discovery).
//! See `docs/techdocs.md` for the configuration.

mod build;
mod catalog;
mod config;
mod error;
mod lease;
mod router;

pub use config::{BuilderMode, TechdocsConfig};
pub use error::TechdocsError;

use std::sync::Arc;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::catalog::node::CATALOG;
use crate::plugins::techdocs::node::{
    LocalPublisher, MkDocsGenerator, Publisher, TECHDOCS_BUILD, TechdocsBuildExtension, UrlPreparer,
};
use crate::services::auth::AUTH;
use crate::services::config::Config;
use crate::services::core_services::{DATABASE, HTTP_ROUTER, LOGGER, ROOT_CONFIG, URL_READER};
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};
use crate::services::logger::LoggerServiceExt;
use crate::services::permissions::PERMISSIONS;

/// The TechDocs backend plugin (id `techdocs`). Every pipeline stage has a config-driven
/// default — [`UrlPreparer`] over the backend's `URL_READER`, [`MkDocsGenerator`], and the
/// publisher named by `techdocs.publisher.type` — which a module replaces through the
/// [`TECHDOCS_BUILD`] extension point. Entities come from the `CATALOG` service ref.
///
/// ```
/// use std::sync::Arc;
/// use backlot::backend::{Backend, Feature};
/// use backlot::plugins::techdocs::backend::TechdocsPlugin;
/// use backlot::plugins::techdocs::node::{LocalPublisher, TECHDOCS_BUILD};
///
/// let publisher = Feature::module_fn("techdocs", "srv-publisher", |reg| {
///     reg.init(&TECHDOCS_BUILD, |build| async move {
///         build.get()?.set_publisher(Arc::new(LocalPublisher::new("/srv/docs")));
///         Ok(())
///     })
/// });
/// let _backend = Backend::builder()
///     .add_feature(Feature::plugin(TechdocsPlugin::new()))
///     .add_feature(publisher);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TechdocsPlugin;

impl TechdocsPlugin {
    /// The plugin; modules customise it through [`TECHDOCS_BUILD`].
    pub fn new() -> Self {
        Self
    }
}

/// The publisher `techdocs.publisher.type` names.
///
/// # Errors
///
/// [`TechdocsError::Config`] for an unknown or unavailable type.
pub fn publisher_from_config(
    config: &Config,
    td: &TechdocsConfig,
) -> Result<Arc<dyn Publisher>, TechdocsError> {
    match td.publisher_type.as_str() {
        "local" => Ok(Arc::new(
            LocalPublisher::new(td.publish_directory.clone())
                .case_sensitive(td.case_sensitive_paths),
        )),
        #[cfg(feature = "s3")]
        "awsS3" => {
            let s3 = crate::plugins::techdocs::node::AwsS3PublisherConfig::from_config(config)
                .map_err(|e| TechdocsError::Config {
                    key: "techdocs.publisher.awsS3".to_owned(),
                    reason: e.to_string(),
                })?;
            Ok(Arc::new(
                crate::plugins::techdocs::node::AwsS3Publisher::new(s3)
                    .map_err(|e| TechdocsError::Config {
                        key: "techdocs.publisher.awsS3".to_owned(),
                        reason: e.to_string(),
                    })?
                    .case_sensitive(td.case_sensitive_paths)
                    .http_client(crate::services::http_client::http_client(config).map_err(
                        |e| TechdocsError::Config {
                            key: "backend.httpClient".to_owned(),
                            reason: e.to_string(),
                        },
                    )?),
            ))
        }
        other => {
            let _ = config;
            Err(TechdocsError::Config {
                key: "techdocs.publisher.type".to_owned(),
                reason: format!(
                    "unsupported publisher '{other}' (supported: local{})",
                    if cfg!(feature = "s3") {
                        ", awsS3"
                    } else {
                        "; awsS3 needs the cargo feature 's3'"
                    }
                ),
            })
        }
    }
}

impl BackendPlugin for TechdocsPlugin {
    fn id(&self) -> &str {
        "techdocs"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let stages = Arc::new(TechdocsBuildExtension::default());
        reg.extension_point(&TECHDOCS_BUILD, Arc::clone(&stages))
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &CATALOG,
                    &URL_READER,
                    &AUTH,
                    &PERMISSIONS,
                    &DATABASE,
                ),
                move |(config, logger, http, catalog, reader, auth, permissions, database)| async move {
                    let td = TechdocsConfig::from_config(&config)?;
                    if td.run_in.as_deref() == Some("docker") {
                        logger.info(
                            "techdocs.generator.runIn 'docker' is ignored: docs are built natively",
                        );
                    }
                    let publisher = match stages.publisher() {
                        Some(p) => p,
                        None => publisher_from_config(&config, &td)?,
                    };
                    let preparer = stages
                        .preparer()
                        .unwrap_or_else(|| Arc::new(UrlPreparer::new(reader)));
                    let generator = stages
                        .generator()
                        .unwrap_or_else(|| Arc::new(MkDocsGenerator::new()));
                    let leases = lease::BuildLeases::new((*database).clone(), td.build_lease_timeout);
                    leases.table().await.map_err(|source| TechdocsError::Lease {
                        entity: "(startup)".to_owned(),
                        source,
                    })?;
                    let builder = Arc::new(build::DocsBuilder::new(
                        preparer,
                        generator,
                        Arc::clone(&publisher),
                        Arc::clone(&logger),
                        td.check_interval,
                        Some(leases),
                    ));
                    let state = Arc::new(router::AppState {
                        config: td,
                        catalog,
                        builder,
                        publisher,
                        own_credentials: auth.own_service_credentials(),
                        permissions,
                    });
                    http.use_router(router::router(state));
                    // Browsers load the docs' pages, styles and images without headers.
                    http.add_auth_policy(AuthPolicy {
                        path: "/static".to_string(),
                        allow: AuthPolicyAllow::UserCookie,
                    });
                    Ok(())
                },
            )
    }
}

/// Compiles the examples of the guide `docs/techdocs.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/techdocs.md")]
pub struct TechdocsGuide;

/// The TechDocs backend plugin (id `techdocs`), to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`TechdocsPlugin::new`].
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::techdocs;
///
/// let backend = Backend::builder().add(techdocs::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["techdocs"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> TechdocsPlugin {
    TechdocsPlugin::new()
}
