//! The tonic handlers of `cvo.v1.CustomerValueService`. Each one converts and validates its
//! request, calls the domain and the store, and converts the answer back; nothing else.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{self, customer_from_proto, customer_id, portfolio, Loc};
use super::error::{invalid, storage, Violations};
use super::models;
use super::paging;
use super::pb;
use super::pb::customer_value_service_server::CustomerValueService;
use super::tier;
use crate::auth::{Authenticator, Caller, Role};
use crate::config::{Config, Limits};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::model::predict_many;
use crate::domain::policy::ScoringPolicy;
use crate::domain::pyramid::{compare, Scheme, TierInput};
use crate::domain::score::assess;
use crate::domain::snapshot::ValueSnapshot;
use crate::domain::snapshot::{TierPlacement, TierRun};
use crate::store::{CustomerLoad, Store};

/// Validates a list of customers, naming bad fields `{path}[i].field`. `seen` maps the ids of
/// the call (or stream) so far to where they first appeared, for the duplicate rule; `offset`
/// numbers the customers across the chunks of a stream.
fn validate_customers(
    customers: &[pb::Customer],
    path: &str,
    offset: usize,
    seen: &mut HashMap<String, usize>,
    v: &mut Violations,
) -> Vec<Customer> {
    let today = convert::today();
    let mut out = Vec::with_capacity(customers.len());
    for (i, c) in customers.iter().enumerate() {
        let here = Loc {
            list: path,
            index: Some(i + offset),
        };
        if let Some(first) = seen.get(&c.id) {
            v.add(
                format!("{here}.id"),
                format!(
                    "customer \"{}\" appears twice: also {path}[{first}]",
                    convert::shown(&c.id)
                ),
            );
        } else {
            seen.insert(c.id.clone(), i + offset);
        }
        if let Some(c) = customer_from_proto(c, here, today, v) {
            out.push(c);
        }
    }
    out
}

/// The portfolio and customer id of a request about one customer, both validated.
fn one_customer(raw_portfolio: &str, raw_id: &str) -> Result<(PortfolioName, CustomerId), Status> {
    let mut v = Violations::new();
    let p = portfolio(raw_portfolio, "portfolio", &mut v);
    let id = customer_id(raw_id, "customer_id", &mut v);
    v.into_result()?;
    match (p, id) {
        (Some(p), Some(id)) => Ok((p, id)),
        _ => Err(Status::internal("request validated but incomplete")),
    }
}

/// Shared state of the handlers.
pub struct Api {
    store: Arc<dyn Store>,
    policy: ScoringPolicy,
    policy_version: String,
    limits: Limits,
    auth: Authenticator,
    schemes: Vec<Scheme>,
    default_scheme: String,
}

impl Api {
    pub fn new(store: Arc<dyn Store>, config: &Config, auth: Authenticator) -> Self {
        Self {
            store,
            policy: config.policy.clone(),
            policy_version: config.policy.version(),
            limits: config.limits,
            auth,
            schemes: config.schemes.clone(),
            default_scheme: config.tiering.default_scheme.clone(),
        }
    }

    /// A run that exists, or NOT_FOUND.
    async fn run(&self, run_id: &str, field: &str) -> Result<TierRun, Status> {
        if run_id.is_empty() || run_id.len() > 64 {
            return Err(invalid(field, "is not a run id"));
        }
        self.store
            .get_run(run_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| {
                Status::not_found(format!("no tiering run \"{}\"", convert::shown(run_id)))
            })
    }

    /// Checks the caller's key before anything else of the request is looked at.
    fn authorize<T>(&self, request: &Request<T>, needed: Role) -> Result<Caller, Status> {
        let caller = self.auth.authorize(request.metadata(), needed)?;
        tracing::debug!(caller = %caller.name, "authorized");
        Ok(caller)
    }
}

