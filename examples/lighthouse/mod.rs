//! Lighthouse: a service-backed plugin — a backend plugin with its own tables and a frontend
//! card reading it over HTTP — shared by `examples/lighthouse.rs` and
//! `tests/example_lighthouse.rs`.
//!
//! - The backend plugin `lighthouse` stores website audits in its database (`DATABASE`,
//!   migrations; SQLite or PostgreSQL) and serves them in the shape of Spotify's
//!   lighthouse-audit-service (`GET /v1/websites`, `GET /v1/websites/{url}`,
//!   `GET /v1/audits`, `GET /v1/audits/{id}`, `POST /v1/audits`, `DELETE /v1/audits/{id}`).
//!   An audit is a row from the moment it is asked for (`RUNNING`), then `COMPLETED` with its
//!   report and category scores, or `FAILED` with the reason. It runs the real `lighthouse`
//!   CLI driving headless Chromium as a child process ([`runner`]), with a timeout, a
//!   concurrency cap and a report size limit. A running audit's row is kept alive by a
//!   heartbeat; one whose process died (a killed backend) is marked failed at start and by the
//!   `fail-stale-audits` task; a backend shutting down stops its audits and records them
//!   failed. Optionally `reaudit-websites` audits every known website again.
//! - The frontend part ([`card`]): the `LIGHTHOUSE_API` utility API, an entity card for
//!   entities annotated `lighthouse.com/website-url` (latest scores, a sparkline per category,
//!   "Audit now"), and the page `/lighthouse` listing the audited websites.
//!
//! Config (`lighthouse:`):
//!
//! | key | default | |
//! |---|---|---|
//! | `command` | `lighthouse` | the CLI |
//! | `chromePath` | `/usr/bin/chromium` | passed as `CHROME_PATH` |
//! | `chromeFlags` | `[--headless=new, --no-sandbox, --disable-gpu, --disable-dev-shm-usage]` | `--chrome-flags` |
//! | `timeout` | `2m` | an audit's longest run; then its process group is killed |
//! | `maxConcurrentAudits` | `2` | audits running at once (others wait, `RUNNING`) |
//! | `maxPendingAudits` | `20` | audits waiting or running in this backend; more get 503 |
//! | `maxReportBytes` | `16777216` | the largest report read from the CLI |
//! | `maxBodyBytes` | `65536` | the largest `POST /v1/audits` body |
//! | `maxPageSize` | `100` | the largest `limit`, and the audits listed per website |
//! | `staleAfter` | `1m` | a running audit without heartbeat for this long is failed |
//! | `reauditEvery` | none | when set, every known website is audited again this often |

pub(crate) mod card;
pub(crate) mod routes;
pub(crate) mod runner;
pub(crate) mod site;
pub(crate) mod store;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use backlot::backend::{ApiError, BackendPlugin, BoxError, PluginRegistrar, Registration};
use backlot::services::config::parse_duration_value;
use backlot::services::core_services::{
    DATABASE, HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG, SCHEDULER,
};
use backlot::services::logger::{LoggerService, LoggerServiceExt};
use backlot::services::permissions::{
    PERMISSIONS, PERMISSIONS_REGISTRY, Permission, PermissionsService,
};
use backlot::services::scheduler::{PluginScheduler, TaskDefinition};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use runner::RunnerConfig;
use store::{AuditBody, Store};

/// The entity annotation naming the website an entity's card shows.
pub(crate) const WEBSITE_URL_ANNOTATION: &str = "lighthouse.com/website-url";
/// The task failing audits whose process is gone.
pub(crate) const STALE_TASK: &str = "fail-stale-audits";
/// The task auditing every known website again (with `reauditEvery`).
pub(crate) const REAUDIT_TASK: &str = "reaudit-websites";
/// What an audit whose process died records.
pub(crate) const INTERRUPTED: &str =
    "interrupted: the backend running this audit stopped before it finished";

/// Triggering (and deleting) audits.
pub(crate) static AUDIT_CREATE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("lighthouse.audit.create", Some("create")));

/// `lighthouse:` in the app config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LighthouseConfig {
    pub(crate) command: String,
    pub(crate) chrome_path: String,
    pub(crate) chrome_flags: Vec<String>,
    #[serde(deserialize_with = "config_duration")]
    pub(crate) timeout: Duration,
    pub(crate) max_concurrent_audits: usize,
    pub(crate) max_pending_audits: usize,
    pub(crate) max_report_bytes: usize,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_page_size: i64,
    #[serde(deserialize_with = "config_duration")]
    pub(crate) stale_after: Duration,
    #[serde(deserialize_with = "opt_config_duration")]
    pub(crate) reaudit_every: Option<Duration>,
}

