//! Integration tests of the scheduler service: local timers, errors, timeouts, cron, manual
//! triggers, the HTTP router, and global tasks shared by two schedulers through SQLite and
//! (with `BACKLOT_TEST_POSTGRES_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backlot::services::scheduler::{
    LeaseStore, PluginScheduler, SchedulerError, TaskDefinition, TaskFrequency, TaskSchedule,
    TaskScope, WorkerState, router,
};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;
use tower::ServiceExt;

const POLL: Duration = Duration::from_millis(20);

fn scheduler(plugin: &str, store: LeaseStore) -> PluginScheduler {
    PluginScheduler::builder(plugin, store)
        .poll_interval(POLL)
        .startup_jitter(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(2))
        .build()
}

/// Polls `cond` every 5ms until it holds or `limit` passes.
async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Like [`wait_until`] for an async condition.
async fn eventually<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond().await
}

async fn is_running(s: &PluginScheduler, id: &str) -> bool {
    s.task_info(id)
        .await
        .map(|i| i.task_state.is_some_and(|t| t.is_running()))
        .unwrap_or(false)
}

fn counting_task(
    id: &str,
    frequency: TaskFrequency,
    scope: TaskScope,
    count: Arc<AtomicUsize>,
) -> TaskDefinition {
    TaskDefinition::builder(id)
        .frequency(frequency)
        .timeout(Duration::from_secs(5))
        .scope(scope)
        .run(move |_| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn local_task_runs_repeatedly() {
    let s = scheduler("p", LeaseStore::memory());
    let count = Arc::new(AtomicUsize::new(0));
    s.schedule_task(counting_task(
        "tick",
        TaskFrequency::Every(Duration::from_millis(30)),
        TaskScope::Local,
        count.clone(),
    ))
    .await
    .unwrap();
    assert!(wait_until(Duration::from_secs(3), || count.load(Ordering::SeqCst) >= 4).await);
    let tasks = s.get_scheduled_tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].scope, TaskScope::Local);
    assert_eq!(tasks[0].settings.cadence, "PT0.03S");
    s.shutdown().await;
    let after = count.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(count.load(Ordering::SeqCst), after, "runs after shutdown");
}

#[tokio::test]
async fn duplicate_ids_and_schedule_after_shutdown_are_rejected() {
    let s = scheduler("p", LeaseStore::memory());
    let count = Arc::new(AtomicUsize::new(0));
    let t = counting_task(
        "dup",
        TaskFrequency::Manual,
        TaskScope::Local,
        count.clone(),
    );
    s.schedule_task(t.clone()).await.unwrap();
    let err = s.schedule_task(t.clone()).await.unwrap_err();
    assert!(matches!(err, SchedulerError::DuplicateTask { .. }));
    s.shutdown().await;
    let other = counting_task("other", TaskFrequency::Manual, TaskScope::Local, count);
    let err = s.schedule_task(other).await.unwrap_err();
    assert!(matches!(err, SchedulerError::ShutDown { .. }));
}

fn flaky_task(id: &str, scope: TaskScope, count: Arc<AtomicUsize>) -> TaskDefinition {
    TaskDefinition::builder(id)
        .every(Duration::from_millis(30))
        .timeout(Duration::from_secs(5))
        .scope(scope)
        .run(move |_| {
            let count = count.clone();
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                match n % 3 {
                    0 => Err(format!("failure number {n}").into()),
                    1 => panic!("panic number {n}"),
                    _ => Ok(()),
                }
            }
        })
        .build()
        .unwrap()
}

