//! Nothing acknowledged is lost: the real `cvo` binary is killed with SIGKILL at random moments
//! while a client writes (upserts, kept scores, bulk loads, tier runs); after each restart every
//! acknowledged write must be there, no run may be partial, and the store must open.
//!
//! `CVO_CRASH_KILLS` sets the number of kills (default 20); `scripts/crash.sh` runs 200.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{customer, Client};
use cvo::api::pb;
use pb::score_customer_request::Subject;
use tonic::Code;

/// Starts the binary on an ephemeral loopback port and returns it with the bound address,
/// read from its JSON "serving" log line.
fn start(data_dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvo"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cvo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("cvo exited before serving")
            .expect("read log");
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if json["fields"]["message"] == "serving" {
            break json["fields"]["addr"]
                .as_str()
                .expect("addr")
                .parse()
                .expect("socket addr");
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    customers: Vec<(String, String)>,
    /// (customer, scored_at seconds, nanos) of kept scores.
    scores: Vec<(String, i64, i32)>,
    runs: Vec<String>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn active(id: String) -> pb::Customer {
    pb::Customer {
        revenue: Some(100.0),
        gross_profit: Some(30.0),
        purchase_count: Some(2),
        // Relative to today: the binary runs on the system clock.
        last_purchase: common::days_ago(90),
        ..customer(&id)
    }
}

/// Writes until the server dies, recording every acknowledged write. Several writers run at
/// once (`writer` keeps their ids apart), so that writes share flushes as in production.
async fn write_until_killed(mut client: Client, round: usize, writer: u64, acked: &mut Acked) {
    // Each writer starts at a different kind of write.
    for op in writer.. {
        let portfolio = format!("p{}", round % 3);
        // The last writer only keeps scores, the write most often made at once by many callers.
        let kind = if writer == WRITERS - 1 { 1 } else { op % 4 };
        let result = match kind {
            0 => {
                let id = format!("u{round}-{writer}-{op}");
                client
                    .upsert_customers(pb::UpsertCustomersRequest {
                        portfolio: portfolio.clone(),
                        customers: vec![active(id.clone())],
                    })
                    .await
                    .map(|_| acked.customers.push((portfolio, id)))
            }
            1 => {
                let id = format!("s{round}-{writer}-{op}");
                client
                    .score_customer(pb::ScoreCustomerRequest {
                        portfolio: portfolio.clone(),
                        subject: Some(Subject::Customer(active(id.clone()))),
                        keep: true,
                        ..Default::default()
                    })
                    .await
                    .map(|r| {
                        let at = r
                            .into_inner()
                            .value
                            .and_then(|v| v.scored_at)
                            .unwrap_or_default();
                        acked
                            .scores
                            .push((format!("{portfolio}/{id}"), at.seconds, at.nanos));
                    })
            }
            2 => {
                let ids: Vec<String> = (0..300)
                    .map(|i| format!("l{round}-{writer}-{op}-{i}"))
                    .collect();
                let chunks: Vec<pb::UpsertCustomersRequest> = ids
                    .chunks(100)
                    .map(|c| pb::UpsertCustomersRequest {
                        portfolio: portfolio.clone(),
                        customers: c.iter().cloned().map(active).collect(),
                    })
                    .collect();
                client
                    .load_customers(tokio_stream::iter(chunks))
                    .await
                    .map(|_| {
                        acked
                            .customers
                            .extend(ids.into_iter().map(|id| (portfolio.clone(), id)))
                    })
            }
            _ => client
                .tier_portfolio(pb::TierPortfolioRequest {
                    portfolio,
                    scheme: "key_major".into(),
                    metric: pb::TierMetric::Revenue as i32,
                })
                .await
                .map(|r| acked.runs.extend(r.into_inner().run.map(|r| r.run_id))),
        };
        if let Err(status) = result {
            // A writer may tier a portfolio before any customer of it is acknowledged: the
            // refusal is the right answer, and nothing was written.
            if status.code() == Code::FailedPrecondition && kind == 3 {
                continue;
            }
            // Otherwise the only acceptable failure is the server going away.
            assert!(
                matches!(
                    status.code(),
                    Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal
                ),
                "unexpected failure while writing: {status:?}"
            );
            return;
        }
    }
}

async fn verify(client: &mut Client, acked: &Acked) {
    for (portfolio, id) in &acked.customers {
        let got = client
            .get_customer(pb::GetCustomerRequest {
                portfolio: portfolio.clone(),
                customer_id: id.clone(),
            })
            .await;
        assert!(
            got.is_ok(),
            "acknowledged customer {portfolio}/{id} lost: {got:?}"
        );
    }
    for (key, seconds, nanos) in &acked.scores {
        let (portfolio, id) = key.split_once('/').unwrap();
        let history = client
            .list_customer_history(pb::ListCustomerHistoryRequest {
                portfolio: portfolio.into(),
                customer_id: id.into(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let found = history.values.iter().any(|v| {
            v.scored_at
                .as_ref()
                .is_some_and(|t| t.seconds == *seconds && t.nanos == *nanos)
        });
        assert!(found, "acknowledged kept score of {key} lost");
    }
    for run_id in &acked.runs {
        let run = client
            .get_tier_run(pb::GetTierRunRequest {
                run_id: run_id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged run {run_id} lost: {e:?}"))
            .into_inner()
            .run
            .unwrap();
        let total = run.summary.unwrap().total_customers;
        let members = client
            .list_tier_members(pb::ListTierMembersRequest {
                run_id: run_id.clone(),
                tier: String::new(),
                page_size: 1000,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut count = members.members.len() as u64;
        let mut token = members.next_page_token;
        while !token.is_empty() {
            let page = client
                .list_tier_members(pb::ListTierMembersRequest {
                    run_id: run_id.clone(),
                    tier: String::new(),
                    page_size: 1000,
                    page_token: token,
                })
                .await
                .unwrap()
                .into_inner();
            count += page.members.len() as u64;
            token = page.next_page_token;
        }
        assert_eq!(count, total, "run {run_id} is partial");
    }
}

/// Writers per round.
const WRITERS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_loses_nothing_acknowledged() {
    let kills: usize = std::env::var("CVO_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("crash test: {kills} kills, seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Acked::default();
    let mut last_round = Acked::default();
    for round in 0..kills {
        let (mut child, addr) = start(dir.path());
        let mut client = common::connect(addr).await;
        // What was acknowledged before the last kill is there (all of it is checked again at
        // the end, after every kill).
        verify(&mut client, &last_round).await;
        let delay = Duration::from_millis(20 + rng.next() % 300);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut mine = Acked::default();
                    write_until_killed(client, round, w, &mut mine).await;
                    mine
                })
            })
            .collect();
        tokio::time::sleep(delay).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        last_round = Acked::default();
        for w in writers {
            let mine = w.await.expect("writer");
            last_round.customers.extend(mine.customers);
            last_round.scores.extend(mine.scores);
            last_round.runs.extend(mine.runs);
        }
        acked.customers.extend(last_round.customers.iter().cloned());
        acked.scores.extend(last_round.scores.iter().cloned());
        acked.runs.extend(last_round.runs.iter().cloned());
    }
    let (mut child, addr) = start(dir.path());
    let mut client = common::connect(addr).await;
    verify(&mut client, &acked).await;
    println!(
        "after {kills} kills: {} customers, {} kept scores, {} runs acknowledged and all present",
        acked.customers.len(),
        acked.scores.len(),
        acked.runs.len()
    );
    assert!(
        !acked.customers.is_empty() && !acked.runs.is_empty(),
        "the writer acknowledged nothing"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_corrupt_store_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A store written by a future version.
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"Mformat_version", &b"7"[..]).unwrap();
        db.flush().unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cvo"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("format version 7"), "{stderr}");

    // Garbage where the database should be.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("conf"),
        b"\x00\xffnot a sled config\x13\x37",
    )
    .unwrap();
    std::fs::write(dir.path().join("db"), vec![0xA5u8; 64 * 1024]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cvo"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a garbage store was opened");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opening the store"), "{stderr}");
}
