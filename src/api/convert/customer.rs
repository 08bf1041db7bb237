//! The customer on the wire: validated into a domain [`Customer`], and back.

use time::Date;

use super::Loc;
use crate::api::error::Violations;
use crate::api::pb;
use crate::domain::customer::{
    Customer, CustomerKind, FundingStatus, Man, PaymentBehaviour, PurchaseSummary, RelationshipType,
};
use crate::domain::id::{shown, CustomerId};

/// Earliest date accepted: anything before is a data-entry error.
const MIN_DATE: Date = time::macros::date!(1900 - 01 - 01);

/// A calendar date written `YYYY-MM-DD`. Hand-parsed: it runs twice per customer of a bulk
/// load, and the general format parser costs several times more.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u16, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
        })
    };
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    Date::from_calendar_date(i32::from(num(0..4)?), month, day).ok()
}

/// Records one bad field of the customer at `at`, naming the customer in the description.
fn bad(v: &mut Violations, at: Loc<'_>, id: &str, field: &str, reason: impl std::fmt::Display) {
    v.add(
        format!("{at}.{field}"),
        format!("customer \"{}\": {reason}", shown(id)),
    );
}

fn date(raw: &str, at: Loc<'_>, id: &str, field: &str, v: &mut Violations) -> Option<Date> {
    if raw.is_empty() {
        return None;
    }
    match parse_date(raw) {
        Some(d) if d >= MIN_DATE => Some(d),
        Some(d) => {
            bad(v, at, id, field, format!("{d} is before {MIN_DATE}"));
            None
        }
        None => {
            bad(
                v,
                at,
                id,
                field,
                format!("\"{}\" is not a date YYYY-MM-DD", shown(raw)),
            );
            None
        }
    }
}

fn count(raw: Option<i64>, at: Loc<'_>, id: &str, field: &str, v: &mut Violations) -> Option<u64> {
    let n = raw?;
    match u64::try_from(n) {
        Ok(n) => Some(n),
        Err(_) => {
            bad(v, at, id, field, format!("{n} is negative"));
            None
        }
    }
}

