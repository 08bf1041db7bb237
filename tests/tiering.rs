//! Portfolio tiering over real gRPC: bulk load (atomic), tier runs, members, migration,
//! schemes, real-time tier placement and restart.

mod common;

use common::{bad_fields, customer, TestApp};
use cvo::api::pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

/// An active customer `c{i:04}` with this revenue and a purchase this year.
fn active(i: usize, revenue: f64) -> pb::Customer {
    pb::Customer {
        revenue: Some(revenue),
        gross_profit: Some(revenue / 4.0),
        purchase_count: Some(3),
        last_purchase: "2026-09-01".into(),
        ..customer(&format!("c{i:04}"))
    }
}

fn chunks(
    portfolio: &str,
    customers: &[pb::Customer],
    size: usize,
) -> Vec<pb::UpsertCustomersRequest> {
    customers
        .chunks(size)
        .map(|c| pb::UpsertCustomersRequest {
            portfolio: portfolio.into(),
            customers: c.to_vec(),
        })
        .collect()
}

async fn upsert(app: &mut TestApp, portfolio: &str, customers: Vec<pb::Customer>) {
    app.client
        .upsert_customers(pb::UpsertCustomersRequest {
            portfolio: portfolio.into(),
            customers,
        })
        .await
        .unwrap();
}

