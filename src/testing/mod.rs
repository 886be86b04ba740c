//! A test kit for plugin authors (cargo feature `testing`).
//!
//! [`TestBackend`] starts features in process on a random loopback port with mock services:
//! config from a YAML string, a [`CapturingLogger`] whose records tests can assert on, and
//! in-memory everything else. [`TestClient`] calls it over HTTP.
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

mod client;

pub use client::{TestClient, TestResponse};

use std::sync::Arc;

use crate::backend::{Backend, BackendError, BackendHandle, Feature, ServiceFactory};
use crate::services::core_services::ROOT_LOGGER;
use crate::services::logger::{CapturingLogger, LoggerService};

pub use crate::services::logger::CapturingLogger as MockLogger;

/// Builds a [`TestBackend`].
#[derive(Debug, Default)]
pub struct TestBackendBuilder {
    features: Vec<Feature>,
    yaml: Vec<String>,
    logger: CapturingLogger,
    logger_overridden: bool,
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
            if f.service_id() == ROOT_LOGGER.id() {
                self.logger_overridden = true;
            }
        }
        self.features.push(feature);
        self
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
        if !self.logger_overridden {
            let logger = self.logger.clone();
            builder = builder.add_service(ServiceFactory::root(&ROOT_LOGGER).build(move |()| {
                let logger = logger.clone();
                async move { Ok(Arc::new(logger) as Arc<dyn LoggerService>) }
            }));
        }
        for feature in self.features {
            builder = builder.add_feature(feature);
        }
        let handle = builder.start().await?;
        let client = TestClient::new(handle.base_url());
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

    /// Stops the backend gracefully.
    pub async fn stop(self) -> Result<(), BackendError> {
        self.handle.stop().await
    }
}
