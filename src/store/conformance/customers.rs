//! Checks of customers: upserts, gets, scans, pages and loads.

use super::{
    checks, customer, ensure, ensure_eq, expected_after, fresh, ids, load, portfolio, scan_all,
    Backend, Check, Outcome,
};
use crate::domain::customer::Customer;
use crate::store::{Store, StoreError, UpsertCounts};

/// The checks of this file, in the order they run.
pub(super) fn checks<B: Backend>(b: &B) -> Vec<Check<'_>> {
    checks![b;
        "customers: upserts count inserted and updated exactly" => upsert_counts,
        "customers: concurrent upserts count exactly" => concurrent_upserts,
        "customers: get returns the stored facts whole, per portfolio" => get,
        "customers: a batch get answers in the order asked" => get_many,
        "customers: a scan is ascending, complete and consistent" => scan,
        "customers: pages start after the cursor and end short only at the end" => pages,
        "loads: a committed load is all there" => committed_load,
        "loads: a dropped load leaves nothing" => dropped_load,
        "loads: a customer twice fails the whole load" => duplicate_in_load,
        "loads: a large load over an overlay" => large_load,
    ]
}

fn counts(inserted: u64, updated: u64) -> UpsertCounts {
    UpsertCounts { inserted, updated }
}

pub(super) async fn upsert_counts<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let first = store
        .upsert_customers(&p, &[customer("a", 1.0), customer("b", 2.0)])
        .await?;
    ensure_eq!(first, counts(2, 0), "two new customers");
    let second = store
        .upsert_customers(&p, &[customer("b", 20.0), customer("c", 3.0)])
        .await?;
    ensure_eq!(second, counts(1, 1), "one replaced, one new");
    let same = store.upsert_customers(&p, &[customer("c", 3.0)]).await?;
    ensure_eq!(
        same,
        counts(0, 1),
        "replacing with the same facts is an update"
    );
    let other = store
        .upsert_customers(&portfolio("p2"), &[customer("a", 5.0)])
        .await?;
    ensure_eq!(
        other,
        counts(1, 0),
        "another portfolio's `a` is a new customer"
    );
    let none = store.upsert_customers(&p, &[]).await?;
    ensure_eq!(none, counts(0, 0), "an empty upsert");
    Ok(())
}

pub(super) async fn concurrent_upserts<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    // Four writers over overlapping ids 0..40: each id is new to exactly one of them.
    let batch = |from: usize| -> Vec<Customer> {
        (from..from + 20)
            .map(|i| customer(&format!("c{i:03}"), i as f64))
            .collect()
    };
    let (b0, b1, b2, b3) = (batch(0), batch(10), batch(20), batch(5));
    let (r0, r1, r2, r3) = tokio::join!(
        store.upsert_customers(&p, &b0),
        store.upsert_customers(&p, &b1),
        store.upsert_customers(&p, &b2),
        store.upsert_customers(&p, &b3),
    );
    let all = [r0?, r1?, r2?, r3?];
    let inserted: u64 = all.iter().map(|c| c.inserted).sum();
    let updated: u64 = all.iter().map(|c| c.updated).sum();
    ensure_eq!(inserted, 40, "ids new to the portfolio, over all writers");
    ensure_eq!(updated, 40, "ids some other writer had stored first");
    ensure_eq!(
        scan_all(store.scan_customers(&p)).await?.len(),
        40,
        "customers held"
    );
    Ok(())
}

pub(super) async fn get<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    let a = customer("a", 1.0);
    let mut b_full = customer("b", 2.0);
    b_full.loyalty = Some(0.5);
    store.upsert_customers(&p, &[a.clone(), b_full]).await?;
    // Replaced whole: a fact the new version lacks is gone.
    let b_new = customer("b", 21.0);
    store
        .upsert_customers(&p, std::slice::from_ref(&b_new))
        .await?;
    store.upsert_customers(&p2, &[customer("a", 9.0)]).await?;
    ensure_eq!(store.get_customer(&p, &a.id).await?, Some(a.clone()), "p/a");
    ensure_eq!(
        store.get_customer(&p, &b_new.id).await?,
        Some(b_new.clone()),
        "p/b"
    );
    ensure_eq!(
        store.get_customer(&p2, &a.id).await?,
        Some(customer("a", 9.0)),
        "p2/a"
    );
    ensure_eq!(store.get_customer(&p2, &b_new.id).await?, None, "p2/b");
    ensure_eq!(
        store.get_customer(&portfolio("p3"), &a.id).await?,
        None,
        "a portfolio never written"
    );
    Ok(())
}

