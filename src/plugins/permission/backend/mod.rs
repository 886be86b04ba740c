//! The `permission` backend plugin (`/api/permission`), as Backstage's `permission-backend`.

mod router;

use std::sync::Arc;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::permission::node::{POLICY_EXTENSION_POINT, PolicyExtension};
use crate::services::auth::{AUTH, HTTP_AUTH, USER_INFO};
use crate::services::core_services::{DISCOVERY, HTTP_ROUTER, LOGGER, ROOT_CONFIG};
use crate::services::logger::LoggerServiceExt;
use crate::services::permissions::{
    DeclarativePolicy, DenyAllPolicy, PermissionPolicy, ROOT_PERMISSIONS,
};

/// The permission backend plugin (id `permission`): runs the deployment's policy for every
/// plugin, at `POST /api/permission/authorize` and, for plugins in the same backend, in
/// process.
///
/// The policy is, in order: a code policy a module installs through
/// [`POLICY_EXTENSION_POINT`]; the declarative policy of `permission.policy`; else a policy
/// denying everything (with a warning), so that enabling permissions without a policy never
/// opens anything.
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::permission;
///
/// let backend = Backend::builder().add(permission::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["permission"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PermissionPlugin;

/// The permission backend plugin.
pub fn plugin() -> PermissionPlugin {
    PermissionPlugin
}

impl BackendPlugin for PermissionPlugin {
    fn id(&self) -> &'static str {
        "permission"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let extension = Arc::new(PolicyExtension::default());
        reg.extension_point(&POLICY_EXTENSION_POINT, extension.clone())
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &ROOT_PERMISSIONS,
                    &AUTH,
                    &HTTP_AUTH,
                    &USER_INFO,
                    &DISCOVERY,
                ),
                move |(config, logger, http, root, auth, http_auth, user_info, discovery)| async move {
                    if !root.enabled() {
                        logger.warn(
                            "permission backend started with permissions disabled; \
                             enable them with permission.enabled: true",
                        );
                    }
                    let declarative = DeclarativePolicy::from_config(&config)?;
                    let policy: Arc<dyn PermissionPolicy> = match (extension.policy(), declarative)
                    {
                        (Some(code), _) => code,
                        (None, Some(declarative)) => Arc::new(declarative),
                        (None, None) => {
                            if root.enabled() {
                                logger.warn(
                                    "no permission policy installed and no permission.policy \
                                     configured: every permission request is denied",
                                );
                            }
                            Arc::new(DenyAllPolicy)
                        }
                    };
                    root.install_policy(policy);
                    let remote = crate::services::permissions::evaluate::Remote {
                        auth,
                        discovery,
                        http: crate::services::http_client::http_client(&config)?,
                    };
                    http.use_router(router::build(root, remote, http_auth, user_info));
                    Ok(())
                },
            )
    }
}
