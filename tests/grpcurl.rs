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

#[tokio::test]
async fn grpcurl_loads_and_tiers_a_small_portfolio() {
    let Some(bin) = grpcurl::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let addr = app.addr;
    // Twenty active customers with revenue 100, 200, ..., 2000.
    let customers: Vec<String> = (1..=20)
        .map(|i| {
            format!(
                r#"{{"id":"c{i:02}","revenue":{},"gross_profit":{},"purchase_count":3,"last_purchase":"2026-09-01"}}"#,
                i * 100,
                i * 25
            )
        })
        .collect();
    let body = format!(
        r#"{{"portfolio":"demo","customers":[{}]}}"#,
        customers.join(",")
    );
    let upsert = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/UpsertCustomers"],
        Some(&body),
    )
    .await;
    assert!(upsert.ok, "{}", upsert.stderr);
    let json: serde_json::Value = serde_json::from_str(&upsert.stdout).unwrap();
    assert_eq!(json["inserted"], "20");

    let tiered = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/TierPortfolio"],
        Some(r#"{"portfolio":"demo","scheme":"key_major","metric":"TIER_METRIC_REVENUE"}"#),
    )
    .await;
    assert!(tiered.ok, "{}", tiered.stderr);
    let json: serde_json::Value = serde_json::from_str(&tiered.stdout).unwrap();
    let run = &json["run"];
    assert_eq!(run["scheme"], "key_major");
    // 20 customers: key round(0.2) = 0, major round(4) = 4, ordinary round(10) - 4 = 6, small 10.
    let tiers: Vec<(String, u64)> = run["summary"]["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = t["customers"].as_str().map_or(0, |s| s.parse().unwrap());
            (t["tier"].as_str().unwrap().to_owned(), n)
        })
        .collect();
    assert_eq!(
        tiers,
        [
            ("key".into(), 0),
            ("major".into(), 4),
            ("ordinary".into(), 6),
            ("small".into(), 10)
        ]
    );
    // Top 20 % (4 customers: 1700..2000 = 7,400 of 21,000).
    let top20 = run["summary"]["top20RevenueShare"].as_f64().unwrap();
    assert!((top20 - 7_400.0 / 21_000.0).abs() < 1e-12, "{top20}");

    let run_id = run["runId"].as_str().unwrap();
    let listed = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/ListTierMembers"],
        Some(&format!(r#"{{"run_id":"{run_id}","tier":"major"}}"#)),
    )
    .await;
    assert!(listed.ok, "{}", listed.stderr);
    let json: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let ids: Vec<&str> = json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c20", "c19", "c18", "c17"]);

    let schemes = grpcurl::call(
        &bin,
        addr,
        &["cvo.v1.CustomerValueService/ListSchemes"],
        None,
    )
    .await;
    assert!(schemes.ok, "{}", schemes.stderr);
    assert!(
        schemes.stdout.contains("\"value_loyalty\""),
        "{}",
        schemes.stdout
    );
    app.stop().await;
}
