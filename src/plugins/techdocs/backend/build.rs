//! The build coordinator: one build per entity at a time, shared by every request that
//! asks while it runs; source checks at most once per check interval. With build leases
//! (the plugin's database), one build per entity at a time across every replica sharing the
//! database: the others wait for it and serve what it published.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::TechdocsError;
use super::error::public_message;
use super::lease::BuildLeases;
use crate::plugins::catalog::common::Entity;
use crate::plugins::techdocs::common::DocsEntity;
use crate::plugins::techdocs::node::{
    GenerateOptions, Generator, GeneratorError, Preparer, PreparerError, Publisher,
};
use crate::services::logger::{LoggerService, LoggerServiceExt};

/// The progress of one build, as the sync endpoint streams it.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildState {
    pub(crate) logs: Vec<String>,
    /// `Ok(updated)` or the error message, once finished.
    pub(crate) done: Option<Result<bool, String>>,
}

#[derive(Debug)]
pub(crate) struct DocsBuilder {
    preparer: Arc<dyn Preparer>,
    generator: Arc<dyn Generator>,
    publisher: Arc<dyn Publisher>,
    logger: Arc<dyn LoggerService>,
    check_interval: Duration,
    leases: Option<BuildLeases>,
    inflight: Mutex<HashMap<String, watch::Receiver<BuildState>>>,
    last_check: Mutex<HashMap<String, Instant>>,
}

/// How often a replica waiting for another one's build looks at the lease.
const LEASE_POLL: Duration = Duration::from_millis(250);

fn finished(result: Result<bool, String>) -> watch::Receiver<BuildState> {
    let (_tx, rx) = watch::channel(BuildState {
        logs: Vec::new(),
        done: Some(result),
    });
    rx
}

impl DocsBuilder {
    pub(crate) fn new(
        preparer: Arc<dyn Preparer>,
        generator: Arc<dyn Generator>,
        publisher: Arc<dyn Publisher>,
        logger: Arc<dyn LoggerService>,
        check_interval: Duration,
        leases: Option<BuildLeases>,
    ) -> Self {
        Self {
            preparer,
            generator,
            publisher,
            logger,
            check_interval,
            leases,
            inflight: Mutex::new(HashMap::new()),
            last_check: Mutex::new(HashMap::new()),
        }
    }

    fn running(&self, key: &str) -> Option<watch::Receiver<BuildState>> {
        self.inflight
            .lock()
            .get(key)
            .filter(|rx| rx.borrow().done.is_none())
            .cloned()
    }

    /// Starts a build of `docs` or joins the one running; a source checked within the
    /// check interval is not checked again (`finish {updated: false}`) unless `force`.
    pub(crate) async fn sync(
        self: &Arc<Self>,
        docs: &DocsEntity,
        entity: &Entity,
        force: bool,
    ) -> watch::Receiver<BuildState> {
        let key = docs.key();
        if let Some(rx) = self.running(&key) {
            return rx;
        }
        let fresh = self
            .last_check
            .lock()
            .get(&key)
            .is_some_and(|at| at.elapsed() < self.check_interval);
        if fresh && !force && self.publisher.has_docs(docs).await.unwrap_or(false) {
            return finished(Ok(false));
        }
        let mut inflight = self.inflight.lock();
        if let Some(rx) = inflight.get(&key).filter(|rx| rx.borrow().done.is_none()) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(BuildState::default());
        inflight.insert(key.clone(), rx.clone());
        drop(inflight);
        let this = Arc::clone(self);
        let docs = docs.clone();
        let entity = entity.clone();
        tokio::spawn(async move {
            let result = match &this.leases {
                Some(leases) => this.build_leased(leases, &docs, &entity, &tx).await,
                None => this.build(&docs, &entity, &tx).await,
            };
            let outcome = match result {
                Ok(updated) => {
                    this.last_check.lock().insert(docs.key(), Instant::now());
                    Ok(updated)
                }
                Err(e) => {
                    let message = public_message(&e);
                    this.logger
                        .warn(&format!("techdocs build of '{docs}' failed: {message}"));
                    Err(message)
                }
            };
            tx.send_modify(|s| s.done = Some(outcome));
            this.inflight.lock().remove(&docs.key());
        });
        rx
    }

    /// Builds when needed and waits for the result.
    pub(crate) async fn ensure_built(
        self: &Arc<Self>,
        docs: &DocsEntity,
        entity: &Entity,
    ) -> Result<bool, TechdocsError> {
        // A build that finished was removed from `inflight` only after publishing, so
        // checking the running build first and the store second misses nothing.
        let mut rx = match self.running(&docs.key()) {
            Some(rx) => rx,
            None if self.publisher.has_docs(docs).await.unwrap_or(false) => return Ok(false),
            None => self.sync(docs, entity, true).await,
        };
        let state = rx
            .wait_for(|s| s.done.is_some())
            .await
            .map(|s| s.clone())
            .map_err(|_| TechdocsError::SharedBuild {
                message: format!("the build of '{docs}' was aborted"),
            })?;
        match state.done {
            Some(Ok(updated)) => Ok(updated),
            Some(Err(message)) => Err(TechdocsError::SharedBuild { message }),
            None => Ok(false),
        }
    }

