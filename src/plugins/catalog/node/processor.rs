//! Catalog processors: the steps every entity goes through.

use serde::{Deserialize, Serialize};

use crate::backend::BoxError;
use crate::plugins::catalog::common::{Entity, EntityRef};

/// Where entities are read from: `<type>:<target>`, e.g. `file:/srv/catalog-info.yaml` or
/// `url:https://example.com/catalog-info.yaml`.
///
/// ```
/// use backlot::plugins::catalog::node::LocationSpec;
/// let l = LocationSpec::new("file", "/srv/catalog-info.yaml");
/// assert_eq!(l.to_string(), "file:/srv/catalog-info.yaml");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocationSpec {
    /// The location type: `file`, `url`, or a type a processor reads.
    #[serde(rename = "type")]
    pub location_type: String,
    /// The target: a path, URL or other address.
    pub target: String,
}

impl LocationSpec {
    /// A location of `location_type` at `target`.
    pub fn new(location_type: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            location_type: location_type.into(),
            target: target.into(),
        }
    }
}

impl std::fmt::Display for LocationSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.location_type, self.target)
    }
}

/// A relation a processor emits: `source` has a relation of `relation_type` to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmittedRelation {
    /// The entity the relation starts at.
    pub source: EntityRef,
    /// The relation type, e.g. `ownedBy`.
    pub relation_type: String,
    /// The entity the relation points at.
    pub target: EntityRef,
}

/// One thing a processor emitted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProcessingOutput {
    /// An entity read from `location`, to be stored and processed as a child.
    Entity {
        /// The entity.
        entity: Box<Entity>,
        /// The location it was read from (it becomes `managed-by-location`).
        location: LocationSpec,
    },
    /// A location to read next (with [`CatalogProcessor::read_location`]).
    Location(LocationSpec),
    /// A relation.
    Relation(EmittedRelation),
    /// A problem with the entity or a location it points to; shown in the entity's
    /// `status.items`.
    Error {
        /// What went wrong.
        message: String,
        /// Where.
        location: LocationSpec,
    },
}

/// Collects what processors emit while an entity is processed.
///
/// ```
/// use backlot::plugins::catalog::node::{Emitter, LocationSpec, ProcessingOutput};
/// let mut emit = Emitter::default();
/// emit.error("file not found", LocationSpec::new("file", "/x.yaml"));
/// assert!(matches!(emit.outputs()[0], ProcessingOutput::Error { .. }));
/// ```
#[derive(Debug, Default)]
pub struct Emitter {
    outputs: Vec<ProcessingOutput>,
}

impl Emitter {
    /// Emits an entity read from `location`.
    pub fn entity(&mut self, entity: Entity, location: LocationSpec) {
        self.outputs.push(ProcessingOutput::Entity {
            entity: Box::new(entity),
            location,
        });
    }

    /// Emits a location to read.
    pub fn location(&mut self, location: LocationSpec) {
        self.outputs.push(ProcessingOutput::Location(location));
    }

    /// Emits a relation.
    pub fn relation(
        &mut self,
        source: EntityRef,
        relation_type: impl Into<String>,
        target: EntityRef,
    ) {
        self.outputs
            .push(ProcessingOutput::Relation(EmittedRelation {
                source,
                relation_type: relation_type.into(),
                target,
            }));
    }

    /// Emits an error.
    pub fn error(&mut self, message: impl Into<String>, location: LocationSpec) {
        self.outputs.push(ProcessingOutput::Error {
            message: message.into(),
            location,
        });
    }

    /// Everything emitted so far.
    pub fn outputs(&self) -> &[ProcessingOutput] {
        &self.outputs
    }

    /// Takes everything emitted so far.
    pub fn take(&mut self) -> Vec<ProcessingOutput> {
        std::mem::take(&mut self.outputs)
    }
}

/// Why a processor failed. The entity keeps its previous good version and the message is
/// shown in its `status.items`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessorError {
    /// The entity is not acceptable.
    #[error("invalid entity {entity}: {message}")]
    Invalid {
        /// The entity reference.
        entity: String,
        /// Why.
        message: String,
    },
    /// A location could not be found.
    #[error("location {location} not found")]
    NotFound {
        /// The location.
        location: String,
    },
    /// Anything else.
    #[error("processor {processor} failed: {message}")]
    Failed {
        /// The processor's name.
        processor: String,
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
}

