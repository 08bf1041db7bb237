//! Binary encoding of the bulk records: customers and run members.
//!
//! These are the records that come by the million, so they are encoded as protobuf messages
//! (prost, derived here rather than generated: they are a storage format, not part of the API).
//! Protobuf is several times faster and smaller than JSON for them, and keeps the format open to
//! evolution: a field added later is simply absent (unknown) in older records, and an older
//! build skips fields it does not know. Enumerations are stored as small integer codes, 0 for
//! "unknown"; dates as Julian day numbers.

use prost::Message;
use time::Date;

use crate::domain::customer::{
    Customer, CustomerKind, FundingStatus, Man, PaymentBehaviour, PurchaseSummary, RelationshipType,
};
use crate::domain::id::CustomerId;
use crate::domain::pyramid::Member;
use crate::store::StoreError;

#[derive(Clone, PartialEq, Message)]
struct StoredCustomer {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(int32, tag = "2")]
    kind: i32,
    #[prost(string, tag = "3")]
    segment: String,
    #[prost(string, tag = "4")]
    region: String,
    #[prost(double, optional, tag = "5")]
    revenue: Option<f64>,
    #[prost(double, optional, tag = "6")]
    gross_profit: Option<f64>,
    #[prost(double, optional, tag = "7")]
    cost_to_serve: Option<f64>,
    #[prost(double, optional, tag = "8")]
    acquisition_cost: Option<f64>,
    #[prost(double, optional, tag = "9")]
    category_spend: Option<f64>,
    #[prost(double, optional, tag = "10")]
    previous_revenue: Option<f64>,
    #[prost(double, optional, tag = "11")]
    own_growth: Option<f64>,
    #[prost(int32, optional, tag = "12")]
    relationship_start: Option<i32>,
    #[prost(int32, optional, tag = "13")]
    first_purchase: Option<i32>,
    #[prost(int32, optional, tag = "14")]
    last_purchase: Option<i32>,
    #[prost(uint64, optional, tag = "15")]
    purchase_count: Option<u64>,
    #[prost(uint64, optional, tag = "16")]
    referrals: Option<u64>,
    #[prost(double, optional, tag = "17")]
    satisfaction: Option<f64>,
    #[prost(double, optional, tag = "18")]
    loyalty: Option<f64>,
    #[prost(uint64, optional, tag = "19")]
    open_complaints: Option<u64>,
    #[prost(uint64, optional, tag = "20")]
    resolved_complaints: Option<u64>,
    #[prost(uint64, optional, tag = "21")]
    contacts_90d: Option<u64>,
    #[prost(int32, tag = "22")]
    relationship_type: i32,
    #[prost(int32, tag = "23")]
    payment_behaviour: i32,
    #[prost(int32, tag = "24")]
    funding_status: i32,
    #[prost(bool, tag = "25")]
    man_money: bool,
    #[prost(bool, tag = "26")]
    man_authority: bool,
    #[prost(bool, tag = "27")]
    man_need: bool,
    #[prost(bool, tag = "28")]
    excluded: bool,
    #[prost(bool, tag = "29")]
    in_pursuit: bool,
    #[prost(double, optional, tag = "30")]
    frequency: Option<f64>,
    #[prost(double, optional, tag = "31")]
    recency: Option<f64>,
    #[prost(double, optional, tag = "32")]
    t: Option<f64>,
    #[prost(double, optional, tag = "33")]
    monetary_value: Option<f64>,
}

#[derive(Clone, PartialEq, Message)]
struct StoredMember {
    #[prost(string, tag = "1")]
    customer_id: String,
    #[prost(uint32, tag = "2")]
    tier: u32,
    #[prost(uint64, tag = "3")]
    rank: u64,
    #[prost(double, tag = "4")]
    percentile: f64,
    #[prost(double, tag = "5")]
    metric_value: f64,
}

