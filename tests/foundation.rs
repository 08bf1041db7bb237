//! The service foundation over real gRPC: score, keep, read latest, page history, restart,
//! and every bad-input rule of the domain brief §3.

mod common;

use common::{bad_descriptions, bad_fields, customer, TestApp};
use cvo::api::pb;
use pb::score_customer_request::Subject;
use tonic::Code;

fn score_inline(c: pb::Customer) -> pb::ScoreCustomerRequest {
    pb::ScoreCustomerRequest {
        subject: Some(Subject::Customer(c)),
        ..Default::default()
    }
}

#[tokio::test]
async fn scores_the_seed_clv_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let mut c = customer("c-1");
    c.gross_profit = Some(100.0);
    c.acquisition_cost = Some(80.0);
    let mut req = score_inline(c);
    req.clv = Some(pb::ClvParameters {
        retention_rate: Some(1.0),
        discount_rate: Some(0.0),
        horizon_years: Some(10),
    });
    let v = app
        .client
        .score_customer(req)
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(v.clv, Some(920.0));
    assert_eq!(v.clv_method(), pb::ClvMethod::Formula);
    assert_eq!(v.customer_id, "c-1");
    assert_eq!(v.portfolio, "default");
    assert_eq!(v.annual_profit, Some(100.0));
    let parts = v.contributions.unwrap();
    assert!((parts.value + parts.behaviour + parts.satisfaction - v.score).abs() < 1e-9);
    assert!(v.policy_version.starts_with("sha256:"));
    assert!(v.tier.is_empty());
    // Not kept: nothing to read back.
    let err = app
        .client
        .get_customer_value(pb::GetCustomerValueRequest {
            portfolio: String::new(),
            customer_id: "c-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn policy_defaults_give_the_hand_computed_clv() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let policy = app
        .client
        .get_policy(pb::GetPolicyRequest {})
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    let w = policy.weights.unwrap();
    assert_eq!((w.value, w.behaviour, w.satisfaction), (0.5, 0.3, 0.2));
    let clv = policy.clv.unwrap();
    assert_eq!(
        (clv.retention_rate, clv.discount_rate, clv.horizon_years),
        (0.8, 0.1, 5)
    );
    let mut c = customer("c-2");
    c.gross_profit = Some(100.0);
    c.acquisition_cost = Some(80.0);
    let v = app
        .client
        .score_customer(score_inline(c))
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    let expected =
        100.0 / 1.1 + 80.0 / 1.21 + 64.0 / 1.331 + 51.2 / 1.4641 + 40.96 / 1.61051 - 80.0;
    assert!((v.clv.unwrap() - expected).abs() < 1e-9);
    assert_eq!(v.policy_version, policy.version);
    app.stop().await;
}

#[tokio::test]
async fn upsert_score_keep_read_page_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let mut c = customer("acme");
    c.revenue = Some(120_000.0);
    c.gross_profit = Some(30_000.0);
    c.cost_to_serve = Some(5_000.0);
    c.category_spend = Some(400_000.0);
    c.satisfaction = Some(8.0);
    c.loyalty = Some(9.0);
    c.first_purchase = "2021-03-01".into();
    c.last_purchase = "2026-10-01".into();
    c.purchase_count = Some(40);
    c.payment_behaviour = pb::PaymentBehaviour::Late as i32;
    let resp = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "emea".into(),
            customers: vec![c.clone(), customer("beta")],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((resp.inserted, resp.updated), (2, 0));
    let resp = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "emea".into(),
            customers: vec![c.clone(), customer("gamma")],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((resp.inserted, resp.updated), (1, 1));
    let stored = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "emea".into(),
            customer_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(stored.revenue, Some(120_000.0));
    assert_eq!(stored.last_purchase, "2026-10-01");

    // Keep five scores of the stored customer.
    let mut kept = Vec::new();
    for _ in 0..5 {
        let v = app
            .client
            .score_customer(pb::ScoreCustomerRequest {
                portfolio: "emea".into(),
                subject: Some(Subject::CustomerId("acme".into())),
                keep: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .value
            .unwrap();
        kept.push(v);
    }
    let v = &kept[0];
    assert_eq!(v.annual_profit, Some(25_000.0));
    assert_eq!(v.share_of_wallet, Some(0.3));
    assert_eq!(v.status(), pb::CustomerStatus::Loyal);
    assert!(v.flags.contains(&(pb::Flag::PoorCredit as i32)));
    assert_eq!(v.reasons[0], "poor credit: pays late");

    let latest = app
        .client
        .get_customer_value(pb::GetCustomerValueRequest {
            portfolio: "emea".into(),
            customer_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(&latest, kept.last().unwrap());

    // Every page size from 1 up gives the same history, newest first.
    let newest_first: Vec<_> = kept.iter().rev().cloned().collect();
    for size in 1..=6u32 {
        let mut all = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = app
                .client
                .list_customer_history(pb::ListCustomerHistoryRequest {
                    portfolio: "emea".into(),
                    customer_id: "acme".into(),
                    page_size: size,
                    page_token: token.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            assert!(page.values.len() <= size as usize);
            all.extend(page.values);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(all, newest_first, "page size {size}");
        assert_eq!(
            pages,
            5usize.div_ceil(size as usize).max(1),
            "page size {size}"
        );
    }

    // A token of another listing is refused.
    let page = app
        .client
        .list_customer_history(pb::ListCustomerHistoryRequest {
            portfolio: "emea".into(),
            customer_id: "acme".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let err = app
        .client
        .list_customer_history(pb::ListCustomerHistoryRequest {
            portfolio: "emea".into(),
            customer_id: "beta".into(),
            page_size: 1,
            page_token: page.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);

    // Everything acknowledged survives a restart.
    let mut app = app.restart().await;
    let latest_after = app
        .client
        .get_customer_value(pb::GetCustomerValueRequest {
            portfolio: "emea".into(),
            customer_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(&latest_after, kept.last().unwrap());
    let history = app
        .client
        .list_customer_history(pb::ListCustomerHistoryRequest {
            portfolio: "emea".into(),
            customer_id: "acme".into(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.values, newest_first);
    let stored_after = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "emea".into(),
            customer_id: "gamma".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored_after.customer.unwrap().id, "gamma");
    app.stop().await;
}

#[tokio::test]
async fn scoring_an_unknown_stored_customer_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let err = app
        .client
        .score_customer(pb::ScoreCustomerRequest {
            subject: Some(Subject::CustomerId("nobody".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .client
        .list_customer_history(pb::ListCustomerHistoryRequest {
            customer_id: "nobody".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(err.values.is_empty() && err.next_page_token.is_empty());
    app.stop().await;
}

/// One bad customer among good ones: the whole call fails, every bad field is named with the
/// customer, and nothing is stored.
async fn assert_rejected(app: &mut TestApp, bad: pb::Customer, expected_field: &str) {
    let good = customer("good-1");
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers: vec![good, bad.clone()],
        })
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    assert!(
        fields
            .iter()
            .any(|f| f == &format!("customers[1].{expected_field}")),
        "{expected_field}: {fields:?}"
    );
    if bad.id == "bad-1" {
        assert!(
            bad_descriptions(&err)
                .iter()
                .any(|d| d.contains("\"bad-1\"")),
            "customer not named: {:?}",
            bad_descriptions(&err)
        );
    }
    let err = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "p".into(),
            customer_id: "good-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "{expected_field}: something was stored"
    );
    // The same customer is refused by ScoreCustomer too.
    let err = app
        .client
        .score_customer(score_inline(bad))
        .await
        .unwrap_err();
    assert!(bad_fields(&err)
        .iter()
        .any(|f| f == &format!("customer.{expected_field}")));
}

#[tokio::test]
async fn every_bad_input_rule_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let base = || customer("bad-1");
    let cases: Vec<(pb::Customer, &str)> = vec![
        (
            pb::Customer {
                revenue: Some(f64::NAN),
                ..base()
            },
            "revenue",
        ),
        (
            pb::Customer {
                gross_profit: Some(f64::INFINITY),
                ..base()
            },
            "gross_profit",
        ),
        (
            pb::Customer {
                cost_to_serve: Some(f64::NEG_INFINITY),
                ..base()
            },
            "cost_to_serve",
        ),
        (
            pb::Customer {
                revenue: Some(1e300),
                ..base()
            },
            "revenue",
        ),
        (
            pb::Customer {
                acquisition_cost: Some(-1.0),
                ..base()
            },
            "acquisition_cost",
        ),
        (
            pb::Customer {
                satisfaction: Some(10.5),
                ..base()
            },
            "satisfaction",
        ),
        (
            pb::Customer {
                satisfaction: Some(-0.1),
                ..base()
            },
            "satisfaction",
        ),
        (
            pb::Customer {
                loyalty: Some(11.0),
                ..base()
            },
            "loyalty",
        ),
        (
            pb::Customer {
                first_purchase: "2999-01-01".into(),
                ..base()
            },
            "first_purchase",
        ),
        (
            pb::Customer {
                relationship_start: "2999-01-01".into(),
                ..base()
            },
            "relationship_start",
        ),
        (
            pb::Customer {
                first_purchase: "2024-05-01".into(),
                last_purchase: "2024-04-30".into(),
                ..base()
            },
            "last_purchase",
        ),
        (
            pb::Customer {
                last_purchase: "2024-02-30".into(),
                ..base()
            },
            "last_purchase",
        ),
        (
            pb::Customer {
                last_purchase: "yesterday".into(),
                ..base()
            },
            "last_purchase",
        ),
        (
            pb::Customer {
                purchase_count: Some(-1),
                ..base()
            },
            "purchase_count",
        ),
        (
            pb::Customer {
                referrals: Some(-3),
                ..base()
            },
            "referrals",
        ),
        (
            pb::Customer {
                open_complaints: Some(-1),
                ..base()
            },
            "open_complaints",
        ),
        (
            pb::Customer {
                contacts_90d: Some(-1),
                ..base()
            },
            "contacts_90d",
        ),
        (pb::Customer { kind: 42, ..base() }, "kind"),
        (
            pb::Customer {
                payment_behaviour: -1,
                ..base()
            },
            "payment_behaviour",
        ),
        (
            pb::Customer {
                frequency: Some(-1.0),
                ..base()
            },
            "frequency",
        ),
        (
            pb::Customer {
                recency: Some(10.0),
                t: Some(5.0),
                ..base()
            },
            "recency",
        ),
        (
            pb::Customer {
                frequency: Some(2.0),
                monetary_value: Some(0.0),
                ..base()
            },
            "monetary_value",
        ),
        (customer(""), "id"),
        (customer("has space"), "id"),
        (customer("tab\there"), "id"),
        (customer(&"x".repeat(129)), "id"),
        (customer(&"é".repeat(3)), "id"),
    ];
    for (bad, field) in cases {
        assert_rejected(&mut app, bad, field).await;
    }

    // Duplicate ids within one call.
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers: vec![customer("a"), customer("b"), customer("a")],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customers[2].id"]);
    // A bad portfolio name, and an empty call.
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "no spaces".into(),
            customers: vec![customer("a")],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["portfolio"]);
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customers"]);
    // Bad CLV overrides and a missing subject.
    let mut req = score_inline(customer("c"));
    req.clv = Some(pb::ClvParameters {
        retention_rate: Some(1.2),
        discount_rate: Some(f64::NAN),
        horizon_years: Some(0),
    });
    let err = app.client.score_customer(req).await.unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "clv.retention_rate",
            "clv.discount_rate",
            "clv.horizon_years"
        ]
    );
    let err = app
        .client
        .score_customer(pb::ScoreCustomerRequest::default())
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customer"]);
    // Keep with a bad customer stores no snapshot.
    let mut req = score_inline(pb::Customer {
        satisfaction: Some(12.0),
        ..customer("k")
    });
    req.keep = true;
    assert_eq!(
        app.client.score_customer(req).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let err = app
        .client
        .get_customer_value(pb::GetCustomerValueRequest {
            portfolio: String::new(),
            customer_id: "k".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn many_bad_customers_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let customers = vec![
        pb::Customer {
            satisfaction: Some(11.0),
            ..customer("x1")
        },
        customer("ok"),
        pb::Customer {
            revenue: Some(-5.0),
            loyalty: Some(f64::NAN),
            ..customer("x3")
        },
    ];
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers,
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        [
            "customers[0].satisfaction",
            "customers[2].revenue",
            "customers[2].loyalty"
        ]
    );
    let descriptions = bad_descriptions(&err);
    assert!(descriptions[0].contains("\"x1\""));
    assert!(descriptions[2].contains("\"x3\""));
    app.stop().await;
}

#[tokio::test]
async fn oversized_calls_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = cvo::config::Config::for_tests(dir.path());
    config.limits.max_message_bytes = 64 * 1024;
    config.limits.max_customers_per_call = 100;
    let mut app = TestApp::start_with(config).await;
    // Over the message size.
    let big = pb::Customer {
        segment: "s".repeat(100),
        ..customer("c")
    };
    let customers: Vec<_> = (0..1000)
        .map(|i| pb::Customer {
            id: format!("c{i}"),
            ..big.clone()
        })
        .collect();
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Under the size but over the count.
    let customers: Vec<_> = (0..101).map(|i| customer(&format!("c{i}"))).collect();
    let err = app
        .client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customers"]);
    // Still healthy afterwards.
    let v = app
        .client
        .score_customer(score_inline(customer("c")))
        .await
        .unwrap();
    assert!(v.into_inner().value.is_some());
    app.stop().await;
}