impl Default for LighthouseConfig {
    fn default() -> Self {
        Self {
            command: "lighthouse".to_string(),
            chrome_path: "/usr/bin/chromium".to_string(),
            chrome_flags: [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ]
            .map(String::from)
            .to_vec(),
            timeout: Duration::from_secs(120),
            max_concurrent_audits: 2,
            max_pending_audits: 20,
            max_report_bytes: 16 * 1024 * 1024,
            max_body_bytes: 64 * 1024,
            max_page_size: 100,
            stale_after: Duration::from_secs(60),
            reaudit_every: None,
        }
    }
}

fn config_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = Value::deserialize(d)?;
    parse_duration_value(&value).map_err(serde::de::Error::custom)
}

fn opt_config_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    config_duration(d).map(Some)
}

impl LighthouseConfig {
    fn check(&self) -> Result<(), String> {
        let positive = [
            ("maxConcurrentAudits", self.max_concurrent_audits),
            ("maxPendingAudits", self.max_pending_audits),
            ("maxReportBytes", self.max_report_bytes),
            ("maxBodyBytes", self.max_body_bytes),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("lighthouse.{key} must be at least 1"));
        }
        if self.max_page_size < 1 {
            return Err("lighthouse.maxPageSize must be at least 1".into());
        }
        if self.timeout.is_zero() || self.stale_after.is_zero() {
            return Err("lighthouse.timeout and lighthouse.staleAfter must be positive".into());
        }
        if self.command.trim().is_empty() {
            return Err("lighthouse.command must name an executable".into());
        }
        Ok(())
    }

    fn runner(&self) -> RunnerConfig {
        RunnerConfig {
            command: self.command.clone(),
            chrome_path: self.chrome_path.clone(),
            chrome_flags: self.chrome_flags.clone(),
            timeout: self.timeout,
            max_report_bytes: self.max_report_bytes,
        }
    }
}

/// The backend plugin `lighthouse`.
#[derive(Debug)]
pub(crate) struct LighthousePlugin;

/// What the handlers and audit tasks share.
#[derive(Debug)]
pub(crate) struct Lighthouse {
    pub(crate) config: LighthouseConfig,
    pub(crate) store: Store,
    pub(crate) logger: Arc<dyn LoggerService>,
    pub(crate) permissions: Arc<dyn PermissionsService>,
    /// One permit per audit allowed to run at once.
    slots: Arc<Semaphore>,
    /// Audits of this backend waiting or running.
    pending: AtomicUsize,
    /// Fires at backend shutdown: running audits stop and are recorded failed.
    stop: CancellationToken,
}