pub(super) async fn get_many<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let (x, y) = (customer("x", 1.0), customer("y", 2.0));
    store.upsert_customers(&p, &[x.clone(), y.clone()]).await?;
    let missing = customer("nobody", 0.0).id;
    let asked = [y.id.clone(), missing, x.id.clone(), y.id.clone()];
    ensure_eq!(
        store.get_customers(&p, &asked).await?,
        vec![Some(y.clone()), None, Some(x), Some(y)],
        "in the order asked, None for the missing, twice for the twice-asked"
    );
    ensure_eq!(
        store.get_customers(&portfolio("p2"), &asked).await?,
        vec![None, None, None, None],
        "another portfolio"
    );
    ensure_eq!(store.get_customers(&p, &[]).await?, vec![], "no ids");
    Ok(())
}

/// Ids that sort differently as bytes than as words: upper before lower case, shorter first.
const MIXED_IDS: [&str; 12] = [
    "b", "a", "B", "a-1", "a0", "a.b", "Z9", "a", "zz", "a@x", "c/1", "a:2",
];

fn mixed() -> Vec<Customer> {
    MIXED_IDS
        .iter()
        .enumerate()
        .map(|(i, id)| customer(id, i as f64))
        .collect()
}

pub(super) async fn scan<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    ensure!(
        scan_all(store.scan_customers(&p)).await?.is_empty(),
        "an empty portfolio scans to nothing"
    );
    let written = mixed();
    // In chunks: `a` is twice in the list, in two chunks.
    for chunk in written.chunks(5) {
        store.upsert_customers(&p, chunk).await?;
    }
    store.upsert_customers(&p2, &[customer("0", 1.0)]).await?;
    let expected = expected_after(written);
    let got = scan_all(store.scan_customers(&p)).await?;
    ensure_eq!(
        ids(&got),
        ids(&expected),
        "ids, ascending by bytes, each once"
    );
    ensure_eq!(got, expected, "the customers");
    // A scan over a load committed meanwhile sees it wholly or not at all.
    let rx = store.scan_customers(&p);
    let fresh_ids: Vec<Customer> = (0..50)
        .map(|i| customer(&format!("n{i:02}"), 1.0))
        .collect();
    load(&store, &p, &fresh_ids).await?;
    let seen = scan_all(rx).await?;
    let new_seen = seen
        .iter()
        .filter(|c| c.id.as_str().starts_with('n'))
        .count();
    ensure!(
        new_seen == 0 || new_seen == 50,
        "a scan saw {new_seen} of the 50 customers of a load"
    );
    Ok(())
}

pub(super) async fn pages<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let written = mixed();
    for chunk in written.chunks(5) {
        store.upsert_customers(&p, chunk).await?;
    }
    let all = expected_after(written);
    let page = store.customers_page(&p, None, usize::MAX).await?;
    ensure_eq!(page, all, "every customer in one page");
    ensure!(
        store.customers_page(&p, None, 0).await?.is_empty(),
        "a limit of 0"
    );
    for (i, c) in all.iter().enumerate() {
        let after = store.customers_page(&p, Some(c.id.clone()), 3).await?;
        let want: Vec<Customer> = all[i + 1..].iter().take(3).cloned().collect();
        ensure_eq!(ids(&after), ids(&want), "three after {}", c.id);
        ensure_eq!(after, want, "the customers after {}", c.id);
    }
    // A cursor that is not a stored id: the page starts at the next one.
    let between = store.customers_page(&p, Some(super::cid("a/")), 2).await?;
    ensure_eq!(
        ids(&between),
        ["a0", "a:2"],
        "after an id between a.b and a0"
    );
    let past = store.customers_page(&p, Some(super::cid("zzz")), 2).await?;
    ensure!(past.is_empty(), "after the last id");
    Ok(())
}

