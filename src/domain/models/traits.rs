//! What a customer-base model is to the rest of the service: a purchase-count model says how
//! often a customer buys and whether they are still a customer; a spend model says how much
//! they spend per purchase. Each model is its parameters' type implementing one of the two
//! traits; the data they are fitted on are checked and grouped here once, so that several
//! models can be fitted on the same data (to choose among them) at the cost of one grouping.

use super::math::{group, Fit, Grouped, ModelError};

/// Fewest customers a model is fitted on.
pub const MIN_CUSTOMERS: usize = 10;

/// Customers' purchase-count summaries (x repeat purchases, t_x the time of the last purchase
/// and T the time of the end of observation, both from the first purchase), checked and
/// grouped.
#[derive(Debug, Clone, PartialEq)]
pub struct CountSummaries {
    groups: Grouped<3>,
    max_age: f64,
}

impl CountSummaries {
    /// Checks and groups each customer's (x, t_x, T): there must be [`MIN_CUSTOMERS`], and
    /// each needs x ≥ 0, 0 ≤ t_x ≤ T and T > 0.
    pub fn new(data: &[(f64, f64, f64)]) -> Result<Self, ModelError> {
        if data.len() < MIN_CUSTOMERS {
            return Err(ModelError::TooFewCustomers {
                needed: MIN_CUSTOMERS,
                got: data.len(),
            });
        }
        for (i, &(x, t_x, t)) in data.iter().enumerate() {
            check_summary(i, x, t_x, t)?;
        }
        Ok(Self {
            groups: group(data.iter().map(|&(x, t_x, t)| [x, t_x, t])),
            max_age: data.iter().map(|d| d.2).fold(0.0, f64::max),
        })
    }

    /// ([x, t_x, T], customers), ascending by x, then t_x, then T.
    pub fn rows(&self) -> &[([f64; 3], f64)] {
        &self.groups.rows
    }

    /// How many customers, before grouping.
    pub fn customers(&self) -> usize {
        self.groups.total
    }

    /// The longest T.
    pub fn max_age(&self) -> f64 {
        self.max_age
    }
}

/// Checks one customer's (x, t_x, T).
fn check_summary(index: usize, x: f64, t_x: f64, t: f64) -> Result<(), ModelError> {
    let bad = |field: &'static str, reason: String| {
        Err(ModelError::InvalidInput {
            field,
            index,
            reason,
        })
    };
    if !x.is_finite() || x < 0.0 {
        return bad("frequency", format!("{x} is not a count >= 0"));
    }
    if !t_x.is_finite() || t_x < 0.0 {
        return bad("recency", format!("{t_x} is not a time >= 0"));
    }
    if !t.is_finite() || t <= 0.0 {
        return bad("t", format!("{t} is not a time > 0"));
    }
    if t_x > t {
        return bad("recency", format!("{t_x} is greater than t {t}"));
    }
    Ok(())
}

/// The spend of the customers with repeat purchases (x of them, of mean value m), checked and
/// grouped: customers without repeat purchases carry no spend information.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendSummaries {
    groups: Grouped<2>,
}

impl SpendSummaries {
    /// Checks each customer's (x, m) and groups those with x > 0, who need m > 0; there must
    /// be [`MIN_CUSTOMERS`] of them.
    pub fn new(data: &[(f64, f64)]) -> Result<Self, ModelError> {
        for (i, &(x, m)) in data.iter().enumerate() {
            if !x.is_finite() || x < 0.0 {
                return Err(ModelError::InvalidInput {
                    field: "frequency",
                    index: i,
                    reason: format!("{x} is not a count >= 0"),
                });
            }
            if x > 0.0 && !(m.is_finite() && m > 0.0) {
                return Err(ModelError::InvalidInput {
                    field: "monetary_value",
                    index: i,
                    reason: format!("{m} must be > 0 for a customer with repeat purchases"),
                });
            }
        }
        let groups = group(data.iter().filter(|d| d.0 > 0.0).map(|&(x, m)| [x, m]));
        if groups.total < MIN_CUSTOMERS {
            return Err(ModelError::TooFewCustomers {
                needed: MIN_CUSTOMERS,
                got: groups.total,
            });
        }
        Ok(Self { groups })
    }