/// Maps a proto enum (an `i32` on the wire) to a domain value: 0 is "unknown", an unknown
/// number is an error (a newer client, or garbage).
fn enumeration<P, D>(
    raw: i32,
    (at, id, field): (Loc<'_>, &str, &str),
    v: &mut Violations,
    map: impl Fn(P) -> Option<D>,
) -> Option<D>
where
    P: TryFrom<i32>,
{
    if raw == 0 {
        return None;
    }
    match P::try_from(raw).ok().and_then(map) {
        Some(d) => Some(d),
        None => {
            bad(v, at, id, field, format!("{raw} is not a known value"));
            None
        }
    }
}

fn kind_from_proto(k: pb::CustomerKind) -> Option<CustomerKind> {
    match k {
        pb::CustomerKind::Unspecified => None,
        pb::CustomerKind::Individual => Some(CustomerKind::Individual),
        pb::CustomerKind::Organization => Some(CustomerKind::Organization),
    }
}

fn relationship_from_proto(k: pb::RelationshipType) -> Option<RelationshipType> {
    match k {
        pb::RelationshipType::Unspecified => None,
        pb::RelationshipType::Basic => Some(RelationshipType::Basic),
        pb::RelationshipType::Passive => Some(RelationshipType::Passive),
        pb::RelationshipType::Responsible => Some(RelationshipType::Responsible),
        pb::RelationshipType::Proactive => Some(RelationshipType::Proactive),
        pb::RelationshipType::Partner => Some(RelationshipType::Partner),
    }
}

fn payment_from_proto(k: pb::PaymentBehaviour) -> Option<PaymentBehaviour> {
    match k {
        pb::PaymentBehaviour::Unspecified => None,
        pb::PaymentBehaviour::Prompt => Some(PaymentBehaviour::Prompt),
        pb::PaymentBehaviour::Normal => Some(PaymentBehaviour::Normal),
        pb::PaymentBehaviour::Fair => Some(PaymentBehaviour::Fair),
        pb::PaymentBehaviour::Late => Some(PaymentBehaviour::Late),
        pb::PaymentBehaviour::Reluctant => Some(PaymentBehaviour::Reluctant),
        pb::PaymentBehaviour::InArrears => Some(PaymentBehaviour::InArrears),
    }
}

fn funding_from_proto(k: pb::FundingStatus) -> Option<FundingStatus> {
    match k {
        pb::FundingStatus::Unspecified => None,
        pb::FundingStatus::Ample => Some(FundingStatus::Ample),
        pb::FundingStatus::Sufficient => Some(FundingStatus::Sufficient),
        pb::FundingStatus::Tight => Some(FundingStatus::Tight),
        pb::FundingStatus::Short => Some(FundingStatus::Short),
        pb::FundingStatus::Critical => Some(FundingStatus::Critical),
    }
}

/// Validates and converts one customer at `at`. Returns `None` when anything is wrong; every
/// problem is added to `v`.
pub fn customer_from_proto(
    p: &pb::Customer,
    at: Loc<'_>,
    today: Date,
    v: &mut Violations,
) -> Option<Customer> {
    let before = v.len();
    let raw_id = p.id.as_str();
    let id = match CustomerId::parse(raw_id) {
        Ok(id) => Some(id),
        Err(e) => {
            v.add(
                format!("{at}.id"),
                format!("customer id \"{}\" {e}", shown(raw_id)),
            );
            None
        }
    };
    let field = |name| (at, raw_id, name);

    let kind = enumeration(p.kind, field("kind"), v, kind_from_proto);
    let relationship_type = enumeration(
        p.relationship_type,
        field("relationship_type"),
        v,
        relationship_from_proto,
    );
    let payment_behaviour = enumeration(
        p.payment_behaviour,
        field("payment_behaviour"),
        v,
        payment_from_proto,
    );
    let funding_status = enumeration(
        p.funding_status,
        field("funding_status"),
        v,
        funding_from_proto,
    );
    let relationship_start = date(&p.relationship_start, at, raw_id, "relationship_start", v);
    let first_purchase = date(&p.first_purchase, at, raw_id, "first_purchase", v);
    let last_purchase = date(&p.last_purchase, at, raw_id, "last_purchase", v);
    let purchase_count = count(p.purchase_count, at, raw_id, "purchase_count", v);
    let referrals = count(p.referrals, at, raw_id, "referrals", v);
    let open_complaints = count(p.open_complaints, at, raw_id, "open_complaints", v);
    let resolved_complaints = count(p.resolved_complaints, at, raw_id, "resolved_complaints", v);
    let contacts_90d = count(p.contacts_90d, at, raw_id, "contacts_90d", v);
    let man = p.man.map_or(Man::default(), |m| Man {
        money: m.money,
        authority: m.authority,
        need: m.need,
    });

    // With a bad id the value rules still run (on a stand-in id), so that the caller hears of
    // every problem of the record at once.
    let id_ok = id.is_some();
    let id = id.or_else(|| CustomerId::parse("_").ok())?;
    let c = Customer {
        id,
        kind,
        segment: p.segment.clone(),
        region: p.region.clone(),
        revenue: p.revenue,
        gross_profit: p.gross_profit,
        cost_to_serve: p.cost_to_serve,
        acquisition_cost: p.acquisition_cost,
        category_spend: p.category_spend,
        previous_revenue: p.previous_revenue,
        own_growth: p.own_growth,
        relationship_start,
        first_purchase,
        last_purchase,
        purchase_count,
        referrals,
        satisfaction: p.satisfaction,
        loyalty: p.loyalty,
        open_complaints,
        resolved_complaints,
        contacts_90d,
        relationship_type,
        payment_behaviour,
        funding_status,
        man,
        excluded: p.excluded,
        in_pursuit: p.in_pursuit,
        purchases: PurchaseSummary {
            frequency: p.frequency,
            recency: p.recency,
            t: p.t,
            monetary_value: p.monetary_value,
        },
    };
    for x in c.check(today) {
        bad(v, at, raw_id, &x.field, x.reason);
    }
    (id_ok && v.len() == before).then_some(c)
}

/// The decode and validation path of a customer upload, from raw bytes, as of `today`: what a
/// fuzzer feeds. Returns the validated customers or the status the server would answer; never
/// panics.
pub fn decode_and_validate(bytes: &[u8], today: Date) -> Result<Vec<Customer>, tonic::Status> {
    use prost::Message;
    let req =
        pb::UpsertCustomersRequest::decode(bytes).map_err(|e| crate::api::codec::malformed(&e))?;
    let mut v = Violations::new();
    super::portfolio(&req.portfolio, "portfolio", &mut v);
    let customers: Vec<Customer> = req
        .customers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let at = Loc {
                list: "customers",
                index: Some(i),
            };
            customer_from_proto(c, at, today, &mut v)
        })
        .collect();
    v.into_result().map(|()| customers)
}

