//! The tonic handlers of `cvo.v1.CustomerValueService`. Each one converts and validates its
//! request, calls the domain and the store, and converts the answer back; nothing else.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::convert::{self, customer_from_proto, customer_id, portfolio};
use super::error::{invalid, storage, Violations};
use super::paging;
use super::pb;
use super::pb::customer_value_service_server::CustomerValueService;
use crate::config::Limits;
use crate::domain::policy::ScoringPolicy;
use crate::domain::score::assess;
use crate::domain::snapshot::ValueSnapshot;
use crate::store::Store;

/// Shared state of the handlers.
pub struct Api {
    store: Arc<dyn Store>,
    policy: ScoringPolicy,
    policy_version: String,
    limits: Limits,
}

impl Api {
    pub fn new(store: Arc<dyn Store>, policy: ScoringPolicy, limits: Limits) -> Self {
        let policy_version = policy.version();
        Self {
            store,
            policy,
            policy_version,
            limits,
        }
    }
}

#[tonic::async_trait]
impl CustomerValueService for Api {
    async fn upsert_customers(
        &self,
        request: Request<pb::UpsertCustomersRequest>,
    ) -> Result<Response<pb::UpsertCustomersResponse>, Status> {
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
        let today = convert::today();
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(req.customers.len());
        let mut customers = Vec::with_capacity(req.customers.len());
        for (i, c) in req.customers.iter().enumerate() {
            let path = format!("customers[{i}]");
            if let Some(first) = seen.insert(c.id.as_str(), i) {
                v.add(
                    format!("{path}.id"),
                    format!(
                        "customer \"{}\" appears twice: also customers[{first}]",
                        convert::shown(&c.id)
                    ),
                );
            }
            if let Some(c) = customer_from_proto(c, &path, today, &mut v) {
                customers.push(c);
            }
        }
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

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let id = customer_id(&req.customer_id, "customer_id", &mut v);
        v.into_result()?;
        let (Some(p), Some(id)) = (p, id) else {
            return Err(Status::internal("request validated but incomplete"));
        };
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
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let clv = convert::clv_params(self.policy.clv, req.clv.as_ref(), &mut v);
        let today = convert::today();
        let customer = match &req.subject {
            Some(pb::score_customer_request::Subject::Customer(c)) => {
                customer_from_proto(c, "customer", today, &mut v)
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
        let assessment = assess(&customer, &self.policy, &clv, None, today);
        let snapshot = ValueSnapshot {
            portfolio: p,
            customer_id: customer.id,
            assessment,
            tier: None,
            policy_version: self.policy_version.clone(),
            scored_at: OffsetDateTime::now_utc(),
        };
        if req.keep {
            self.store.keep_value(&snapshot).await.map_err(storage)?;
        }
        Ok(Response::new(pb::ScoreCustomerResponse {
            value: Some(convert::value_to_proto(&snapshot)),
        }))
    }

    async fn get_customer_value(
        &self,
        request: Request<pb::GetCustomerValueRequest>,
    ) -> Result<Response<pb::GetCustomerValueResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let id = customer_id(&req.customer_id, "customer_id", &mut v);
        v.into_result()?;
        let (Some(p), Some(id)) = (p, id) else {
            return Err(Status::internal("request validated but incomplete"));
        };
        match self.store.latest_value(&p, &id).await.map_err(storage)? {
            Some(s) => Ok(Response::new(pb::GetCustomerValueResponse {
                value: Some(convert::value_to_proto(&s)),
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
        let req = request.into_inner();
        let mut v = Violations::new();
        let p = portfolio(&req.portfolio, "portfolio", &mut v);
        let id = customer_id(&req.customer_id, "customer_id", &mut v);
        v.into_result()?;
        let (Some(p), Some(id)) = (p, id) else {
            return Err(Status::internal("request validated but incomplete"));
        };
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
            values: page.items.iter().map(convert::value_to_proto).collect(),
            next_page_token: paging::encode(&scope, page.next),
        }))
    }

    async fn get_policy(
        &self,
        _request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(convert::policy_to_proto(&self.policy)),
        }))
    }
}
