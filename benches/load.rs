//! Load benchmark (issue: hardening): cvo against a bare echo service with the same settings.
//!
//! In one run it starts the real cvo server and an echo server (the same generated service,
//! codec, transport settings and middleware, answering at once with a canned
//! value), both on 127.0.0.1, drives each with the same concurrency, and prints for
//! ScoreCustomer, kept ScoreCustomer and GetCustomerValue: throughput, p50/p99/p999 latency
//! (hdrhistogram) and the ratio to echo. Echo and cvo take turns in rounds, so that a slow
//! moment of the machine falls on both. Then it offers ScoreCustomer half of its measured peak,
//! evenly spaced, and prints the latencies there. Targets: ScoreCustomer (not kept) >= 80 % of
//! echo throughput; p99 < 1 ms at half of peak.
//!
//! `cargo bench --bench load -- [--seconds S] [--rounds R] [--concurrency C] [--only RPC]
//! [--soak DURATION]` (defaults: 6 s per phase in 3 rounds, 32 concurrent calls; RPC is
//! `score`, `scorekept` or `getvalue`). `--soak 10m` also runs ScoreCustomer at 80 % of peak
//! for that long and reports errors (must be 0) and RSS at start and end.
//! Traffic goes to 127.0.0.1 only, and every phase stops by itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cvo::api::pb;
use cvo::api::pb::customer_value_service_client::CustomerValueServiceClient;
use cvo::api::pb::customer_value_service_server::{
    CustomerValueService, CustomerValueServiceServer,
};
use cvo::app::{incoming, transport, Application};
use cvo::config::{Config, Limits};
use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status, Streaming};

/// Answers ScoreCustomer and GetCustomerValue at once with a canned value; nothing else.
struct Echo;

fn canned(id: String) -> pb::CustomerValue {
    pb::CustomerValue {
        customer_id: id,
        portfolio: "default".into(),
        score: 50.0,
        ..Default::default()
    }
}

fn no<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("echo"))
}

#[tonic::async_trait]
impl CustomerValueService for Echo {
    async fn score_customer(
        &self,
        r: Request<pb::ScoreCustomerRequest>,
    ) -> Result<Response<pb::ScoreCustomerResponse>, Status> {
        let id = match r.into_inner().subject {
            Some(pb::score_customer_request::Subject::Customer(c)) => c.id,
            Some(pb::score_customer_request::Subject::CustomerId(id)) => id,
            None => String::new(),
        };
        Ok(Response::new(pb::ScoreCustomerResponse {
            value: Some(canned(id)),
        }))
    }
    async fn get_customer_value(
        &self,
        r: Request<pb::GetCustomerValueRequest>,
    ) -> Result<Response<pb::GetCustomerValueResponse>, Status> {
        Ok(Response::new(pb::GetCustomerValueResponse {
            value: Some(canned(r.into_inner().customer_id)),
        }))
    }
    async fn upsert_customers(
        &self,
        _: Request<pb::UpsertCustomersRequest>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        no()
    }
    async fn get_customer(
        &self,
        _: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        no()
    }
    async fn list_customer_history(
        &self,
        _: Request<pb::ListCustomerHistoryRequest>,
    ) -> Result<Response<pb::ListCustomerHistoryResponse>, Status> {
        no()
    }
    async fn get_policy(
        &self,
        _: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        no()
    }
    async fn load_customers(
        &self,
        _: Request<Streaming<pb::UpsertCustomersRequest>>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        no()
    }
    async fn tier_portfolio(
        &self,
        _: Request<pb::TierPortfolioRequest>,
    ) -> Result<Response<pb::TierPortfolioResponse>, Status> {
        no()
    }
    async fn get_tier_run(
        &self,
        _: Request<pb::GetTierRunRequest>,
    ) -> Result<Response<pb::GetTierRunResponse>, Status> {
        no()
    }
    async fn list_tier_runs(
        &self,
        _: Request<pb::ListTierRunsRequest>,
    ) -> Result<Response<pb::ListTierRunsResponse>, Status> {
        no()
    }
    async fn list_tier_members(
        &self,
        _: Request<pb::ListTierMembersRequest>,
    ) -> Result<Response<pb::ListTierMembersResponse>, Status> {
        no()
    }
    async fn compare_tier_runs(
        &self,
        _: Request<pb::CompareTierRunsRequest>,
    ) -> Result<Response<pb::CompareTierRunsResponse>, Status> {
        no()
    }
    async fn list_schemes(
        &self,
        _: Request<pb::ListSchemesRequest>,
    ) -> Result<Response<pb::ListSchemesResponse>, Status> {
        no()
    }
    async fn fit_value_model(
        &self,
        _: Request<pb::FitValueModelRequest>,
    ) -> Result<Response<pb::FitValueModelResponse>, Status> {
        no()
    }
    async fn get_value_model(
        &self,
        _: Request<pb::GetValueModelRequest>,
    ) -> Result<Response<pb::GetValueModelResponse>, Status> {
        no()
    }
    async fn predict_customers(
        &self,
        _: Request<pb::PredictCustomersRequest>,
    ) -> Result<Response<pb::PredictCustomersResponse>, Status> {
        no()
    }
}

