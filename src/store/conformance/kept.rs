//! Checks of kept values, tiering runs, value models and the page-token secret.

use super::{
    at, checks, cid, ensure, ensure_eq, fresh, model, portfolio, run, snapshot, Backend, Check,
    Outcome,
};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};
use crate::store::{Store, StoreError};

/// The checks of this file, in the order they run.
pub(super) fn checks<B: Backend>(b: &B) -> Vec<Check<'_>> {
    checks![b;
        "values: the latest is the newest by time" => latest_value,
        "values: equal times never overwrite" => equal_times,
        "values: a shared id prefix does not leak" => shared_prefix,
        "runs: saved whole with all their members" => run_saved_whole,
        "runs: ids are unique and time-ordered" => run_ids,
        "runs: the latest run per scheme is the one saved last" => latest_run,
        "runs: members by rank range and limit, and by customer" => run_members,
        "models: save, get and latest" => models,
        "page token key: one secret, stable" => page_token_key,
    ]
}

fn tags(values: &[ValueSnapshot]) -> Vec<f64> {
    values.iter().map(|v| v.assessment.score).collect()
}

pub(super) async fn latest_value<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let id = cid("c1");
    ensure_eq!(store.latest_value(&p, &id).await?, None, "before any value");
    let empty = store.value_history(&p, &id, None, 10).await?;
    ensure!(empty.items.is_empty() && empty.next.is_none(), "{empty:?}");
    let first = snapshot(&p, "c1", 1.0, at(0));
    store.keep_value(&first).await?;
    ensure_eq!(
        store.latest_value(&p, &id).await?,
        Some(first.clone()),
        "one value"
    );
    // Older, kept later: the history grows, the latest stays.
    let older = snapshot(&p, "c1", 2.0, at(-3600));
    store.keep_value(&older).await?;
    ensure_eq!(
        store.latest_value(&p, &id).await?,
        Some(first.clone()),
        "after an older one"
    );
    let newer = snapshot(&p, "c1", 3.0, at(60));
    store.keep_value(&newer).await?;
    ensure_eq!(
        store.latest_value(&p, &id).await?,
        Some(newer.clone()),
        "after a newer one"
    );
    let history = store.value_history(&p, &id, None, usize::MAX).await?;
    ensure_eq!(
        history.items,
        vec![newer, first, older],
        "the history, newest first"
    );
    ensure_eq!(history.next, None, "no cursor after everything");
    Ok(())
}

pub(super) async fn equal_times<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let id = cid("c1");
    let a = snapshot(&p, "c1", 1.0, at(0));
    let b2 = snapshot(&p, "c1", 2.0, at(0));
    store.keep_value(&a).await?;
    store.keep_value(&b2).await?;
    ensure_eq!(
        store.latest_value(&p, &id).await?,
        Some(b2.clone()),
        "the later-kept of two"
    );
    let history = store.value_history(&p, &id, None, 10).await?;
    ensure_eq!(
        history.items,
        vec![b2, a],
        "both kept, the later-kept first"
    );
    // Concurrent keeps of one moment: every one is kept.
    let same: Vec<ValueSnapshot> = (0..4)
        .map(|i| snapshot(&p, "c1", 10.0 + f64::from(i), at(30)))
        .collect();
    let (r0, r1, r2, r3) = tokio::join!(
        store.keep_value(&same[0]),
        store.keep_value(&same[1]),
        store.keep_value(&same[2]),
        store.keep_value(&same[3]),
    );
    for r in [r0, r1, r2, r3] {
        r?;
    }
    let history = store.value_history(&p, &id, None, 10).await?;
    let mut newest: Vec<f64> = tags(&history.items[..4.min(history.items.len())]);
    newest.sort_by(f64::total_cmp);
    ensure_eq!(history.items.len(), 6, "values kept");
    ensure_eq!(
        newest,
        [10.0, 11.0, 12.0, 13.0],
        "the four of one moment, newest"
    );
    let latest = store.latest_value(&p, &id).await?;
    ensure_eq!(
        latest.map(|v| v.assessment.score),
        Some(history.items[0].assessment.score),
        "the latest is the head of the history"
    );
    Ok(())
}

