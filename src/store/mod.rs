//! Persistence behind one contract, [`Store`], so that handlers do not know which engine keeps
//! their records and a second engine can be held to exactly the same behaviour.
//! [`SledStore`] is the implementation the server uses; [`conformance`] is the suite that every
//! implementation must pass.
//!
//! The documentation of each method below *is* the contract: an implementation may do anything
//! the text allows and nothing it forbids. What holds for every method:
//!
//! - **Durable on return.** A write whose future resolves `Ok` is on disk: it survives a crash
//!   and a restart. A write that fails with [`StoreError::Flush`] was applied but is not known
//!   to be durable; any other error means it was not applied.
//! - **Atomic.** Each write applies all of its records or none, and no reader ever sees part of
//!   one.
//! - **Read your writes.** Once a write has returned, every later read, through any handle to
//!   the same store, sees it.
//! - **Listings are paged by cursor.** [`Page::next`] is `Some` exactly when more items follow
//!   the page; passed back as `after`, it continues right after the page's last item, with no
//!   gap and no repeat. Cursors are opaque to callers and stay valid across restarts.
//!   A `limit` is a maximum and any value is allowed (`usize::MAX` for everything); a limit of
//!   0 yields an empty page without a cursor, so callers ask for at least 1.

pub mod conformance;
mod sled;

pub use self::sled::{SledStore, DEFAULT_CACHE_BYTES, DEFAULT_VALUE_CACHE_ENTRIES};

use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

/// What can go wrong below the API. Only [`StoreError::DuplicateInLoad`] is the caller's fault;
/// everything else is the store's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine underneath failed. `source` is its own error, kept whole so that the cause
    /// chain can be walked and printed; `context` names the engine and, where known, what it
    /// was doing. The message names only the context: whoever reports it walks the chain.
    #[error("storage backend ({context})")]
    Backend {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store on disk was written in a layout this build cannot read; refusing it is safer
    /// than misreading it.
    #[error("the store at {path} has format version {found}; this build reads {supported}")]
    UnknownFormat {
        path: String,
        found: String,
        supported: String,
    },
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

impl StoreError {
    /// A [`StoreError::Backend`] wrapping the engine's error `source`.
    pub fn backend(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            context,
            source: source.into(),
        }
    }
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
    /// Opaque position after the last item; `None` exactly when nothing follows.
    pub next: Option<u64>,
}

/// A load of customers into one portfolio that becomes visible all at once on
/// [`CustomerLoad::commit`], or not at all when dropped uncommitted. Customers are encoded as
/// they are added, so a bulk load holds the encoded records, not the decoded ones.
#[async_trait::async_trait]
pub trait CustomerLoad: Send {
    /// Adds one customer to the load. Nothing is visible to readers before the commit. An error
    /// leaves the load unusable: drop it, and nothing of it is stored.
    fn add(&mut self, customer: &Customer) -> Result<(), StoreError>;

    /// Applies everything added in one atomic, durable write: readers see none of it before
    /// and all of it after. Each customer is inserted whole or replaces the stored one whole;
    /// `inserted` counts the ids the portfolio did not hold, `updated` the ones it did, exactly
    /// (loads and upserts into one portfolio are applied one after another).
    ///
    /// A customer added twice fails the whole load with [`StoreError::DuplicateInLoad`] naming
    /// the id and the positions (from 0) of its first two adds, and stores nothing: which of
    /// the two was meant is unknown. An empty load stores nothing and counts zero.
    async fn commit(self: Box<Self>) -> Result<UpsertCounts, StoreError>;
}

/// Every customer of a portfolio, ascending by id, in non-empty chunks; an `Err` ends the scan.
pub type CustomerScan = tokio::sync::mpsc::Receiver<Result<Vec<Customer>, StoreError>>;

