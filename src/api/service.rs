//! The tonic handlers of `cvo.v1.CustomerValueService`: each converts its request (validating
//! it), calls its use case on the [`Oracle`], and converts the answer; nothing else. Who may
//! call what is decided before any of them runs, by [`super::authz`].

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};

use super::auth::Role;
use super::authz;
use super::convert::{self, model, request, tier, value};
use super::error::{invalid, Violations};
use super::paging::{self, PageTokens};
use super::pb;
use super::pb::customer_value_service_server::CustomerValueService;
use crate::config::Limits;
use crate::domain::id::{shown, CustomerId};
use crate::oracle::customers::Load;
use crate::oracle::models::Selection;
use crate::oracle::Oracle;

/// State of the handlers.
pub struct Api {
    oracle: Arc<Oracle>,
    limits: Limits,
    tokens: PageTokens,
}

impl Api {
    pub fn new(oracle: Arc<Oracle>, limits: Limits, tokens: PageTokens) -> Self {
        Self {
            oracle,
            limits,
            tokens,
        }
    }

    fn page_size(&self, requested: u32) -> usize {
        paging::page_size(requested, self.limits.max_page_size)
    }

    /// Adds one validated chunk of a LoadCustomers stream to the load, starting it with the
    /// first chunk.
    fn load_chunk(
        &self,
        chunk: &pb::UpsertCustomersRequest,
        load: &mut Option<Load>,
        seen: &mut HashMap<String, usize>,
    ) -> Result<(), Status> {
        let mut v = Violations::new();
        let total = load.as_ref().map_or(0, |l| l.len() as usize);
        let p = match load {
            None => convert::portfolio(&chunk.portfolio, "portfolio", &mut v),
            Some(l) => {
                let p = l.portfolio();
                if !chunk.portfolio.is_empty() && chunk.portfolio != p.as_str() {
                    v.add(
                        "portfolio",
                        format!(
                            "\"{}\" differs from \"{p}\" of the stream's first message",
                            shown(&chunk.portfolio)
                        ),
                    );
                }
                Some(p.clone())
            }
        };
        if total + chunk.customers.len() > self.limits.max_customers_per_load {
            v.add(
                "customers",
                format!(
                    "more than {} customers in one load",
                    self.limits.max_customers_per_load
                ),
            );
            return Err(v.into_status());
        }
        // Duplicates across chunks are found by the store when it sorts the load at commit;
        // within a chunk they are named here, with the chunk's other problems.
        seen.clear();
        let today = self.oracle.today();
        let customers = request::customers(&chunk.customers, total, today, seen, &mut v);
        let p = v.finish(p)?;
        let load = load.get_or_insert_with(|| self.oracle.begin_load(&p));
        for c in &customers {
            load.add(c)?;
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl CustomerValueService for Api {
    async fn upsert_customers(
        &self,
        request: Request<pb::UpsertCustomersRequest>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        let req = request.into_inner();
        let (p, customers) = request::upsert(&req, &self.limits, self.oracle.today())?;
        let counts = self.oracle.upsert_customers(&p, &customers).await?;
        tracing::debug!(portfolio = %p, inserted = counts.inserted, updated = counts.updated, "upserted customers");
        Ok(Response::new(pb::UpsertCustomersResponse {
            inserted: counts.inserted,
            updated: counts.updated,
        }))
    }

    async fn load_customers(
        &self,
        request: Request<Streaming<pb::UpsertCustomersRequest>>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        let mut stream = request.into_inner();
        // Any early return drops the load uncommitted: nothing of the stream is stored.
        let mut load = None;
        let mut seen = HashMap::new();
        while let Some(chunk) = stream.message().await? {
            self.load_chunk(&chunk, &mut load, &mut seen)?;
        }
        let Some(load) = load.filter(|l| !l.is_empty()) else {
            return Err(invalid("customers", "the stream carried no customers"));
        };
        let (p, total) = (load.portfolio().clone(), load.len());
        let counts = load.commit().await?;
        // Ids (portfolio names included) are logged at debug level only.
        tracing::debug!(portfolio = %p, "bulk load");
        tracing::info!(
            customers = total,
            inserted = counts.inserted,
            updated = counts.updated,
            "bulk load committed"
        );
        Ok(Response::new(pb::UpsertCustomersResponse {
            inserted: counts.inserted,
            updated: counts.updated,
        }))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let req = request.into_inner();
        let (p, id) = request::one_customer(&req.portfolio, &req.customer_id)?;
        let c = self.oracle.customer(&p, &id).await?;
        Ok(Response::new(pb::GetCustomerResponse {
            customer: Some(convert::customer_to_proto(&c)),
        }))
    }

    async fn score_customer(
        &self,
        request: Request<pb::ScoreCustomerRequest>,
    ) -> Result<Response<pb::ScoreCustomerResponse>, Status> {
        // Scoring reads; keeping the score writes (the one rule finer than the table).
        if request.get_ref().keep {
            authz::caller(&request).require(Role::Write, "keep: true")?;
        }
        let defaults = self.oracle.policy().clv;
        let req = request::score(request.into_inner(), defaults, self.oracle.today())?;
        let snapshot = self.oracle.score(req).await?;
        Ok(Response::new(pb::ScoreCustomerResponse {
            value: Some(value::value_to_proto(snapshot)),
        }))
    }

    async fn get_customer_value(
        &self,
        request: Request<pb::GetCustomerValueRequest>,
    ) -> Result<Response<pb::GetCustomerValueResponse>, Status> {
        let req = request.into_inner();
        let (p, id) = request::one_customer(&req.portfolio, &req.customer_id)?;
        let v = self.oracle.latest_value(&p, &id).await?;
        Ok(Response::new(pb::GetCustomerValueResponse {
            value: Some(value::value_to_proto(v)),
        }))
    }

    async fn list_customer_history(
        &self,
        request: Request<pb::ListCustomerHistoryRequest>,
    ) -> Result<Response<pb::ListCustomerHistoryResponse>, Status> {
        let req = request.into_inner();
        let (p, id) = request::one_customer(&req.portfolio, &req.customer_id)?;
        let scope = ["ListCustomerHistory", p.as_str(), id.as_str()];
        let after = self.tokens.decode(&scope, &req.page_token)?;
        let limit = self.page_size(req.page_size);
        let page = self.oracle.value_history(&p, &id, after, limit).await?;
        Ok(Response::new(pb::ListCustomerHistoryResponse {
            values: page.items.into_iter().map(value::value_to_proto).collect(),
            next_page_token: self.tokens.encode(&scope, page.next),
        }))
    }

    async fn get_policy(
        &self,
        _request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(value::policy_to_proto(self.oracle.policy())),
        }))
    }

