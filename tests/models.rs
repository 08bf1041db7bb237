//! BG/NBD and Gamma-Gamma over real gRPC, on the CDNOW sample: fit, predict, score with the
//! model, restart, and the refusals.

mod common;

use common::{customer, grpcurl, Client, TestApp};
use cvo::api::pb;
use tonic::Code;

/// The CDNOW calibration summary as customers `c{ID}` (time in weeks).
pub fn cdnow_customers() -> Vec<pb::Customer> {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cdnow_summary.csv"
    ));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| f[i].trim().parse::<f64>().unwrap();
            pb::Customer {
                frequency: Some(num(1)),
                recency: Some(num(2)),
                t: Some(num(3)),
                monetary_value: Some(num(4)),
                ..customer(&format!("c{}", f[0].trim()))
            }
        })
        .collect()
}

async fn load(client: &mut Client, portfolio: &str, customers: Vec<pb::Customer>) {
    let chunks: Vec<_> = customers
        .chunks(1000)
        .map(|c| pb::UpsertCustomersRequest {
            portfolio: portfolio.into(),
            customers: c.to_vec(),
        })
        .collect();
    client
        .load_customers(tokio_stream::iter(chunks))
        .await
        .unwrap();
}

async fn fit(client: &mut Client, portfolio: &str) -> Result<pb::ValueModel, tonic::Status> {
    client
        .fit_value_model(pb::FitValueModelRequest {
            portfolio: portfolio.into(),
            time_unit: pb::TimeUnit::Week as i32,
            penalizer: None,
        })
        .await
        .map(|r| r.into_inner().model.unwrap())
}

