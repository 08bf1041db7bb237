//! The conformance suite of the [`Store`] contract: every implementation must pass it.
//!
//! A backend under test implements [`Backend`]: it makes fresh, empty stores and reopens one
//! as a restarted server would. [`run_all`] runs every check, each on a fresh store of its
//! own, and reports which failed and why; a test asserts [`Report::assert_passed`]:
//!
//! ```text
//! #[tokio::test]
//! async fn my_store_conforms() {
//!     cvo::store::conformance::run_all(&MyBackend::new()).await.assert_passed();
//! }
//! ```
//!
//! The checks hold an implementation to what the docs of [`Store`] and [`CustomerLoad`] say,
//! with real records (customers with many facts, scored values, runs of thousands of members,
//! fitted models) compared whole, and nothing else: not how records are laid out, cached or
//! batched. Times are fixed, so no check depends on the day it runs.

mod customers;
mod kept;
mod paging;
mod restart;

use std::fmt;

use time::{Date, OffsetDateTime};

use super::{CustomerLoad, CustomerScan, Store, StoreError};
use crate::domain::clv::ClvParams;
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::models::bgnbd::BgNbdParams;
use crate::domain::models::gamma_gamma::GammaGammaParams;
use crate::domain::models::TimeUnit;
use crate::domain::pyramid::{builtin, CutPoints, Member, Metric, PyramidSummary};
use crate::domain::scoring::assess;
use crate::domain::scoring::policy::ScoringPolicy;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

/// A store implementation under test.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    type Store: Store;
    /// Where one store lives (a directory, a database schema): what reopening needs. The
    /// suite keeps it for as long as it uses the store and drops it at the end of the check,
    /// which may clean up.
    type Place: Send + Sync;

    /// A new, empty store of its own, not shared with any other store the backend made.
    async fn create(&self) -> Result<(Self::Store, Self::Place), StoreError>;

    /// Opens the store at `place` again, as a restarted server would. The suite has dropped
    /// every handle to it first; a backend whose engine lets go of a store only a moment later
    /// may retry.
    async fn reopen(&self, place: &Self::Place) -> Result<Self::Store, StoreError>;
}

/// Why a check failed: where, and what differed.
#[derive(Debug)]
pub struct CheckError(String);

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckError {}

impl From<StoreError> for CheckError {
    /// A store call that should have succeeded failed: its whole cause chain is the reason.
    #[track_caller]
    fn from(e: StoreError) -> Self {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let cause = s.to_string();
            // Messages that already show their source need not repeat it.
            if !why.contains(&cause) {
                why.push_str(&format!(" (caused by: {cause})"));
            }
            source = s.source();
        }
        let at = std::panic::Location::caller();
        CheckError(format!("{}:{}: store error: {why}", at.file(), at.line()))
    }
}

/// What one check returns.
type Outcome = Result<(), CheckError>;

/// Fails the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err($crate::store::conformance::CheckError::new(file!(), line!(), format!($($why)+)));
        }
    };
}

/// Fails the check unless `left == right`, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($why:tt)+) => {
        // A match keeps temporaries in `left` and `right` alive, as in `assert_eq!`.
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::store::conformance::CheckError::new(
                        file!(),
                        line!(),
                        format!(
                            "{}:\n  got      {:?}\n  expected {:?}",
                            format!($($why)+),
                            left,
                            right
                        ),
                    ));
                }
            }
        }
    };
}

/// A file's checks as `(name, check)` pairs, ready to run on the backend `b`.
macro_rules! checks {
    ($b:ident; $($name:literal => $check:ident),+ $(,)?) => {
        vec![$(($name, Box::pin($check($b)) as _)),+]
    };
}

use checks;
use ensure;
use ensure_eq;

impl CheckError {
    fn new(file: &str, line: u32, why: String) -> Self {
        CheckError(format!("{file}:{line}: {why}"))
    }
}

/// One failed check.
#[derive(Debug)]
pub struct Failure {
    pub check: &'static str,
    pub error: CheckError,
}

/// What [`run_all`] found.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<&'static str>,
    pub failed: Vec<Failure>,
}

impl Report {
    /// Panics listing every failed check, if any did.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.failed.is_empty(), "{self}");
    }

    async fn run(
        &mut self,
        check: &'static str,
        outcome: impl std::future::Future<Output = Outcome>,
    ) {
        match outcome.await {
            Ok(()) => self.passed.push(check),
            Err(error) => {
                eprintln!("store conformance: {check} FAILED: {error}");
                self.failed.push(Failure { check, error });
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} of {} store conformance checks failed",
            self.failed.len(),
            self.failed.len() + self.passed.len()
        )?;
        for x in &self.failed {
            writeln!(f, "- {}: {}", x.check, x.error)?;
        }
        Ok(())
    }
}

/// Runs every check of the contract against `backend`, each on a fresh store, one after
/// another, and reports all of them (a failed check does not stop the others).
pub async fn run_all<B: Backend>(backend: &B) -> Report {
    let mut report = Report::default();
    let checks = [
        customers::checks(backend),
        kept::checks(backend),
        paging::checks(backend),
        restart::checks(backend),
    ];
    for (name, check) in checks.into_iter().flatten() {
        report.run(name, check).await;
    }
    report
}

/// A named check, ready to run.
type Check<'a> = (
    &'static str,
    std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>>,
);

