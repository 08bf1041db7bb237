//! Customer flow between two runs of one scheme (seed 003's flow model: develop, lapse, win
//! back): the from-tier × to-tier matrix and who moved.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::cut::Member;
use crate::domain::id::CustomerId;

/// Direction of one customer's move between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Entered,
    Left,
}

/// One customer whose tier changed, or who entered or left.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub customer_id: CustomerId,
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    pub direction: Direction,
}

/// Customer flow between two runs of one scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub tiers: Vec<String>,
    /// `matrix[from][to]`: customers in tier `from` in the first run and `to` in the second.
    pub matrix: Vec<Vec<u64>>,
    pub up: u64,
    pub down: u64,
    pub unchanged: u64,
    pub entered: u64,
    pub left: u64,
    /// Ordered by customer id.
    pub movers: Vec<Move>,
}

/// Compares two runs of the same scheme (`tiers` in pyramid order): the flow matrix, and who
/// moved up (to a tier nearer the top), down, entered or left.
pub fn compare(tiers: &[String], from: &[Member], to: &[Member]) -> Migration {
    let k = tiers.len();
    let mut m = Migration {
        tiers: tiers.to_vec(),
        matrix: vec![vec![0; k]; k],
        up: 0,
        down: 0,
        unchanged: 0,
        entered: 0,
        left: 0,
        movers: Vec::new(),
    };
    let tier = |x: &Member| Some(x.tier as usize).filter(|&t| t < k);
    let before: HashMap<&CustomerId, usize> = from
        .iter()
        .filter_map(|x| tier(x).map(|t| (&x.customer_id, t)))
        .collect();
    let mut seen = HashSet::with_capacity(to.len());
    for x in to {
        let Some(t) = tier(x) else { continue };
        seen.insert(&x.customer_id);
        let (direction, from_tier) = match before.get(&x.customer_id) {
            Some(&f) => {
                m.matrix[f][t] += 1;
                match t.cmp(&f) {
                    std::cmp::Ordering::Less => {
                        m.up += 1;
                        (Direction::Up, Some(tiers[f].clone()))
                    }
                    std::cmp::Ordering::Greater => {
                        m.down += 1;
                        (Direction::Down, Some(tiers[f].clone()))
                    }
                    std::cmp::Ordering::Equal => {
                        m.unchanged += 1;
                        continue;
                    }
                }
            }
            None => {
                m.entered += 1;
                (Direction::Entered, None)
            }
        };
        m.movers.push(Move {
            customer_id: x.customer_id.clone(),
            from_tier,
            to_tier: Some(tiers[t].clone()),
            direction,
        });
    }
    for x in from {
        if let Some(f) = tier(x) {
            if !seen.contains(&x.customer_id) {
                m.left += 1;
                m.movers.push(Move {
                    customer_id: x.customer_id.clone(),
                    from_tier: Some(tiers[f].clone()),
                    to_tier: None,
                    direction: Direction::Left,
                });
            }
        }
    }
    m.movers.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_on_a_hand_case() {
        let tiers: Vec<String> = ["key", "major", "small"].map(String::from).to_vec();
        let m = |id: &str, t: u32| Member {
            customer_id: CustomerId::parse(id).unwrap(),
            tier: t,
            rank: 0,
            percentile: 0.0,
            metric_value: 0.0,
        };
        let (key, major, small) = (0, 1, 2);
        let from = vec![m("a", key), m("b", major), m("c", small), m("d", small)];
        let to = vec![m("a", major), m("b", major), m("c", key), m("e", small)];
        let g = compare(&tiers, &from, &to);
        assert_eq!(g.matrix, vec![vec![0, 1, 0], vec![0, 1, 0], vec![1, 0, 0]]);
        assert_eq!(
            (g.up, g.down, g.unchanged, g.entered, g.left),
            (1, 1, 1, 1, 1)
        );
        let moves: Vec<_> = g
            .movers
            .iter()
            .map(|x| (x.customer_id.as_str(), x.direction))
            .collect();
        assert_eq!(
            moves,
            [
                ("a", Direction::Down),
                ("c", Direction::Up),
                ("d", Direction::Left),
                ("e", Direction::Entered)
            ]
        );
    }
}
