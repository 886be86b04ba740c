//! Entity providers: sources of unprocessed entities.

use std::sync::Arc;

use crate::backend::BoxError;
use crate::plugins::catalog::common::Entity;

/// An entity handed to the catalog by a provider or a processor, with the key of the source
/// it belongs to. Entities with the same reference but different location keys conflict: the
/// first one stays.
#[derive(Debug, Clone)]
pub struct DeferredEntity {
    /// The unprocessed entity.
    pub entity: Entity,
    /// The source key, e.g. `url:https://.../catalog-info.yaml`; `None` for no conflict check.
    pub location_key: Option<String>,
}

impl DeferredEntity {
    /// An entity with a location key.
    pub fn new(entity: Entity, location_key: Option<String>) -> Self {
        Self {
            entity,
            location_key,
        }
    }
}

/// A change a provider makes to its set of entities.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EntityProviderMutation {
    /// Replaces everything the provider provided before with `entities`; entities left out
    /// are removed.
    Full {
        /// The provider's complete set of entities.
        entities: Vec<DeferredEntity>,
    },
    /// Adds (or updates) and removes some entities.
    Delta {
        /// Entities added or updated.
        added: Vec<DeferredEntity>,
        /// Entities removed (matched by reference).
        removed: Vec<DeferredEntity>,
    },
}

/// Receives provider mutations; implemented by the catalog.
///
/// ```
/// use backlot::backend::BoxError;
/// use backlot::plugins::catalog::node::{EntityMutationSink, EntityProviderMutation};
///
/// /// Counts mutations, for testing a provider alone.
/// #[derive(Default)]
/// struct Count(std::sync::atomic::AtomicUsize);
///
/// #[async_trait::async_trait]
/// impl EntityMutationSink for Count {
///     async fn apply(&self, _provider: &str, _m: EntityProviderMutation) -> Result<(), BoxError> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait EntityMutationSink: Send + Sync + 'static {
    /// Applies `mutation` from the provider named `provider`.
    async fn apply(&self, provider: &str, mutation: EntityProviderMutation)
    -> Result<(), BoxError>;
}

/// A provider's connection to the catalog, handed to [`EntityProvider::connect`]; keep it to
/// send mutations whenever the provider's source changes.
#[derive(Clone)]
pub struct EntityProviderConnection {
    provider: String,
    sink: Arc<dyn EntityMutationSink>,
}

impl std::fmt::Debug for EntityProviderConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityProviderConnection")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl EntityProviderConnection {
    /// A connection for the provider named `provider`, sending to `sink`.
    pub fn new(provider: impl Into<String>, sink: Arc<dyn EntityMutationSink>) -> Self {
        Self {
            provider: provider.into(),
            sink,
        }
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Applies a mutation; the catalog processes the added entities before this returns.
    pub async fn apply_mutation(&self, mutation: EntityProviderMutation) -> Result<(), BoxError> {
        self.sink.apply(&self.provider, mutation).await
    }
}

/// A source of entities (Backstage's `EntityProvider`): an organization directory, a cloud
/// account, a list of repositories. It owns the entities it provides; they are processed like
/// any other and removed when the provider stops providing them.
///
/// ```
/// use backlot::backend::BoxError;
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::catalog::node::{
///     DeferredEntity, EntityProvider, EntityProviderConnection, EntityProviderMutation,
/// };
///
/// /// Provides one fixed group.
/// struct Teams;
///
/// #[async_trait::async_trait]
/// impl EntityProvider for Teams {
///     fn name(&self) -> &str {
///         "teams"
///     }
///     async fn connect(&self, connection: EntityProviderConnection) -> Result<(), BoxError> {
///         let team = Entity::new("backstage.io/v1alpha1", "Group", "team-a")
///             .with_spec(serde_json::json!({ "type": "team", "children": [] }));
///         connection
///             .apply_mutation(EntityProviderMutation::Full {
///                 entities: vec![DeferredEntity::new(team, Some("teams:directory".into()))],
///             })
///             .await
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait EntityProvider: Send + Sync + 'static {
    /// A name, unique among providers; it keys the provider's entities.
    fn name(&self) -> &str;

    /// Called once when the catalog starts. Providers usually apply a first full mutation and
    /// keep the connection for later ones.
    async fn connect(&self, connection: EntityProviderConnection) -> Result<(), BoxError>;
}