/// A fresh store, or the reason the check cannot run.
async fn fresh<B: Backend>(b: &B) -> Result<(B::Store, B::Place), CheckError> {
    Ok(b.create().await?)
}

/// The fixed moment the checks' records are dated from.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("a valid time")
}

/// `t0` plus `secs` seconds.
fn at(secs: i64) -> OffsetDateTime {
    t0() + time::Duration::seconds(secs)
}

fn portfolio(name: &str) -> PortfolioName {
    PortfolioName::parse(name).expect("a valid portfolio name")
}

fn cid(id: &str) -> CustomerId {
    CustomerId::parse(id).expect("a valid customer id")
}

/// A customer with many facts known, all derived from `revenue` so that two versions of one
/// customer differ everywhere.
fn customer(id: &str, revenue: f64) -> Customer {
    let mut c = Customer::new(cid(id));
    c.segment = format!("segment-{}", revenue as i64 % 3);
    c.region = "EU".into();
    c.revenue = Some(revenue);
    c.gross_profit = Some(revenue * 0.25);
    c.purchase_count = Some(revenue as u64 % 17);
    c.first_purchase = Date::from_julian_day(2_460_000 + revenue as i32 % 400).ok();
    c.satisfaction = Some(7.5);
    c.in_pursuit = revenue as i64 % 2 == 0;
    c
}

/// Customer `id` of portfolio `p` scored at `when`, its score replaced by `tag` to tell
/// snapshots apart.
fn snapshot(p: &PortfolioName, id: &str, tag: f64, when: OffsetDateTime) -> ValueSnapshot {
    let c = customer(id, 1_000.0);
    let mut assessment = assess(
        &c,
        &ScoringPolicy::default(),
        &ClvParams::default(),
        None,
        when.date(),
    );
    assessment.score = tag;
    ValueSnapshot {
        portfolio: p.clone(),
        customer_id: c.id,
        assessment,
        tier: None,
        model_id: None,
        policy_version: format!("policy-{tag}"),
        scored_at: when,
    }
}

/// A run of `n` members (customers `m00000`…, ranks 1..=n) of `scheme`, created at `when`;
/// `tag` tells runs apart.
fn run(
    p: &PortfolioName,
    scheme: &str,
    when: OffsetDateTime,
    n: u64,
    tag: u64,
) -> (TierRun, Vec<Member>) {
    let members: Vec<Member> = (1..=n)
        .map(|rank| Member {
            customer_id: cid(&format!("m{:05}", (rank * 7919 + tag) % 100_000)),
            tier: (rank * 4 / (n + 1)) as u32,
            rank,
            percentile: rank as f64 / n as f64,
            metric_value: (n - rank) as f64 * 10.0 + tag as f64,
        })
        .collect();
    let run = TierRun {
        run_id: format!("ignored-{tag}"),
        portfolio: p.clone(),
        scheme: scheme.to_owned(),
        metric: Metric::Revenue,
        policy_version: format!("policy-{tag}"),
        created_at: when,
        summary: PyramidSummary {
            tiers: Vec::new(),
            top20_revenue_share: 0.5,
            top20_profit_share: 0.25,
            gini_revenue: 0.125,
            total_customers: n,
        },
        excluded: tag,
        cuts: CutPoints {
            scheme: builtin().swap_remove(0),
            min_metric: vec![Some(1.0), None],
            high_value_cut: Some(2.5),
        },
    };
    (run, members)
}

/// A fitted model of portfolio `p` fitted at `when`; `tag` tells models apart.
fn model(p: &PortfolioName, when: OffsetDateTime, tag: f64) -> ValueModel {
    ValueModel {
        model_id: format!("ignored-{tag}"),
        portfolio: p.clone(),
        purchases: BgNbdParams {
            r: 0.24,
            alpha: 4.41,
            a: 0.79,
            b: 2.43,
        }
        .into(),
        spend: GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        }
        .into(),
        log_likelihood: -tag,
        gamma_gamma_log_likelihood: -2.0 * tag,
        customers: 2_357,
        repeat_customers: 946,
        converged: true,
        iterations: 42,
        fitted_at: when,
        time_unit: TimeUnit::Week,
        penalizer: 0.0,
    }
}

/// Every customer a scan yields, checking that no chunk is empty.
async fn scan_all(mut rx: CustomerScan) -> Result<Vec<Customer>, CheckError> {
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        ensure!(!chunk.is_empty(), "a scan yielded an empty chunk");
        out.extend(chunk);
    }
    Ok(out)
}

/// `customers` sorted by id, the last of each id winning: what a store holds after upserting
/// them one after another.
fn expected_after(customers: impl IntoIterator<Item = Customer>) -> Vec<Customer> {
    let mut map = std::collections::BTreeMap::new();
    for c in customers {
        map.insert(c.id.clone(), c);
    }
    map.into_values().collect()
}

/// Ids, for messages.
fn ids(cs: &[Customer]) -> Vec<&str> {
    cs.iter().map(|c| c.id.as_str()).collect()
}

/// Commits a load of `customers`.
async fn load(
    store: &impl Store,
    p: &PortfolioName,
    customers: &[Customer],
) -> Result<super::UpsertCounts, StoreError> {
    let mut l: Box<dyn CustomerLoad> = store.begin_load(p);
    for c in customers {
        l.add(c)?;
    }
    l.commit().await
}