/// Customers, their kept values, tiering runs, value models and the page-token secret.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Starts an all-or-nothing load into `portfolio` (see [`CustomerLoad`]). Starting one
    /// stores nothing; dropping it uncommitted leaves no trace.
    fn begin_load(&self, portfolio: &PortfolioName) -> Box<dyn CustomerLoad>;

    /// Inserts or replaces `customers` in `portfolio`, all of them or none: exactly a load of
    /// them, committed (same counts, same errors).
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

    /// The stored facts of one customer, as last loaded or upserted; `None` when the portfolio
    /// does not hold it. Portfolios are separate: the same id in another portfolio is another
    /// customer.
    async fn get_customer(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<Customer>, StoreError>;

    /// The stored facts of several customers at once, in the order of `ids` (`None` where the
    /// portfolio does not hold one; an id asked twice is answered twice). One round trip to
    /// the engine rather than one per id: a sales list view asks for hundreds at a time.
    async fn get_customers(
        &self,
        portfolio: &PortfolioName,
        ids: &[CustomerId],
    ) -> Result<Vec<Option<Customer>>, StoreError>;

    /// Streams every customer of `portfolio` exactly once, ascending by id, in non-empty
    /// chunks, from one consistent state: a write committed while the scan runs shows wholly
    /// or not at all. The scan starts at once (it needs a tokio runtime); an `Err` item ends it,
    /// and dropping the receiver stops it.
    fn scan_customers(&self, portfolio: &PortfolioName) -> CustomerScan;

    /// Customers of a portfolio with ids strictly after `after` (from the first when `None`),
    /// ascending by id: `min(limit, remaining)` of them, so a page shorter than `limit` is the
    /// last one. Paging on with the last id of each page lists what
    /// [`Store::scan_customers`] lists.
    async fn customers_page(
        &self,
        portfolio: &PortfolioName,
        after: Option<CustomerId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError>;

    /// Appends a value snapshot to its customer's history, durably. Nothing is ever
    /// overwritten: a snapshot with the same `scored_at` as a kept one is kept beside it and
    /// counts as the newer of the two.
    async fn keep_value(&self, value: &ValueSnapshot) -> Result<(), StoreError>;

    /// The newest kept value of one customer: the one with the latest `scored_at`, whatever
    /// the order they were kept in (of equal times, the one kept last). `None` when none was
    /// kept. Another customer's values never count, even when one id is a prefix of the other.
    async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<ValueSnapshot>, StoreError>;

    /// Kept values of one customer, newest first (the order of [`Store::latest_value`], so
    /// the first item of the first page is the latest value), at most `limit`, after cursor
    /// `after` (see the module docs on paging).
    async fn value_history(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<ValueSnapshot>, StoreError>;

    /// Stores a tiering run and all its members in one atomic, durable write, under a new run
    /// id set in the returned run (the given `run_id` is ignored; everything else is kept as
    /// given): runs are never rewritten. `members` come in rank order with ranks `1..=n`, as
    /// [`crate::domain::pyramid::Scheme::tier`] makes them.
    ///
    /// Run ids are unique in the store and ordered like the runs' `created_at`; runs created in
    /// the same nanosecond still get distinct ids, the one saved later sorting after. The run
    /// becomes the latest of its portfolio and scheme.
    async fn save_run(&self, run: TierRun, members: Vec<Member>) -> Result<TierRun, StoreError>;

    /// The run saved under `run_id`, as returned by [`Store::save_run`]; `None` if there is
    /// none.
    async fn get_run(&self, run_id: &str) -> Result<Option<TierRun>, StoreError>;

    /// The run of a portfolio and scheme that was saved last; `None` before the first. Shared
    /// (`Arc`) because every score reads it: implementations are expected to answer it from
    /// memory.
    async fn latest_run(
        &self,
        portfolio: &PortfolioName,
        scheme: &str,
    ) -> Result<Option<std::sync::Arc<TierRun>>, StoreError>;

    /// Runs of a portfolio, of every scheme, newest first by `created_at` (descending run id),
    /// at most `limit`, after cursor `after` (see the module docs on paging).
    async fn list_runs(
        &self,
        portfolio: &PortfolioName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<TierRun>, StoreError>;

    /// Members of a run with ranks in `from..=to` (ranks start at 1), ascending by rank, at
    /// most `limit`. Empty when `from` is 0, `from > to` or the run is unknown. A caller pages
    /// on from the last rank returned, plus one.
    async fn run_members(
        &self,
        run_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError>;

    /// One member of a run, by customer; `None` when the customer is not in the run or the run
    /// is unknown.
    async fn run_member(
        &self,
        run_id: &str,
        customer: &CustomerId,
    ) -> Result<Option<Member>, StoreError>;

    /// Stores a fitted model under a new id (set in the returned model; the given `model_id` is
    /// ignored) and makes it the portfolio's latest, in one atomic, durable write. Model ids
    /// are unique in the store.
    async fn save_model(&self, model: ValueModel) -> Result<ValueModel, StoreError>;

    /// The model saved under `model_id`, as returned by [`Store::save_model`]; `None` if there
    /// is none.
    async fn get_model(&self, model_id: &str) -> Result<Option<ValueModel>, StoreError>;

    /// The portfolio's model that was saved last; `None` before the first.
    async fn latest_model(
        &self,
        portfolio: &PortfolioName,
    ) -> Result<Option<ValueModel>, StoreError>;

    /// The secret that signs page tokens: 32 random bytes from the operating system, made on
    /// the first call and stored durably before that call returns. Every later call, through
    /// any handle, concurrent or after any number of restarts, returns the same bytes, so page
    /// tokens handed out stay valid. Two stores never share one (short of copying the data).
    async fn page_token_key(&self) -> Result<[u8; 32], StoreError>;

    /// Makes everything durable (used at shutdown; every write already is when it returns).
    async fn flush(&self) -> Result<(), StoreError>;
}
