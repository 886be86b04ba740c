//! The backend-wide state of the permission framework (`core.rootPermissions`): the
//! `permission.*` config, the registries of the plugins running in this process, and the
//! policy the `permission` plugin installs when it runs here.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;

use super::policy::PermissionPolicy;
use super::registry::PluginPermissions;
use super::user_info::UserInfoCache;
use crate::services::config::{Config, ConfigError};

/// The default of `permission.maxItemsPerRequest`.
pub const DEFAULT_MAX_ITEMS_PER_REQUEST: usize = 1000;

/// Backend-wide permission state, one per backend; see the [module docs](self).
///
/// ```
/// use backlot::services::config::Config;
/// use backlot::services::permissions::RootPermissions;
/// use serde_json::json;
///
/// let root = RootPermissions::from_config(&Config::from_value(json!({"permission": {"enabled": true}})))?;
/// assert!(root.enabled());
/// assert!(root.policy().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RootPermissions {
    enabled: bool,
    max_items: usize,
    plugins: RwLock<HashMap<String, Arc<PluginPermissions>>>,
    policy: RwLock<Option<Arc<dyn PermissionPolicy>>>,
    pub(crate) user_info: UserInfoCache,
}

impl fmt::Debug for RootPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootPermissions")
            .field("enabled", &self.enabled)
            .field("max_items", &self.max_items)
            .field("plugins", &self.plugins.read().keys().collect::<Vec<_>>())
            .field("policy_installed", &self.policy.read().is_some())
            .finish()
    }
}

impl RootPermissions {
    /// Reads `permission.enabled` and `permission.maxItemsPerRequest`.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let enabled = config.opt_bool("permission.enabled")?.unwrap_or(false);
        let max_items = match config.opt_u64("permission.maxItemsPerRequest")? {
            None => DEFAULT_MAX_ITEMS_PER_REQUEST,
            Some(0) => {
                return Err(ConfigError::Invalid {
                    path: "permission.maxItemsPerRequest".into(),
                    message: "must be at least 1".into(),
                });
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        Ok(Self {
            enabled,
            max_items,
            plugins: RwLock::new(HashMap::new()),
            policy: RwLock::new(None),
            user_info: UserInfoCache::default(),
        })
    }

    /// `permission.enabled`: whether permission checks apply at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// `permission.maxItemsPerRequest`: the most items one `authorize` or `apply-conditions`
    /// request may carry.
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// The policy installed by the `permission` plugin running in this backend, if it runs
    /// here.
    pub fn policy(&self) -> Option<Arc<dyn PermissionPolicy>> {
        self.policy.read().clone()
    }

    /// Installs the policy of this backend; the `permission` plugin does this in its `init`.
    /// Once installed, every plugin's `PERMISSIONS` evaluates it in process.
    pub fn install_policy(&self, policy: Arc<dyn PermissionPolicy>) {
        *self.policy.write() = Some(policy);
    }

    pub(crate) fn plugin(&self, plugin_id: &str) -> Arc<PluginPermissions> {
        if let Some(p) = self.plugins.read().get(plugin_id) {
            return p.clone();
        }
        self.plugins
            .write()
            .entry(plugin_id.to_string())
            .or_default()
            .clone()
    }

    /// The local registry of `plugin_id`, if that plugin runs here and registered.
    pub(crate) fn local_plugin(&self, plugin_id: &str) -> Option<Arc<PluginPermissions>> {
        self.plugins.read().get(plugin_id).cloned()
    }
}
