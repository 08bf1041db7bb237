//! Checks that paging through every listing, with pages of 1, 2, 3, n−1, n and n+1, gives the
//! unpaged listing exactly: no gap, no repeat, the same order.

use std::future::Future;

use super::{
    at, checks, cid, customer, ensure, ensure_eq, fresh, portfolio, run, scan_all, snapshot,
    Backend, Check, CheckError, Outcome,
};
use crate::domain::customer::Customer;
use crate::domain::pyramid::Member;
use crate::store::{Page, Store, StoreError};

/// The checks of this file, in the order they run.
pub(super) fn checks<B: Backend>(b: &B) -> Vec<Check<'_>> {
    checks![b;
        "paging: value history" => value_history,
        "paging: runs" => runs,
        "paging: customers" => customers,
        "paging: run members" => run_members,
    ]
}

/// Items in each listing.
const N: usize = 7;

/// The page sizes every listing is read with.
const SIZES: [usize; 6] = [1, 2, 3, N - 1, N, N + 1];

/// Times (seconds from `t0`) of the listed records, out of order and with a tie.
const TIMES: [i64; N] = [30, 10, 50, 10, 70, -20, 40];

/// Reads a cursor listing of `n` items in pages of `size` through `fetch(after, size)`,
/// checking that every page but the last is full and that a cursor is handed out exactly
/// when something follows.
async fn by_cursor<T, F, Fut>(n: usize, size: usize, mut fetch: F) -> Result<Vec<T>, CheckError>
where
    F: FnMut(Option<u64>, usize) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut out = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = fetch(after, size).await?;
        pages += 1;
        ensure!(pages <= n + 1, "more pages than items");
        ensure!(
            page.items.len() <= size,
            "a page of {} for a limit of {size}",
            page.items.len()
        );
        ensure!(
            pages == 1 || !page.items.is_empty(),
            "a cursor was handed out with nothing after it (pages of {size})"
        );
        let last = page.next.is_none();
        ensure!(
            last || page.items.len() == size,
            "a page of {} before the last (pages of {size})",
            page.items.len()
        );
        out.extend(page.items);
        if last {
            break;
        }
        after = page.next;
    }
    ensure_eq!(pages, n.div_ceil(size).max(1), "pages of {size}");
    Ok(out)
}

pub(super) async fn value_history<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let id = cid("c1");
    for (i, secs) in TIMES.into_iter().enumerate() {
        store
            .keep_value(&snapshot(&p, "c1", i as f64, at(secs)))
            .await?;
        // A look-alike customer's values in between.
        store
            .keep_value(&snapshot(&p, "c10", 100.0, at(secs + 1)))
            .await?;
    }
    let all = store.value_history(&p, &id, None, usize::MAX).await?;
    ensure_eq!(all.items.len(), N, "values in the history");
    ensure_eq!(all.next, None, "a cursor after everything");
    ensure!(
        all.items
            .windows(2)
            .all(|w| w[0].scored_at >= w[1].scored_at),
        "the history is not newest first"
    );
    ensure_eq!(
        store.latest_value(&p, &id).await?.as_ref(),
        all.items.first(),
        "the head of the history is the latest value"
    );
    let mut kept: Vec<f64> = all.items.iter().map(|v| v.assessment.score).collect();
    kept.sort_by(f64::total_cmp);
    ensure_eq!(
        kept,
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "the values listed"
    );
    for size in SIZES {
        let paged = by_cursor(N, size, |after, limit| {
            store.value_history(&p, &id, after, limit)
        })
        .await?;
        ensure!(
            paged == all.items,
            "pages of {size} differ from the whole history"
        );
    }
    let zero = store.value_history(&p, &id, None, 0).await?;
    ensure!(zero.items.is_empty(), "a limit of 0");
    Ok(())
}

pub(super) async fn runs<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    for (i, secs) in TIMES.into_iter().enumerate() {
        let scheme = if i % 2 == 0 { "curry" } else { "diamond" };
        let (r, m) = run(&p, scheme, at(secs), 2, i as u64);
        store.save_run(r, m).await?;
        let (r, m) = run(&p2, scheme, at(secs), 2, 100 + i as u64);
        store.save_run(r, m).await?;
    }
    let all = store.list_runs(&p, None, usize::MAX).await?;
    ensure_eq!(all.items.len(), N, "runs listed");
    ensure_eq!(all.next, None, "a cursor after everything");
    ensure!(
        all.items.iter().all(|r| r.portfolio == p),
        "another portfolio's run is listed"
    );
    ensure!(
        all.items
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at && w[0].run_id > w[1].run_id),
        "the runs are not newest first"
    );
    for size in SIZES {
        let paged = by_cursor(N, size, |after, limit| store.list_runs(&p, after, limit)).await?;
        ensure!(
            paged == all.items,
            "pages of {size} differ from the whole listing"
        );
    }
    ensure!(
        store.list_runs(&p, None, 0).await?.items.is_empty(),
        "a limit of 0"
    );
    Ok(())
}

pub(super) async fn customers<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let written: Vec<Customer> = ["g", "b", "f", "a", "e", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, id)| customer(id, i as f64))
        .collect();
    super::load(&store, &p, &written[..4]).await?;
    store.upsert_customers(&p, &written[4..]).await?;
    store
        .upsert_customers(&portfolio("p2"), &[customer("bb", 1.0)])
        .await?;
    let all = scan_all(store.scan_customers(&p)).await?;
    ensure_eq!(
        super::ids(&all),
        ["a", "b", "c", "d", "e", "f", "g"],
        "the scan"
    );
    for size in SIZES {
        let mut paged: Vec<Customer> = Vec::new();
        let mut pages = 0;
        loop {
            let after = paged.last().map(|c| c.id.clone());
            let page = store.customers_page(&p, after, size).await?;
            pages += 1;
            ensure!(pages <= N + 1, "more pages than customers");
            let short = page.len() < size;
            paged.extend(page);
            if short {
                break;
            }
        }
        ensure_eq!(pages, N / size + 1, "pages of {size}");
        ensure_eq!(super::ids(&paged), super::ids(&all), "pages of {size}");
        ensure!(paged == all, "pages of {size} differ from the scan");
    }
    Ok(())
}

pub(super) async fn run_members<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let (r, members) = run(&p, "curry", at(0), N as u64, 1);
    let id = store.save_run(r, members.clone()).await?.run_id;
    let all = store.run_members(&id, 1, N as u64, usize::MAX).await?;
    ensure!(
        all == members,
        "the members read back differ from those saved"
    );
    // The whole run and one tier's slice of it, as the API pages them: on from the last rank.
    for (first, last) in [(1u64, N as u64), (2, N as u64 - 1)] {
        let want: Vec<Member> = members[first as usize - 1..last as usize].to_vec();
        for size in SIZES {
            let mut paged: Vec<Member> = Vec::new();
            let mut from = first;
            while from <= last {
                let page = store.run_members(&id, from, last, size).await?;
                ensure!(
                    !page.is_empty() && page.len() <= size,
                    "a page of {} from rank {from}, limit {size}",
                    page.len()
                );
                from = page[page.len() - 1].rank + 1;
                ensure!(
                    page.len() == size || from > last,
                    "a page of {} before the last (limit {size})",
                    page.len()
                );
                paged.extend(page);
            }
            ensure!(
                paged == want,
                "pages of {size} over ranks {first}..={last} differ from the members"
            );
        }
    }
    Ok(())
}
