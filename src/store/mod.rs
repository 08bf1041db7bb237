//! Persistence behind one trait, [`Store`], so that handlers do not know about sled and tests
//! could swap the engine. [`SledStore`] is the implementation the server uses.
//!
//! Every write is atomic and acknowledged (its future resolves `Ok`) only after it has been
//! flushed to disk: a caller that got an answer can rely on it surviving a crash.

pub mod block;
pub mod codec;
mod commit;
mod sled_store;
mod values;

pub use sled_store::{SledStore, DEFAULT_CACHE_BYTES, DEFAULT_VALUE_CACHE_ENTRIES};

use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

/// Version of the on-disk layout this build reads and writes. It also opens format 1 and
/// upgrades it in place (see the sled store's docs).
pub const FORMAT_VERSION: u32 = 2;

/// What can go wrong below the API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error(
        "the store at {path} has format version {found}; this build reads version {FORMAT_VERSION}"
    )]
    UnknownFormat { path: String, found: String },
    #[error("corrupt record under key {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("storage task failed: {0}")]
    Task(String),
    /// Written, but making it durable failed: the write was not acknowledged.
    #[error("flushing to disk failed: {0}")]
    Flush(String),
    /// A load named one customer twice (the `first` and `second` customers added, from 0).
    #[error("customer {id:?} was added twice to one load (as number {first} and {second})")]
    DuplicateInLoad {
        id: String,
        first: usize,
        second: usize,
    },
}

/// How many customers an upsert inserted and how many it replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
}

/// A page of results and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque position after the last item; `None` when there is no more.
    pub next: Option<u64>,
}

/// A load of customers into one portfolio that becomes visible all at once on
/// [`CustomerLoad::commit`], or not at all when dropped uncommitted. Customers are encoded as
/// they are added, so a bulk load holds the encoded records, not the decoded ones.
#[tonic::async_trait]
pub trait CustomerLoad: Send {
    fn add(&mut self, customer: &Customer) -> Result<(), StoreError>;

    /// Applies everything added in one atomic, flushed write. A customer added twice fails the
    /// whole load with [`StoreError::DuplicateInLoad`]: which of the two was meant is unknown.
    async fn commit(self: Box<Self>) -> Result<UpsertCounts, StoreError>;
}

/// Every customer of a portfolio, ascending by id, in chunks; an `Err` ends the scan.
pub type CustomerScan = tokio::sync::mpsc::Receiver<Result<Vec<Customer>, StoreError>>;

/// Customers and their kept values.
#[tonic::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Starts an all-or-nothing load into `portfolio`.
    fn begin_load(&self, portfolio: &PortfolioName) -> Box<dyn CustomerLoad>;

    /// Inserts or replaces `customers` in `portfolio`, all of them or none.
    async fn upsert_customers(
        &self,
        portfolio: &PortfolioName,
        customers: &[Customer],
    ) -> Result<UpsertCounts, StoreError> {
        let mut load = self.begin_load(portfolio);
        for c in customers {
            load.add(c)?;
        }
        load.commit().await
    }

    /// The stored facts of one customer.
    async fn get_customer(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<Customer>, StoreError>;

    /// Streams every customer of `portfolio`, ascending by id, from a consistent state.
    fn scan_customers(&self, portfolio: &PortfolioName) -> CustomerScan;

    /// Appends a value snapshot to the customer's history and makes it the latest.
    async fn keep_value(&self, value: &ValueSnapshot) -> Result<(), StoreError>;

    /// The latest kept value of one customer.
    async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<ValueSnapshot>, StoreError>;

    /// Kept values of one customer, newest first, starting after cursor `after`.
    async fn value_history(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<ValueSnapshot>, StoreError>;

    /// Stores a tiering run and all its members (in rank order) in one atomic, flushed write,
    /// under a new run id (set in the returned run): runs are never rewritten.
    async fn save_run(&self, run: TierRun, members: Vec<Member>) -> Result<TierRun, StoreError>;

    async fn get_run(&self, run_id: &str) -> Result<Option<TierRun>, StoreError>;

    /// The newest run of a portfolio with a scheme (shared: it is read by every score).
    async fn latest_run(
        &self,
        portfolio: &PortfolioName,
        scheme: &str,
    ) -> Result<Option<std::sync::Arc<TierRun>>, StoreError>;

    /// Runs of a portfolio, newest first, after cursor `after`.
    async fn list_runs(
        &self,
        portfolio: &PortfolioName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<TierRun>, StoreError>;

    /// Members of a run with ranks in `from..=to` (1-based), at most `limit`, in rank order.
    async fn run_members(
        &self,
        run_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError>;

    /// One member of a run, by customer.
    async fn run_member(
        &self,
        run_id: &str,
        customer: &CustomerId,
    ) -> Result<Option<Member>, StoreError>;

    /// Customers of a portfolio with ids after `after`, ascending, at most `limit`.
    async fn customers_page(
        &self,
        portfolio: &PortfolioName,
        after: Option<CustomerId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError>;

    /// Stores a fitted model under a new id (set in the returned model) and makes it the
    /// portfolio's latest, in one flushed write.
    async fn save_model(&self, model: ValueModel) -> Result<ValueModel, StoreError>;

    async fn get_model(&self, model_id: &str) -> Result<Option<ValueModel>, StoreError>;

    async fn latest_model(
        &self,
        portfolio: &PortfolioName,
    ) -> Result<Option<ValueModel>, StoreError>;

    /// Flushes everything to disk (used at shutdown; writes already flush themselves).
    async fn flush(&self) -> Result<(), StoreError>;
}