const KINDS: [CustomerKind; 2] = [CustomerKind::Individual, CustomerKind::Organization];
const RELATIONSHIPS: [RelationshipType; 5] = [
    RelationshipType::Basic,
    RelationshipType::Passive,
    RelationshipType::Responsible,
    RelationshipType::Proactive,
    RelationshipType::Partner,
];
const PAYMENTS: [PaymentBehaviour; 6] = [
    PaymentBehaviour::Prompt,
    PaymentBehaviour::Normal,
    PaymentBehaviour::Fair,
    PaymentBehaviour::Late,
    PaymentBehaviour::Reluctant,
    PaymentBehaviour::InArrears,
];
const FUNDING: [FundingStatus; 5] = [
    FundingStatus::Ample,
    FundingStatus::Sufficient,
    FundingStatus::Tight,
    FundingStatus::Short,
    FundingStatus::Critical,
];

/// 0 for unknown, else 1 + the position in `all`. Codes are part of the storage format: new
/// values go at the end of the lists above.
fn code<T: PartialEq>(all: &[T], v: Option<T>) -> i32 {
    v.and_then(|v| all.iter().position(|x| *x == v))
        .map_or(0, |i| i as i32 + 1)
}

fn from_code<T: Copy>(all: &[T], c: i32, field: &str) -> Result<Option<T>, StoreError> {
    if c == 0 {
        return Ok(None);
    }
    usize::try_from(c - 1)
        .ok()
        .and_then(|i| all.get(i).copied())
        .map(Some)
        .ok_or_else(|| corrupt(format!("unknown {field} code {c}")))
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt {
        key: "(customer record)".to_owned(),
        reason,
    }
}

fn day(d: Option<Date>) -> Option<i32> {
    d.map(Date::to_julian_day)
}

fn date(d: Option<i32>) -> Result<Option<Date>, StoreError> {
    d.map(|j| Date::from_julian_day(j).map_err(|e| corrupt(format!("bad date {j}: {e}"))))
        .transpose()
}

pub fn encode_customer(c: &Customer) -> Vec<u8> {
    StoredCustomer {
        id: c.id.to_string(),
        kind: code(&KINDS, c.kind),
        segment: c.segment.clone(),
        region: c.region.clone(),
        revenue: c.revenue,
        gross_profit: c.gross_profit,
        cost_to_serve: c.cost_to_serve,
        acquisition_cost: c.acquisition_cost,
        category_spend: c.category_spend,
        previous_revenue: c.previous_revenue,
        own_growth: c.own_growth,
        relationship_start: day(c.relationship_start),
        first_purchase: day(c.first_purchase),
        last_purchase: day(c.last_purchase),
        purchase_count: c.purchase_count,
        referrals: c.referrals,
        satisfaction: c.satisfaction,
        loyalty: c.loyalty,
        open_complaints: c.open_complaints,
        resolved_complaints: c.resolved_complaints,
        contacts_90d: c.contacts_90d,
        relationship_type: code(&RELATIONSHIPS, c.relationship_type),
        payment_behaviour: code(&PAYMENTS, c.payment_behaviour),
        funding_status: code(&FUNDING, c.funding_status),
        man_money: c.man.money,
        man_authority: c.man.authority,
        man_need: c.man.need,
        excluded: c.excluded,
        in_pursuit: c.in_pursuit,
        frequency: c.purchases.frequency,
        recency: c.purchases.recency,
        t: c.purchases.t,
        monetary_value: c.purchases.monetary_value,
    }
    .encode_to_vec()
}