pub(super) async fn shared_prefix<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    let c1 = snapshot(&p, "c1", 1.0, at(0));
    store.keep_value(&c1).await?;
    // Read once, so that a cache (if any) holds it, then keep newer values of look-alikes.
    ensure_eq!(
        store.latest_value(&p, &cid("c1")).await?,
        Some(c1.clone()),
        "c1"
    );
    let c10 = snapshot(&p, "c10", 10.0, at(60));
    let c = snapshot(&p, "c", 5.0, at(90));
    let other = snapshot(&p2, "c1", 100.0, at(120));
    for v in [&c10, &c, &other] {
        store.keep_value(v).await?;
    }
    ensure_eq!(
        store.latest_value(&p, &cid("c1")).await?,
        Some(c1.clone()),
        "c1 after"
    );
    ensure_eq!(
        store.latest_value(&p, &cid("c10")).await?,
        Some(c10.clone()),
        "c10"
    );
    ensure_eq!(
        store.latest_value(&p, &cid("c")).await?,
        Some(c.clone()),
        "c"
    );
    ensure_eq!(
        store.latest_value(&p2, &cid("c1")).await?,
        Some(other),
        "p2/c1"
    );
    ensure_eq!(store.latest_value(&p, &cid("c2")).await?, None, "c2");
    for (id, want) in [("c1", c1), ("c10", c10), ("c", c)] {
        let h = store.value_history(&p, &cid(id), None, 10).await?;
        ensure_eq!(h.items, vec![want], "the history of {id}");
    }
    Ok(())
}

/// `run` as saved under `id`.
fn saved_as(mut run: TierRun, id: &str) -> TierRun {
    run.run_id = id.to_owned();
    run
}

pub(super) async fn run_saved_whole<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let (run, members) = run(&p, "curry", at(0), 5_000, 1);
    let saved = store.save_run(run.clone(), members.clone()).await?;
    ensure!(
        !saved.run_id.is_empty() && saved.run_id != run.run_id,
        "a new run id, not {:?}",
        saved.run_id
    );
    ensure_eq!(saved, saved_as(run, &saved.run_id), "the returned run");
    ensure_eq!(
        store.get_run(&saved.run_id).await?,
        Some(saved.clone()),
        "get_run"
    );
    let all = store
        .run_members(&saved.run_id, 1, 5_000, usize::MAX)
        .await?;
    ensure_eq!(all.len(), members.len(), "members stored");
    ensure!(
        all == members,
        "the members read back differ from those saved"
    );
    for i in [0usize, 1, 4_095, 4_096, 4_999] {
        let m = &members[i];
        let got = store.run_member(&saved.run_id, &m.customer_id).await?;
        ensure_eq!(got.as_ref(), Some(m), "the member {}", m.customer_id);
    }
    ensure_eq!(
        store.run_member(&saved.run_id, &cid("nobody")).await?,
        None,
        "a non-member"
    );
    ensure_eq!(store.get_run("r-unknown").await?, None, "an unknown run");
    ensure!(
        store.run_members("r-unknown", 1, 10, 10).await?.is_empty(),
        "members of an unknown run"
    );
    ensure_eq!(
        store
            .run_member("r-unknown", &members[0].customer_id)
            .await?,
        None,
        "a member of an unknown run"
    );
    // A run with no members (every customer excluded) is a run too.
    let (bare, _) = super::run(&p, "curry", at(10), 0, 2);
    let bare = store.save_run(bare, Vec::new()).await?;
    ensure_eq!(
        store.get_run(&bare.run_id).await?,
        Some(bare.clone()),
        "a run without members"
    );
    ensure!(
        store.run_members(&bare.run_id, 1, 10, 10).await?.is_empty(),
        "its members"
    );
    Ok(())
}

