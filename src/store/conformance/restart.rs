//! The restart check: every kind of record written before a restart reads back the same
//! after it, cursors handed out before it still work, and writes after it stay consistent
//! with what was there.

use super::{
    at, checks, cid, customer, ensure, ensure_eq, fresh, load, model, portfolio, run, scan_all,
    snapshot, Backend, Check, CheckError, Outcome,
};
use crate::domain::customer::Customer;
use crate::domain::id::PortfolioName;
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};
use crate::store::{Page, Store, UpsertCounts};

/// The checks of this file, in the order they run.
pub(super) fn checks<B: Backend>(b: &B) -> Vec<Check<'_>> {
    checks![b;
        "restart: every kind of record survives" => everything_survives,
    ]
}

/// Everything the check reads back, before and after the restart.
#[derive(Debug)]
struct Seen {
    customers: Vec<Customer>,
    elsewhere: Vec<Customer>,
    history: Vec<ValueSnapshot>,
    latest: Option<ValueSnapshot>,
    runs: Vec<TierRun>,
    latest_runs: (Option<TierRun>, Option<TierRun>),
    members: Vec<Vec<Member>>,
    models: Vec<Option<ValueModel>>,
    latest_model: Option<ValueModel>,
    page_token_key: [u8; 32],
}

/// Writes records of every kind into a fresh store; returns the saved runs' and models' ids.
async fn write_everything(
    store: &impl Store,
    p: &PortfolioName,
) -> Result<(Vec<String>, Vec<String>), CheckError> {
    let big: Vec<Customer> = (0..12_345)
        .map(|i| customer(&format!("c{i:06}"), i as f64))
        .collect();
    load(store, p, &big).await?;
    store
        .upsert_customers(p, &[customer("c000003", 33.0), customer("new", 1.0)])
        .await?;
    store
        .upsert_customers(&portfolio("p2"), &[customer("c000003", 9.0)])
        .await?;
    for (tag, secs) in [(1.0, 0), (2.0, -60), (3.0, 0), (4.0, 60)] {
        store.keep_value(&snapshot(p, "c1", tag, at(secs))).await?;
    }
    store.keep_value(&snapshot(p, "c10", 5.0, at(0))).await?;
    let mut run_ids = Vec::new();
    for (scheme, secs, n, tag) in [
        ("curry", 0, 5_000, 1),
        ("diamond", 10, 3, 2),
        ("curry", 20, 4_097, 3),
    ] {
        let (r, m) = run(p, scheme, at(secs), n, tag);
        run_ids.push(store.save_run(r, m).await?.run_id);
    }
    let mut model_ids = Vec::new();
    for (secs, tag) in [(0, 1.0), (30, 2.0)] {
        model_ids.push(store.save_model(model(p, at(secs), tag)).await?.model_id);
    }
    Ok((run_ids, model_ids))
}

async fn read_everything(
    store: &impl Store,
    p: &PortfolioName,
    run_ids: &[String],
    model_ids: &[String],
) -> Result<Seen, CheckError> {
    let mut members = Vec::new();
    for id in run_ids {
        members.push(store.run_members(id, 1, u64::MAX, usize::MAX).await?);
    }
    let mut models = Vec::new();
    for id in model_ids {
        models.push(store.get_model(id).await?);
    }
    let latest_run = async |scheme: &str| {
        let run = store.latest_run(p, scheme).await?;
        Ok::<_, CheckError>(run.as_deref().cloned())
    };
    Ok(Seen {
        customers: scan_all(store.scan_customers(p)).await?,
        elsewhere: scan_all(store.scan_customers(&portfolio("p2"))).await?,
        history: store
            .value_history(p, &cid("c1"), None, usize::MAX)
            .await?
            .items,
        latest: store.latest_value(p, &cid("c1")).await?,
        runs: store.list_runs(p, None, usize::MAX).await?.items,
        latest_runs: (latest_run("curry").await?, latest_run("diamond").await?),
        members,
        models,
        latest_model: store.latest_model(p).await?,
        page_token_key: store.page_token_key().await?,
    })
}

