//! A test kit for plugin authors (cargo feature `testing`).
//!
//! [`TestBackend`] starts features in process on a random loopback port with mock services:
//! config from a YAML string, a [`CapturingLogger`] whose records tests can assert on, and
//! in-memory everything else. [`TestClient`] calls it over HTTP.
//!
//! A test reaches a plugin's own services the way the plugin sees them:
//! [`TestBackend::database`], [`TestBackend::cache`], [`TestBackend::scheduler`] and
//! [`TestBackend::trigger_task`]. [`mock_services`] has mock instances and factories for unit
//! tests and for replacing a service.
//!
//! ```
//! use axum::{Router, routing::get};
//! use backlot::backend::Feature;
//! use backlot::services::core_services::HTTP_ROUTER;
//! use backlot::testing::TestBackend;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plugin = Feature::plugin_fn("todo", |reg| {
//!     reg.init(&HTTP_ROUTER, |http| async move {
//!         http.use_router(Router::new().route("/items", get(|| async { "[]" })));
//!         Ok(())
//!     })
//! });
//! let backend = TestBackend::builder().feature(plugin).start().await?;
//! let res = backend.client().get("/api/todo/items").await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text(), "[]");
//! backend.stop().await?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod client;
pub mod mock_services;
pub mod permissions;

pub use auth::{
    DEFAULT_MOCK_SERVICE, DEFAULT_MOCK_USER, MockAuthService, MockUserInfo, mock_auth_factory,
    mock_credentials, mock_user_info_factory,
};
pub use client::{TestClient, TestResponse};

use std::sync::Arc;

use crate::backend::{Backend, BackendError, BackendHandle, Feature, ServiceFactory};
use crate::services::auth::{AUTH, USER_INFO};
use crate::services::cache::CacheClient;
use crate::services::core_services::{CACHE, DATABASE, ROOT_LOGGER, SCHEDULER};
use crate::services::database::PluginDatabase;
use crate::services::logger::CapturingLogger;
use crate::services::scheduler::{PluginScheduler, SchedulerError};

pub use crate::services::logger::CapturingLogger as MockLogger;

/// Builds a [`TestBackend`].
#[derive(Debug, Default)]
pub struct TestBackendBuilder {
    features: Vec<Feature>,
    yaml: Vec<String>,
    logger: CapturingLogger,
    overridden: Vec<&'static str>,
}

/// A backend for tests; see the [module docs](self).
#[derive(Debug)]
pub struct TestBackend {
    handle: BackendHandle,
    logger: CapturingLogger,
    client: TestClient,
}

impl TestBackend {
    /// Starts a builder.
    pub fn builder() -> TestBackendBuilder {
        TestBackendBuilder::default()
    }
}

impl TestBackendBuilder {
    /// Adds a plugin, module or service factory. A root logger factory replaces the capturing
    /// one.
    #[must_use]
    pub fn feature(mut self, feature: Feature) -> Self {
        if let Feature::Service(f) = &feature {
            self.overridden.push(f.service_id());
        }
        self.features.push(feature);
        self
    }

    /// Runs the real `AUTH` and `USER_INFO` instead of the mocks: tokens must be real (from
    /// the `auth` plugin, another plugin, or `backend.auth.externalAccess`), as in production.
    /// The test client then sends no token until given one.
    #[must_use]
    pub fn real_auth(self) -> Self {
        self.service(crate::services::auth::default_auth_factory())
            .service(crate::services::auth::default_user_info_factory())
    }

    /// Adds a service factory (a mock) replacing the default.
    #[must_use]
    pub fn service(self, factory: ServiceFactory) -> Self {
        self.feature(Feature::Service(factory))
    }

    /// Adds config as YAML; later calls win.
    #[must_use]
    pub fn config_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.yaml.push(yaml.into());
        self
    }

    /// Starts the backend on `127.0.0.1` with a free port and waits until it is ready.
    pub async fn start(self) -> Result<TestBackend, BackendError> {
        let mut builder = Backend::builder()
            .listen_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .config_value(serde_json::json!({
                "backend": {
                    "database": { "client": "better-sqlite3", "connection": ":memory:" },
                    "cache": { "store": "memory" },
                }
            }));
        for yaml in self.yaml {
            builder = builder.config_yaml(yaml);
        }
        let overridden = |id: &str| self.overridden.contains(&id);
        let mock_auth = !overridden(AUTH.id());
        if !overridden(ROOT_LOGGER.id()) {
            builder = builder.add_service(mock_services::root_logger_factory(&self.logger));
        }
        if !overridden(AUTH.id()) {
            builder = builder.add_service(auth::mock_auth_factory());
        }
        if !overridden(USER_INFO.id()) {
            builder = builder.add_service(auth::mock_user_info_factory());
        }
        for feature in self.features {
            builder = builder.add_feature(feature);
        }
        let handle = builder.start().await?;
        let client = TestClient::new(handle.base_url());
        let client = if mock_auth {
            client.with_authorization(&format!(
                "Bearer {}",
                auth::mock_credentials::user_token(auth::DEFAULT_MOCK_USER)
            ))
        } else {
            client
        };
        Ok(TestBackend {
            handle,
            logger: self.logger,
            client,
        })
    }
}