pub(super) async fn committed_load<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    store.upsert_customers(&p, &[customer("b", 1.0)]).await?;
    let batch = [customer("a", 2.0), customer("b", 3.0), customer("c", 4.0)];
    let mut l = store.begin_load(&p);
    for c in &batch {
        l.add(c)?;
    }
    // Nothing shows before the commit.
    ensure_eq!(
        store.get_customer(&p, &batch[0].id).await?,
        None,
        "a before commit"
    );
    ensure_eq!(
        store.get_customer(&p, &batch[1].id).await?,
        Some(customer("b", 1.0)),
        "b before commit"
    );
    let c = l.commit().await?;
    ensure_eq!(c, counts(2, 1), "counts");
    ensure_eq!(
        scan_all(store.scan_customers(&p)).await?,
        batch.to_vec(),
        "after commit"
    );
    let empty = store.begin_load(&p).commit().await?;
    ensure_eq!(empty, counts(0, 0), "an empty load");
    Ok(())
}

pub(super) async fn dropped_load<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    store.upsert_customers(&p, &[customer("a", 1.0)]).await?;
    let mut l = store.begin_load(&p);
    for c in [customer("a", 2.0), customer("b", 3.0)] {
        l.add(&c)?;
    }
    drop(l);
    ensure_eq!(
        scan_all(store.scan_customers(&p)).await?,
        vec![customer("a", 1.0)],
        "after dropping the load"
    );
    ensure_eq!(
        store.customers_page(&p, None, 10).await?,
        vec![customer("a", 1.0)],
        "a page after dropping the load"
    );
    Ok(())
}

pub(super) async fn duplicate_in_load<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    store.upsert_customers(&p, &[customer("x", 1.0)]).await?;
    let twice = [
        customer("a", 2.0),
        customer("x", 3.0),
        customer("b", 4.0),
        customer("x", 5.0),
    ];
    for via_upsert in [false, true] {
        let result = if via_upsert {
            store.upsert_customers(&p, &twice).await
        } else {
            load(&store, &p, &twice).await
        };
        match result {
            Err(StoreError::DuplicateInLoad { id, first, second }) => {
                ensure_eq!(
                    (id.as_str(), first, second),
                    ("x", 1, 3),
                    "what the error names"
                );
            }
            other => ensure!(false, "expected DuplicateInLoad, got {other:?}"),
        }
        ensure_eq!(
            scan_all(store.scan_customers(&p)).await?,
            vec![customer("x", 1.0)],
            "nothing of the load is stored (via upsert: {via_upsert})"
        );
    }
    Ok(())
}

pub(super) async fn large_load<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    // A few customers upserted before, some of which the load replaces.
    let before = [
        customer("c000005", -1.0),
        customer("zz", 2.0),
        customer("a", 3.0),
    ];
    store.upsert_customers(&p, &before).await?;
    let n = 12_345;
    let big: Vec<Customer> = (0..n)
        .map(|i| customer(&format!("c{i:06}"), i as f64))
        .collect();
    ensure_eq!(
        load(&store, &p, &big).await?,
        counts(n as u64 - 1, 1),
        "the load"
    );
    let after = [customer("c000007", 70.0), customer("b", 4.0)];
    ensure_eq!(
        store.upsert_customers(&p, &after).await?,
        counts(1, 1),
        "an upsert over the load"
    );
    let expected = expected_after(before.into_iter().chain(big.clone()).chain(after));
    let scanned = scan_all(store.scan_customers(&p)).await?;
    ensure_eq!(scanned.len(), expected.len(), "customers scanned");
    ensure!(
        scanned == expected,
        "the scan differs from what was written"
    );
    for size in [1000, 1023, 1024, 1025, 5000] {
        let mut paged = Vec::new();
        loop {
            let after = paged.last().map(|c: &Customer| c.id.clone());
            let page = store.customers_page(&p, after, size).await?;
            let last = page.len() < size;
            paged.extend(page);
            if last {
                break;
            }
        }
        ensure!(paged == expected, "pages of {size} differ from the scan");
    }
    for i in [0usize, 5, 7, 1023, 1024, 4096, n - 1] {
        let want = expected
            .iter()
            .find(|c| c.id.as_str() == format!("c{i:06}"));
        let got = store
            .get_customer(&p, &super::cid(&format!("c{i:06}")))
            .await?;
        ensure_eq!(got.as_ref(), want, "customer c{i:06}");
    }
    // A second load over part of it: updates only.
    let again = &big[..11_000];
    ensure_eq!(
        load(&store, &p, again).await?,
        counts(0, 11_000),
        "a second load"
    );
    ensure_eq!(
        store.get_customer(&p, &super::cid("c000007")).await?,
        Some(customer("c000007", 7.0)),
        "the later load wins over the earlier upsert"
    );
    Ok(())
}
