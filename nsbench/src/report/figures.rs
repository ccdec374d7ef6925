//! The SVG figures of one run: cost per kind as bars, and one line chart per scaling group.

use std::collections::BTreeMap;

use super::svg;
use super::{Benchmark, Result, Results};

/// A scaling point: the kind is a number (`scale_mnt/1000`: one curve) or `<series>_<number>`
/// (`concurrent/net_2`: one curve per series).
pub(super) fn scaling_point(kind: &str) -> Option<(String, f64)> {
    if let Ok(x) = kind.parse::<f64>() {
        return Some((String::new(), x));
    }
    let (label, n) = kind.rsplit_once('_')?;
    n.parse::<f64>().ok().map(|x| (label.to_string(), x))
}

/// Scaling ops: every id of the op is a scaling point and some curve has two points or more.
type Curves<'a> = BTreeMap<String, Vec<(f64, &'a Benchmark)>>;

fn scaling_ops(r: &Results) -> BTreeMap<String, Curves<'_>> {
    let mut by_op: BTreeMap<String, Vec<&Benchmark>> = BTreeMap::new();
    for b in r.benchmarks.values() {
        by_op.entry(b.op.clone()).or_default().push(b);
    }
    let mut out = BTreeMap::new();
    for (op, bs) in by_op {
        let mut curves: Curves<'_> = BTreeMap::new();
        let mut all = true;
        for b in bs {
            match scaling_point(&b.kind) {
                Some((label, x)) => curves.entry(label).or_default().push((x, b)),
                None => all = false,
            }
        }
        if all && curves.values().any(|c| c.len() >= 2) {
            for c in curves.values_mut() {
                c.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            out.insert(op, curves);
        }
    }
    out
}

/// The figures of one run: `results.svg` and one `scaling-<op>.svg` per scaling curve.
pub fn figures(r: &Results) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let kinds: Vec<String> = super::kinds()
        .iter()
        .filter(|k| {
            ["unshare", "clone", "clone_vfork"]
                .iter()
                .any(|op| r.benchmarks.contains_key(&format!("{op}/{k}")))
        })
        .map(|k| k.to_string())
        .collect();
    let series: Vec<svg::BarSeries> = [
        ("unshare", "unshare"),
        ("clone", "clone"),
        ("clone_vfork", "vfork-clone"),
    ]
    .iter()
    .filter(|(op, _)| r.benchmarks.keys().any(|k| k.starts_with(&format!("{op}/"))))
    .map(|(op, label)| svg::BarSeries {
        label: label.to_string(),
        values: kinds
            .iter()
            .map(|k| {
                r.benchmarks
                    .get(&format!("{op}/{k}"))
                    .map(|b| (b.median, b.lower, b.upper))
            })
            .collect(),
    })
    .collect();
    if !kinds.is_empty() {
        out.push((
            "results.svg".into(),
            svg::bar_chart(
                &format!("Namespace creation cost per kind (kernel {})", r.provenance.kernel),
                &kinds,
                &series,
                "namespace kind",
                "time per operation",
            )?,
        ));
    }
    for (op, curves) in scaling_ops(r) {
        let xs: Vec<f64> = curves.values().flatten().map(|p| p.0).collect();
        let (mn, mx) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        let log = mn > 0.0 && mx / mn >= 50.0;
        let series: Vec<svg::LineSeries> = curves
            .iter()
            .map(|(label, pts)| svg::LineSeries {
                label: if label.is_empty() {
                    op.clone()
                } else {
                    format!("{op} {label}")
                },
                points: pts.iter().map(|(x, b)| (*x, b.median, b.lower, b.upper)).collect(),
            })
            .collect();
        let param = scaling_parameter(&op);
        out.push((
            format!("scaling-{op}.svg"),
            svg::line_chart(
                &format!("{op}: cost against {param} (kernel {})", r.provenance.kernel),
                &svg::XAxis::Numeric { log },
                &series,
                &format!("{param} (count{})", if log { ", log scale" } else { "" }),
                "time per operation",
            )?,
        ));
    }
    Ok(out)
}

fn scaling_parameter(op: &str) -> &'static str {
    if op.contains("mnt") {
        "mounts in the parent namespace"
    } else if op.contains("user") {
        "user namespace nesting depth"
    } else if op.contains("net") {
        "network namespaces alive"
    } else if op.contains("conc") || op.contains("worker") || op.contains("thread") {
        "concurrent workers"
    } else {
        "parameter"
    }
}
