//! Bulk load + tiering benchmark (issue: portfolio tiering).
//!
//! Generates synthetic customers, streams them over loopback into a real server with
//! LoadCustomers, tiers the portfolio (scoring every customer, cutting the curry pyramid and
//! persisting the run with all members), and prints the wall time of each phase and the peak
//! resident memory of the process (client and server share it, so the figure is an upper
//! bound for the server).
//!
//! `cargo bench --bench pyramid` (1,000,000 customers), or `-- N` for another size.
//! Targets on the 2-core reference machine: load + tier + persist < 5 s, peak RSS < 1 GB.

use std::time::Instant;

use cvo::api::pb;
use cvo::app::Application;
use cvo::config::Config;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A plausible customer: revenue spread over four orders of magnitude, most of them active.
fn synthetic(i: u64) -> pb::Customer {
    // A cheap deterministic hash for variety without a random-number dependency.
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    let revenue = 100.0 * (1.0 + (h % 10_000) as f64).powf(1.2);
    pb::Customer {
        id: format!("cust-{i:08}"),
        revenue: Some(revenue),
        gross_profit: Some(revenue * ((h >> 20) % 40) as f64 / 100.0),
        cost_to_serve: Some(revenue * 0.05),
        category_spend: Some(revenue * (1.0 + ((h >> 30) % 5) as f64)),
        previous_revenue: Some(revenue * (0.8 + ((h >> 8) % 40) as f64 / 100.0)),
        satisfaction: Some(((h >> 12) % 11) as f64),
        loyalty: Some(((h >> 16) % 11) as f64),
        first_purchase: dates().first.clone(),
        last_purchase: if h.is_multiple_of(10) {
            dates().lapsed.clone()
        } else {
            dates().recent.clone()
        },
        purchase_count: Some(1 + ((h >> 40) % 30) as i64),
        ..Default::default()
    }
}

/// Purchase dates relative to today, so that the same customers are active (or lapsed)
/// whenever the benchmark runs.
struct Dates {
    first: String,
    recent: String,
    lapsed: String,
}

fn dates() -> &'static Dates {
    static DATES: std::sync::OnceLock<Dates> = std::sync::OnceLock::new();
    DATES.get_or_init(|| {
        let today = time::OffsetDateTime::now_utc().date();
        let ago = |days| (today - time::Duration::days(days)).to_string();
        Dates {
            first: ago(4 * 365),
            recent: ago(90),
            lapsed: ago(2 * 365 + 300),
        }
    })
}

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let dir = tempfile::tempdir()?;
        let app = Application::build(Config::for_tests(dir.path())).await?;
        let addr = app.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        let mut client = pb::customer_value_service_client::CustomerValueServiceClient::new(channel)
            .max_encoding_message_size(64 * 1024 * 1024);

        println!("cvo pyramid benchmark: {n} customers, {} cores", std::thread::available_parallelism().map_or(0, |p| p.get()));
        let chunk = 5_000u64;
        // Baseline in the same run: what the client alone spends making and encoding the
        // stream (part of the load phase below, on the same two cores).
        let t = Instant::now();
        let mut bytes = 0usize;
        for k in 0..n.div_ceil(chunk) {
            let req = pb::UpsertCustomersRequest {
                portfolio: "bench".into(),
                customers: (k * chunk..((k + 1) * chunk).min(n)).map(synthetic).collect(),
            };
            bytes += prost::Message::encoded_len(&req);
        }
        let baseline = t.elapsed();
        println!("baseline: generate + encode on the client:  {:>8.3} s   ({:.0} MB of protobuf)", baseline.as_secs_f64(), bytes as f64 / 1e6);
        let t = Instant::now();
        let requests = (0..n.div_ceil(chunk)).map(move |k| pb::UpsertCustomersRequest {
            portfolio: "bench".into(),
            customers: (k * chunk..((k + 1) * chunk).min(n)).map(synthetic).collect(),
        });
        let loaded = client
            .load_customers(tokio_stream::iter(requests))
            .await?
            .into_inner();
        let load = t.elapsed();
        anyhow::ensure!(loaded.inserted == n, "loaded {} of {n}", loaded.inserted);
        println!("load (generate, stream, validate, persist): {:>8.3} s   peak RSS {:>7.0} MB", load.as_secs_f64(), peak_rss_mb());

        let t = Instant::now();
        let run = client
            .tier_portfolio(pb::TierPortfolioRequest {
                portfolio: "bench".into(),
                scheme: "curry".into(),
                metric: pb::TierMetric::ValueScore as i32,
            })
            .await?
            .into_inner()
            .run
            .ok_or_else(|| anyhow::anyhow!("no run"))?;
        let tier = t.elapsed();
        println!("tier + persist run:                         {:>8.3} s   peak RSS {:>7.0} MB", tier.as_secs_f64(), peak_rss_mb());
        let total = load + tier;
        println!("total:                                      {:>8.3} s   (target < 5 s: {:.2} of target)", total.as_secs_f64(), total.as_secs_f64() / 5.0);
        println!("peak RSS:                                   {:>8.0} MB  (target < 1024 MB: {:.2} of target)", peak_rss_mb(), peak_rss_mb() / 1024.0);
        if let Some(s) = run.summary {
            println!("pyramid ({} tiered, top 20 % revenue share {:.1} %, Gini {:.3}):", s.total_customers, 100.0 * s.top20_revenue_share, s.gini_revenue);
            for t in s.tiers {
                println!("  {:<10} {:>8} customers  {:>6.1} % revenue  {:>6.1} % profit", t.tier, t.customers, 100.0 * t.revenue_share, 100.0 * t.profit_share);
            }
        }
        let _ = stop.send(());
        server.await??;
        Ok(())
    })
}