async fn errors_and_panics_keep_schedule(scope: TaskScope) {
    let s = scheduler("p", LeaseStore::memory());
    let count = Arc::new(AtomicUsize::new(0));
    s.schedule_task(flaky_task("flaky", scope, count.clone()))
        .await
        .unwrap();
    // Runs 0 (error), 1 (panic), 2 (ok), 3 (error), 4 (panic), 5 ...
    assert!(
        wait_until(Duration::from_secs(5), || count.load(Ordering::SeqCst) >= 6).await,
        "only {} runs",
        count.load(Ordering::SeqCst)
    );
    // The last completed run's error is recorded; find one that failed.
    let mut saw_error = false;
    for _ in 0..200 {
        let info = s.task_info("flaky").await.unwrap();
        if let Some(state) = &info.task_state {
            if let Some(e) = state.last_run_error() {
                let v: Value = serde_json::from_str(e).unwrap();
                assert_eq!(v["name"], "Error");
                let msg = v["message"].as_str().unwrap();
                assert!(
                    msg.contains("failure number") || msg.contains("panic number"),
                    "{msg}"
                );
                saw_error = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert!(saw_error, "no lastRunError recorded");
    s.shutdown().await;
}

#[tokio::test]
async fn local_errors_and_panics_do_not_stop_the_schedule() {
    errors_and_panics_keep_schedule(TaskScope::Local).await;
}

#[tokio::test]
async fn global_errors_and_panics_do_not_stop_the_schedule() {
    errors_and_panics_keep_schedule(TaskScope::Global).await;
}

struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn timeout_cancels(scope: TaskScope) {
    let s = scheduler("p", LeaseStore::memory());
    let starts = Arc::new(AtomicUsize::new(0));
    let token_fired = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (st, tf, dr, fi) = (
        starts.clone(),
        token_fired.clone(),
        dropped.clone(),
        finished.clone(),
    );
    let task = TaskDefinition::builder("slow")
        .every(Duration::from_millis(40))
        .timeout(Duration::from_millis(60))
        .scope(scope)
        .run(move |token| {
            let (st, tf, dr, fi) = (st.clone(), tf.clone(), dr.clone(), fi.clone());
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                let _guard = DropFlag(dr);
                let watcher = token.clone();
                tokio::spawn(async move {
                    watcher.cancelled().await;
                    tf.fetch_add(1, Ordering::SeqCst);
                });
                // Ignores the token on purpose: the scheduler must drop this future.
                tokio::time::sleep(Duration::from_secs(30)).await;
                fi.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .build()
        .unwrap();
    s.schedule_task(task).await.unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || dropped.load(Ordering::SeqCst)
            >= 2
            && token_fired.load(Ordering::SeqCst) >= 2)
        .await
    );
    assert!(
        starts.load(Ordering::SeqCst) >= 2,
        "schedule stopped after a timeout"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    let info = s.task_info("slow").await.unwrap();
    let error = info.task_state.as_ref().and_then(|t| t.last_run_error());
    if let Some(e) = error {
        assert!(e.contains("timed out"), "{e}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn local_timeout_cancels_the_run() {
    timeout_cancels(TaskScope::Local).await;
}

#[tokio::test]
async fn global_timeout_cancels_the_run() {
    timeout_cancels(TaskScope::Global).await;
}

#[tokio::test]
async fn cron_expressions_parse_and_run() {
    assert!(TaskFrequency::cron("*/5 * * * *").is_ok());
    assert!(TaskFrequency::cron("0 9 * * MON-FRI").is_ok());
    assert!(TaskFrequency::cron("30 0 9 * * 1-5").is_ok());
    assert!(TaskFrequency::cron("0 0 * * 7").is_ok());
    for bad in [
        "",
        "* * * *",
        "60 * * * *",
        "* * * * 8",
        "* 25 * * *",
        "nonsense here x y z",
    ] {
        let err = TaskFrequency::cron(bad).unwrap_err();
        assert!(
            matches!(err, SchedulerError::InvalidSchedule { ref field, .. } if field == "frequency.cron"),
            "{bad}: {err}"
        );
    }
    let from_config = TaskSchedule::from_config_value(&serde_json::json!({
        "frequency": { "cron": "*/5 * * * *" },
        "timeout": "10m",
    }))
    .unwrap();
    assert_eq!(
        from_config.frequency,
        TaskFrequency::Cron("*/5 * * * *".into())
    );
    assert_eq!(from_config.settings().cadence, "*/5 * * * *");
    assert_eq!(from_config.settings().timeout_after_duration, "PT10M");

    // Every second, with the 6-field form; one local and one global task.
    let s = scheduler("p", LeaseStore::memory());
    let local = Arc::new(AtomicUsize::new(0));
    let global = Arc::new(AtomicUsize::new(0));
    let every_second = TaskFrequency::cron("* * * * * *").unwrap();
    s.schedule_task(counting_task(
        "cron-local",
        every_second.clone(),
        TaskScope::Local,
        local.clone(),
    ))
    .await
    .unwrap();
    s.schedule_task(counting_task(
        "cron-global",
        every_second,
        TaskScope::Global,
        global.clone(),
    ))
    .await
    .unwrap();
    assert!(
        wait_until(Duration::from_millis(3500), || local.load(Ordering::SeqCst)
            >= 2
            && global.load(Ordering::SeqCst) >= 2)
        .await
    );
    s.shutdown().await;
}

#[tokio::test]
async fn initial_delay_postpones_the_first_run() {
    let s = scheduler("p", LeaseStore::memory());
    let local = Arc::new(AtomicUsize::new(0));
    let global = Arc::new(AtomicUsize::new(0));
    for (id, scope, count) in [
        ("late-local", TaskScope::Local, local.clone()),
        ("late-global", TaskScope::Global, global.clone()),
    ] {
        let task = TaskDefinition::new(
            id,
            TaskSchedule::new(
                TaskFrequency::Every(Duration::from_millis(20)),
                Duration::from_secs(1),
            )
            .with_initial_delay(Duration::from_millis(300))
            .with_scope(scope),
            move |_| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        )
        .unwrap();
        s.schedule_task(task).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let info = s.task_info("late-local").await.unwrap();
    assert_eq!(info.worker_state, Some(WorkerState::InitialWait));
    tokio::time::sleep(Duration::from_millis(180)).await;
    assert_eq!(local.load(Ordering::SeqCst), 0);
    assert_eq!(global.load(Ordering::SeqCst), 0);
    assert!(
        wait_until(Duration::from_secs(3), || local.load(Ordering::SeqCst) >= 2
            && global.load(Ordering::SeqCst) >= 2)
        .await
    );
    s.shutdown().await;
}

/// A manual task that blocks until `gate` is notified, counting starts and ends.
fn gated_task(
    id: &str,
    scope: TaskScope,
    gate: Arc<Notify>,
    starts: Arc<AtomicUsize>,
    ends: Arc<AtomicUsize>,
) -> TaskDefinition {
    TaskDefinition::builder(id)
        .manual()
        .timeout(Duration::from_secs(10))
        .scope(scope)
        .run(move |token| {
            let (gate, starts, ends) = (gate.clone(), starts.clone(), ends.clone());
            async move {
                starts.fetch_add(1, Ordering::SeqCst);
                tokio::select! {
                    _ = gate.notified() => {}
                    _ = token.cancelled() => {}
                }
                ends.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .build()
        .unwrap()
}

async fn manual_trigger_and_conflict(scope: TaskScope) {
    let s = scheduler("p", LeaseStore::memory());
    let gate = Arc::new(Notify::new());
    let starts = Arc::new(AtomicUsize::new(0));
    let ends = Arc::new(AtomicUsize::new(0));
    s.schedule_task(gated_task(
        "manual",
        scope,
        gate.clone(),
        starts.clone(),
        ends.clone(),
    ))
    .await
    .unwrap();
    // Never runs by itself.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 0);
    assert!(matches!(
        s.cancel_task("manual").await.unwrap_err(),
        SchedulerError::Conflict { .. }
    ));

    s.trigger_task("manual").await.unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || starts.load(Ordering::SeqCst)
            == 1)
        .await
    );
    // Running: a second trigger conflicts.
    assert!(eventually(Duration::from_secs(2), || is_running(&s, "manual")).await);
    let err = s.trigger_task("manual").await.unwrap_err();
    assert!(matches!(err, SchedulerError::Conflict { .. }), "{err}");
    gate.notify_one();
    assert!(wait_until(Duration::from_secs(2), || ends.load(Ordering::SeqCst) == 1).await);
    // Idle again: the lease/worker is released before the next trigger is accepted.
    assert!(
        eventually(Duration::from_secs(2), || async {
            !is_running(&s, "manual").await
        })
        .await
    );
    s.trigger_task("manual").await.unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || starts.load(Ordering::SeqCst)
            == 2)
        .await
    );
    // Cancelling a running task fires its token.
    assert!(eventually(Duration::from_secs(2), || is_running(&s, "manual")).await);
    s.cancel_task("manual").await.unwrap();
    assert!(wait_until(Duration::from_secs(2), || ends.load(Ordering::SeqCst) == 2).await);
    // It stays manual: no further runs.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 2);

    assert!(matches!(
        s.trigger_task("unknown").await.unwrap_err(),
        SchedulerError::NotFound { .. }
    ));
    assert!(matches!(
        s.cancel_task("unknown").await.unwrap_err(),
        SchedulerError::NotFound { .. }
    ));
    s.shutdown().await;
}

#[tokio::test]
async fn local_manual_trigger_and_conflict() {
    manual_trigger_and_conflict(TaskScope::Local).await;
}

#[tokio::test]
async fn global_manual_trigger_and_conflict() {
    manual_trigger_and_conflict(TaskScope::Global).await;
}

async fn send(app: &axum::Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

#[tokio::test]
async fn router_lists_triggers_and_reports_errors() {
    let s = Arc::new(scheduler("catalog", LeaseStore::memory()));
    let gate = Arc::new(Notify::new());
    let starts = Arc::new(AtomicUsize::new(0));
    let ends = Arc::new(AtomicUsize::new(0));
    s.schedule_task(gated_task(
        "refresh",
        TaskScope::Global,
        gate.clone(),
        starts.clone(),
        ends.clone(),
    ))
    .await
    .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    s.schedule_task(
        TaskDefinition::builder("local-tick")
            .every(Duration::from_secs(600))
            .timeout(Duration::from_secs(60))
            .initial_delay(Duration::from_secs(600))
            .scope(TaskScope::Local)
            .run(move |_| {
                let ticks = ticks.clone();
                async move {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let app = router(s.clone());

    let (status, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks").await;
    assert_eq!(status, StatusCode::OK);
    let tasks = body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["taskId"], "refresh");
    assert_eq!(tasks[0]["pluginId"], "catalog");
    assert_eq!(tasks[0]["scope"], "global");
    assert_eq!(tasks[0]["settings"]["version"], 2);
    assert_eq!(tasks[0]["settings"]["cadence"], "manual");
    assert_eq!(tasks[0]["settings"]["timeoutAfterDuration"], "PT10S");
    assert_eq!(tasks[0]["taskState"]["status"], "idle");
    assert_eq!(tasks[1]["taskId"], "local-tick");
    assert_eq!(tasks[1]["scope"], "local");
    assert_eq!(tasks[1]["settings"]["cadence"], "PT10M");
    assert_eq!(tasks[1]["settings"]["initialDelayDuration"], "PT10M");
    assert_eq!(tasks[1]["taskState"]["status"], "idle");
    assert!(
        tasks[1]["taskState"]["startsAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(tasks[1]["workerState"]["status"], "initial-wait");

    let (status, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/local-tick").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["taskId"], "local-tick");

    let (status, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["name"], "NotFoundError");
    assert_eq!(body["response"]["statusCode"], 404);
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(
        body["request"]["url"],
        "/.backstage/scheduler/v1/tasks/nope"
    );

    let (status, body) = send(&app, "POST", "/.backstage/scheduler/v1/tasks/nope/trigger").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["name"], "NotFoundError");
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));

    let (status, _) = send(
        &app,
        "POST",
        "/.backstage/scheduler/v1/tasks/refresh/trigger",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        wait_until(Duration::from_secs(2), || starts.load(Ordering::SeqCst)
            == 1)
        .await
    );

    let (_, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/refresh").await;
    assert_eq!(body["taskState"]["status"], "running");
    assert!(body["taskState"]["startedAt"].is_string());
    assert!(body["taskState"]["timesOutAt"].is_string());
    assert_eq!(body["workerState"]["status"], "running");

    let (status, body) = send(
        &app,
        "POST",
        "/.backstage/scheduler/v1/tasks/refresh/trigger",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["name"], "ConflictError");
    assert_eq!(body["response"]["statusCode"], 409);
    assert_eq!(body["request"]["method"], "POST");

    let (status, _) = send(
        &app,
        "POST",
        "/.backstage/scheduler/v1/tasks/refresh/cancel",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(wait_until(Duration::from_secs(2), || ends.load(Ordering::SeqCst) == 1).await);
    assert!(
        eventually(Duration::from_secs(2), || async {
            let (_, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/refresh").await;
            body["taskState"]["status"] == "idle"
        })
        .await
    );
    let (_, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/refresh").await;
    assert!(
        body["taskState"]["lastRunError"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    assert!(body["taskState"]["lastRunEndedAt"].is_string());

    let (status, body) = send(
        &app,
        "POST",
        "/.backstage/scheduler/v1/tasks/refresh/cancel",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["name"], "ConflictError");

    // Local trigger works over HTTP too, and the nested path is reported in errors.
    let (status, _) = send(
        &app,
        "POST",
        "/.backstage/scheduler/v1/tasks/local-tick/trigger",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let nested = axum::Router::new().nest("/api/catalog", app.clone());
    let (status, body) = send(
        &nested,
        "POST",
        "/api/catalog/.backstage/scheduler/v1/tasks/x/cancel",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["request"]["url"],
        "/api/catalog/.backstage/scheduler/v1/tasks/x/cancel"
    );
    s.shutdown().await;
}

// ---- global tasks across two schedulers on one database ----

/// Records every run of a shared global task: who ran it, when, and whether two overlapped.
#[derive(Default)]
struct RunLog {
    in_flight: AtomicBool,
    overlaps: AtomicUsize,
    /// Who ran and when, by the wall clock: due times and leases are wall-clock times (the
    /// database's clock), and a host may slew its wall clock against its monotonic one (seen
    /// here: 5 ms a second), so `Instant`s would show runs early or leases short.
    runs: Mutex<Vec<(usize, SystemTime)>>,
}

impl RunLog {
    fn count(&self) -> usize {
        self.runs.lock().len()
    }

    fn by(&self, instance: usize) -> usize {
        self.runs
            .lock()
            .iter()
            .filter(|(i, _)| *i == instance)
            .count()
    }
}

fn shared_task(
    instance: usize,
    period: Duration,
    run_for: Duration,
    log: Arc<RunLog>,
) -> TaskDefinition {
    TaskDefinition::builder("shared")
        .every(period)
        .timeout(Duration::from_secs(5))
        .run(move |token| {
            let log = log.clone();
            async move {
                if log.in_flight.swap(true, Ordering::SeqCst) {
                    log.overlaps.fetch_add(1, Ordering::SeqCst);
                }
                log.runs.lock().push((instance, SystemTime::now()));
                tokio::select! {
                    _ = tokio::time::sleep(run_for) => {}
                    _ = token.cancelled() => {}
                }
                log.in_flight.store(false, Ordering::SeqCst);
                Ok(())
            }
        })
        .build()
        .unwrap()
}

/// Wall-clock time from `start` to `at` (zero when `at` is earlier).
fn since(start: SystemTime, at: SystemTime) -> Duration {
    at.duration_since(start).unwrap_or_default()
}

async fn once_per_period(a: LeaseStore, b: LeaseStore) {
    let period = Duration::from_millis(200);
    let log = Arc::new(RunLog::default());
    let sa = scheduler("shared-plugin", a);
    let sb = scheduler("shared-plugin", b);
    let start = SystemTime::now();
    sa.schedule_task(shared_task(
        0,
        period,
        Duration::from_millis(40),
        log.clone(),
    ))
    .await
    .unwrap();
    sb.schedule_task(shared_task(
        1,
        period,
        Duration::from_millis(40),
        log.clone(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sa.shutdown().await;
    sb.shutdown().await;
    let elapsed = start.elapsed().unwrap_or_default();
    let runs = log.runs.lock().clone();
    let max_runs = (elapsed.as_millis() / period.as_millis()) as usize + 1;
    assert!(runs.len() >= 4, "too few runs: {}", runs.len());
    assert!(
        runs.len() <= max_runs,
        "{} runs in {elapsed:?}: some period ran twice",
        runs.len()
    );
    assert_eq!(log.overlaps.load(Ordering::SeqCst), 0, "runs overlapped");
    // Each due time is one period after the previous one (or later, when a run ends late),
    // and the first is the registration, after `start`. So the k-th run starts no earlier
    // than k periods after `start`, however late any claim was; a second run inside one
    // period breaks that. The slack covers the database clock's millisecond rounding.
    let slack = Duration::from_millis(5);
    for (k, (_, at)) in runs.iter().enumerate() {
        let earliest = period * k as u32;
        assert!(
            since(start, *at) + slack >= earliest,
            "run {k} started {:?} after the start, before its period began at {earliest:?}",
            since(start, *at)
        );
    }
}

async fn takeover_after_shutdown(a: LeaseStore, b: LeaseStore) {
    let log = Arc::new(RunLog::default());
    let sa = scheduler("shared-plugin", a);
    let sb = scheduler("shared-plugin", b);
    // Long runs: instance 0 starts first and holds the lease.
    sa.schedule_task(shared_task(
        0,
        Duration::from_millis(100),
        Duration::from_millis(1500),
        log.clone(),
    ))
    .await
    .unwrap();
    assert!(wait_until(Duration::from_secs(2), || log.count() == 1).await);
    sb.schedule_task(shared_task(
        1,
        Duration::from_millis(100),
        Duration::from_millis(1500),
        log.clone(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The holder is mid-run; the other instance must not have run it.
    assert_eq!(log.by(1), 0);
    assert!(log.in_flight.load(Ordering::SeqCst));
    let stopped = SystemTime::now();
    sa.shutdown().await;
    assert!(
        wait_until(Duration::from_secs(3), || log.by(1) >= 1).await,
        "the other instance did not take over"
    );
    let runs = log.runs.lock().clone();
    assert!(
        runs.iter()
            .filter(|(i, _)| *i == 1)
            .all(|(_, at)| *at >= stopped)
    );
    assert!(
        runs.iter()
            .filter(|(i, _)| *i == 0)
            .all(|(_, at)| *at < stopped)
    );
    assert_eq!(log.overlaps.load(Ordering::SeqCst), 0);
    sb.shutdown().await;
}

async fn sqlite_pool(path: &std::path::Path) -> sqlx::SqlitePool {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5));
    sqlx::SqlitePool::connect_with(opts).await.unwrap()
}

#[tokio::test]
async fn global_task_runs_once_per_period_across_sqlite_instances() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.sqlite");
    once_per_period(
        LeaseStore::Sqlite(sqlite_pool(&file).await),
        LeaseStore::Sqlite(sqlite_pool(&file).await),
    )
    .await;
}

#[tokio::test]
async fn global_task_moves_to_the_other_sqlite_instance_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.sqlite");
    takeover_after_shutdown(
        LeaseStore::Sqlite(sqlite_pool(&file).await),
        LeaseStore::Sqlite(sqlite_pool(&file).await),
    )
    .await;
}

#[tokio::test]
async fn global_task_runs_once_per_period_across_memory_clones() {
    let store = LeaseStore::memory();
    once_per_period(store.clone(), store).await;
}

/// Cancelling on the instance that does not hold the run drops the lease in the table; the
/// holder notices on its next liveness check and stops the run.
#[tokio::test]
async fn cancel_from_another_instance_stops_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.sqlite");
    let schedulers = [
        scheduler("p", LeaseStore::Sqlite(sqlite_pool(&file).await)),
        scheduler("p", LeaseStore::Sqlite(sqlite_pool(&file).await)),
    ];
    let holder = Arc::new(Mutex::new(None::<usize>));
    let ends = Arc::new(AtomicUsize::new(0));
    for (i, s) in schedulers.iter().enumerate() {
        let (holder, ends) = (holder.clone(), ends.clone());
        s.schedule_task(
            TaskDefinition::builder("long")
                .manual()
                .timeout(Duration::from_secs(30))
                .run(move |token| {
                    let (holder, ends) = (holder.clone(), ends.clone());
                    async move {
                        *holder.lock() = Some(i);
                        tokio::select! {
                            _ = token.cancelled() => {}
                            _ = tokio::time::sleep(Duration::from_secs(20)) => {}
                        }
                        ends.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    }
    schedulers[0].trigger_task("long").await.unwrap();
    assert!(wait_until(Duration::from_secs(3), || holder.lock().is_some()).await);
    let running_on = holder.lock().unwrap();
    let other = &schedulers[1 - running_on];
    assert!(matches!(
        other.trigger_task("long").await.unwrap_err(),
        SchedulerError::Conflict { .. }
    ));
    let cancelled_at = Instant::now();
    other.cancel_task("long").await.unwrap();
    assert!(wait_until(Duration::from_secs(3), || ends.load(Ordering::SeqCst) == 1).await);
    assert!(cancelled_at.elapsed() < Duration::from_secs(3));
    let info = other.task_info("long").await.unwrap();
    let state = info.task_state.unwrap();
    assert!(!state.is_running());
    assert!(state.last_run_error().unwrap().contains("cancelled"));
    for s in &schedulers {
        s.shutdown().await;
    }
}

/// A crashed instance left a live lease in the table: nobody runs the task until the lease
/// expires, then a surviving instance takes it over.
#[tokio::test]
async fn dead_holders_lease_expires_and_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.sqlite");
    let pool = sqlite_pool(&file).await;
    let log = Arc::new(RunLog::default());
    let s = scheduler("p", LeaseStore::Sqlite(pool.clone()));
    // Register (creates the table and row), then stop at once so the row stays.
    let first = scheduler("p", LeaseStore::Sqlite(pool.clone()));
    first
        .schedule_task(
            TaskDefinition::builder("shared")
                .manual()
                .timeout(Duration::from_secs(5))
                .run(|_| async { Ok(()) })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    first.shutdown().await;
    // Simulate a crashed holder: a ticket expiring in 400ms, and a due run.
    sqlx::query(
        "UPDATE backlot_scheduler_tasks SET current_run_ticket = 'dead-instance',
           current_run_started_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER),
           current_run_expires_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) + 400,
           next_run_start_at = 0
         WHERE id = 'shared'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let started = SystemTime::now();
    s.schedule_task(shared_task(
        1,
        Duration::from_millis(50),
        Duration::from_millis(1),
        log.clone(),
    ))
    .await
    .unwrap();
    assert!(matches!(
        s.trigger_task("shared").await.unwrap_err(),
        SchedulerError::Conflict { .. }
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        log.count(),
        0,
        "ran while another instance held a live lease"
    );
    assert!(wait_until(Duration::from_secs(3), || log.count() >= 1).await);
    let first_run = log.runs.lock()[0].1;
    assert!(since(started, first_run) >= Duration::from_millis(350));
    s.shutdown().await;
}

// ---- PostgreSQL ----

#[cfg(feature = "postgres")]
/// Runs `body` with two pools on a fresh, uniquely named database; drops it afterwards.
async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(sqlx::PgPool, sqlx::PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures::FutureExt;
    use std::str::FromStr;
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("BACKLOT_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
    let name = format!("backlot_sched_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .database(&name);
    let a = sqlx::PgPool::connect_with(opts.clone()).await.unwrap();
    let b = sqlx::PgPool::connect_with(opts).await.unwrap();
    let result = std::panic::AssertUnwindSafe(body(a.clone(), b.clone()))
        .catch_unwind()
        .await;
    a.close().await;
    b.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn global_task_runs_once_per_period_across_postgres_instances() {
    with_postgres(|a, b| once_per_period(LeaseStore::Postgres(a), LeaseStore::Postgres(b))).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn global_task_moves_to_the_other_postgres_instance_on_shutdown() {
    with_postgres(|a, b| takeover_after_shutdown(LeaseStore::Postgres(a), LeaseStore::Postgres(b)))
        .await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_router_reports_global_state() {
    with_postgres(|a, _b| async move {
        let s = Arc::new(scheduler("catalog", LeaseStore::Postgres(a)));
        let count = Arc::new(AtomicUsize::new(0));
        s.schedule_task(counting_task(
            "pg-manual",
            TaskFrequency::Manual,
            TaskScope::Global,
            count.clone(),
        ))
        .await
        .unwrap();
        let app = router(s.clone());
        let (status, _) = send(
            &app,
            "POST",
            "/.backstage/scheduler/v1/tasks/pg-manual/trigger",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(wait_until(Duration::from_secs(3), || count.load(Ordering::SeqCst) == 1).await);
        assert!(
            eventually(Duration::from_secs(3), || async {
                let (_, body) = send(&app, "GET", "/.backstage/scheduler/v1/tasks/pg-manual").await;
                body["taskState"]["status"] == "idle"
                    && body["taskState"]["lastRunEndedAt"].is_string()
            })
            .await
        );
        let info = s.task_info("pg-manual").await.unwrap();
        assert!(matches!(
            info.task_state,
            Some(backlot::services::scheduler::TaskState::Idle {
                starts_at: None,
                ..
            })
        ));
        s.shutdown().await;
    })
    .await;
}

// ---- MySQL / MariaDB ----

#[cfg(feature = "mysql")]
/// Runs `body` with two pools on a fresh, uniquely named MySQL database; drops it afterwards.
async fn with_mysql<F, Fut>(body: F)
where
    F: FnOnce(sqlx::MySqlPool, sqlx::MySqlPool) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures::FutureExt;
    use std::str::FromStr;
    let Ok(url) = std::env::var("BACKLOT_TEST_MYSQL_URL") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL not set");
        return;
    };
    let admin = sqlx::MySqlPool::connect(&url)
        .await
        .expect("BACKLOT_TEST_MYSQL_URL is set but MySQL is unreachable");
    let name = format!("backlot_sched_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let opts = sqlx::mysql::MySqlConnectOptions::from_str(&url)
        .unwrap()
        .database(&name);
    let a = sqlx::MySqlPool::connect_with(opts.clone()).await.unwrap();
    let b = sqlx::MySqlPool::connect_with(opts).await.unwrap();
    let result = std::panic::AssertUnwindSafe(body(a.clone(), b.clone()))
        .catch_unwind()
        .await;
    a.close().await;
    b.close().await;
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn global_task_runs_once_per_period_across_mysql_instances() {
    with_mysql(|a, b| once_per_period(LeaseStore::Mysql(a), LeaseStore::Mysql(b))).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn global_task_moves_to_the_other_mysql_instance_on_shutdown() {
    with_mysql(|a, b| takeover_after_shutdown(LeaseStore::Mysql(a), LeaseStore::Mysql(b))).await;
}
