//! proto ⇄ domain conversion. Input is validated here, once, and only validated domain values
//! go further in: every problem of a request is collected into one `INVALID_ARGUMENT` with a
//! `google.rpc.BadRequest` naming each field. [`request`] turns each RPC's request into the
//! arguments of its use case; the other files convert one kind of thing each way.

pub mod customer;
pub mod model;
pub mod request;
pub mod tier;
pub mod value;

pub use customer::{customer_from_proto, customer_to_proto, decode_and_validate, parse_date};

use super::error::Violations;
use crate::domain::id::{shown, CustomerId, PortfolioName};

/// Where a customer sits in a request, for naming its fields in errors: `customer` or
/// `customers[3]`. Formatted only when something is wrong, so valid bulk loads pay nothing.
#[derive(Debug, Clone, Copy)]
pub struct Loc<'a> {
    pub list: &'a str,
    pub index: Option<usize>,
}

impl std::fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}]", self.list),
            None => f.write_str(self.list),
        }
    }
}

/// The portfolio of a request: "default" when empty.
pub fn portfolio(raw: &str, field: &str, v: &mut Violations) -> Option<PortfolioName> {
    if raw.is_empty() {
        return Some(PortfolioName::default_portfolio());
    }
    match PortfolioName::parse(raw) {
        Ok(p) => Some(p),
        Err(e) => {
            v.add(field, format!("portfolio \"{}\" {e}", shown(raw)));
            None
        }
    }
}

/// A customer id field.
pub fn customer_id(raw: &str, field: &str, v: &mut Violations) -> Option<CustomerId> {
    match CustomerId::parse(raw) {
        Ok(id) => Some(id),
        Err(e) => {
            v.add(field, format!("customer id \"{}\" {e}", shown(raw)));
            None
        }
    }
}