fn date_to_proto(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The stored facts, back on the wire.
pub fn customer_to_proto(c: &Customer) -> pb::Customer {
    pb::Customer {
        id: c.id.to_string(),
        kind: match c.kind {
            None => pb::CustomerKind::Unspecified,
            Some(CustomerKind::Individual) => pb::CustomerKind::Individual,
            Some(CustomerKind::Organization) => pb::CustomerKind::Organization,
        } as i32,
        segment: c.segment.clone(),
        region: c.region.clone(),
        revenue: c.revenue,
        gross_profit: c.gross_profit,
        cost_to_serve: c.cost_to_serve,
        acquisition_cost: c.acquisition_cost,
        category_spend: c.category_spend,
        previous_revenue: c.previous_revenue,
        own_growth: c.own_growth,
        relationship_start: date_to_proto(c.relationship_start),
        first_purchase: date_to_proto(c.first_purchase),
        last_purchase: date_to_proto(c.last_purchase),
        purchase_count: c.purchase_count.map(saturating_i64),
        referrals: c.referrals.map(saturating_i64),
        satisfaction: c.satisfaction,
        loyalty: c.loyalty,
        open_complaints: c.open_complaints.map(saturating_i64),
        resolved_complaints: c.resolved_complaints.map(saturating_i64),
        contacts_90d: c.contacts_90d.map(saturating_i64),
        relationship_type: match c.relationship_type {
            None => pb::RelationshipType::Unspecified,
            Some(RelationshipType::Basic) => pb::RelationshipType::Basic,
            Some(RelationshipType::Passive) => pb::RelationshipType::Passive,
            Some(RelationshipType::Responsible) => pb::RelationshipType::Responsible,
            Some(RelationshipType::Proactive) => pb::RelationshipType::Proactive,
            Some(RelationshipType::Partner) => pb::RelationshipType::Partner,
        } as i32,
        payment_behaviour: match c.payment_behaviour {
            None => pb::PaymentBehaviour::Unspecified,
            Some(PaymentBehaviour::Prompt) => pb::PaymentBehaviour::Prompt,
            Some(PaymentBehaviour::Normal) => pb::PaymentBehaviour::Normal,
            Some(PaymentBehaviour::Fair) => pb::PaymentBehaviour::Fair,
            Some(PaymentBehaviour::Late) => pb::PaymentBehaviour::Late,
            Some(PaymentBehaviour::Reluctant) => pb::PaymentBehaviour::Reluctant,
            Some(PaymentBehaviour::InArrears) => pb::PaymentBehaviour::InArrears,
        } as i32,
        funding_status: match c.funding_status {
            None => pb::FundingStatus::Unspecified,
            Some(FundingStatus::Ample) => pb::FundingStatus::Ample,
            Some(FundingStatus::Sufficient) => pb::FundingStatus::Sufficient,
            Some(FundingStatus::Tight) => pb::FundingStatus::Tight,
            Some(FundingStatus::Short) => pb::FundingStatus::Short,
            Some(FundingStatus::Critical) => pb::FundingStatus::Critical,
        } as i32,
        man: Some(pb::Man {
            money: c.man.money,
            authority: c.man.authority,
            need: c.man.need,
        }),
        excluded: c.excluded,
        in_pursuit: c.in_pursuit,
        frequency: c.purchases.frequency,
        recency: c.purchases.recency,
        t: c.purchases.t,
        monetary_value: c.purchases.monetary_value,
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 06 - 30);

    fn fields(v: Violations) -> Vec<String> {
        let status = v.into_status();
        use tonic_types::StatusExt;
        status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let p = pb::Customer {
            id: "c-9".into(),
            kind: pb::CustomerKind::Organization as i32,
            segment: "retail".into(),
            region: "EU".into(),
            revenue: Some(1000.0),
            gross_profit: Some(-5.0),
            cost_to_serve: Some(1.0),
            acquisition_cost: Some(2.0),
            category_spend: Some(3000.0),
            previous_revenue: Some(900.0),
            own_growth: Some(0.05),
            relationship_start: "2020-02-29".into(),
            first_purchase: "2020-03-01".into(),
            last_purchase: "2026-01-01".into(),
            purchase_count: Some(12),
            referrals: Some(1),
            satisfaction: Some(7.5),
            loyalty: Some(9.0),
            open_complaints: Some(0),
            resolved_complaints: Some(3),
            contacts_90d: Some(2),
            relationship_type: pb::RelationshipType::Partner as i32,
            payment_behaviour: pb::PaymentBehaviour::Late as i32,
            funding_status: pb::FundingStatus::Critical as i32,
            man: Some(pb::Man {
                money: true,
                authority: false,
                need: true,
            }),
            excluded: false,
            in_pursuit: true,
            frequency: Some(11.0),
            recency: Some(30.0),
            t: Some(40.0),
            monetary_value: Some(55.5),
        };
        let mut v = Violations::new();
        let c = customer_from_proto(
            &p,
            Loc {
                list: "customer",
                index: None,
            },
            TODAY,
            &mut v,
        )
        .unwrap();
        assert!(v.is_empty());
        assert_eq!(customer_to_proto(&c), p);
    }

    #[test]
    fn names_every_bad_field_with_its_path() {
        let p = pb::Customer {
            id: "c 1".into(),
            kind: 99,
            first_purchase: "2026-13-01".into(),
            purchase_count: Some(-2),
            satisfaction: Some(f64::NAN),
            ..Default::default()
        };
        let mut v = Violations::new();
        assert!(customer_from_proto(
            &p,
            Loc {
                list: "customers",
                index: Some(3)
            },
            TODAY,
            &mut v
        )
        .is_none());
        assert_eq!(
            fields(v),
            [
                "customers[3].id",
                "customers[3].kind",
                "customers[3].first_purchase",
                "customers[3].purchase_count",
                "customers[3].satisfaction"
            ]
        );
        // With a valid id, the value rules run too.
        let p = pb::Customer {
            id: "c-1".into(),
            satisfaction: Some(f64::NAN),
            last_purchase: "2999-01-01".into(),
            ..Default::default()
        };
        let mut v = Violations::new();
        assert!(customer_from_proto(
            &p,
            Loc {
                list: "customer",
                index: None
            },
            TODAY,
            &mut v
        )
        .is_none());
        assert_eq!(
            fields(v),
            ["customer.satisfaction", "customer.last_purchase"]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_and_validate(&bytes, TODAY);
        }

        #[test]
        fn accepted_customers_are_valid(
            id in "[a-z0-9@ _.\\-]{0,12}",
            revenue in proptest::option::of(proptest::num::f64::ANY),
            satisfaction in proptest::option::of(-20.0..20.0f64),
            count in proptest::option::of(-5i64..5),
            kind in -2i32..4,
            date in "(19|20|29)[0-9]{2}-[01][0-9]-[0-3][0-9]|",
        ) {
            use prost::Message;
            let c = pb::Customer {
                id, revenue, satisfaction, purchase_count: count, kind,
                first_purchase: date,
                ..Default::default()
            };
            let bytes = pb::UpsertCustomersRequest { portfolio: String::new(), customers: vec![c] }.encode_to_vec();
            match decode_and_validate(&bytes, TODAY) {
                Ok(cs) => {
                    proptest::prop_assert_eq!(cs.len(), 1);
                    proptest::prop_assert!(cs[0].check(TODAY).is_empty());
                }
                Err(status) => proptest::prop_assert_eq!(status.code(), tonic::Code::InvalidArgument),
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-02-29"), Some(date!(2024 - 02 - 29)));
        assert_eq!(parse_date("1900-01-01"), Some(date!(1900 - 01 - 01)));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-01T00",
            "",
            "+024-01-01",
            "２０２４-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