    /// Builds under the site's lease, renewed while the build runs; while another replica
    /// holds it, waits for it to end and serves what that replica published (or builds, when
    /// it published nothing).
    async fn build_leased(
        &self,
        leases: &BuildLeases,
        docs: &DocsEntity,
        entity: &Entity,
        tx: &watch::Sender<BuildState>,
    ) -> Result<bool, TechdocsError> {
        let site = docs.key();
        let lease_error = |source| TechdocsError::Lease {
            entity: docs.to_string(),
            source,
        };
        let mut announced = false;
        loop {
            if leases.try_acquire(&site).await.map_err(lease_error)? {
                let renew_every = (leases.timeout() / 3).max(Duration::from_millis(100));
                let build = self.build(docs, entity, tx);
                tokio::pin!(build);
                let result = loop {
                    tokio::select! {
                        result = &mut build => break result,
                        () = tokio::time::sleep(renew_every) => {
                            if let Err(e) = leases.renew(&site).await {
                                self.logger.warn(&format!(
                                    "techdocs: renewing the build lease of '{docs}' failed: {e}"
                                ));
                            }
                        }
                    }
                };
                if let Err(e) = leases.release(&site).await {
                    self.logger.warn(&format!(
                        "techdocs: releasing the build lease of '{docs}' failed (it expires by itself): {e}"
                    ));
                }
                return result;
            }
            if !announced {
                let line = format!("Another replica is building docs for {docs}; waiting for it");
                self.logger.info(&line);
                tx.send_modify(|s| s.logs.push(line));
                announced = true;
            }
            while leases.is_held(&site).await.map_err(lease_error)? {
                tokio::time::sleep(LEASE_POLL).await;
            }
            if self.publisher.has_docs(docs).await.unwrap_or(false) {
                let line = format!("Docs for {docs} were published by another replica");
                tx.send_modify(|s| s.logs.push(line));
                return Ok(true);
            }
            // The other build failed or its replica died: build here.
        }
    }

    async fn build(
        &self,
        docs: &DocsEntity,
        entity: &Entity,
        tx: &watch::Sender<BuildState>,
    ) -> Result<bool, TechdocsError> {
        let log = |line: String| {
            self.logger.info(&line);
            tx.send_modify(|s| s.logs.push(line));
        };
        let old_etag = self
            .publisher
            .fetch_metadata(docs)
            .await
            .ok()
            .map(|m| m.etag);
        let tmp = tempfile::tempdir().map_err(|source| TechdocsError::Build {
            entity: docs.to_string(),
            message: "cannot create a temporary directory".to_owned(),
            source: GeneratorError::Io {
                path: std::env::temp_dir(),
                source,
            },
        })?;
        let src = tmp.path().join("source");
        let out = tmp.path().join("site");
        log(format!("Preparing docs for entity {docs}"));
        let prepared = match self
            .preparer
            .prepare(entity, &src, old_etag.as_deref())
            .await
        {
            Ok(p) => p,
            Err(PreparerError::NotModified { .. }) => {
                log(format!("Docs for {docs} are up to date"));
                return Ok(false);
            }
            Err(source) => {
                return Err(TechdocsError::Prepare {
                    entity: docs.to_string(),
                    source,
                });
            }
        };
        log(format!(
            "Prepared docs source from {} (etag {})",
            prepared.location.target, prepared.etag
        ));
        log("Generating documentation".to_owned());
        let generator = Arc::clone(&self.generator);
        let opts = GenerateOptions::new().etag(prepared.etag.clone());
        let (src2, out2) = (src.clone(), out.clone());
        let generated =
            tokio::task::spawn_blocking(move || generator.generate(&src2, &out2, &opts))
                .await
                .map_err(|e| TechdocsError::SharedBuild {
                    message: format!("the build of '{docs}' panicked: {e}"),
                })?;
        let report = generated.map_err(|source| TechdocsError::Build {
            entity: docs.to_string(),
            message: relative_message(&source, &src, &prepared.location.target),
            source,
        })?;
        for warning in &report.warnings {
            log(format!("warning: {warning}"));
        }
        log(format!("Generated {} pages", report.pages));
        log("Publishing documentation".to_owned());
        self.publisher
            .publish(docs, &out)
            .await
            .map_err(|source| TechdocsError::Publisher {
                entity: docs.to_string(),
                source,
            })?;
        log(format!("Published docs for {docs}"));
        Ok(true)
    }
}

/// The generator's message with the temporary source path replaced by the source location.
fn relative_message(err: &GeneratorError, src: &Path, target: &str) -> String {
    let text = err.to_string();
    let src = src.display().to_string();
    text.replace(&src, target.trim_end_matches('/'))
}