    async fn tier_portfolio(
        &self,
        request: Request<pb::TierPortfolioRequest>,
    ) -> Result<Response<pb::TierPortfolioResponse>, Status> {
        let req = request.into_inner();
        let (p, scheme, metric) = request::tier(&req, &self.oracle)?;
        let run = self.oracle.tier_portfolio(p, scheme, metric).await?;
        tracing::debug!(portfolio = %run.portfolio, "tiering run");
        tracing::info!(run_id = %run.run_id, scheme = %run.scheme, customers = run.summary.total_customers, "tiering run stored");
        Ok(Response::new(pb::TierPortfolioResponse {
            run: Some(tier::run_to_proto(&run)),
        }))
    }

    async fn get_tier_run(
        &self,
        request: Request<pb::GetTierRunRequest>,
    ) -> Result<Response<pb::GetTierRunResponse>, Status> {
        let run = self.oracle.run(&request.get_ref().run_id, "run_id").await?;
        Ok(Response::new(pb::GetTierRunResponse {
            run: Some(tier::run_to_proto(&run)),
        }))
    }

    async fn list_tier_runs(
        &self,
        request: Request<pb::ListTierRunsRequest>,
    ) -> Result<Response<pb::ListTierRunsResponse>, Status> {
        let req = request.into_inner();
        let p = request::portfolio_only(&req.portfolio)?;
        let scope = ["ListTierRuns", p.as_str()];
        let after = self.tokens.decode(&scope, &req.page_token)?;
        let page = self
            .oracle
            .runs(&p, after, self.page_size(req.page_size))
            .await?;
        Ok(Response::new(pb::ListTierRunsResponse {
            runs: page.items.iter().map(tier::run_to_proto).collect(),
            next_page_token: self.tokens.encode(&scope, page.next),
        }))
    }