pub fn decode_customer(bytes: &[u8]) -> Result<Customer, StoreError> {
    let s = StoredCustomer::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Customer {
        id: CustomerId::try_from(s.id).map_err(|e| corrupt(format!("bad id: {e}")))?,
        kind: from_code(&KINDS, s.kind, "kind")?,
        segment: s.segment,
        region: s.region,
        revenue: s.revenue,
        gross_profit: s.gross_profit,
        cost_to_serve: s.cost_to_serve,
        acquisition_cost: s.acquisition_cost,
        category_spend: s.category_spend,
        previous_revenue: s.previous_revenue,
        own_growth: s.own_growth,
        relationship_start: date(s.relationship_start)?,
        first_purchase: date(s.first_purchase)?,
        last_purchase: date(s.last_purchase)?,
        purchase_count: s.purchase_count,
        referrals: s.referrals,
        satisfaction: s.satisfaction,
        loyalty: s.loyalty,
        open_complaints: s.open_complaints,
        resolved_complaints: s.resolved_complaints,
        contacts_90d: s.contacts_90d,
        relationship_type: from_code(&RELATIONSHIPS, s.relationship_type, "relationship_type")?,
        payment_behaviour: from_code(&PAYMENTS, s.payment_behaviour, "payment_behaviour")?,
        funding_status: from_code(&FUNDING, s.funding_status, "funding_status")?,
        man: Man {
            money: s.man_money,
            authority: s.man_authority,
            need: s.man_need,
        },
        excluded: s.excluded,
        in_pursuit: s.in_pursuit,
        purchases: PurchaseSummary {
            frequency: s.frequency,
            recency: s.recency,
            t: s.t,
            monetary_value: s.monetary_value,
        },
    })
}

pub fn encode_member(m: &Member) -> Vec<u8> {
    StoredMember {
        customer_id: m.customer_id.to_string(),
        tier: m.tier,
        rank: m.rank,
        percentile: m.percentile,
        metric_value: m.metric_value,
    }
    .encode_to_vec()
}

pub fn decode_member(bytes: &[u8]) -> Result<Member, StoreError> {
    let s = StoredMember::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Member {
        customer_id: CustomerId::try_from(s.customer_id)
            .map_err(|e| corrupt(format!("bad member id: {e}")))?,
        tier: s.tier,
        rank: s.rank,
        percentile: s.percentile,
        metric_value: s.metric_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn customers_round_trip_with_every_field() {
        let mut c = Customer::new(CustomerId::parse("c-1").unwrap());
        c.kind = Some(CustomerKind::Organization);
        c.segment = "retail".into();
        c.region = "EU".into();
        c.revenue = Some(1.5);
        c.gross_profit = Some(-2.0);
        c.cost_to_serve = Some(0.0);
        c.acquisition_cost = Some(3.0);
        c.category_spend = Some(4.0);
        c.previous_revenue = Some(5.0);
        c.own_growth = Some(-0.1);
        c.relationship_start = Some(date!(1999 - 12 - 31));
        c.first_purchase = Some(date!(2000 - 02 - 29));
        c.last_purchase = Some(date!(2026 - 01 - 01));
        c.purchase_count = Some(7);
        c.referrals = Some(0);
        c.satisfaction = Some(10.0);
        c.loyalty = Some(0.0);
        c.open_complaints = Some(1);
        c.resolved_complaints = Some(2);
        c.contacts_90d = Some(3);
        c.relationship_type = Some(RelationshipType::Partner);
        c.payment_behaviour = Some(PaymentBehaviour::InArrears);
        c.funding_status = Some(FundingStatus::Critical);
        c.man = Man {
            money: true,
            authority: false,
            need: true,
        };
        c.excluded = true;
        c.in_pursuit = true;
        c.purchases = PurchaseSummary {
            frequency: Some(2.0),
            recency: Some(3.5),
            t: Some(38.86),
            monetary_value: Some(22.35),
        };
        assert_eq!(decode_customer(&encode_customer(&c)).unwrap(), c);
        let bare = Customer::new(CustomerId::parse("x").unwrap());
        assert_eq!(decode_customer(&encode_customer(&bare)).unwrap(), bare);
    }

    #[test]
    fn members_round_trip_and_garbage_is_an_error() {
        let m = Member {
            customer_id: CustomerId::parse("c-9").unwrap(),
            tier: 3,
            rank: 1_000_000,
            percentile: 0.0001,
            metric_value: -5.5,
        };
        assert_eq!(decode_member(&encode_member(&m)).unwrap(), m);
        assert!(decode_customer(&[0xff, 0xff, 0xff]).is_err());
        let bad_code = StoredCustomer {
            id: "c".into(),
            kind: 9,
            ..Default::default()
        };
        assert!(decode_customer(&bad_code.encode_to_vec()).is_err());
    }
}