    /// ([x, m], customers), ascending by x, then m.
    pub fn rows(&self) -> &[([f64; 2], f64)] {
        &self.groups.rows
    }

    /// How many customers with repeat purchases, before grouping.
    pub fn customers(&self) -> usize {
        self.groups.total
    }
}

/// A model of how many purchases a customer makes, and whether they are still a customer, in
/// a non-contractual setting: fitted on [`CountSummaries`], it predicts from a customer's
/// (x, t_x, T), in the time unit of the data.
pub trait PurchaseCountModel: Copy {
    /// The model's name, for messages.
    const NAME: &'static str;

    /// Fits the model by maximum likelihood with an L2 penalty `penalizer` on the parameters
    /// (0 for the plain maximum-likelihood estimate). A fit that does not converge is returned
    /// with `converged: false`; callers decide whether to use it.
    fn fit(data: &CountSummaries, penalizer: f64) -> Result<Fit<Self>, ModelError>;

    /// Log-likelihood of one customer.
    fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64;

    /// Probability that a customer with this history is still alive (a customer) at T.
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64;

    /// Expected purchases in the `horizon` time units after T of a customer with this
    /// history; 0 for a horizon ≤ 0, NaN where the model cannot be evaluated.
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64;
}

/// A model of what a customer spends per purchase: fitted on [`SpendSummaries`], it predicts
/// from a customer's x repeat purchases of mean value m.
pub trait SpendModel: Copy {
    /// The model's name, for messages.
    const NAME: &'static str;

    /// Fits the model by maximum likelihood with an L2 penalty `penalizer` on the parameters;
    /// a fit that does not converge is returned with `converged: false`.
    fn fit(data: &SpendSummaries, penalizer: f64) -> Result<Fit<Self>, ModelError>;

    /// Log-likelihood of one customer with x > 0 repeat purchases of mean m.
    fn log_likelihood(&self, x: f64, m: f64) -> f64;

    /// Expected mean value of the customer's future purchases.
    fn expected_average_value(&self, x: f64, m: f64) -> f64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_summaries_are_checked_then_grouped() {
        let mut data = vec![(1.0, 2.0, 3.0); 12];
        data[4] = (0.0, 0.0, 5.0);
        let s = CountSummaries::new(&data).unwrap();
        assert_eq!(s.customers(), 12);
        assert_eq!(s.max_age(), 5.0);
        assert_eq!(s.rows(), [([0.0, 0.0, 5.0], 1.0), ([1.0, 2.0, 3.0], 11.0)]);
        data[9] = (1.0, 2.0, 0.0);
        assert!(matches!(
            CountSummaries::new(&data),
            Err(ModelError::InvalidInput {
                field: "t",
                index: 9,
                ..
            })
        ));
        // The count is checked before the rows.
        assert_eq!(
            CountSummaries::new(&data[5..]),
            Err(ModelError::TooFewCustomers { needed: 10, got: 7 })
        );
    }

    #[test]
    fn spend_summaries_keep_repeat_customers_only() {
        let mut data = vec![(2.0, 10.0); 10];
        data.push((0.0, 0.0));
        data.push((1.0, 4.5));
        let s = SpendSummaries::new(&data).unwrap();
        assert_eq!(s.customers(), 11);
        assert_eq!(s.rows(), [([1.0, 4.5], 1.0), ([2.0, 10.0], 10.0)]);
        data[0] = (-1.0, 10.0);
        assert!(matches!(
            SpendSummaries::new(&data),
            Err(ModelError::InvalidInput {
                field: "frequency",
                index: 0,
                ..
            })
        ));
        assert_eq!(
            SpendSummaries::new(&data[1..10]),
            Err(ModelError::TooFewCustomers { needed: 10, got: 9 })
        );
    }
}