pub(super) async fn run_ids<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    let mut saved = Vec::new();
    for (i, secs) in [100, 50, 200, 200, 150].into_iter().enumerate() {
        let (r, m) = run(&p, "curry", at(secs), 3, i as u64);
        saved.push(store.save_run(r, m).await?);
    }
    let (r, m) = run(&p2, "curry", at(200), 3, 9);
    let elsewhere = store.save_run(r, m).await?;
    let mut ids: Vec<&str> = saved.iter().map(|r| r.run_id.as_str()).collect();
    ids.push(&elsewhere.run_id);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    ensure_eq!(unique.len(), ids.len(), "distinct ids: {ids:?}");
    // By creation time, equal times in the order saved: the order of the ids.
    let mut by_time: Vec<(usize, &TierRun)> = saved.iter().enumerate().collect();
    by_time.sort_by_key(|(i, r)| (r.created_at, *i));
    let by_time: Vec<&str> = by_time.iter().map(|(_, r)| r.run_id.as_str()).collect();
    let mut by_id = by_time.clone();
    by_id.sort_unstable();
    ensure_eq!(by_time, by_id, "ids in creation order");
    let listed = store.list_runs(&p, None, usize::MAX).await?;
    let listed_ids: Vec<&str> = listed.items.iter().map(|r| r.run_id.as_str()).collect();
    let newest_first: Vec<&str> = by_id.iter().rev().copied().collect();
    ensure_eq!(
        listed_ids,
        newest_first,
        "the portfolio's runs, newest first"
    );
    for r in &listed.items {
        let want = saved.iter().find(|s| s.run_id == r.run_id);
        ensure_eq!(Some(r), want, "a listed run");
    }
    Ok(())
}

pub(super) async fn latest_run<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    ensure_eq!(store.latest_run(&p, "curry").await?, None, "before any run");
    let save = async |scheme: &str, secs: i64, tag: u64| {
        let (r, m) = run(&p, scheme, at(secs), 2, tag);
        store.save_run(r, m).await
    };
    let a = save("curry", 0, 1).await?;
    let b2 = save("diamond", 10, 2).await?;
    let c = save("curry", 20, 3).await?;
    let latest = async |scheme: &str| {
        let run = store.latest_run(&p, scheme).await?;
        Ok::<_, StoreError>(run.as_deref().cloned())
    };
    ensure_eq!(latest("curry").await?, Some(c.clone()), "curry");
    ensure_eq!(latest("diamond").await?, Some(b2), "diamond");
    // Saved last but created earlier: still the latest.
    let d = save("diamond", 5, 4).await?;
    ensure_eq!(
        latest("diamond").await?,
        Some(d),
        "diamond after an older run"
    );
    ensure_eq!(latest("curry").await?, Some(c), "curry after a diamond run");
    ensure_eq!(latest("other").await?, None, "a scheme never run");
    ensure_eq!(
        store.latest_run(&portfolio("p2"), "curry").await?,
        None,
        "another portfolio"
    );
    ensure_eq!(
        store.get_run(&a.run_id).await?,
        Some(a),
        "an older run stays"
    );
    Ok(())
}