#[tonic::async_trait]
impl CustomerValueService for Api {
    async fn upsert_customers(
        &self,
        request: Request<pb::UpsertCustomersRequest>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        self.authorize(&request, Role::Write)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let portfolio = portfolio(&req.portfolio, "portfolio", &mut v);
        if req.customers.is_empty() {
            v.add("customers", "at least one customer is required");
        }
        if req.customers.len() > self.limits.max_customers_per_call {
            // Checked before any per-customer work, so an oversized call costs little.
            return Err(invalid(
                "customers",
                format!(
                    "{} customers in one call; at most {} are allowed (use LoadCustomers for bulk loads)",
                    req.customers.len(),
                    self.limits.max_customers_per_call
                ),
            ));
        }
        let mut seen = HashMap::with_capacity(req.customers.len());
        let customers = validate_customers(&req.customers, "customers", 0, &mut seen, &mut v);
        v.into_result()?;
        let Some(portfolio) = portfolio else {
            return Err(Status::internal("portfolio validated but missing"));
        };
        let counts = self
            .store
            .upsert_customers(&portfolio, &customers)
            .await
            .map_err(storage)?;
        tracing::debug!(%portfolio, inserted = counts.inserted, updated = counts.updated, "upserted customers");
        Ok(Response::new(pb::UpsertCustomersResponse {
            inserted: counts.inserted,
            updated: counts.updated,
        }))
    }

