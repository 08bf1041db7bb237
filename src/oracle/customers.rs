//! Customer facts: store, bulk-load and read them.

use super::{Oracle, OracleError, Result};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::store::{CustomerLoad, UpsertCounts};

/// A bulk load under way: customers are added as they arrive and become visible all at once
/// on [`Load::commit`]; a load dropped uncommitted stores nothing.
pub struct Load {
    portfolio: PortfolioName,
    pending: Box<dyn CustomerLoad>,
    added: u64,
}

impl Load {
    pub fn portfolio(&self) -> &PortfolioName {
        &self.portfolio
    }

    /// Customers added so far.
    pub fn len(&self) -> u64 {
        self.added
    }

    pub fn is_empty(&self) -> bool {
        self.added == 0
    }

    pub fn add(&mut self, customer: &Customer) -> Result<()> {
        self.pending.add(customer)?;
        self.added += 1;
        Ok(())
    }

    /// Stores everything added in one atomic, durable write. A customer added twice fails the
    /// whole load (which of the two was meant is unknown).
    pub async fn commit(self) -> Result<UpsertCounts> {
        Ok(self.pending.commit().await?)
    }
}

impl Oracle {
    /// Inserts or replaces `customers` (ids unique) in `portfolio`, all or none.
    pub async fn upsert_customers(
        &self,
        portfolio: &PortfolioName,
        customers: &[Customer],
    ) -> Result<UpsertCounts> {
        Ok(self.store.upsert_customers(portfolio, customers).await?)
    }

    /// Starts an all-or-nothing bulk load into `portfolio`.
    pub fn begin_load(&self, portfolio: &PortfolioName) -> Load {
        Load {
            portfolio: portfolio.clone(),
            pending: self.store.begin_load(portfolio),
            added: 0,
        }
    }

    /// The stored facts of one customer, or NOT_FOUND.
    pub async fn customer(&self, portfolio: &PortfolioName, id: &CustomerId) -> Result<Customer> {
        self.store
            .get_customer(portfolio, id)
            .await?
            .ok_or_else(|| no_customer(portfolio, id))
    }
}

pub(crate) fn no_customer(portfolio: &PortfolioName, id: &CustomerId) -> OracleError {
    OracleError::NotFound(format!("no customer \"{id}\" in portfolio \"{portfolio}\""))
}
