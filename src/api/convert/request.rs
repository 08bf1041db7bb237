//! Each RPC's request, validated into the arguments of its use case.

use std::collections::HashMap;

use time::Date;
use tonic::Status;

use super::model::unit_from_proto;
use super::tier::metric_from_proto;
use super::value::clv_params;
use super::{customer_from_proto, customer_id, portfolio, Loc};
use crate::api::error::{invalid, Violations};
use crate::api::pb;
use crate::config::Limits;
use crate::domain::clv::ClvParams;
use crate::domain::customer::Customer;
use crate::domain::id::{shown, CustomerId, PortfolioName};
use crate::domain::models::TimeUnit;
use crate::domain::pyramid::{Metric, Scheme};
use crate::oracle::models::Horizon;
use crate::oracle::scoring::{ScoreRequest, Subject};
use crate::oracle::Oracle;

/// Validates a list of customers, naming bad fields `{path}[i].field`. `seen` maps the ids of
/// the call (or stream) so far to where they first appeared, for the duplicate rule; `offset`
/// numbers the customers across the chunks of a stream.
pub fn customers(
    customers: &[pb::Customer],
    offset: usize,
    today: Date,
    seen: &mut HashMap<String, usize>,
    v: &mut Violations,
) -> Vec<Customer> {
    let path = "customers";
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
                    shown(&c.id)
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

/// UpsertCustomers: the portfolio and its customers (1 to `max_customers_per_call`).
pub fn upsert(
    req: &pb::UpsertCustomersRequest,
    limits: &Limits,
    today: Date,
) -> Result<(PortfolioName, Vec<Customer>), Status> {
    if req.customers.len() > limits.max_customers_per_call {
        // Checked before any per-customer work, so an oversized call costs little.
        return Err(invalid(
            "customers",
            format!(
                "{} customers in one call; at most {} are allowed (use LoadCustomers for bulk loads)",
                req.customers.len(),
                limits.max_customers_per_call
            ),
        ));
    }
    let mut v = Violations::new();
    let p = portfolio(&req.portfolio, "portfolio", &mut v);
    if req.customers.is_empty() {
        v.add("customers", "at least one customer is required");
    }
    let mut seen = HashMap::with_capacity(req.customers.len());
    let cs = customers(&req.customers, 0, today, &mut seen, &mut v);
    let p = v.finish(p)?;
    Ok((p, cs))
}

/// The portfolio and customer id of a request about one customer, both validated.
pub fn one_customer(
    raw_portfolio: &str,
    raw_id: &str,
) -> Result<(PortfolioName, CustomerId), Status> {
    let mut v = Violations::new();
    let p = portfolio(raw_portfolio, "portfolio", &mut v);
    let id = customer_id(raw_id, "customer_id", &mut v);
    v.finish(p.zip(id))
}

/// A portfolio alone.
pub fn portfolio_only(raw: &str) -> Result<PortfolioName, Status> {
    let mut v = Violations::new();
    let p = portfolio(raw, "portfolio", &mut v);
    v.finish(p)
}

/// ScoreCustomer, with the policy's CLV parameters as defaults.
pub fn score(
    req: pb::ScoreCustomerRequest,
    defaults: ClvParams,
    today: Date,
) -> Result<ScoreRequest, Status> {
    let mut v = Violations::new();
    let p = portfolio(&req.portfolio, "portfolio", &mut v);
    let clv = clv_params(defaults, req.clv.as_ref(), &mut v);
    let subject = match &req.subject {
        Some(pb::score_customer_request::Subject::Customer(c)) => {
            let at = Loc {
                list: "customer",
                index: None,
            };
            customer_from_proto(c, at, today, &mut v).map(|c| Subject::Inline(Box::new(c)))
        }
        Some(pb::score_customer_request::Subject::CustomerId(id)) => {
            customer_id(id, "customer_id", &mut v).map(Subject::Stored)
        }
        None => {
            v.add("customer", "give either customer or customer_id");
            None
        }
    };
    let (portfolio, subject) = v.finish(p.zip(subject))?;
    Ok(ScoreRequest {
        portfolio,
        subject,
        clv,
        keep: req.keep,
    })
}

/// TierPortfolio: portfolio, scheme (the default when empty) and metric.
pub fn tier<'a>(
    req: &pb::TierPortfolioRequest,
    oracle: &'a Oracle,
) -> Result<(PortfolioName, &'a Scheme, Metric), Status> {
    let mut v = Violations::new();
    let p = portfolio(&req.portfolio, "portfolio", &mut v);
    let name = (!req.scheme.is_empty()).then_some(req.scheme.as_str());
    let scheme = match oracle.scheme(name) {
        Ok(s) => Some(s),
        Err(crate::oracle::OracleError::Invalid(list)) => {
            v.extend(list);
            None
        }
        Err(e) => return Err(e.into()),
    };
    let metric = pb::TierMetric::try_from(req.metric)
        .ok()
        .map(metric_from_proto);
    if metric.is_none() {
        v.add("metric", format!("{} is not a known metric", req.metric));
    }
    let (p, (scheme, metric)) = v.finish(p.zip(scheme.zip(metric)))?;
    Ok((p, scheme, metric))
}

/// FitValueModel: portfolio, time unit and penalizer (0..100, 0 when absent).
pub fn fit(req: &pb::FitValueModelRequest) -> Result<(PortfolioName, TimeUnit, f64), Status> {
    let mut v = Violations::new();
    let p = portfolio(&req.portfolio, "portfolio", &mut v);
    let unit = pb::TimeUnit::try_from(req.time_unit)
        .ok()
        .map(unit_from_proto);
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
    let (p, unit) = v.finish(p.zip(unit))?;
    Ok((p, unit, penalizer))
}

/// PredictCustomers: portfolio, horizon, and the ids (at most `max_page_size`; empty for all
/// customers page by page).
pub fn predict(
    req: &pb::PredictCustomersRequest,
    limits: &Limits,
) -> Result<(PortfolioName, Horizon, Vec<CustomerId>), Status> {
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
    if req.customer_ids.len() > limits.max_page_size as usize {
        v.add(
            "customer_ids",
            format!(
                "{} ids; at most {} per call",
                req.customer_ids.len(),
                limits.max_page_size
            ),
        );
    }
    let ids: Vec<_> = req
        .customer_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| customer_id(id, &format!("customer_ids[{i}]"), &mut v))
        .collect();
    let p = v.finish(p)?;
    let horizon = Horizon {
        purchases: req.horizon,
        clv_months: months,
        monthly_discount: discount,
    };
    Ok((p, horizon, ids))
}
