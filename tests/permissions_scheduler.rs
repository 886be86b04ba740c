#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The scheduler's task actions (`POST …/tasks/{id}/trigger|cancel`): a service may, a user
//! only when the permission policy allows `scheduler.task.trigger` / `scheduler.task.cancel`,
//! nobody never. Listing tasks needs a user or a service, like every plugin route.

use std::time::Duration;

use backlot::backend::Feature;
use backlot::services::core_services::SCHEDULER;
use backlot::services::scheduler::{TaskDefinition, TaskFrequency, TaskSchedule};
use backlot::testing::TestBackend;

fn plugin() -> Feature {
    Feature::plugin_fn("jobs", |reg| {
        reg.init(&SCHEDULER, |scheduler| async move {
            scheduler
                .schedule_task(TaskDefinition::new(
                    "nightly",
                    TaskSchedule::new(
                        TaskFrequency::Every(Duration::from_secs(3600)),
                        Duration::from_secs(60),
                    )
                    .with_initial_delay(Duration::from_secs(3600)),
                    |_cancel| async { Ok(()) },
                )?)
                .await?;
            Ok(())
        })
    })
}

const TRIGGER: &str = "/api/jobs/.backstage/scheduler/v1/tasks/nightly/trigger";

async fn start(policy_yaml: &str) -> TestBackend {
    TestBackend::builder()
        .feature(plugin())
        .feature(Feature::plugin(
            backlot::plugins::permission::backend::plugin(),
        ))
        .config_yaml(policy_yaml.to_string())
        .start()
        .await
        .expect("backend starts")
}

#[tokio::test]
async fn users_trigger_tasks_only_when_the_policy_allows_it() {
    let backend = start(
        "permission:\n  enabled: true\n  policy:\n    defaultDecision: deny\n    roles:\n      - name: ops\n        members: [group:default/ops]\n        permissions:\n          - name: scheduler.task.trigger\n            decision: allow\n",
    )
    .await;
    let client = backend.client();
    // Nobody: 401; any user may list the tasks.
    assert_eq!(
        client
            .unauthenticated()
            .post(TRIGGER)
            .await
            .unwrap()
            .status(),
        401
    );
    let list = client
        .get("/api/jobs/.backstage/scheduler/v1/tasks")
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "{}", list.text());
    // A user outside the role: 403 NotAllowedError.
    let res = client
        .as_user("user:default/jane")
        .post(TRIGGER)
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "{}", res.text());
    assert!(res.text().contains("NotAllowedError"), "{}", res.text());
    // A member of ops: triggered.
    let ops = client.as_user_owning("user:default/olga", &["group:default/ops"]);
    let res = ops.post(TRIGGER).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    // A service may always.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = client
        .as_service("plugin:catalog")
        .post(TRIGGER)
        .await
        .unwrap();
    assert!(matches!(res.status(), 200 | 409), "{}", res.text());
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn with_permissions_off_every_signed_in_user_may_trigger() {
    let backend = start("permission:\n  enabled: false\n").await;
    let res = backend
        .client()
        .as_user("user:default/jane")
        .post(TRIGGER)
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(
        backend
            .client()
            .unauthenticated()
            .post(TRIGGER)
            .await
            .unwrap()
            .status(),
        401
    );
    backend.stop().await.unwrap();
}