/// The priority of a processor that does not choose one (Backstage's default, 20).
pub const DEFAULT_PROCESSOR_PRIORITY: i32 = 20;

/// A step of catalog processing (Backstage's `CatalogProcessor`). Every method has a default
/// that does nothing, so a processor implements only the steps it needs.
///
/// Per entity, the stages run in this order, each over all processors in order: `pre_process`,
/// `validate` (some processor must recognize the entity's kind), the built-in steps (reading
/// Location targets, relations from spec fields), `post_process`. `read_location` is asked
/// to read each location a Location entity points to; the first processor that returns
/// `true` has handled it.
///
/// # Order
///
/// Processors are sorted by [`priority`](CatalogProcessor::priority), lowest first (default
/// [`DEFAULT_PROCESSOR_PRIORITY`], 20, as in Backstage's `getPriority()`); processors with the
/// same priority keep the order they were added in. The built-in reader of `file` and `url`
/// locations has priority 20 and comes before the processors modules add, so a module that
/// reads those location types itself returns a priority below 20.
///
/// ```
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::catalog::node::{
///     CatalogProcessor, DEFAULT_PROCESSOR_PRIORITY, Emitter, LocationSpec, ProcessorError,
/// };
///
/// /// Accepts entities of kind `Widget`.
/// struct Widgets;
///
/// #[async_trait::async_trait]
/// impl CatalogProcessor for Widgets {
///     fn name(&self) -> &str {
///         "widgets"
///     }
///     async fn validate(&self, entity: &Entity, _location: &LocationSpec) -> Result<bool, ProcessorError> {
///         Ok(entity.kind == "Widget")
///     }
/// }
///
/// /// Fills in a default lifecycle before the other processors see the entity.
/// struct DefaultLifecycle;
///
/// #[async_trait::async_trait]
/// impl CatalogProcessor for DefaultLifecycle {
///     fn name(&self) -> &str {
///         "default-lifecycle"
///     }
///     fn priority(&self) -> i32 {
///         10 // runs before processors with the default priority
///     }
///     async fn pre_process(
///         &self,
///         mut entity: Entity,
///         _location: &LocationSpec,
///         _emit: &mut Emitter,
///     ) -> Result<Entity, ProcessorError> {
///         if let Some(spec) = entity.spec.as_mut() {
///             spec.entry("lifecycle").or_insert_with(|| "experimental".into());
///         }
///         Ok(entity)
///     }
/// }
///
/// assert_eq!(Widgets.priority(), DEFAULT_PROCESSOR_PRIORITY);
/// assert!(DefaultLifecycle.priority() < Widgets.priority());
/// ```
#[async_trait::async_trait]
pub trait CatalogProcessor: Send + Sync + 'static {
    /// A name, unique among processors, used in logs and errors.
    fn name(&self) -> &str;

    /// Where this processor runs among the others: lower runs first (Backstage's
    /// `getPriority()`). The default is [`DEFAULT_PROCESSOR_PRIORITY`] (20); processors with
    /// equal priorities run in the order they were added.
    fn priority(&self) -> i32 {
        DEFAULT_PROCESSOR_PRIORITY
    }

    /// Reads a location, emitting entities (and errors); returns `false` when this processor
    /// does not handle the location's type. `optional` locations may be absent silently.
    async fn read_location(
        &self,
        _location: &LocationSpec,
        _optional: bool,
        _emit: &mut Emitter,
    ) -> Result<bool, ProcessorError> {
        Ok(false)
    }

    /// Changes the entity before validation.
    async fn pre_process(
        &self,
        entity: Entity,
        _location: &LocationSpec,
        _emit: &mut Emitter,
    ) -> Result<Entity, ProcessorError> {
        Ok(entity)
    }

    /// Checks the entity; returns `true` when this processor knows the entity's kind and
    /// found it valid, `false` when it does not know the kind.
    async fn validate(
        &self,
        _entity: &Entity,
        _location: &LocationSpec,
    ) -> Result<bool, ProcessorError> {
        Ok(false)
    }

    /// Changes the entity and emits relations after validation.
    async fn post_process(
        &self,
        entity: Entity,
        _location: &LocationSpec,
        _emit: &mut Emitter,
    ) -> Result<Entity, ProcessorError> {
        Ok(entity)
    }
}
