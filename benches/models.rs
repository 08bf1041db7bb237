//! Customer-base models benchmark (issue: probabilistic models).
//!
//! Resamples 1,000,000 customers from the CDNOW summary (deterministically), then times
//! fitting BG/NBD + Gamma-Gamma (grouping included) and predicting P(alive), expected
//! purchases over 52 weeks, expected average value and 12-month model CLV for all of them.
//! When the Python package `lifetimes` is importable by `$CVO_LIFETIMES_PYTHON` (default
//! `python3`), the same fit and prediction run there on the same data in this run and the
//! ratios are printed; otherwise the raw times.
//!
//! `cargo bench --bench models` (or `-- N` for another size). Targets on the 2-core reference
//! machine: fit < 0.6 s (20x faster than lifetimes' 11.8 s), predict 1 M < 0.1 s.

use std::io::Write;
use std::time::Instant;

use cvo::domain::customer::PurchaseSummary;
use cvo::domain::models::bgnbd::fit_bgnbd;
use cvo::domain::models::gamma_gamma::fit_gamma_gamma;
use cvo::domain::models::{predict_many, FittedModels, TimeUnit};

fn cdnow() -> Vec<(f64, f64, f64, f64)> {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cdnow_summary.csv"
    ));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<f64> = l.split(',').filter_map(|v| v.trim().parse().ok()).collect();
            (f.len() == 5).then(|| (f[1], f[2], f[3], f[4]))
        })
        .collect()
}

const LIFETIMES: &str = r#"
import sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = pd.read_csv(sys.argv[1])
t = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0).fit(d["x"], d["t_x"], d["T"])
rep = d[d["x"] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["x"], rep["m"])
fit = time.perf_counter() - t
t = time.perf_counter()
bg.conditional_probability_alive(d["x"], d["t_x"], d["T"])
bg.conditional_expected_number_of_purchases_up_to_time(52, d["x"], d["t_x"], d["T"])
gg.conditional_expected_average_profit(d["x"], d["m"])
gg.customer_lifetime_value(bg, d["x"], d["t_x"], d["T"], d["m"], time=12, discount_rate=0.01, freq="W")
pred = time.perf_counter() - t
print(f"{fit} {pred} {bg.params_['r']} {bg.params_['alpha']} {bg.params_['a']} {bg.params_['b']}")
"#;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let base = cdnow();
    // A deterministic resample (xorshift), so every run fits the same data.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<(f64, f64, f64, f64)> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            base[(s % base.len() as u64) as usize]
        })
        .collect();
    println!(
        "cvo models benchmark: {n} customers resampled from CDNOW ({} distinct)",
        base.len()
    );

    let t = Instant::now();
    let counts: Vec<(f64, f64, f64)> = data.iter().map(|c| (c.0, c.1, c.2)).collect();
    let spend: Vec<(f64, f64)> = data.iter().map(|c| (c.0, c.3)).collect();
    let bg = fit_bgnbd(&counts, 0.0)?;
    let gg = fit_gamma_gamma(&spend, 0.0)?;
    let fit = t.elapsed().as_secs_f64();
    println!(
        "fit BG/NBD + Gamma-Gamma:  {fit:>8.3} s  (target < 0.6 s)  r={:.4} alpha={:.4} a={:.4} b={:.4}  p={:.4} q={:.4} v={:.4}  converged={}/{} after {}/{} iterations",
        bg.params.r, bg.params.alpha, bg.params.a, bg.params.b, gg.params.p, gg.params.q, gg.params.v,
        bg.converged, gg.converged, bg.iterations, gg.iterations
    );

    let models = FittedModels {
        purchases: bg.params.into(),
        spend: gg.params.into(),
        time_unit: TimeUnit::Week,
    };
    let summaries: Vec<PurchaseSummary> = data
        .iter()
        .map(|c| PurchaseSummary {
            frequency: Some(c.0),
            recency: Some(c.1),
            t: Some(c.2),
            monetary_value: Some(c.3),
        })
        .collect();
    let t = Instant::now();
    let predictions = predict_many(&models, &summaries, 52.0, 12, 0.01);
    let predict = t.elapsed().as_secs_f64();
    let total_clv: f64 = predictions.iter().flatten().map(|p| p.model_clv).sum();
    println!(
        "predict all {n}:        {predict:>8.3} s  (target < 0.1 s)  mean 12-month CLV {:.2}",
        total_clv / n as f64
    );

    let python = std::env::var("CVO_LIFETIMES_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_lifetimes = std::process::Command::new(&python)
        .args(["-c", "import lifetimes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_lifetimes {
        println!("lifetimes is not importable by {python}: raw times only (set CVO_LIFETIMES_PYTHON to a python with lifetimes 0.11.3)");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("resampled.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    writeln!(f, "x,t_x,T,m")?;
    for c in &data {
        writeln!(f, "{},{},{},{}", c.0, c.1, c.2, c.3)?;
    }
    f.flush()?;
    drop(f);
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(LIFETIMES)
        .arg(&csv)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "lifetimes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    anyhow::ensure!(fields.len() == 6, "unexpected lifetimes output: {text}");
    println!(
        "lifetimes 0.11.3:          fit {:.3} s, predict {:.3} s  (r={:.4} alpha={:.4} a={:.4} b={:.4})",
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
    );
    println!(
        "speed-up over lifetimes:   fit {:.1}x (target >= 20x), predict {:.1}x",
        fields[0] / fit,
        fields[1] / predict
    );
    Ok(())
}