pub(super) async fn run_members<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let p = portfolio("p");
    let (r, members) = run(&p, "curry", at(0), 5_000, 1);
    let id = store.save_run(r, members.clone()).await?.run_id;
    let slice = |from: usize, to: usize| -> Vec<Member> { members[from - 1..to].to_vec() };
    let cases: [(u64, u64, usize, Vec<Member>); 11] = [
        (0, 10, 10, Vec::new()),
        (10, 9, 10, Vec::new()),
        (10, 20, usize::MAX, slice(10, 20)),
        (10, 20, 5, slice(10, 14)),
        (1, 1, 1, slice(1, 1)),
        (4_090, 4_100, usize::MAX, slice(4_090, 4_100)),
        (4_096, 4_096, 1, slice(4_096, 4_096)),
        (4_097, 9_999, 3, slice(4_097, 4_099)),
        (4_990, 6_000, usize::MAX, slice(4_990, 5_000)),
        (5_001, 6_000, 10, Vec::new()),
        (1, 5_000, 0, Vec::new()),
    ];
    for (from, to, limit, want) in cases {
        let got = store.run_members(&id, from, to, limit).await?;
        let ranks = |ms: &[Member]| ms.iter().map(|m| m.rank).collect::<Vec<_>>();
        ensure_eq!(
            ranks(&got),
            ranks(&want),
            "ranks {from}..={to}, at most {limit}"
        );
        ensure!(got == want, "members {from}..={to} differ from those saved");
    }
    Ok(())
}

/// `model` as saved under `id`.
fn model_as(mut model: ValueModel, id: &str) -> ValueModel {
    model.model_id = id.to_owned();
    model
}

pub(super) async fn models<B: Backend>(b: &B) -> Outcome {
    let (store, _place) = fresh(b).await?;
    let (p, p2) = (portfolio("p"), portfolio("p2"));
    ensure_eq!(store.latest_model(&p).await?, None, "before any model");
    ensure_eq!(
        store.get_model("m-unknown").await?,
        None,
        "an unknown model"
    );
    let m1 = model(&p, at(0), 1.0);
    let s1 = store.save_model(m1.clone()).await?;
    ensure!(
        !s1.model_id.is_empty() && s1.model_id != m1.model_id,
        "a new model id, not {:?}",
        s1.model_id
    );
    ensure_eq!(s1, model_as(m1, &s1.model_id), "the returned model");
    ensure_eq!(
        store.get_model(&s1.model_id).await?,
        Some(s1.clone()),
        "get_model"
    );
    ensure_eq!(
        store.latest_model(&p).await?,
        Some(s1.clone()),
        "the latest of one"
    );
    // Fitted in the same moment: another id.
    let s2 = store.save_model(model(&p, at(0), 2.0)).await?;
    ensure!(
        s2.model_id != s1.model_id,
        "two models share the id {}",
        s1.model_id
    );
    ensure_eq!(store.latest_model(&p).await?, Some(s2), "the latest of two");
    // Fitted earlier, saved last: the latest.
    let s3 = store.save_model(model(&p, at(-100), 3.0)).await?;
    ensure_eq!(
        store.latest_model(&p).await?,
        Some(s3.clone()),
        "saved last"
    );
    let s4 = store.save_model(model(&p2, at(0), 4.0)).await?;
    ensure_eq!(
        store.latest_model(&p2).await?,
        Some(s4),
        "another portfolio's"
    );
    ensure_eq!(
        store.latest_model(&p).await?,
        Some(s3),
        "unchanged by another portfolio"
    );
    ensure_eq!(
        store.get_model(&s1.model_id).await?,
        Some(s1),
        "an older model stays"
    );
    Ok(())
}

pub(super) async fn page_token_key<B: Backend>(b: &B) -> Outcome {
    let (store, place) = fresh(b).await?;
    let key = store.page_token_key().await?;
    ensure!(key != [0; 32], "the secret is all zeros");
    ensure_eq!(store.page_token_key().await?, key, "a second call");
    let (other, _other_place) = fresh(b).await?;
    let (k1, k2, k3) = tokio::join!(
        other.page_token_key(),
        other.page_token_key(),
        other.page_token_key()
    );
    let k1 = k1?;
    ensure!(k1 == k2? && k1 == k3?, "concurrent first calls disagree");
    ensure!(k1 != key, "two stores have the same secret");
    drop(store);
    let store = b.reopen(&place).await?;
    ensure_eq!(store.page_token_key().await?, key, "after reopening");
    Ok(())
}