    async fn list_tier_members(
        &self,
        request: Request<pb::ListTierMembersRequest>,
    ) -> Result<Response<pb::ListTierMembersResponse>, Status> {
        let req = request.into_inner();
        let run = self.oracle.run(&req.run_id, "run_id").await?;
        let scope = ["ListTierMembers", run.run_id.as_str(), req.tier.as_str()];
        let from = self.tokens.decode(&scope, &req.page_token)?;
        let filter = (!req.tier.is_empty()).then_some(req.tier.as_str());
        let page = self
            .oracle
            .members(&run, filter, from, self.page_size(req.page_size))
            .await?;
        Ok(Response::new(pb::ListTierMembersResponse {
            members: page
                .items
                .iter()
                .map(|m| tier::member_to_proto(&run, m))
                .collect(),
            next_page_token: self.tokens.encode(&scope, page.next),
        }))
    }

    async fn compare_tier_runs(
        &self,
        request: Request<pb::CompareTierRunsRequest>,
    ) -> Result<Response<pb::CompareTierRunsResponse>, Status> {
        let req = request.into_inner();
        let from = self.oracle.run(&req.from_run_id, "from_run_id").await?;
        let to = self.oracle.run(&req.to_run_id, "to_run_id").await?;
        let scope = ["CompareTierRuns", from.run_id.as_str(), to.run_id.as_str()];
        let start = self.tokens.decode(&scope, &req.page_token)?.unwrap_or(0) as usize;
        let flow = self.oracle.compare_runs(&from, &to).await?;
        let mut resp = tier::migration_to_proto(&flow, start, self.page_size(req.page_size));
        let end = start + resp.movers.len();
        if end < flow.movers.len() {
            resp.next_page_token = self.tokens.encode(&scope, Some(end as u64));
        }
        Ok(Response::new(resp))
    }

    async fn list_schemes(
        &self,
        _request: Request<pb::ListSchemesRequest>,
    ) -> Result<Response<pb::ListSchemesResponse>, Status> {
        Ok(Response::new(pb::ListSchemesResponse {
            schemes: self
                .oracle
                .schemes()
                .iter()
                .map(tier::scheme_to_proto)
                .collect(),
            default_scheme: self.oracle.default_scheme().to_owned(),
        }))
    }

    async fn fit_value_model(
        &self,
        request: Request<pb::FitValueModelRequest>,
    ) -> Result<Response<pb::FitValueModelResponse>, Status> {
        let (p, unit, penalizer) = request::fit(request.get_ref())?;
        let m = self.oracle.fit_value_model(p, unit, penalizer).await?;
        tracing::debug!(portfolio = %m.portfolio, "value model");
        tracing::info!(model_id = %m.model_id, customers = m.customers, "value model stored");
        Ok(Response::new(pb::FitValueModelResponse {
            model: Some(model::model_to_proto(&m)),
        }))
    }

    async fn get_value_model(
        &self,
        request: Request<pb::GetValueModelRequest>,
    ) -> Result<Response<pb::GetValueModelResponse>, Status> {
        use pb::get_value_model_request::Selector;
        let m = match request.into_inner().selector {
            Some(Selector::ModelId(id)) => self.oracle.model(&id).await?,
            Some(Selector::Portfolio(p)) => {
                let p = request::portfolio_only(&p)?;
                self.oracle.latest_model(&p).await?
            }
            None => {
                let p = request::portfolio_only("")?;
                self.oracle.latest_model(&p).await?
            }
        };
        Ok(Response::new(pb::GetValueModelResponse {
            model: Some(model::model_to_proto(&m)),
        }))
    }

    async fn predict_customers(
        &self,
        request: Request<pb::PredictCustomersRequest>,
    ) -> Result<Response<pb::PredictCustomersResponse>, Status> {
        let req = request.into_inner();
        let (p, horizon, ids) = request::predict(&req, &self.limits)?;
        let scope = ["PredictCustomers", p.as_str()];
        let selection = if ids.is_empty() {
            let after = self
                .tokens
                .decode_key(&scope, &req.page_token)?
                .map(|k| CustomerId::parse(&k))
                .transpose()
                .map_err(|_| invalid("page_token", "is not a page token of this listing"))?;
            Selection::Page {
                after,
                limit: self.page_size(req.page_size),
            }
        } else {
            Selection::Ids(ids)
        };
        let out = self.oracle.predict(&p, selection, horizon).await?;
        Ok(Response::new(pb::PredictCustomersResponse {
            model_id: out.model_id,
            predictions: out
                .items
                .into_iter()
                .map(model::prediction_to_proto)
                .collect(),
            next_page_token: self
                .tokens
                .encode_key(&scope, out.next.as_ref().map(|c| c.as_str())),
        }))
    }
}