impl TestBackend {
    /// The capturing logger every plugin logger writes to.
    pub fn logger(&self) -> &CapturingLogger {
        &self.logger
    }

    /// An HTTP client for this backend.
    pub fn client(&self) -> &TestClient {
        &self.client
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        self.handle.url(path)
    }

    /// The running backend.
    pub fn handle(&self) -> &BackendHandle {
        &self.handle
    }

    /// The database of plugin `plugin_id`: the one its `DATABASE` dependency got (a new one
    /// when the plugin never asked for it), to seed or inspect data.
    ///
    /// ```
    /// use backlot::backend::Feature;
    /// use backlot::services::core_services::DATABASE;
    /// use backlot::services::database::Sql;
    /// use backlot::testing::TestBackend;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let plugin = Feature::plugin_fn("todo", |reg| {
    ///     reg.init(&DATABASE, |db| async move {
    ///         Sql::new("CREATE TABLE todos (title ${text})").execute(&db).await?;
    ///         Ok(())
    ///     })
    /// });
    /// let backend = TestBackend::builder().feature(plugin).start().await?;
    /// let db = backend.database("todo").await?;
    /// Sql::new("INSERT INTO todos (title) VALUES (?)").bind("write tests").execute(&db).await?;
    /// let titles: Vec<(String,)> = Sql::new("SELECT title FROM todos").fetch_all(&db).await?;
    /// assert_eq!(titles, [("write tests".to_owned(),)]);
    /// backend.stop().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn database(&self, plugin_id: &str) -> Result<Arc<PluginDatabase>, BackendError> {
        self.handle.plugin_service(&DATABASE, plugin_id).await
    }

    /// The cache client of plugin `plugin_id`, the one its `CACHE` dependency got.
    pub async fn cache(&self, plugin_id: &str) -> Result<Arc<CacheClient>, BackendError> {
        self.handle.plugin_service(&CACHE, plugin_id).await
    }

    /// The scheduler of plugin `plugin_id`, the one its `SCHEDULER` dependency got: list its
    /// tasks, read their state, trigger them.
    pub async fn scheduler(&self, plugin_id: &str) -> Result<Arc<PluginScheduler>, BackendError> {
        self.handle.plugin_service(&SCHEDULER, plugin_id).await
    }

    /// Runs task `task_id` of plugin `plugin_id` as soon as possible, as the scheduler's
    /// trigger endpoint does. Fails with [`SchedulerError::NotFound`] for an unknown task and
    /// [`SchedulerError::Conflict`] while it runs.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// use backlot::backend::Feature;
    /// use backlot::services::core_services::SCHEDULER;
    /// use backlot::services::scheduler::TaskDefinition;
    /// use backlot::testing::TestBackend;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let counter = runs.clone();
    /// let plugin = Feature::plugin_fn("todo", move |reg| {
    ///     let counter = counter.clone();
    ///     reg.init(&SCHEDULER, move |scheduler| {
    ///         let counter = counter.clone();
    ///         async move {
    ///             let task = TaskDefinition::builder("purge-done")
    ///                 .manual()
    ///                 .timeout(Duration::from_secs(10))
    ///                 .run(move |_cancel| {
    ///                     let counter = counter.clone();
    ///                     async move {
    ///                         counter.fetch_add(1, Ordering::SeqCst);
    ///                         Ok(())
    ///                     }
    ///                 })
    ///                 .build()?;
    ///             scheduler.schedule_task(task).await?;
    ///             Ok(())
    ///         }
    ///     })
    /// });
    /// let backend = TestBackend::builder().feature(plugin).start().await?;
    /// backend.trigger_task("todo", "purge-done").await?;
    /// while runs.load(Ordering::SeqCst) == 0 {
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    /// }
    /// backend.stop().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger_task(&self, plugin_id: &str, task_id: &str) -> Result<(), BackendError> {
        let scheduler = self.scheduler(plugin_id).await?;
        scheduler
            .trigger_task(task_id)
            .await
            .map_err(|e: SchedulerError| BackendError::Service {
                service: SCHEDULER.id().to_owned(),
                source: Box::new(e),
            })
    }

    /// Stops the backend gracefully.
    pub async fn stop(self) -> Result<(), BackendError> {
        self.handle.stop().await
    }
}