fn rel(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

#[tokio::test]
async fn fit_predict_score_and_restart_on_cdnow() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    load(&mut app.client, "cdnow", cdnow_customers()).await;
    let model = fit(&mut app.client, "cdnow").await.unwrap();
    assert_eq!(model.customers, 2357);
    assert_eq!(model.repeat_customers, 946);
    assert!(model.converged);
    assert_eq!(model.purchase_model(), pb::PurchaseModel::BgNbd);
    assert_eq!(model.spend_model(), pb::SpendModel::GammaGamma);
    let bg = model.bgnbd.unwrap();
    for (got, want) in [
        (bg.r, 0.2426),
        (bg.alpha, 4.4135),
        (bg.a, 0.7929),
        (bg.b, 2.4258),
    ] {
        assert!(rel(got, want) < 1e-3, "{got} vs {want}");
    }
    let gg = model.gamma_gamma.unwrap();
    for (got, want) in [(gg.p, 6.2488), (gg.q, 3.7446), (gg.v, 15.4477)] {
        assert!(rel(got, want) < 1e-3, "{got} vs {want}");
    }

    // Customer 1: x = 2, t_x = 30.43, T = 38.86, zbar = 22.35.
    let pred = app
        .client
        .predict_customers(pb::PredictCustomersRequest {
            portfolio: "cdnow".into(),
            customer_ids: vec!["c1".into(), "c3".into()],
            horizon: Some(39.0),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pred.model_id, model.model_id);
    let c1 = &pred.predictions[0];
    assert_eq!(c1.customer_id, "c1");
    // P(alive) in closed form, from the fitted parameters.
    let (x, t_x, t) = (2.0f64, 30.43, 38.86);
    let want =
        1.0 / (1.0 + bg.a / (bg.b + x - 1.0) * ((bg.alpha + t) / (bg.alpha + t_x)).powf(bg.r + x));
    assert!(
        (c1.p_alive - want).abs() < 1e-12,
        "{} vs {want}",
        c1.p_alive
    );
    // Expected average value: the Gamma-Gamma weighted mean.
    let w = gg.p * x / (gg.p * x + gg.q - 1.0);
    let want_value = (1.0 - w) * gg.p * gg.v / (gg.q - 1.0) + w * 22.35;
    assert!((c1.expected_average_value - want_value).abs() < 1e-9);
    assert!(c1.expected_purchases > 0.0 && c1.expected_purchases < 2.0);
    assert!(c1.model_clv > 0.0);
    // Customer 3 never bought again: alive by the model's definition.
    assert_eq!(pred.predictions[1].p_alive, 1.0);

    // All customers, page by page.
    let mut all = 0;
    let mut token = String::new();
    loop {
        let page = app
            .client
            .predict_customers(pb::PredictCustomersRequest {
                portfolio: "cdnow".into(),
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        all += page.predictions.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(all, 2357);

    // Scores now use the model's CLV.
    let v = app
        .client
        .score_customer(pb::ScoreCustomerRequest {
            portfolio: "cdnow".into(),
            subject: Some(pb::score_customer_request::Subject::CustomerId("c1".into())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(v.clv_method(), pb::ClvMethod::Model);
    assert_eq!(v.model_id, model.model_id);
    assert!((v.p_alive.unwrap() - c1.p_alive).abs() < 1e-12);
    assert!(v.clv.unwrap() > 0.0);
    // A customer the model thinks is gone is flagged at risk.
    let gone = pb::Customer {
        frequency: Some(10.0),
        recency: Some(2.0),
        t: Some(38.0),
        monetary_value: Some(20.0),
        ..customer("gone")
    };
    let v = app
        .client
        .score_customer(pb::ScoreCustomerRequest {
            portfolio: "cdnow".into(),
            subject: Some(pb::score_customer_request::Subject::Customer(gone)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert!(v.p_alive.unwrap() < 0.3);
    assert!(v.flags.contains(&(pb::Flag::LowPAlive as i32)));
    assert!(
        v.reasons.iter().any(|r| r.contains("probability")),
        "{:?}",
        v.reasons
    );

    // The model survives a restart.
    let mut app = app.restart().await;
    let back = app
        .client
        .get_value_model(pb::GetValueModelRequest {
            selector: Some(pb::get_value_model_request::Selector::Portfolio(
                "cdnow".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(back, model);
    let by_id = app
        .client
        .get_value_model(pb::GetValueModelRequest {
            selector: Some(pb::get_value_model_request::Selector::ModelId(
                model.model_id.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(by_id, model);
    app.stop().await;
}

#[tokio::test]
async fn refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    // Too few customers.
    load(
        &mut app.client,
        "tiny",
        cdnow_customers().into_iter().take(5).collect(),
    )
    .await;
    let err = fit(&mut app.client, "tiny").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("too few customers"),
        "{}",
        err.message()
    );
    // No model yet.
    let err = app
        .client
        .predict_customers(pb::PredictCustomersRequest {
            portfolio: "tiny".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = app
        .client
        .get_value_model(pb::GetValueModelRequest { selector: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Bad arguments are named.
    let err = app
        .client
        .fit_value_model(pb::FitValueModelRequest {
            portfolio: "tiny".into(),
            time_unit: 17,
            penalizer: Some(-1.0),
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["time_unit", "penalizer"]);
    let err = app
        .client
        .predict_customers(pb::PredictCustomersRequest {
            portfolio: "tiny".into(),
            customer_ids: vec!["ok".into(), "not ok".into()],
            horizon: Some(f64::NAN),
            discount_rate: Some(2.0),
            clv_months: Some(0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        common::bad_fields(&err),
        ["horizon", "discount_rate", "clv_months", "customer_ids[1]"]
    );
    app.stop().await;
}

#[tokio::test]
async fn grpcurl_fits_and_predicts() {
    let Some(bin) = grpcurl::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    load(&mut app.client, "cdnow", cdnow_customers()).await;
    let fitted = grpcurl::call(
        &bin,
        app.addr,
        &["cvo.v1.CustomerValueService/FitValueModel"],
        Some(r#"{"portfolio":"cdnow","time_unit":"TIME_UNIT_WEEK"}"#),
    )
    .await;
    assert!(fitted.ok, "{}", fitted.stderr);
    let json: serde_json::Value = serde_json::from_str(&fitted.stdout).unwrap();
    let r = json["model"]["bgnbd"]["r"].as_f64().unwrap();
    assert!(rel(r, 0.2426) < 1e-3, "{r}");
    let predicted = grpcurl::call(
        &bin,
        app.addr,
        &["cvo.v1.CustomerValueService/PredictCustomers"],
        Some(r#"{"portfolio":"cdnow","customer_ids":["c1"],"horizon":39}"#),
    )
    .await;
    assert!(predicted.ok, "{}", predicted.stderr);
    let json: serde_json::Value = serde_json::from_str(&predicted.stdout).unwrap();
    let p = &json["predictions"][0];
    assert_eq!(p["customerId"], "c1");
    let p_alive = p["pAlive"].as_f64().unwrap();
    assert!(p_alive > 0.5 && p_alive < 1.0, "{p_alive}");
    app.stop().await;
}
