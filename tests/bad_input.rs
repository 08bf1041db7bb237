//! The bad-input matrix: malformed requests across every RPC, each answered with its
//! documented code (and, for INVALID_ARGUMENT, a BadRequest naming the field); afterwards
//! nothing was stored and the server is still healthy.

mod common;

use common::raw::Raw;
use common::{customer, Client, TestApp};
use cvo::api::pb;
use tonic::{Code, Status};
use tonic_types::StatusExt;

// A test table: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Call {
    Upsert(pb::UpsertCustomersRequest),
    Load(Vec<pb::UpsertCustomersRequest>),
    Get(pb::GetCustomerRequest),
    Score(pb::ScoreCustomerRequest),
    Value(pb::GetCustomerValueRequest),
    History(pb::ListCustomerHistoryRequest),
    Tier(pb::TierPortfolioRequest),
    Run(pb::GetTierRunRequest),
    Runs(pb::ListTierRunsRequest),
    Members(pb::ListTierMembersRequest),
    Compare(pb::CompareTierRunsRequest),
    Fit(pb::FitValueModelRequest),
    Model(pb::GetValueModelRequest),
    Predict(pb::PredictCustomersRequest),
    Raw(&'static str, Vec<u8>),
}

async fn run(c: &mut Client, addr: std::net::SocketAddr, call: Call) -> Result<(), Status> {
    match call {
        Call::Upsert(r) => c.upsert_customers(r).await.map(drop),
        Call::Load(r) => c.load_customers(tokio_stream::iter(r)).await.map(drop),
        Call::Get(r) => c.get_customer(r).await.map(drop),
        Call::Score(r) => c.score_customer(r).await.map(drop),
        Call::Value(r) => c.get_customer_value(r).await.map(drop),
        Call::History(r) => c.list_customer_history(r).await.map(drop),
        Call::Tier(r) => c.tier_portfolio(r).await.map(drop),
        Call::Run(r) => c.get_tier_run(r).await.map(drop),
        Call::Runs(r) => c.list_tier_runs(r).await.map(drop),
        Call::Members(r) => c.list_tier_members(r).await.map(drop),
        Call::Compare(r) => c.compare_tier_runs(r).await.map(drop),
        Call::Fit(r) => c.fit_value_model(r).await.map(drop),
        Call::Model(r) => c.get_value_model(r).await.map(drop),
        Call::Predict(r) => c.predict_customers(r).await.map(drop),
        Call::Raw(method, bytes) => {
            let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let path =
                http::uri::PathAndQuery::try_from(format!("/cvo.v1.CustomerValueService/{method}"))
                    .unwrap();
            grpc.unary(tonic::Request::new(bytes), path, Raw)
                .await
                .map(drop)
        }
    }
}

fn upsert(customers: Vec<pb::Customer>) -> Call {
    Call::Upsert(pb::UpsertCustomersRequest {
        portfolio: "victim".into(),
        customers,
    })
}

fn with(f: impl FnOnce(&mut pb::Customer)) -> pb::Customer {
    let mut c = customer("bad-1");
    f(&mut c);
    c
}

fn score(c: pb::Customer) -> Call {
    Call::Score(pb::ScoreCustomerRequest {
        portfolio: "victim".into(),
        subject: Some(pb::score_customer_request::Subject::Customer(c)),
        keep: true,
        ..Default::default()
    })
}

/// `customers[0].id` = bytes that are not UTF-8, encoded by hand.
fn invalid_utf8_id() -> Vec<u8> {
    let mut customer = vec![0x0a, 0x03, b'a', 0xff, b'b'];
    let mut req = vec![0x0a];
    req.extend_from_slice(&[6]);
    req.extend_from_slice(b"victim");
    req.push(0x12);
    req.push(customer.len() as u8);
    req.append(&mut customer);
    req
}

