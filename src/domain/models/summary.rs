//! The purchase summary (frequency, recency, T, monetary value) of dated transactions, as
//! lifetimes' `summary_data_from_transaction_data` computes it with an observation end.
//!
//! - Several transactions on one day are one purchase, of their summed value.
//! - frequency = purchase days − 1: the first purchase is not a repeat.
//! - recency = time from the first to the last purchase day; T = time from the first purchase
//!   day to the end of observation; both in the chosen unit.
//! - monetary value = mean value of the repeat purchase days (0 without repeats).
//! - Transactions after the end of observation are ignored.

use std::collections::BTreeMap;

use time::Date;

use super::unit::TimeUnit;
use crate::domain::customer::PurchaseSummary;

/// Summaries by customer id (ascending), of customers with a purchase by `end`.
pub fn summarize<'a>(
    transactions: impl IntoIterator<Item = (&'a str, Date, f64)>,
    end: Date,
    unit: TimeUnit,
) -> Vec<(String, PurchaseSummary)> {
    // Per customer, per day: the day's total.
    let mut days: BTreeMap<&str, BTreeMap<Date, f64>> = BTreeMap::new();
    for (id, date, value) in transactions {
        if date <= end {
            *days.entry(id).or_default().entry(date).or_default() += value;
        }
    }
    let span = |a: Date, b: Date| (b - a).whole_days() as f64 / unit.days();
    days.into_iter()
        .filter_map(|(id, by_day)| {
            let (&first, _) = by_day.first_key_value()?;
            let (&last, _) = by_day.last_key_value()?;
            let repeats: Vec<f64> = by_day.values().skip(1).copied().collect();
            let frequency = repeats.len() as f64;
            let monetary_value = if repeats.is_empty() {
                0.0
            } else {
                repeats.iter().sum::<f64>() / frequency
            };
            Some((
                id.to_owned(),
                PurchaseSummary {
                    frequency: Some(frequency),
                    recency: Some(span(first, last)),
                    t: Some(span(first, end)),
                    monetary_value: Some(monetary_value),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn same_day_purchases_are_one_and_the_first_is_not_a_repeat() {
        let tx = [
            ("a", date!(2026 - 01 - 01), 10.0),
            ("a", date!(2026 - 01 - 01), 5.0),
            ("a", date!(2026 - 01 - 08), 20.0),
            ("a", date!(2026 - 01 - 22), 40.0),
            ("a", date!(2026 - 03 - 01), 99.0), // after the end
            ("b", date!(2026 - 01 - 15), 7.0),
        ];
        let s = summarize(tx, date!(2026 - 01 - 29), TimeUnit::Week);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "a");
        assert_eq!(s[0].1.frequency, Some(2.0));
        assert_eq!(s[0].1.recency, Some(3.0));
        assert_eq!(s[0].1.t, Some(4.0));
        assert_eq!(s[0].1.monetary_value, Some(30.0));
        assert_eq!(s[1].1.frequency, Some(0.0));
        assert_eq!(s[1].1.recency, Some(0.0));
        assert_eq!(s[1].1.t, Some(2.0));
        assert_eq!(s[1].1.monetary_value, Some(0.0));
    }

    #[test]
    fn cdnow_transactions_give_the_published_summary() {
        let root = env!("CARGO_MANIFEST_DIR");
        let raw =
            std::fs::read_to_string(format!("{root}/tests/data/cdnow_sample_transactions.txt"))
                .unwrap();
        let parsed: Vec<(String, Date, f64)> = raw
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let d = f[2];
                let date = Date::from_calendar_date(
                    d[..4].parse().unwrap(),
                    time::Month::try_from(d[4..6].parse::<u8>().unwrap()).unwrap(),
                    d[6..].parse().unwrap(),
                )
                .unwrap();
                // The summary's ID is the sample id as an integer.
                (
                    f[1].parse::<u32>().unwrap().to_string(),
                    date,
                    f[4].parse().unwrap(),
                )
            })
            .collect();
        let got = summarize(
            parsed.iter().map(|(id, d, v)| (id.as_str(), *d, *v)),
            date!(1997 - 09 - 30),
            TimeUnit::Week,
        );
        let csv = std::fs::read_to_string(format!("{root}/tests/data/cdnow_summary.csv")).unwrap();
        let want: BTreeMap<String, Vec<f64>> = csv
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].to_owned(),
                    f[1..].iter().map(|v| v.parse().unwrap()).collect(),
                )
            })
            .collect();
        assert_eq!(got.len(), want.len());
        for (id, s) in &got {
            let w = &want[id];
            assert_eq!(s.frequency, Some(w[0]), "customer {id} frequency");
            assert!(
                (s.recency.unwrap() - w[1]).abs() < 0.01,
                "customer {id} recency"
            );
            assert!((s.t.unwrap() - w[2]).abs() < 0.01, "customer {id} T");
            assert!(
                (s.monetary_value.unwrap() - w[3]).abs() < 0.01,
                "customer {id} zbar"
            );
        }
    }
}
