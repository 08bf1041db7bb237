//! Tiering a portfolio into the customer pyramid, and reading runs back.

use super::{blocking, Oracle, OracleError, Result};
use crate::domain::id::{shown, PortfolioName};
use crate::domain::pyramid::{compare, Member, Metric, Migration, Scheme, TierInput};
use crate::domain::scoring::assess_quietly;
use crate::domain::snapshot::TierRun;
use crate::store::Page;

/// Longest run id accepted: ids are `r` and 16 hex digits.
const MAX_RUN_ID: usize = 64;

impl Oracle {
    /// The built-in and configured schemes.
    pub fn schemes(&self) -> &[Scheme] {
        &self.schemes
    }

    pub fn default_scheme(&self) -> &str {
        &self.default_scheme
    }

    /// The scheme called `name`, the default one for `None`; an unknown name is invalid input
    /// of the field `scheme`, with the known names.
    pub fn scheme(&self, name: Option<&str>) -> Result<&Scheme> {
        let name = name.unwrap_or(&self.default_scheme);
        self.schemes.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.schemes.iter().map(|s| s.name.as_str()).collect();
            OracleError::invalid(
                "scheme",
                format!(
                    "\"{}\" is not a scheme; known: {}",
                    shown(name),
                    known.join(", ")
                ),
            )
        })
    }

    /// Scores every stored customer of `portfolio`, ranks them by `metric`, cuts the ranking
    /// by `scheme` and stores the run with all its members in one durable write.
    /// FAILED_PRECONDITION for a portfolio without customers.
    pub async fn tier_portfolio(
        &self,
        portfolio: PortfolioName,
        scheme: &Scheme,
        metric: Metric,
    ) -> Result<TierRun> {
        // With a fitted model for the portfolio, CLV comes from it, as in a single score.
        let models = self
            .store
            .latest_model(&portfolio)
            .await?
            .map(|m| m.models());
        let mut scan = self.store.scan_customers(&portfolio);
        let policy = self.policy.clone();
        let scheme = scheme.clone();
        let today = self.clock.today();
        let (empty, outcome) = blocking("tiering", move || {
            let started = std::time::Instant::now();
            let mut inputs = Vec::new();
            let mut estimator = models.as_ref().map(|m| m.estimator(&policy.clv));
            while let Some(chunk) = scan.blocking_recv() {
                for c in chunk? {
                    let estimate = estimator.as_mut().and_then(|e| e(&c));
                    let a = assess_quietly(&c, &policy, &policy.clv, estimate, today);
                    inputs.push(TierInput::from_assessment(&c, &a, metric));
                }
            }
            let scored = started.elapsed();
            let empty = inputs.is_empty();
            let outcome = scheme.tier(inputs);
            tracing::debug!(?scored, cut = ?(started.elapsed() - scored), "portfolio scored and cut");
            Ok((empty, outcome))
        })
        .await?;
        if empty {
            return Err(OracleError::FailedPrecondition(format!(
                "portfolio \"{portfolio}\" has no customers to tier"
            )));
        }
        let run = TierRun {
            run_id: String::new(),
            portfolio,
            scheme: outcome.cuts.scheme.name.clone(),
            metric,
            policy_version: self.policy_version.clone(),
            created_at: self.clock.now(),
            summary: outcome.summary,
            excluded: outcome.excluded,
            cuts: outcome.cuts,
        };
        let started = std::time::Instant::now();
        let run = self.store.save_run(run, outcome.members).await?;
        tracing::debug!(saved = ?started.elapsed(), "run stored");
        Ok(run)
    }

    /// A stored run, or NOT_FOUND. `field` names the request field the id came from, for an
    /// id that cannot be a run id.
    pub async fn run(&self, run_id: &str, field: &str) -> Result<TierRun> {
        if run_id.is_empty() || run_id.len() > MAX_RUN_ID {
            return Err(OracleError::invalid(field, "is not a run id"));
        }
        self.store
            .get_run(run_id)
            .await?
            .ok_or_else(|| OracleError::NotFound(format!("no tiering run \"{}\"", shown(run_id))))
    }

    /// Runs of a portfolio, newest first, after the cursor `after`.
    pub async fn runs(
        &self,
        portfolio: &PortfolioName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<TierRun>> {
        Ok(self.store.list_runs(portfolio, after, limit).await?)
    }

    /// Members of `run` in rank order, of one tier or all, from rank `from` (the first rank
    /// of the selection for `None`), at most `limit`; with the rank to continue from.
    pub async fn members(
        &self,
        run: &TierRun,
        tier: Option<&str>,
        from: Option<u64>,
        limit: usize,
    ) -> Result<Page<Member>> {
        let (first, last) = match tier {
            None => (1, run.summary.total_customers),
            Some(t) => run.rank_range(t).ok_or_else(|| {
                OracleError::invalid(
                    "tier",
                    format!("\"{}\" is not a tier of this run", shown(t)),
                )
            })?,
        };
        let from = from.unwrap_or(first);
        let items = self
            .store
            .run_members(&run.run_id, from, last, limit)
            .await?;
        let next = items.last().map(|m| m.rank + 1).filter(|&r| r <= last);
        Ok(Page { items, next })
    }

    /// The customer flow between two runs of one scheme. FAILED_PRECONDITION for runs of
    /// different schemes, which have no common tiers.
    pub async fn compare_runs(&self, from: &TierRun, to: &TierRun) -> Result<Migration> {
        if from.scheme != to.scheme || from.cuts.scheme.layers != to.cuts.scheme.layers {
            return Err(OracleError::FailedPrecondition(format!(
                "runs of different schemes ({} and {}) have no common tiers to compare",
                from.scheme, to.scheme
            )));
        }
        let a = self
            .store
            .run_members(&from.run_id, 1, from.summary.total_customers, usize::MAX)
            .await?;
        let b = self
            .store
            .run_members(&to.run_id, 1, to.summary.total_customers, usize::MAX)
            .await?;
        let tiers: Vec<String> = from.summary.tiers.iter().map(|t| t.tier.clone()).collect();
        Ok(compare(&tiers, &a, &b))
    }
}
