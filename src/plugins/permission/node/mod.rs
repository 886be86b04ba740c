//! What modules of the `permission` plugin build on: the policy extension point, as
//! Backstage's `policyExtensionPoint`.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::backend::ExtensionPoint;
use crate::services::permissions::{PermissionError, PermissionPolicy};

/// Where a module installs the deployment's code policy; it replaces the declarative
/// `permission.policy`.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::permission::node::POLICY_EXTENSION_POINT;
/// use backlot::services::permissions::AllowAllPolicy;
/// use std::sync::Arc;
///
/// let module = Feature::module_fn("permission", "allow-all-policy", |reg| {
///     reg.init(&POLICY_EXTENSION_POINT, |policies| async move {
///         policies.get()?.set_policy(Arc::new(AllowAllPolicy))?;
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
#[derive(Default)]
pub struct PolicyExtension {
    policy: Mutex<Option<Arc<dyn PermissionPolicy>>>,
}

impl fmt::Debug for PolicyExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyExtension")
            .field("policy", &*self.policy.lock())
            .finish()
    }
}

impl PolicyExtension {
    /// Installs the policy; a second one is an error (one policy per deployment).
    pub fn set_policy(&self, policy: Arc<dyn PermissionPolicy>) -> Result<(), PermissionError> {
        let mut slot = self.policy.lock();
        if slot.is_some() {
            return Err(PermissionError::Input(
                "a permission policy is already installed; a deployment has one".into(),
            ));
        }
        *slot = Some(policy);
        Ok(())
    }

    /// The installed policy.
    pub fn policy(&self) -> Option<Arc<dyn PermissionPolicy>> {
        self.policy.lock().clone()
    }
}

/// The policy extension point of the `permission` plugin.
pub static POLICY_EXTENSION_POINT: ExtensionPoint<PolicyExtension> =
    ExtensionPoint::new("permission.policy");