async fn tier(
    app: &mut TestApp,
    portfolio: &str,
    scheme: &str,
    metric: pb::TierMetric,
) -> pb::TierRun {
    app.client
        .tier_portfolio(pb::TierPortfolioRequest {
            portfolio: portfolio.into(),
            scheme: scheme.into(),
            metric: metric as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap()
}

fn counts(run: &pb::TierRun) -> Vec<u64> {
    run.summary
        .as_ref()
        .unwrap()
        .tiers
        .iter()
        .map(|t| t.customers)
        .collect()
}

async fn members(
    app: &mut TestApp,
    run_id: &str,
    tier: &str,
    page_size: u32,
) -> Vec<pb::TierMember> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_tier_members(pb::ListTierMembersRequest {
                run_id: run_id.into(),
                tier: tier.into(),
                page_size,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.members.len() <= page_size as usize);
        out.extend(page.members);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn key_major_on_1000_loaded_customers() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let customers: Vec<_> = (0..1000).map(|i| active(i, 1000.0 + i as f64)).collect();
    let total_revenue: f64 = customers.iter().map(|c| c.revenue.unwrap()).sum();
    let resp = app
        .client
        .load_customers(tokio_stream::iter(chunks("big", &customers, 128)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((resp.inserted, resp.updated), (1000, 0));

    let run = tier(&mut app, "big", "key_major", pb::TierMetric::Revenue).await;
    assert_eq!(counts(&run), [10, 190, 300, 500]);
    let s = run.summary.as_ref().unwrap();
    assert_eq!(s.total_customers, 1000);
    let revenue: f64 = s.tiers.iter().map(|t| t.revenue).sum();
    assert!((revenue - total_revenue).abs() < 1e-6);
    let profit: f64 = s.tiers.iter().map(|t| t.profit).sum();
    assert!((profit - total_revenue / 4.0).abs() < 1e-6);
    // Key holds revenues 1990..1999; its cut points say so.
    assert_eq!(s.tiers[0].min_metric, Some(1990.0));
    assert_eq!(s.tiers[0].max_metric, Some(1999.0));
    // Top 20 %: revenues 1800..1999 = 379,900 of 1,499,500.
    assert!((s.top20_revenue_share - 379_900.0 / 1_499_500.0).abs() < 1e-12);
    assert!(s.gini_revenue > 0.0 && s.gini_revenue < 0.2);

    // Members of one tier, in rank order.
    let key = members(&mut app, &run.run_id, "key", 3).await;
    let ids: Vec<_> = key.iter().map(|m| m.customer_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "c0999", "c0998", "c0997", "c0996", "c0995", "c0994", "c0993", "c0992", "c0991",
            "c0990"
        ]
    );
    assert_eq!(key[0].rank, 1);
    assert_eq!(key[0].percentile, 100.0);
    let small = members(&mut app, &run.run_id, "small", 1000).await;
    assert_eq!(small.len(), 500);
    assert_eq!(small[0].rank, 501);
    assert_eq!(small[499].customer_id, "c0000");

    // A score gets a tier from the latest run of the default scheme (curry) only.
    let by_id = pb::ScoreCustomerRequest {
        portfolio: "big".into(),
        subject: Some(pb::score_customer_request::Subject::CustomerId(
            "c0999".into(),
        )),
        ..Default::default()
    };
    let v = app
        .client
        .score_customer(by_id)
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(v.tier, "", "no curry run yet");
    let curry = tier(&mut app, "big", "", pb::TierMetric::Revenue).await;
    assert_eq!(curry.scheme, "curry");
    assert_eq!(counts(&curry), [10, 40, 150, 800, 0, 0, 0]);
    let fresh = pb::Customer {
        id: "newcomer".into(),
        ..active(0, 1995.0)
    };
    let v = app
        .client
        .score_customer(pb::ScoreCustomerRequest {
            portfolio: "big".into(),
            subject: Some(pb::score_customer_request::Subject::Customer(fresh)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!(v.tier, "top");
    assert_eq!(v.tier_run_id, curry.run_id);
    app.stop().await;
}

#[tokio::test]
async fn paging_members_with_every_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let customers: Vec<_> = (0..23).map(|i| active(i, (i % 5) as f64 * 10.0)).collect();
    upsert(&mut app, "p", customers).await;
    let run = tier(&mut app, "p", "curry", pb::TierMetric::Revenue).await;
    let all = members(&mut app, &run.run_id, "", 1000).await;
    assert_eq!(all.len(), 23);
    let ranks: Vec<u64> = all.iter().map(|m| m.rank).collect();
    assert_eq!(ranks, (1..=23).collect::<Vec<_>>());
    // Equal revenues are ordered by id.
    assert_eq!(all[0].customer_id, "c0004");
    assert_eq!(all[1].customer_id, "c0009");
    for size in 1..=24 {
        assert_eq!(
            members(&mut app, &run.run_id, "", size).await,
            all,
            "page size {size}"
        );
    }
    // A page token of another listing is refused; an unknown tier and run too.
    let page = app
        .client
        .list_tier_members(pb::ListTierMembersRequest {
            run_id: run.run_id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = app
        .client
        .list_tier_members(pb::ListTierMembersRequest {
            run_id: run.run_id.clone(),
            tier: "small".into(),
            page_size: 1,
            page_token: page.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
    let err = app
        .client
        .list_tier_members(pb::ListTierMembersRequest {
            run_id: run.run_id.clone(),
            tier: "gold".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["tier"]);
    let err = app
        .client
        .get_tier_run(pb::GetTierRunRequest {
            run_id: "r-nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_customer_anywhere_in_the_stream_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    let mut customers: Vec<_> = (0..300).map(|i| active(i, 1.0)).collect();
    customers[250].satisfaction = Some(42.0);
    let err = app
        .client
        .load_customers(tokio_stream::iter(chunks("p", &customers, 100)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customers[250].satisfaction"]);
    // A duplicate across chunks.
    let mut customers: Vec<_> = (0..200).map(|i| active(i, 1.0)).collect();
    customers[150].id = "c0003".into();
    let err = app
        .client
        .load_customers(tokio_stream::iter(chunks("p", &customers, 100)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["customers[150].id"]);
    // A second portfolio in one stream.
    let mixed = vec![
        pb::UpsertCustomersRequest {
            portfolio: "p".into(),
            customers: vec![active(1, 1.0)],
        },
        pb::UpsertCustomersRequest {
            portfolio: "q".into(),
            customers: vec![active(2, 1.0)],
        },
    ];
    let err = app
        .client
        .load_customers(tokio_stream::iter(mixed))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["portfolio"]);

    let err = app
        .client
        .tier_portfolio(pb::TierPortfolioRequest {
            portfolio: "p".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    app.stop().await;
}

/// Streams three chunks of 100 customers into `portfolio` from a client with its own runtime,
/// then either ends the stream (`finish`) and waits for the answer, or dies: its runtime is
/// shut down with the stream still open, which closes the connection mid-stream.
async fn stream_then(addr: std::net::SocketAddr, portfolio: &'static str, finish: bool) {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let open_stream = rt.block_on(async move {
            let mut client = common::connect(addr).await;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let call =
                tokio::spawn(async move { client.load_customers(ReceiverStream::new(rx)).await });
            for k in 0..3 {
                let customers = (k * 100..(k + 1) * 100).map(|i| active(i, 1.0)).collect();
                tx.send(pb::UpsertCustomersRequest {
                    portfolio: portfolio.into(),
                    customers,
                })
                .await
                .unwrap();
            }
            if finish {
                drop(tx);
                let resp = call.await.unwrap().unwrap().into_inner();
                assert_eq!(resp.inserted, 300);
                None
            } else {
                // Let the server take the chunks in.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                Some(tx)
            }
        });
        rt.shutdown_background();
        drop(open_stream);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stream_cut_off_by_the_client_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    // The same client, finishing its stream, does store its customers.
    stream_then(app.addr, "q", true).await;
    let got = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "q".into(),
            customer_id: "c0299".into(),
        })
        .await
        .unwrap();
    assert_eq!(got.into_inner().customer.unwrap().revenue, Some(1.0));
    // Dying mid-stream stores nothing.
    stream_then(app.addr, "p", false).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let err = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "p".into(),
            customer_id: "c0001".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // After a restart too.
    let mut app = app.restart().await;
    let err = app
        .client
        .tier_portfolio(pb::TierPortfolioRequest {
            portfolio: "p".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn migration_between_runs_on_a_hand_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = TestApp::start(dir.path()).await;
    // Ten customers, revenue = 10 × index. key_major on 10: key round(0.1) = 0, major
    // round(2.0) = 2, ordinary round(5.0) - 2 = 3, small 5.
    upsert(
        &mut app,
        "p",
        (0..10).map(|i| active(i, 10.0 * i as f64)).collect(),
    )
    .await;
    let a = tier(&mut app, "p", "key_major", pb::TierMetric::Revenue).await;
    assert_eq!(counts(&a), [0, 2, 3, 5]);
    // c0000 jumps to the top; c0009 lapses (and leaves the ranked customers); c0010 arrives.
    let gone = pb::Customer {
        first_purchase: "2019-01-01".into(),
        last_purchase: "2020-01-01".into(),
        ..active(9, 90.0)
    };
    upsert(
        &mut app,
        "p",
        vec![active(0, 1000.0), gone, active(10, 55.0)],
    )
    .await;
    let b = tier(&mut app, "p", "key_major", pb::TierMetric::Revenue).await;
    assert_eq!(counts(&b), [0, 2, 3, 5]);
    // Run a: major c9 c8 | ordinary c7 c6 c5 | small c4 c3 c2 c1 c0.
    // Run b: major c0 c8 | ordinary c7 c6 c10 | small c5 c4 c3 c2 c1.
    let compare = |token: String| pb::CompareTierRunsRequest {
        from_run_id: a.run_id.clone(),
        to_run_id: b.run_id.clone(),
        page_size: 2,
        page_token: token,
    };
    let flow = app
        .client
        .compare_tier_runs(compare(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(flow.from_tiers, ["key", "major", "ordinary", "small"]);
    let matrix: Vec<Vec<u64>> = flow.matrix.iter().map(|r| r.counts.clone()).collect();
    assert_eq!(
        matrix,
        vec![
            vec![0, 0, 0, 0],
            vec![0, 1, 0, 0],
            vec![0, 0, 2, 1],
            vec![0, 1, 0, 4]
        ]
    );
    assert_eq!(
        (
            flow.moved_up,
            flow.moved_down,
            flow.unchanged,
            flow.entered,
            flow.left
        ),
        (1, 1, 7, 1, 1)
    );
    // Movers by id, two per page: c0000 up, c0005 down | c0009 left, c0010 entered.
    let movers = |r: &pb::CompareTierRunsResponse| -> Vec<(String, pb::MoveDirection)> {
        r.movers
            .iter()
            .map(|m| (m.customer_id.clone(), m.direction()))
            .collect()
    };
    assert_eq!(
        movers(&flow),
        [
            ("c0000".into(), pb::MoveDirection::Up),
            ("c0005".into(), pb::MoveDirection::Down)
        ]
    );
    let page2 = app
        .client
        .compare_tier_runs(compare(flow.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        movers(&page2),
        [
            ("c0009".into(), pb::MoveDirection::Left),
            ("c0010".into(), pb::MoveDirection::Entered)
        ]
    );
    assert!(page2.next_page_token.is_empty());

    // Runs are listed newest first and survive a restart whole.
    let mut app = app.restart().await;
    let list = |token: String| pb::ListTierRunsRequest {
        portfolio: "p".into(),
        page_size: 1,
        page_token: token,
    };
    let runs = app
        .client
        .list_tier_runs(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(runs.runs, vec![b.clone()]);
    let older = app
        .client
        .list_tier_runs(list(runs.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(older.runs, vec![a.clone()]);
    assert!(older.next_page_token.is_empty());
    let back = app
        .client
        .get_tier_run(pb::GetTierRunRequest {
            run_id: a.run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.run.unwrap(), a);
    assert_eq!(members(&mut app, &a.run_id, "", 4).await.len(), 10);
    app.stop().await;
}

#[tokio::test]
async fn custom_scheme_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cvo.toml");
    std::fs::write(
        &file,
        r#"
[tiering]
default_scheme = "bands"

[[schemes]]
name = "bands"
description = "gold from 50, silver the rest, lapsed apart"
[[schemes.layers]]
name = "gold"
min_metric = 50.0
[[schemes.layers]]
name = "silver"
[[schemes.layers]]
name = "lapsed"
statuses = ["lapsed"]
"#,
    )
    .unwrap();
    let args = cvo::config::ServeArgs {
        config: Some(file),
        data_dir: Some(dir.path().join("data")),
        addr: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let config = cvo::config::Config::resolve(&args).unwrap();
    let mut app = TestApp::start_with(config).await;
    let schemes = app
        .client
        .list_schemes(pb::ListSchemesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schemes.default_scheme, "bands");
    let names: Vec<_> = schemes.schemes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["curry", "key_major", "value_loyalty", "diamond", "bands"]
    );
    let bands = &schemes.schemes[4];
    assert!(!bands.builtin);
    assert_eq!(bands.layers[0].rule, "ranked customers with metric >= 50");
    let mut customers: Vec<_> = (0..10).map(|i| active(i, 10.0 * i as f64)).collect();
    customers[0].first_purchase = "2019-01-01".into();
    customers[0].last_purchase = "2019-05-01".into();
    upsert(&mut app, "p", customers).await;
    let run = tier(&mut app, "p", "", pb::TierMetric::Revenue).await;
    assert_eq!(run.scheme, "bands");
    // gold: 50..90 (5), silver: 10..40 (4), lapsed: c0000.
    assert_eq!(counts(&run), [5, 4, 1]);
    let err = app
        .client
        .tier_portfolio(pb::TierPortfolioRequest {
            portfolio: "p".into(),
            scheme: "nope".into(),
            metric: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["scheme"]);
    app.stop().await;
}