type Client = CustomerValueServiceClient<Channel>;

#[derive(Clone, Copy, Debug)]
enum Rpc {
    Score,
    ScoreKept,
    GetValue,
}

fn customer(i: u64) -> pb::Customer {
    pb::Customer {
        id: format!("c{}", i % 1000),
        revenue: Some(12_000.0 + (i % 97) as f64),
        gross_profit: Some(3_000.0),
        cost_to_serve: Some(400.0),
        category_spend: Some(40_000.0),
        previous_revenue: Some(11_000.0),
        satisfaction: Some(7.5),
        loyalty: Some(8.0),
        first_purchase: dates().0.clone(),
        last_purchase: dates().1.clone(),
        purchase_count: Some(14),
        ..Default::default()
    }
}

/// First and last purchase, relative to today: the benchmark's customer stays active whenever
/// it runs.
fn dates() -> &'static (String, String) {
    static DATES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    DATES.get_or_init(|| {
        let today = time::OffsetDateTime::now_utc().date();
        let ago = |days| (today - time::Duration::days(days)).to_string();
        (ago(5 * 365 + 270), ago(90))
    })
}

async fn call(client: &mut Client, rpc: Rpc, i: u64) -> Result<(), Status> {
    match rpc {
        Rpc::Score | Rpc::ScoreKept => client
            .score_customer(pb::ScoreCustomerRequest {
                portfolio: "load".into(),
                subject: Some(pb::score_customer_request::Subject::Customer(customer(i))),
                keep: matches!(rpc, Rpc::ScoreKept),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::GetValue => client
            .get_customer_value(pb::GetCustomerValueRequest {
                portfolio: "load".into(),
                customer_id: format!("c{}", i % 1000),
            })
            .await
            .map(drop),
    }
}

struct Outcome {
    calls: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
    fn us(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

impl Outcome {
    fn merge(mut self, other: Outcome) -> anyhow::Result<Outcome> {
        self.latency.add(&other.latency)?;
        Ok(Outcome {
            calls: self.calls + other.calls,
            errors: self.errors + other.errors,
            elapsed: self.elapsed + other.elapsed,
            latency: self.latency,
        })
    }
}

/// Releases `rate` calls per second, evenly, until `deadline`, then closes `permits`.
///
/// Runs on its own thread with a 50 µs sleep: tokio's timer has a 1 ms resolution, and pacing
/// with it releases a whole millisecond of calls at once, which measures the burst rather
/// than the server.
fn pace(rate: f64, deadline: Instant, permits: Arc<Semaphore>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut released = 0u64;
        while Instant::now() < deadline {
            let due = (start.elapsed().as_secs_f64() * rate) as u64;
            if due > released {
                permits.add_permits((due - released) as usize);
                released = due;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        permits.close();
    })
}

/// `concurrency` workers over a few HTTP/2 connections call `rpc` for `duration`, each as fast
/// as it can or, with `rate`, all together `rate` calls per second, evenly spaced. Latency is
/// measured from the moment a call is sent.
async fn drive(
    addr: SocketAddr,
    rpc: Rpc,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let permits = Arc::new(Semaphore::new(0));
    let pacer = rate.map(|r| pace(r, deadline, permits.clone()));
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let mut client = Client::new(channels[w % channels.len()].clone());
        let (counter, errors, permits) = (counter.clone(), errors.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let mut h =
                Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
            while Instant::now() < deadline {
                if rate.is_some() {
                    match permits.acquire().await {
                        Ok(permit) => permit.forget(),
                        Err(_) => break,
                    }
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if call(&mut client, rpc, i).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                let _ = h.record(t.elapsed().as_nanos() as u64);
            }
            h
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for t in tasks {
        latency.add(t.await?)?;
    }
    if let Some(p) = pacer {
        p.join()
            .map_err(|_| anyhow::anyhow!("pacer thread panicked"))?;
    }
    Ok(Outcome {
        calls: latency.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latency,
    })
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(60 * n),
        "h" => Duration::from_secs(3600 * n),
        _ => return None,
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = flag("--seconds").and_then(|s| s.parse().ok()).unwrap_or(6);
    let concurrency: usize = flag("--concurrency")
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let only = flag("--only");
    let rounds: u32 = flag("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let soak = flag("--soak").and_then(|s| parse_duration(&s));
    let phase = Duration::from_secs(seconds);

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let dir = tempfile::tempdir()?;
        let config = Config::for_tests(dir.path());
        let app = Application::build(config).await?;
        let cvo_addr = app.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let echo_addr = listener.local_addr()?;
        let echo = tokio::spawn(
            transport(Server::builder(), &Limits::default(), Default::default())
                .add_service(CustomerValueServiceServer::new(Echo))
                .serve_with_incoming(incoming(listener)),
        );
        // Values to read back.
        let mut client = Client::new(Channel::from_shared(format!("http://{cvo_addr}"))?.connect().await?);
        for i in 0..1000 {
            call(&mut client, Rpc::ScoreKept, i).await?;
        }

        println!("cvo load benchmark: {concurrency} concurrent calls, {seconds} s per phase, {} cores, rss at start {:.0} MB",
            std::thread::available_parallelism().map_or(0, |p| p.get()), rss_mb());
        println!("{:<22} {:>10} {:>9} {:>9} {:>9} {:>8} {:>10}", "rpc", "calls/s", "p50 us", "p99 us", "p999 us", "errors", "vs echo");
        let mut score_peak = 0.0;
        for rpc in [Rpc::Score, Rpc::ScoreKept, Rpc::GetValue] {
            if only.as_deref().is_some_and(|o| o != format!("{rpc:?}").to_lowercase()) {
                continue;
            }
            // Echo and cvo take turns, a round each at a time, so that a slow moment of the
            // machine falls on both rather than on one.
            let round = phase / rounds;
            let (mut e, mut c) = (
                drive(echo_addr, rpc, concurrency, round, None).await?,
                drive(cvo_addr, rpc, concurrency, round, None).await?,
            );
            for _ in 1..rounds {
                e = e.merge(drive(echo_addr, rpc, concurrency, round, None).await?)?;
                c = c.merge(drive(cvo_addr, rpc, concurrency, round, None).await?)?;
            }
            for (name, o) in [("echo", &e), ("cvo", &c)] {
                println!("{:<22} {:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>8} {:>10}",
                    format!("{rpc:?} ({name})"), o.rate(), o.us(0.5), o.us(0.99), o.us(0.999), o.errors,
                    if name == "cvo" { format!("{:.2}", c.rate() / e.rate()) } else { String::new() });
            }
            if matches!(rpc, Rpc::Score) {
                score_peak = c.rate();
                println!("  ScoreCustomer throughput is {:.0} % of echo (target >= 80 %)", 100.0 * c.rate() / e.rate());
            }
        }
        if score_peak > 0.0 {
            let half = drive(cvo_addr, Rpc::Score, concurrency, phase, Some(score_peak / 2.0)).await?;
            println!("ScoreCustomer at half of peak ({:.0}/s offered evenly to {concurrency} callers): p50 {:.0} us, p99 {:.0} us (target < 1000 us), p999 {:.0} us, errors {}",
                half.rate(), half.us(0.5), half.us(0.99), half.us(0.999), half.errors);
        }

        if let (Some(soak), true) = (soak, score_peak > 0.0) {
            // In slices of a minute, printing the RSS after each: flat means no leak.
            let before = rss_mb();
            let slice = Duration::from_secs(60).min(soak);
            let slices = (soak.as_secs_f64() / slice.as_secs_f64()).ceil().max(1.0) as u32;
            let mut rss = Vec::new();
            let mut total: Option<Outcome> = None;
            for _ in 0..slices {
                let o = drive(cvo_addr, Rpc::Score, concurrency, slice, Some(score_peak * 0.8)).await?;
                rss.push(format!("{:.0}", rss_mb()));
                total = Some(match total {
                    None => o,
                    Some(t) => t.merge(o)?,
                });
            }
            let o = total.ok_or_else(|| anyhow::anyhow!("no soak slice ran"))?;
            println!("soak {:?} at 80 % of peak ({:.0}/s): {} calls, {} errors (must be 0), p99 {:.0} us, rss {before:.0} MB at start, then each minute: {} MB",
                slice * slices, o.rate(), o.calls, o.errors, o.us(0.99), rss.join(" "));
        }
        let _ = stop.send(());
        server.await??;
        echo.abort();
        Ok(())
    })
}
