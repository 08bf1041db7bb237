//! Scoring one customer, keeping the result, and reading kept values back.

use super::{Oracle, OracleError, Result};
use crate::domain::clv::ClvParams;
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::TierInput;
use crate::domain::scoring::assess;
use crate::domain::snapshot::{TierPlacement, ValueSnapshot};
use crate::store::Page;

/// Whom to score.
#[derive(Debug, Clone)]
pub enum Subject {
    /// Facts sent with the request; not stored as customer facts.
    /// Boxed: a customer is a few hundred bytes, an id a pointer.
    Inline(Box<Customer>),
    /// A stored customer.
    Stored(CustomerId),
}

/// One scoring request.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    pub portfolio: PortfolioName,
    pub subject: Subject,
    /// The policy's CLV parameters, or the caller's override.
    pub clv: ClvParams,
    /// Store the result as a snapshot before answering.
    pub keep: bool,
}

impl Oracle {
    /// Scores a customer: the value score with its reasons, CLV (from the portfolio's fitted
    /// model when there is one, else the policy's formula), status, flags, and the tier placed
    /// by the cut points of the portfolio's latest run of the default scheme. With `keep`, the
    /// snapshot is durable before this returns.
    pub async fn score(&self, req: ScoreRequest) -> Result<ValueSnapshot> {
        let ScoreRequest {
            portfolio,
            subject,
            clv,
            keep,
        } = req;
        let customer = match subject {
            Subject::Inline(c) => *c,
            Subject::Stored(id) => self.customer(&portfolio, &id).await?,
        };
        let today = self.clock.today();
        let model = self.store.latest_model(&portfolio).await?;
        let estimate = model
            .as_ref()
            .and_then(|m| m.models().estimate(&customer, &clv));
        let assessment = assess(&customer, &self.policy, &clv, estimate, today);
        let tier = match self
            .store
            .latest_run(&portfolio, &self.default_scheme)
            .await?
        {
            Some(run) => {
                let input = TierInput::from_assessment(&customer, &assessment, run.metric);
                run.cuts.place(&input).map(|tier| TierPlacement {
                    tier,
                    run_id: run.run_id.clone(),
                })
            }
            None => None,
        };
        let snapshot = ValueSnapshot {
            portfolio,
            customer_id: customer.id,
            assessment,
            tier,
            model_id: model.filter(|_| estimate.is_some()).map(|m| m.model_id),
            policy_version: self.policy_version.clone(),
            scored_at: self.clock.now(),
        };
        if keep {
            self.store.keep_value(&snapshot).await?;
        }
        Ok(snapshot)
    }

    /// The latest kept value of a customer, or NOT_FOUND.
    pub async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<ValueSnapshot> {
        self.store
            .latest_value(portfolio, id)
            .await?
            .ok_or_else(|| {
                OracleError::NotFound(format!(
                    "no kept value for customer \"{id}\" in portfolio \"{portfolio}\""
                ))
            })
    }

    /// Kept values of a customer, newest first, after the cursor `after`.
    pub async fn value_history(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<ValueSnapshot>> {
        Ok(self
            .store
            .value_history(portfolio, id, after, limit)
            .await?)
    }
}
