//! The extension points of the `kubernetes` plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{AuthenticationStrategy, KubernetesClustersSupplier};
use crate::backend::ExtensionPoint;

/// The cluster supplier a module installed; without one, the plugin uses the locators of
/// `kubernetes.clusterLocatorMethods`. When several modules set one, the last to run wins.
#[derive(Debug, Default)]
pub struct KubernetesClusterSupplierExtension {
    supplier: Mutex<Option<Arc<dyn KubernetesClustersSupplier>>>,
}

impl KubernetesClusterSupplierExtension {
    /// Replaces the config-driven cluster locators.
    pub fn set_cluster_supplier(&self, supplier: Arc<dyn KubernetesClustersSupplier>) {
        *self.supplier.lock() = Some(supplier);
    }

    /// The supplier a module set.
    pub fn cluster_supplier(&self) -> Option<Arc<dyn KubernetesClustersSupplier>> {
        self.supplier.lock().clone()
    }
}

/// Auth strategies modules added, by the `authProvider` name clusters use.
#[derive(Debug, Default)]
pub struct KubernetesAuthStrategiesExtension {
    strategies: Mutex<BTreeMap<String, Arc<dyn AuthenticationStrategy>>>,
}

impl KubernetesAuthStrategiesExtension {
    /// Adds (or replaces, for a built-in name such as `serviceAccount`) the strategy of
    /// clusters whose `authProvider` is `key`.
    pub fn add_auth_strategy(
        &self,
        key: impl Into<String>,
        strategy: Arc<dyn AuthenticationStrategy>,
    ) {
        self.strategies.lock().insert(key.into(), strategy);
    }

    /// The strategies modules added.
    pub fn auth_strategies(&self) -> BTreeMap<String, Arc<dyn AuthenticationStrategy>> {
        self.strategies.lock().clone()
    }
}

/// Where modules of the `kubernetes` plugin replace the cluster locators (Backstage's
/// `kubernetesClusterSupplierExtensionPoint`).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backlot::backend::Feature;
/// use backlot::plugins::kubernetes::node::{
///     ClusterDetails, KUBERNETES_CLUSTER_SUPPLIER, KubernetesClustersSupplier, KubernetesNodeError,
/// };
/// use backlot::services::auth::Credentials;
///
/// #[derive(Debug)]
/// struct Fixed(Vec<ClusterDetails>);
///
/// #[async_trait]
/// impl KubernetesClustersSupplier for Fixed {
///     async fn get_clusters(&self, _: &Credentials) -> Result<Vec<ClusterDetails>, KubernetesNodeError> {
///         Ok(self.0.clone())
///     }
/// }
///
/// let module = Feature::module_fn("kubernetes", "fixed-clusters", |reg| {
///     reg.init(&KUBERNETES_CLUSTER_SUPPLIER, |ext| async move {
///         let cluster = ClusterDetails::new("dev", "http://127.0.0.1:8001")
///             .with_auth_provider("serviceAccount");
///         ext.get()?.set_cluster_supplier(Arc::new(Fixed(vec![cluster])));
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
pub static KUBERNETES_CLUSTER_SUPPLIER: ExtensionPoint<KubernetesClusterSupplierExtension> =
    ExtensionPoint::new("kubernetes.cluster-supplier");

/// Where modules of the `kubernetes` plugin add auth strategies (Backstage's
/// `kubernetesAuthStrategyExtensionPoint`).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backlot::backend::Feature;
/// use backlot::plugins::kubernetes::common::KubernetesRequestAuth;
/// use backlot::plugins::kubernetes::node::{
///     AuthenticationStrategy, ClusterDetails, KUBERNETES_AUTH_STRATEGIES, KubernetesCredential,
///     KubernetesNodeError,
/// };
///
/// #[derive(Debug)]
/// struct Anonymous;
///
/// #[async_trait]
/// impl AuthenticationStrategy for Anonymous {
///     async fn get_credential(
///         &self,
///         _: &ClusterDetails,
///         _: &KubernetesRequestAuth,
///     ) -> Result<KubernetesCredential, KubernetesNodeError> {
///         Ok(KubernetesCredential::Anonymous)
///     }
/// }
///
/// let module = Feature::module_fn("kubernetes", "anonymous-auth", |reg| {
///     reg.init(&KUBERNETES_AUTH_STRATEGIES, |ext| async move {
///         ext.get()?.add_auth_strategy("anonymous", Arc::new(Anonymous));
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
pub static KUBERNETES_AUTH_STRATEGIES: ExtensionPoint<KubernetesAuthStrategiesExtension> =
    ExtensionPoint::new("kubernetes.auth-strategies");