#[tokio::test]
async fn every_malformed_request_gets_its_documented_answer() {
    use Code::{FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted};
    let dir = tempfile::tempdir().unwrap();
    let mut config = cvo::config::Config::for_tests(dir.path());
    config.limits.max_message_bytes = 1024 * 1024;
    let mut app = TestApp::start_with(config).await;
    let addr = app.addr;
    // A real run and model elsewhere, for page tokens and ids from other listings.
    app.client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: "other".into(),
            customers: (0..3).map(|i| customer(&format!("o{i}"))).collect(),
        })
        .await
        .unwrap();
    for _ in 0..2 {
        app.client
            .score_customer(pb::ScoreCustomerRequest {
                portfolio: "other".into(),
                subject: Some(pb::score_customer_request::Subject::CustomerId("o1".into())),
                keep: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let foreign_token = app
        .client
        .list_customer_history(pb::ListCustomerHistoryRequest {
            portfolio: "other".into(),
            customer_id: "o1".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!foreign_token.is_empty());
    let long_id = "x".repeat(10 * 1024);

    let cases: Vec<(&str, Call, Code, Option<&str>)> = vec![
        (
            "NaN revenue",
            upsert(vec![with(|c| c.revenue = Some(f64::NAN))]),
            InvalidArgument,
            Some("customers[0].revenue"),
        ),
        (
            "+inf profit",
            upsert(vec![with(|c| c.gross_profit = Some(f64::INFINITY))]),
            InvalidArgument,
            Some("customers[0].gross_profit"),
        ),
        (
            "-inf cost",
            upsert(vec![with(|c| c.cost_to_serve = Some(f64::NEG_INFINITY))]),
            InvalidArgument,
            Some("customers[0].cost_to_serve"),
        ),
        (
            "huge revenue",
            upsert(vec![with(|c| c.revenue = Some(1e300))]),
            InvalidArgument,
            Some("customers[0].revenue"),
        ),
        (
            "huge spend",
            upsert(vec![with(|c| c.category_spend = Some(f64::MAX))]),
            InvalidArgument,
            Some("customers[0].category_spend"),
        ),
        (
            "negative revenue",
            upsert(vec![with(|c| c.revenue = Some(-1.0))]),
            InvalidArgument,
            Some("customers[0].revenue"),
        ),
        (
            "negative purchase count",
            upsert(vec![with(|c| c.purchase_count = Some(-1))]),
            InvalidArgument,
            Some("customers[0].purchase_count"),
        ),
        (
            "negative referrals",
            upsert(vec![with(|c| c.referrals = Some(i64::MIN))]),
            InvalidArgument,
            Some("customers[0].referrals"),
        ),
        (
            "negative complaints",
            upsert(vec![with(|c| c.open_complaints = Some(-7))]),
            InvalidArgument,
            Some("customers[0].open_complaints"),
        ),
        (
            "satisfaction 11",
            upsert(vec![with(|c| c.satisfaction = Some(11.0))]),
            InvalidArgument,
            Some("customers[0].satisfaction"),
        ),
        (
            "loyalty NaN",
            upsert(vec![with(|c| c.loyalty = Some(f64::NAN))]),
            InvalidArgument,
            Some("customers[0].loyalty"),
        ),
        (
            "own growth -2",
            upsert(vec![with(|c| c.own_growth = Some(-2.0))]),
            InvalidArgument,
            Some("customers[0].own_growth"),
        ),
        (
            "empty id",
            upsert(vec![customer("")]),
            InvalidArgument,
            Some("customers[0].id"),
        ),
        (
            "10 KB id",
            upsert(vec![customer(&long_id)]),
            InvalidArgument,
            Some("customers[0].id"),
        ),
        (
            "control character in id",
            upsert(vec![customer("a\u{7}b")]),
            InvalidArgument,
            Some("customers[0].id"),
        ),
        (
            "NUL in id",
            upsert(vec![customer("a\0b")]),
            InvalidArgument,
            Some("customers[0].id"),
        ),
        (
            "non-ASCII id",
            upsert(vec![customer("客户-1")]),
            InvalidArgument,
            Some("customers[0].id"),
        ),
        (
            "invalid UTF-8 id",
            Call::Raw("UpsertCustomers", invalid_utf8_id()),
            InvalidArgument,
            Some("customers.id"),
        ),
        (
            "garbage bytes",
            Call::Raw("UpsertCustomers", vec![0xff, 0xff, 0xff, 0xff]),
            InvalidArgument,
            None,
        ),
        (
            "unknown kind",
            upsert(vec![with(|c| c.kind = 99)]),
            InvalidArgument,
            Some("customers[0].kind"),
        ),
        (
            "unknown payment behaviour",
            upsert(vec![with(|c| c.payment_behaviour = -3)]),
            InvalidArgument,
            Some("customers[0].payment_behaviour"),
        ),
        (
            "unknown funding status",
            upsert(vec![with(|c| c.funding_status = 6)]),
            InvalidArgument,
            Some("customers[0].funding_status"),
        ),
        (
            "date before 1900",
            upsert(vec![with(|c| c.first_purchase = "0001-01-01".into())]),
            InvalidArgument,
            Some("customers[0].first_purchase"),
        ),
        (
            "date in the future",
            upsert(vec![with(|c| c.last_purchase = "9999-12-31".into())]),
            InvalidArgument,
            Some("customers[0].last_purchase"),
        ),
        (
            "impossible date",
            upsert(vec![with(|c| c.relationship_start = "2023-02-29".into())]),
            InvalidArgument,
            Some("customers[0].relationship_start"),
        ),
        (
            "last before first",
            upsert(vec![with(|c| {
                c.first_purchase = "2024-05-02".into();
                c.last_purchase = "2024-05-01".into();
            })]),
            InvalidArgument,
            Some("customers[0].last_purchase"),
        ),
        (
            "recency > t",
            upsert(vec![with(|c| {
                c.recency = Some(5.0);
                c.t = Some(4.0);
            })]),
            InvalidArgument,
            Some("customers[0].recency"),
        ),
        (
            "negative frequency",
            upsert(vec![with(|c| c.frequency = Some(-1.0))]),
            InvalidArgument,
            Some("customers[0].frequency"),
        ),
        (
            "no spend with repeats",
            upsert(vec![with(|c| {
                c.frequency = Some(3.0);
                c.monetary_value = Some(0.0);
            })]),
            InvalidArgument,
            Some("customers[0].monetary_value"),
        ),
        (
            "duplicate ids",
            upsert(vec![customer("d"), customer("d")]),
            InvalidArgument,
            Some("customers[1].id"),
        ),
        (
            "no customers",
            upsert(vec![]),
            InvalidArgument,
            Some("customers"),
        ),
        (
            "bad portfolio",
            Call::Upsert(pb::UpsertCustomersRequest {
                portfolio: "has space".into(),
                customers: vec![customer("a")],
            }),
            InvalidArgument,
            Some("portfolio"),
        ),
        (
            "10 KB portfolio",
            Call::Get(pb::GetCustomerRequest {
                portfolio: long_id.clone(),
                customer_id: "a".into(),
            }),
            InvalidArgument,
            Some("portfolio"),
        ),
        (
            "message too large",
            upsert(
                (0..9000)
                    .map(|i| pb::Customer {
                        segment: "s".repeat(128),
                        region: "r".repeat(128),
                        ..customer(&format!("big{i}"))
                    })
                    .collect(),
            ),
            ResourceExhausted,
            None,
        ),
        (
            "empty stream",
            Call::Load(vec![]),
            InvalidArgument,
            Some("customers"),
        ),
        (
            "bad customer in a stream",
            Call::Load(vec![pb::UpsertCustomersRequest {
                portfolio: "victim".into(),
                customers: vec![customer("ok-1"), with(|c| c.loyalty = Some(-1.0))],
            }]),
            InvalidArgument,
            Some("customers[1].loyalty"),
        ),
        (
            "duplicate across chunks",
            Call::Load(vec![
                pb::UpsertCustomersRequest {
                    portfolio: "victim".into(),
                    customers: vec![customer("dup")],
                },
                pb::UpsertCustomersRequest {
                    portfolio: "victim".into(),
                    customers: vec![customer("dup")],
                },
            ]),
            InvalidArgument,
            Some("customers[1].id"),
        ),
        (
            "score without subject",
            Call::Score(pb::ScoreCustomerRequest {
                portfolio: "victim".into(),
                keep: true,
                ..Default::default()
            }),
            InvalidArgument,
            Some("customer"),
        ),
        (
            "score a bad customer, kept",
            score(with(|c| c.satisfaction = Some(-1.0))),
            InvalidArgument,
            Some("customer.satisfaction"),
        ),
        (
            "score with bad CLV overrides",
            Call::Score(pb::ScoreCustomerRequest {
                portfolio: "victim".into(),
                subject: Some(pb::score_customer_request::Subject::Customer(customer("c"))),
                clv: Some(pb::ClvParameters {
                    retention_rate: Some(f64::INFINITY),
                    discount_rate: None,
                    horizon_years: Some(1000),
                }),
                keep: true,
            }),
            InvalidArgument,
            Some("clv.retention_rate"),
        ),
        (
            "score an unknown stored customer",
            Call::Score(pb::ScoreCustomerRequest {
                portfolio: "victim".into(),
                subject: Some(pb::score_customer_request::Subject::CustomerId(
                    "nobody".into(),
                )),
                keep: true,
                ..Default::default()
            }),
            NotFound,
            None,
        ),
        (
            "get with a bad id",
            Call::Get(pb::GetCustomerRequest {
                portfolio: "victim".into(),
                customer_id: "\t".into(),
            }),
            InvalidArgument,
            Some("customer_id"),
        ),
        (
            "value of an unknown customer",
            Call::Value(pb::GetCustomerValueRequest {
                portfolio: "victim".into(),
                customer_id: "nobody".into(),
            }),
            NotFound,
            None,
        ),
        (
            "history with a foreign token",
            Call::History(pb::ListCustomerHistoryRequest {
                portfolio: "other".into(),
                customer_id: "o2".into(),
                page_size: 1,
                page_token: foreign_token.clone(),
            }),
            InvalidArgument,
            Some("page_token"),
        ),
        (
            "history with a garbage token",
            Call::History(pb::ListCustomerHistoryRequest {
                portfolio: "victim".into(),
                customer_id: "a".into(),
                page_size: 1,
                page_token: "not-a-token".into(),
            }),
            InvalidArgument,
            Some("page_token"),
        ),
        (
            "tier an empty portfolio",
            Call::Tier(pb::TierPortfolioRequest {
                portfolio: "victim".into(),
                scheme: "curry".into(),
                metric: 0,
            }),
            FailedPrecondition,
            None,
        ),
        (
            "tier with an unknown scheme",
            Call::Tier(pb::TierPortfolioRequest {
                portfolio: "victim".into(),
                scheme: "pyramid-of-giza".into(),
                metric: 0,
            }),
            InvalidArgument,
            Some("scheme"),
        ),
        (
            "tier with an unknown metric",
            Call::Tier(pb::TierPortfolioRequest {
                portfolio: "victim".into(),
                scheme: String::new(),
                metric: 42,
            }),
            InvalidArgument,
            Some("metric"),
        ),
        (
            "unknown run",
            Call::Run(pb::GetTierRunRequest {
                run_id: "r0000000000000000".into(),
            }),
            NotFound,
            None,
        ),
        (
            "empty run id",
            Call::Run(pb::GetTierRunRequest {
                run_id: String::new(),
            }),
            InvalidArgument,
            Some("run_id"),
        ),
        (
            "runs with a foreign token",
            Call::Runs(pb::ListTierRunsRequest {
                portfolio: "victim".into(),
                page_size: 1,
                page_token: foreign_token.clone(),
            }),
            InvalidArgument,
            Some("page_token"),
        ),
        (
            "members of an unknown run",
            Call::Members(pb::ListTierMembersRequest {
                run_id: "r-none".into(),
                ..Default::default()
            }),
            NotFound,
            None,
        ),
        (
            "compare unknown runs",
            Call::Compare(pb::CompareTierRunsRequest {
                from_run_id: "r-a".into(),
                to_run_id: "r-b".into(),
                ..Default::default()
            }),
            NotFound,
            None,
        ),
        (
            "fit an empty portfolio",
            Call::Fit(pb::FitValueModelRequest {
                portfolio: "victim".into(),
                time_unit: 0,
                penalizer: None,
            }),
            FailedPrecondition,
            None,
        ),
        (
            "fit with a NaN penalizer",
            Call::Fit(pb::FitValueModelRequest {
                portfolio: "victim".into(),
                time_unit: 0,
                penalizer: Some(f64::NAN),
            }),
            InvalidArgument,
            Some("penalizer"),
        ),
        (
            "model of an unknown id",
            Call::Model(pb::GetValueModelRequest {
                selector: Some(pb::get_value_model_request::Selector::ModelId(
                    "m-none".into(),
                )),
            }),
            NotFound,
            None,
        ),
        (
            "model with a bad portfolio",
            Call::Model(pb::GetValueModelRequest {
                selector: Some(pb::get_value_model_request::Selector::Portfolio(
                    "a b".into(),
                )),
            }),
            InvalidArgument,
            Some("portfolio"),
        ),
        (
            "predict without a model",
            Call::Predict(pb::PredictCustomersRequest {
                portfolio: "victim".into(),
                ..Default::default()
            }),
            FailedPrecondition,
            None,
        ),
        (
            "predict with a negative horizon",
            Call::Predict(pb::PredictCustomersRequest {
                portfolio: "victim".into(),
                horizon: Some(-1.0),
                ..Default::default()
            }),
            InvalidArgument,
            Some("horizon"),
        ),
    ];
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    for (name, call, code, field) in cases {
        let err = run(&mut app.client, addr, call)
            .await
            .expect_err(&format!("{name}: accepted"));
        assert_eq!(err.code(), code, "{name}: {err:?}");
        if code == InvalidArgument {
            let fields: Vec<String> = err
                .get_details_bad_request()
                .unwrap_or_else(|| panic!("{name}: no BadRequest in {err:?}"))
                .field_violations
                .into_iter()
                .map(|v| v.field)
                .collect();
            if let Some(field) = field {
                assert!(
                    fields.iter().any(|f| f == field),
                    "{name}: {fields:?} lacks {field}"
                );
            } else {
                assert!(!fields.is_empty(), "{name}: no field named");
            }
        }
    }

    // Nothing of any of it was stored.
    for id in ["bad-1", "ok-1", "dup", "d", "c", "a"] {
        let err = app
            .client
            .get_customer(pb::GetCustomerRequest {
                portfolio: "victim".into(),
                customer_id: id.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), NotFound, "{id} was stored");
    }
    let runs = app
        .client
        .list_tier_runs(pb::ListTierRunsRequest {
            portfolio: "victim".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(runs.runs.is_empty());
    let err = app
        .client
        .get_customer_value(pb::GetCustomerValueRequest {
            portfolio: "victim".into(),
            customer_id: "bad-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), NotFound);
    // And the server is healthy.
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, 1, "SERVING");
    let ok = pb::UpsertCustomersRequest {
        portfolio: "victim".into(),
        customers: vec![customer("fine")],
    };
    assert!(app.client.upsert_customers(ok).await.is_ok());
    app.stop().await;
}