/// Releases a pending place when an audit task ends, however it ends.
struct PendingGuard(Arc<Lighthouse>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lighthouse {
    /// Records a running audit of `url` and starts it; 503 when `maxPendingAudits` audits are
    /// waiting or running here.
    pub(crate) async fn trigger(
        self: &Arc<Self>,
        url: &str,
        options: &Value,
    ) -> Result<AuditBody, ApiError> {
        let max = self.config.max_pending_audits;
        if self.stop.is_cancelled() {
            return Err(ApiError::service_unavailable(
                "the backend is shutting down",
            ));
        }
        if self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(ApiError::service_unavailable(format!(
                "{max} audits are already waiting or running (lighthouse.maxPendingAudits); try again later"
            )));
        }
        let guard = PendingGuard(Arc::clone(self));
        let id = uuid::Uuid::new_v4().to_string();
        self.store.insert(&id, url, options, Utc::now()).await?;
        let audit = self
            .store
            .audit(&id)
            .await?
            .ok_or_else(|| ApiError::internal("the new audit vanished"))?;
        self.logger
            .info_with("audit requested", &[("auditId", &id), ("url", &url)]);
        let this = Arc::clone(self);
        let (url, options) = (url.to_string(), options.clone());
        tokio::spawn(async move {
            let _guard = guard;
            this.run(&id, &url, &options).await;
        });
        Ok(audit)
    }

    /// Waits for a slot, runs the CLI and records the outcome; the row's heartbeat is kept
    /// fresh meanwhile.
    async fn run(&self, id: &str, url: &str, options: &Value) {
        let work = async {
            let _slot = tokio::select! {
                slot = self.slots.acquire() => slot,
                () = self.stop.cancelled() => return Err(runner::AuditFailure::Stopped),
            };
            runner::run(&self.config.runner(), url, options, &self.stop).await
        };
        tokio::pin!(work);
        let mut beat = tokio::time::interval(self.config.stale_after / 4);
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = beat.tick() => {
                    if let Err(e) = self.store.heartbeat(id).await {
                        self.logger.warn_with("audit heartbeat failed", &[("auditId", &id), ("error", &e)]);
                    }
                }
            }
        };
        let recorded = match &outcome {
            Ok(report) => self.store.complete(id, &report.json, &report.scores).await,
            Err(failure) => self.store.fail(id, &failure.to_string()).await,
        };
        match (&outcome, recorded) {
            (_, Err(e)) => self.logger.error_with(
                "recording the audit failed",
                &[("auditId", &id), ("error", &e)],
            ),
            (Ok(_), Ok(())) => self
                .logger
                .info_with("audit completed", &[("auditId", &id), ("url", &url)]),
            (Err(f), Ok(())) => self.logger.warn_with(
                "audit failed",
                &[("auditId", &id), ("url", &url), ("reason", f)],
            ),
        }
    }

    /// Stops this backend's audits (their process groups) and waits, at most ten seconds,
    /// until each is recorded failed.
    pub(crate) async fn shut_down(&self) {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails running audits whose heartbeat stopped (their backend is gone).
    pub(crate) async fn fail_stale(&self) -> Result<u64, BoxError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(self.config.stale_after)?;
        let failed = self.store.fail_stale(cutoff, INTERRUPTED).await?;
        if failed > 0 {
            self.logger
                .warn_with("failed audits whose process is gone", &[("count", &failed)]);
        }
        Ok(failed)
    }
}

async fn schedule_tasks(
    scheduler: &PluginScheduler,
    state: &Arc<Lighthouse>,
) -> Result<(), BoxError> {
    let every = state.config.stale_after;
    let s = Arc::clone(state);
    let stale = TaskDefinition::builder(STALE_TASK)
        .every(every)
        .initial_delay(every)
        .timeout(Duration::from_secs(60))
        .run(move |_cancel| {
            let s = Arc::clone(&s);
            async move {
                s.fail_stale().await?;
                Ok(())
            }
        })
        .build()?;
    scheduler.schedule_task(stale).await?;
    if let Some(every) = state.config.reaudit_every {
        let s = Arc::clone(state);
        let reaudit = TaskDefinition::builder(REAUDIT_TASK)
            .every(every)
            .initial_delay(every)
            .timeout(Duration::from_secs(60))
            .run(move |_cancel| {
                let s = Arc::clone(&s);
                async move {
                    let urls = s.store.urls(s.config.max_pending_audits as i64).await?;
                    for url in urls {
                        // A full queue skips the rest until the next run.
                        if s.trigger(&url, &Value::Null).await.is_err() {
                            break;
                        }
                    }
                    Ok(())
                }
            })
            .build()?;
        scheduler.schedule_task(reaudit).await?;
    }
    Ok(())
}

impl BackendPlugin for LighthousePlugin {
    fn id(&self) -> &str {
        "lighthouse"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        reg.init(
            (
                &ROOT_CONFIG,
                &LOGGER,
                &HTTP_ROUTER,
                &DATABASE,
                &SCHEDULER,
                &PERMISSIONS,
                &PERMISSIONS_REGISTRY,
                &LIFECYCLE,
            ),
            |(config, logger, http, db, scheduler, permissions, registry, lifecycle)| async move {
                let config: LighthouseConfig = config.opt_get_as("lighthouse")?.unwrap_or_default();
                config.check()?;
                db.migrate(store::MIGRATIONS).await?;
                registry.add_permissions(std::slice::from_ref(&AUDIT_CREATE));
                let state = Arc::new(Lighthouse {
                    slots: Arc::new(Semaphore::new(config.max_concurrent_audits)),
                    pending: AtomicUsize::new(0),
                    stop: CancellationToken::new(),
                    store: Store { db },
                    logger,
                    permissions,
                    config,
                });
                // Audits left running by a backend that was stopped or killed.
                state.fail_stale().await?;
                schedule_tasks(&scheduler, &state).await?;
                let stopping = Arc::clone(&state);
                lifecycle.add_shutdown_hook(move || async move {
                    stopping.shut_down().await;
                    Ok(())
                });
                http.use_router(routes::router(state));
                Ok(())
            },
        )
    }
}