    async fn load_customers(
        &self,
        request: Request<Streaming<pb::UpsertCustomersRequest>>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
        self.authorize(&request, Role::Write)?;
        let mut stream = request.into_inner();
        let mut load: Option<(PortfolioName, Box<dyn CustomerLoad>)> = None;
        // Duplicates across chunks are found by the store when it sorts the load at commit;
        // within a chunk they are named here, with the chunk's other problems.
        let mut total = 0usize;
        // Any early return drops `load` uncommitted: nothing of the stream is stored.
        while let Some(chunk) = stream.message().await? {
            let mut v = Violations::new();
            let portfolio = match &load {
                None => portfolio(&chunk.portfolio, "portfolio", &mut v),
                Some((p, _)) => {
                    if !chunk.portfolio.is_empty() && chunk.portfolio != p.as_str() {
                        v.add(
                            "portfolio",
                            format!(
                                "\"{}\" differs from \"{p}\" of the stream's first message",
                                convert::shown(&chunk.portfolio)
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
            let mut seen = HashMap::with_capacity(chunk.customers.len());
            let customers =
                validate_customers(&chunk.customers, "customers", total, &mut seen, &mut v);
            v.into_result()?;
            total += chunk.customers.len();
            let Some(portfolio) = portfolio else {
                return Err(Status::internal("portfolio validated but missing"));
            };
            let (_, pending) =
                load.get_or_insert_with(|| (portfolio.clone(), self.store.begin_load(&portfolio)));
            for c in &customers {
                pending.add(c).map_err(storage)?;
            }
        }
        let Some((portfolio, pending)) = load else {
            return Err(invalid("customers", "the stream carried no customers"));
        };
        if total == 0 {
            return Err(invalid("customers", "the stream carried no customers"));
        }
        let counts = pending.commit().await.map_err(storage)?;
        // Ids (portfolio names included) are logged at debug level only.
        tracing::debug!(%portfolio, "bulk load");
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
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let (p, id) = one_customer(&req.portfolio, &req.customer_id)?;
        match self.store.get_customer(&p, &id).await.map_err(storage)? {
            Some(c) => Ok(Response::new(pb::GetCustomerResponse {
                customer: Some(convert::customer_to_proto(&c)),
            })),
            None => Err(Status::not_found(format!(
                "no customer \"{id}\" in portfolio \"{p}\""
            ))),
        }
    }

    async fn score_customer(
        &self,
        request: Request<pb::ScoreCustomerRequest>,
    ) -> Result<Response<pb::ScoreCustomerResponse>, Status> {
        // Scoring reads; keeping the score writes.
        let needed = if request.get_ref().keep {
            Role::Write
        } else {
            Role::Read
        };
        self.authorize(&request, needed)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let clv = convert::clv_params(self.policy.clv, req.clv.as_ref(), &mut v);
        let today = convert::today();
        let customer = match &req.subject {
            Some(pb::score_customer_request::Subject::Customer(c)) => {
                let at = Loc {
                    list: "customer",
                    index: None,
                };
                customer_from_proto(c, at, today, &mut v)
            }
            Some(pb::score_customer_request::Subject::CustomerId(id)) => {
                let id = customer_id(id, "customer_id", &mut v);
                v.into_result()?;
                v = Violations::new();
                match (&p, id) {
                    (Some(p), Some(id)) => Some(
                        self.store
                            .get_customer(p, &id)
                            .await
                            .map_err(storage)?
                            .ok_or_else(|| {
                                Status::not_found(format!(
                                    "no customer \"{id}\" in portfolio \"{p}\""
                                ))
                            })?,
                    ),
                    _ => None,
                }
            }
            None => {
                v.add("customer", "give either customer or customer_id");
                None
            }
        };
        v.into_result()?;
        let (Some(p), Some(customer)) = (p, customer) else {
            return Err(Status::internal("request validated but incomplete"));
        };
        // With a fitted model for the portfolio, CLV comes from it.
        let model = self.store.latest_model(&p).await.map_err(storage)?;
        let estimate = model
            .as_ref()
            .and_then(|m| m.models().estimate(&customer, &clv));
        let assessment = assess(&customer, &self.policy, &clv, estimate, today);
        // The tier, from the cut points of the portfolio's latest run of the default scheme.
        let tier = match self
            .store
            .latest_run(&p, &self.default_scheme)
            .await
            .map_err(storage)?
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
            portfolio: p,
            customer_id: customer.id,
            assessment,
            tier,
            model_id: model.filter(|_| estimate.is_some()).map(|m| m.model_id),
            policy_version: self.policy_version.clone(),
            scored_at: OffsetDateTime::now_utc(),
        };
        if req.keep {
            self.store.keep_value(&snapshot).await.map_err(storage)?;
        }
        Ok(Response::new(pb::ScoreCustomerResponse {
            value: Some(convert::value_to_proto(snapshot)),
        }))
    }

    async fn get_customer_value(
        &self,
        request: Request<pb::GetCustomerValueRequest>,
    ) -> Result<Response<pb::GetCustomerValueResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let (p, id) = one_customer(&req.portfolio, &req.customer_id)?;
        match self.store.latest_value(&p, &id).await.map_err(storage)? {
            Some(s) => Ok(Response::new(pb::GetCustomerValueResponse {
                value: Some(convert::value_to_proto(s)),
            })),
            None => Err(Status::not_found(format!(
                "no kept value for customer \"{id}\" in portfolio \"{p}\""
            ))),
        }
    }

    async fn list_customer_history(
        &self,
        request: Request<pb::ListCustomerHistoryRequest>,
    ) -> Result<Response<pb::ListCustomerHistoryResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let (p, id) = one_customer(&req.portfolio, &req.customer_id)?;
        let scope = ["ListCustomerHistory", p.as_str(), id.as_str()];
        let after =
            paging::decode(&scope, &req.page_token).map_err(|e| invalid("page_token", e))?;
        let limit = paging::page_size(req.page_size, self.limits.max_page_size);
        let page = self
            .store
            .value_history(&p, &id, after, limit)
            .await
            .map_err(storage)?;
        Ok(Response::new(pb::ListCustomerHistoryResponse {
            values: page
                .items
                .into_iter()
                .map(convert::value_to_proto)
                .collect(),
            next_page_token: paging::encode(&scope, page.next),
        }))
    }

    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(convert::policy_to_proto(&self.policy)),
        }))
    }

    async fn tier_portfolio(
        &self,
        request: Request<pb::TierPortfolioRequest>,
    ) -> Result<Response<pb::TierPortfolioResponse>, Status> {
        self.authorize(&request, Role::Write)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let name = if req.scheme.is_empty() {
            self.default_scheme.as_str()
        } else {
            req.scheme.as_str()
        };
        let scheme = self.schemes.iter().find(|s| s.name == name).cloned();
        if scheme.is_none() {
            let known: Vec<&str> = self.schemes.iter().map(|s| s.name.as_str()).collect();
            v.add(
                "scheme",
                format!(
                    "\"{}\" is not a scheme; known: {}",
                    convert::shown(name),
                    known.join(", ")
                ),
            );
        }
        let metric = pb::TierMetric::try_from(req.metric).ok();
        if metric.is_none() {
            v.add("metric", format!("{} is not a known metric", req.metric));
        }
        v.into_result()?;
        let (Some(p), Some(scheme), Some(metric)) = (p, scheme, metric) else {
            return Err(Status::internal("request validated but incomplete"));
        };
        let run = tier::tier_portfolio(
            &self.store,
            &self.policy,
            p,
            scheme,
            tier::metric_from_proto(metric),
            convert::today(),
        )
        .await?;
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
        self.authorize(&request, Role::Read)?;
        let run = self.run(&request.get_ref().run_id, "run_id").await?;
        Ok(Response::new(pb::GetTierRunResponse {
            run: Some(tier::run_to_proto(&run)),
        }))
    }

    async fn list_tier_runs(
        &self,
        request: Request<pb::ListTierRunsRequest>,
    ) -> Result<Response<pb::ListTierRunsResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        v.into_result()?;
        let Some(p) = p else {
            return Err(Status::internal("request validated but incomplete"));
        };
        let scope = ["ListTierRuns", p.as_str()];
        let after =
            paging::decode(&scope, &req.page_token).map_err(|e| invalid("page_token", e))?;
        let limit = paging::page_size(req.page_size, self.limits.max_page_size);
        let page = self
            .store
            .list_runs(&p, after, limit)
            .await
            .map_err(storage)?;
        Ok(Response::new(pb::ListTierRunsResponse {
            runs: page.items.iter().map(tier::run_to_proto).collect(),
            next_page_token: paging::encode(&scope, page.next),
        }))
    }

    async fn list_tier_members(
        &self,
        request: Request<pb::ListTierMembersRequest>,
    ) -> Result<Response<pb::ListTierMembersResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let run = self.run(&req.run_id, "run_id").await?;
        let (first, last) = if req.tier.is_empty() {
            (1, run.summary.total_customers)
        } else {
            run.rank_range(&req.tier).ok_or_else(|| {
                invalid(
                    "tier",
                    format!(
                        "\"{}\" is not a tier of this run",
                        convert::shown(&req.tier)
                    ),
                )
            })?
        };
        let scope = ["ListTierMembers", run.run_id.as_str(), req.tier.as_str()];
        let from = paging::decode(&scope, &req.page_token)
            .map_err(|e| invalid("page_token", e))?
            .unwrap_or(first);
        let limit = paging::page_size(req.page_size, self.limits.max_page_size);
        let members = self
            .store
            .run_members(&run.run_id, from, last, limit)
            .await
            .map_err(storage)?;
        let next = members.last().map(|m| m.rank + 1).filter(|&r| r <= last);
        Ok(Response::new(pb::ListTierMembersResponse {
            members: members
                .iter()
                .map(|m| tier::member_to_proto(&run, m))
                .collect(),
            next_page_token: paging::encode(&scope, next),
        }))
    }

    async fn compare_tier_runs(
        &self,
        request: Request<pb::CompareTierRunsRequest>,
    ) -> Result<Response<pb::CompareTierRunsResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let from = self.run(&req.from_run_id, "from_run_id").await?;
        let to = self.run(&req.to_run_id, "to_run_id").await?;
        if from.scheme != to.scheme || from.cuts.scheme.layers != to.cuts.scheme.layers {
            return Err(Status::failed_precondition(format!(
                "runs of different schemes ({} and {}) have no common tiers to compare",
                from.scheme, to.scheme
            )));
        }
        let scope = ["CompareTierRuns", from.run_id.as_str(), to.run_id.as_str()];
        let start = paging::decode(&scope, &req.page_token)
            .map_err(|e| invalid("page_token", e))?
            .unwrap_or(0) as usize;
        let limit = paging::page_size(req.page_size, self.limits.max_page_size);
        let a = self
            .store
            .run_members(&from.run_id, 1, from.summary.total_customers, usize::MAX)
            .await
            .map_err(storage)?;
        let b = self
            .store
            .run_members(&to.run_id, 1, to.summary.total_customers, usize::MAX)
            .await
            .map_err(storage)?;
        let tiers: Vec<String> = from.summary.tiers.iter().map(|t| t.tier.clone()).collect();
        let flow = compare(&tiers, &a, &b);
        let mut resp = tier::migration_to_proto(&flow, start, limit);
        let end = start + resp.movers.len();
        if end < flow.movers.len() {
            resp.next_page_token = paging::encode(&scope, Some(end as u64));
        }
        Ok(Response::new(resp))
    }

    async fn list_schemes(
        &self,
        request: Request<pb::ListSchemesRequest>,
    ) -> Result<Response<pb::ListSchemesResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        Ok(Response::new(pb::ListSchemesResponse {
            schemes: self.schemes.iter().map(tier::scheme_to_proto).collect(),
            default_scheme: self.default_scheme.clone(),
        }))
    }

    async fn fit_value_model(
        &self,
        request: Request<pb::FitValueModelRequest>,
    ) -> Result<Response<pb::FitValueModelResponse>, Status> {
        self.authorize(&request, Role::Write)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let unit = pb::TimeUnit::try_from(req.time_unit).ok();
        if unit.is_none() {
            v.add(
                "time_unit",
                format!("{} is not a known time unit", req.time_unit),
            );
        }
        let penalizer = req.penalizer.unwrap_or(0.0);
        if !(0.0..=100.0).contains(&penalizer) {
            v.add("penalizer", format!("{penalizer} is outside 0..100"));
        }
        v.into_result()?;
        let (Some(p), Some(unit)) = (p, unit) else {
            return Err(Status::internal("request validated but incomplete"));
        };
        let model = models::fit(&self.store, p, models::unit_from_proto(unit), penalizer).await?;
        tracing::debug!(portfolio = %model.portfolio, "value model");
        tracing::info!(model_id = %model.model_id, customers = model.customers, "value model stored");
        Ok(Response::new(pb::FitValueModelResponse {
            model: Some(models::model_to_proto(&model)),
        }))
    }

    async fn get_value_model(
        &self,
        request: Request<pb::GetValueModelRequest>,
    ) -> Result<Response<pb::GetValueModelResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let model = match request.into_inner().selector {
            Some(pb::get_value_model_request::Selector::ModelId(id)) => {
                if id.is_empty() || id.len() > 64 {
                    return Err(invalid("model_id", "is not a model id"));
                }
                self.store
                    .get_model(&id)
                    .await
                    .map_err(storage)?
                    .ok_or_else(|| {
                        Status::not_found(format!("no value model \"{}\"", convert::shown(&id)))
                    })?
            }
            selector => {
                let raw = match &selector {
                    Some(pb::get_value_model_request::Selector::Portfolio(p)) => p.as_str(),
                    _ => "",
                };
                let mut v = Violations::new();
                let p = portfolio(raw, "portfolio", &mut v);
                v.into_result()?;
                let Some(p) = p else {
                    return Err(Status::internal("request validated but incomplete"));
                };
                self.store
                    .latest_model(&p)
                    .await
                    .map_err(storage)?
                    .ok_or_else(|| {
                        Status::not_found(format!("portfolio \"{p}\" has no fitted value model"))
                    })?
            }
        };
        Ok(Response::new(pb::GetValueModelResponse {
            model: Some(models::model_to_proto(&model)),
        }))
    }

    async fn predict_customers(
        &self,
        request: Request<pb::PredictCustomersRequest>,
    ) -> Result<Response<pb::PredictCustomersResponse>, Status> {
        self.authorize(&request, Role::Read)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        if let Some(h) = req
            .horizon
            .filter(|h| !(h.is_finite() && *h > 0.0 && *h <= 1e6))
        {
            v.add("horizon", format!("{h} is not a horizon in (0, 1e6]"));
        }
        let discount = req.discount_rate.unwrap_or(0.01);
        if !(0.0..=1.0).contains(&discount) {
            v.add(
                "discount_rate",
                format!("{discount} is not a monthly rate in 0..1"),
            );
        }
        let months = req.clv_months.unwrap_or(12);
        if !(1..=1200).contains(&months) {
            v.add("clv_months", format!("{months} is outside 1..1200"));
        }
        if req.customer_ids.len() > self.limits.max_page_size as usize {
            v.add(
                "customer_ids",
                format!(
                    "{} ids; at most {} per call",
                    req.customer_ids.len(),
                    self.limits.max_page_size
                ),
            );
        }
        let ids: Vec<_> = req
            .customer_ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| customer_id(id, &format!("customer_ids[{i}]"), &mut v))
            .collect();
        v.into_result()?;
        let Some(p) = p else {
            return Err(Status::internal("request validated but incomplete"));
        };
        let model = self
            .store
            .latest_model(&p)
            .await
            .map_err(storage)?
            .ok_or_else(|| {
                Status::failed_precondition(format!(
                    "portfolio \"{p}\" has no fitted value model: call FitValueModel first"
                ))
            })?;
        let fitted = model.models();
        let horizon = req.horizon.unwrap_or(12.0 * fitted.time_unit.per_month());
        let (customers, next) = if ids.is_empty() {
            let scope = ["PredictCustomers", p.as_str()];
            let after = paging::decode_key(&scope, &req.page_token)
                .map_err(|e| invalid("page_token", e))?
                .map(|k| CustomerId::parse(&k))
                .transpose()
                .map_err(|_| invalid("page_token", "is not a page token of this listing"))?;
            let limit = paging::page_size(req.page_size, self.limits.max_page_size);
            let page = self
                .store
                .customers_page(&p, after, limit)
                .await
                .map_err(storage)?;
            let next = (page.len() == limit)
                .then(|| page.last().map(|c| c.id.to_string()))
                .flatten();
            (page, paging::encode_key(&scope, next.as_deref()))
        } else {
            let mut found = Vec::with_capacity(ids.len());
            for id in &ids {
                let c = self
                    .store
                    .get_customer(&p, id)
                    .await
                    .map_err(storage)?
                    .ok_or_else(|| {
                        Status::not_found(format!("no customer \"{id}\" in portfolio \"{p}\""))
                    })?;
                found.push(c);
            }
            (found, String::new())
        };
        let summaries: Vec<_> = customers.iter().map(|c| c.purchases).collect();
        let predictions = predict_many(&fitted, &summaries, horizon, months, discount);
        Ok(Response::new(pb::PredictCustomersResponse {
            model_id: model.model_id.clone(),
            predictions: customers
                .iter()
                .zip(predictions)
                .filter_map(|(c, pr)| {
                    pr.map(|pr| pb::CustomerPrediction {
                        customer_id: c.id.to_string(),
                        p_alive: pr.p_alive,
                        expected_purchases: pr.expected_purchases,
                        expected_average_value: pr.expected_average_value,
                        model_clv: pr.model_clv,
                    })
                })
                .collect(),
            next_page_token: next,
        }))
    }
}