/// The first page of 2 of a listing, and its cursor.
fn first_page<T>(page: Page<T>) -> Result<(Vec<T>, u64), CheckError> {
    let next = page.next.ok_or_else(|| {
        CheckError::new(
            file!(),
            line!(),
            "a page of 2 of a longer listing has no cursor".into(),
        )
    })?;
    Ok((page.items, next))
}

pub(super) async fn everything_survives<B: Backend>(b: &B) -> Outcome {
    let (store, place) = fresh(b).await?;
    let p = portfolio("p");
    let (run_ids, model_ids) = write_everything(&store, &p).await?;
    let before = read_everything(&store, &p, &run_ids, &model_ids).await?;
    ensure_eq!(before.customers.len(), 12_346, "customers written");
    ensure_eq!(before.history.len(), 4, "values written");
    ensure!(
        before.members.iter().all(|m| !m.is_empty()),
        "members written"
    );
    let (_, history_cursor) = first_page(store.value_history(&p, &cid("c1"), None, 2).await?)?;
    let (_, runs_cursor) = first_page(store.list_runs(&p, None, 2).await?)?;
    drop(store);

    let store = b.reopen(&place).await?;
    let after = read_everything(&store, &p, &run_ids, &model_ids).await?;
    same_as_before(&before, &after)?;
    // Cursors from before the restart go on where they were.
    let rest = store
        .value_history(&p, &cid("c1"), Some(history_cursor), 10)
        .await?;
    ensure_eq!(
        rest.items,
        before.history[2..].to_vec(),
        "history after an old cursor"
    );
    let rest = store.list_runs(&p, Some(runs_cursor), 10).await?;
    ensure_eq!(
        rest.items,
        before.runs[2..].to_vec(),
        "runs after an old cursor"
    );

    writes_after_restart(&store, &p, &run_ids, &model_ids).await
}

/// Compares what was read before and after the restart, part by part.
fn same_as_before(before: &Seen, after: &Seen) -> Outcome {
    ensure!(
        after.customers == before.customers,
        "the customers differ after reopening"
    );
    ensure!(
        after.members == before.members,
        "the run members differ after reopening"
    );
    ensure_eq!(
        after.elsewhere,
        before.elsewhere,
        "another portfolio's customers"
    );
    ensure_eq!(after.history, before.history, "the history");
    ensure_eq!(after.latest, before.latest, "the latest value");
    ensure_eq!(after.runs, before.runs, "the runs");
    ensure_eq!(after.latest_runs, before.latest_runs, "the latest runs");
    ensure_eq!(after.models, before.models, "the models");
    ensure_eq!(after.latest_model, before.latest_model, "the latest model");
    ensure_eq!(
        after.page_token_key,
        before.page_token_key,
        "the page-token secret"
    );
    Ok(())
}

/// Writes after the restart know what was there: counts, kept values, new ids.
async fn writes_after_restart(
    store: &impl Store,
    p: &PortfolioName,
    run_ids: &[String],
    model_ids: &[String],
) -> Outcome {
    let counts = store
        .upsert_customers(p, &[customer("c000004", 44.0), customer("newer", 2.0)])
        .await?;
    ensure_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            updated: 1
        },
        "an upsert after reopening"
    );
    store.keep_value(&snapshot(p, "c1", 6.0, at(60))).await?;
    let history = store.value_history(p, &cid("c1"), None, 10).await?.items;
    ensure_eq!(
        history.len(),
        5,
        "a value of an existing time, kept after reopening"
    );
    ensure_eq!(
        history[0].assessment.score,
        6.0,
        "the newest after reopening"
    );
    let (r, m) = run(p, "curry", at(0), 2, 4);
    let again = store.save_run(r, m).await?;
    ensure!(
        !run_ids.contains(&again.run_id),
        "a run id given twice: {}",
        again.run_id
    );
    let latest = store.latest_run(p, "curry").await?;
    ensure_eq!(
        latest.as_deref(),
        Some(&again),
        "the latest run after reopening"
    );
    let m = store.save_model(model(p, at(0), 3.0)).await?;
    ensure!(
        !model_ids.contains(&m.model_id),
        "a model id given twice: {}",
        m.model_id
    );
    ensure_eq!(
        store.latest_model(p).await?,
        Some(m),
        "the latest model after reopening"
    );
    Ok(())
}
