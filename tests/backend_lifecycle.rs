#[tokio::test]
async fn requests_held_during_a_failed_start_are_answered_at_once() {
    let addr = free_addr();
    let doomed = Feature::plugin_fn("doomed", |reg| {
        reg.init((), |()| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Err("gave up".into())
        })
    });
    let starting = tokio::spawn(
        quiet_builder()
            // Far longer than the test may take: held requests must not wait for it.
            .config_yaml("backend:\n  lifecycle:\n    startupRequestPauseTimeout: 60000\n")
            .add_feature(doomed)
            .listen_addr(addr)
            .start(),
    );
    let client = TestClient::new(&format!("http://{addr}"));
    assert_eq!(first_readiness(&client).await, 503);
    let held_plugin = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/api/doomed/x").await })
    };
    let held_root = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/somewhere").await })
    };
    let result = tokio::time::timeout(Duration::from_secs(20), starting)
        .await
        .expect("a failed start does not wait for held requests")
        .expect("join");
    assert!(
        matches!(result, Err(backlot::backend::BackendError::Startup(_))),
        "{result:?}"
    );
    for held in [held_plugin, held_root] {
        let res = held
            .await
            .expect("join")
            .expect("the held request is answered");
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().expect("error JSON");
        assert_eq!(body["error"]["name"], "ServiceUnavailableError");
    }
}
