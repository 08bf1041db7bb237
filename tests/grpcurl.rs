//! The service as a script sees it: the real grpcurl, with no .proto file, over reflection.

mod common;

use common::{grpcurl, TestApp};

#[tokio::test]
async fn grpcurl_lists_describes_scores_and_checks_health() {
    let Some(bin) = grpcurl::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let addr = app.addr;

    let list = grpcurl::call(&bin, addr, &["list"], None).await;
    assert!(list.ok, "{}", list.stderr);
    assert!(
        list.stdout
            .lines()
            .any(|l| l == "cvo.v1.CustomerValueService"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.lines().any(|l| l == "grpc.health.v1.Health"),
        "{}",
        list.stdout
    );

    let describe = grpcurl::call(
        &bin,
        addr,
        &["describe", "cvo.v1.CustomerValueService"],
        None,
    )
    .await;
    assert!(describe.ok, "{}", describe.stderr);
    for rpc in [
        "UpsertCustomers",
        "ScoreCustomer",
        "GetCustomerValue",
        "ListCustomerHistory",
        "GetPolicy",
    ] {
        assert!(
            describe.stdout.contains(&format!("rpc {rpc}")),
            "{rpc}: {}",
            describe.stdout
        );
    }

    let score = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/ScoreCustomer"],
        Some(
            r#"{"customer":{"id":"c-1","gross_profit":100,"acquisition_cost":80},
                "clv":{"retention_rate":1,"discount_rate":0,"horizon_years":10}}"#,
        ),
    )
    .await;
    assert!(score.ok, "{}", score.stderr);
    let json: serde_json::Value = serde_json::from_str(&score.stdout).unwrap();
    assert_eq!(json["value"]["clv"].as_f64(), Some(920.0));
    assert_eq!(json["value"]["clvMethod"], "CLV_METHOD_FORMULA");

    let health = grpcurl::call(&bin, addr, &["grpc.health.v1.Health/Check"], None).await;
    assert!(health.ok, "{}", health.stderr);
    let json: serde_json::Value = serde_json::from_str(&health.stdout).unwrap();
    assert_eq!(json["status"], "SERVING");

    // A rejected call prints the BadRequest, resolved through reflection.
    let bad = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/ScoreCustomer"],
        Some(r#"{"customer":{"id":"c-1","satisfaction":11}}"#),
    )
    .await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("InvalidArgument"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("google.rpc.BadRequest"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("customer.satisfaction"),
        "{}",
        bad.stderr
    );
    app.stop().await;
}
