//! Comparing two runs: confidence intervals widened by a noise floor, normalised by same-run
//! baselines across machines, and a verdict per id.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

use super::summary::{align, fmt_ns};
use super::{err, Benchmark, Error, Result, Results};

/// The verdict on one benchmark between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The new interval lies wholly above the old one and the change exceeds the threshold.
    Regressed,
    /// The new interval lies wholly below the old one and the change exceeds the threshold.
    Improved,
    /// Within noise or within the threshold.
    Unchanged,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Regressed => "REGRESSED",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
        })
    }
}

/// One row of a comparison: figures are (median, lower, upper) in ns, or in multiples of the
/// same-run baseline when normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// Benchmark id `op/kind`.
    pub id: String,
    /// Old figure.
    pub old: (f64, f64, f64),
    /// New figure.
    pub new: (f64, f64, f64),
    /// Relative change of the median, `new/old - 1`.
    pub change: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// The comparison of two results.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Relative threshold (0.10 for 10%).
    pub threshold: f64,
    /// Each interval is widened to at least ± this fraction of its median before the overlap
    /// test (see [`DEFAULT_NOISE_FLOOR`]).
    pub noise_floor: f64,
    /// Why figures were normalised by their same-run baseline, if they were.
    pub normalized: Option<String>,
    /// One row per benchmark in both files.
    pub rows: Vec<CompareRow>,
    /// Ids only in the old file.
    pub only_old: Vec<String>,
    /// Ids only in the new file.
    pub only_new: Vec<String>,
    /// Caveats a reader should know (quick-mode runs, ...).
    pub notes: Vec<String>,
}

impl Comparison {
    /// Whether any benchmark regressed beyond the threshold.
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regressed)
    }
}

/// Parses a threshold: `10%`, `10` (percent) or `0.1`.
pub fn parse_threshold(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n, true),
        None => (t, false),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error(format!("bad threshold {s:?}: expected a percentage like 10%")))?;
    let v = if pct || v >= 1.0 { v / 100.0 } else { v };
    if !(0.0..10.0).contains(&v) {
        return err(format!("bad threshold {s:?}: expected 0%..1000%"));
    }
    Ok(v)
}

/// The same-run baseline used to normalise an id: the op's own floor when the run has it
/// ([`super::baseline_for`]: `<op>/none`, or `spawn*/plain*` for the spawn ops), else
/// `<op>/none`, else `unshare/none` (the bare syscall floor). `None` for a baseline itself or
/// when absent.
fn normalizer<'a>(r: &'a Results, b: &Benchmark, id: &str) -> Option<(&'a Benchmark, String)> {
    let own = super::baseline_for(&b.op, &b.kind).unwrap_or_else(|| format!("{}/none", b.op));
    let base_id = if r.benchmarks.contains_key(&own) {
        own
    } else {
        "unshare/none".to_string()
    };
    if base_id == id {
        return None;
    }
    r.benchmarks.get(&base_id).map(|x| (x, base_id))
}

fn figure(r: &Results, id: &str, normalize: bool) -> Option<(f64, f64, f64)> {
    let b = r.benchmarks.get(id)?;
    if !normalize {
        return Some((b.median, b.lower, b.upper));
    }
    let (base, _) = normalizer(r, b, id)?;
    if base.median <= 0.0 || base.lower <= 0.0 {
        return None;
    }
    Some((b.median / base.median, b.lower / base.upper, b.upper / base.lower))
}

/// The noise floor used when none is given: ±25%.
///
/// Criterion's interval says how well one run pins its own median, not how far a second run
/// of the same build lands. Measured on the 2-core shared VM of the figures in
/// nsbench/README.md, two honest full runs of one build differed by up to 1.54× (fork-like
/// clones: a clone of ~0.5 ms fits between scheduler ticks or waits one out) with intervals a
/// few percent wide; `--quick` runs (2 samples) by up to 1.9× on the clones. Widened to ±25%,
/// two intervals stop overlapping only beyond a 1.67× change: quiet on such honest full-run
/// pairs, and a 2× regression is still caught.
pub const DEFAULT_NOISE_FLOOR: f64 = 0.25;

/// Compares `old` with `new`. Normalises by same-run baselines when `normalize` is set or the
/// provenance shows different machines or kernels. `noise_floor` (a fraction; `None`:
/// [`DEFAULT_NOISE_FLOOR`]) widens each interval before the overlap test.
pub fn compare(
    old: &Results,
    new: &Results,
    threshold: f64,
    normalize: bool,
    noise_floor: Option<f64>,
) -> Result<Comparison> {
    let floor = noise_floor.unwrap_or(DEFAULT_NOISE_FLOOR);
    let widen = |f: (f64, f64, f64)| (f.0, f.1.min(f.0 * (1.0 - floor)), f.2.max(f.0 * (1.0 + floor)));
    let old_ids: BTreeSet<&String> = old.benchmarks.keys().collect();
    let new_ids: BTreeSet<&String> = new.benchmarks.keys().collect();
    let common: Vec<&String> = old_ids.intersection(&new_ids).cloned().collect();
    if common.is_empty() {
        return err("the two files have no benchmark in common: nothing to compare (different suites or filters?)");
    }
    let (o, n) = (&old.provenance, &new.provenance);
    let normalized = if normalize {
        Some("--normalize given".to_string())
    } else if !o.same_machine(n) {
        let mut diffs = Vec::new();
        if o.kernel != n.kernel {
            diffs.push(format!("kernel {} vs {}", o.kernel, n.kernel));
        }
        if o.engine != n.engine {
            diffs.push(format!("engine {} vs {}", o.engine, n.engine));
        }
        if o.cpu_model != n.cpu_model {
            diffs.push(format!("CPU {:?} vs {:?}", o.cpu_model, n.cpu_model));
        }
        if o.cores != n.cores {
            diffs.push(format!("{} vs {} cores", o.cores, n.cores));
        }
        if o.arch != n.arch {
            diffs.push(format!("arch {} vs {}", o.arch, n.arch));
        }
        Some(format!("different machines or kernels ({})", diffs.join(", ")))
    } else {
        None
    };
    let mut rows = Vec::new();
    for id in &common {
        let (Some(a), Some(b)) = (
            figure(old, id, normalized.is_some()),
            figure(new, id, normalized.is_some()),
        ) else {
            continue;
        };
        let change = if a.0 != 0.0 { b.0 / a.0 - 1.0 } else { 0.0 };
        let (wa, wb) = (widen(a), widen(b));
        let verdict = if wb.1 > wa.2 && change > threshold {
            Verdict::Regressed
        } else if wb.2 < wa.1 && change < -threshold {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        };
        rows.push(CompareRow {
            id: (*id).clone(),
            old: a,
            new: b,
            change,
            verdict,
        });
    }
    if rows.is_empty() {
        return err("no benchmark in common has a same-run baseline to normalise by (need <op>/none or unshare/none in both files)");
    }
    let mut notes = Vec::new();
    let quick: Vec<&str> = [("old", o), ("new", n)]
        .iter()
        .filter(|(_, p)| p.criterion.mode != "full")
        .map(|(w, _)| *w)
        .collect();
    if !quick.is_empty() {
        notes.push(format!(
            "note: {} run(s) used criterion --quick: 2 samples per benchmark; between honest quick runs \
             the clone figures can move by up to 2x, beyond the noise floor: gate CI on full runs",
            quick.join(" and ")
        ));
    }
    Ok(Comparison {
        notes,
        threshold,
        noise_floor: floor,
        normalized,
        rows,
        only_old: old_ids.difference(&new_ids).map(|s| s.to_string()).collect(),
        only_new: new_ids.difference(&old_ids).map(|s| s.to_string()).collect(),
    })
}

/// The comparison as a plain-text table with a closing verdict line.
pub fn comparison_text(c: &Comparison) -> String {
    let norm = c.normalized.is_some();
    let f = |v: f64| if norm { format!("{v:.3}×") } else { fmt_ns(v) };
    let mut out = String::new();
    match &c.normalized {
        Some(why) => out.push_str(&format!(
            "NORMALISED ({why}): each figure is divided by its same-run baseline \
             (<op>/none: clone/none, clone_vfork/none, unshare/none; ops without one by unshare/none)\n"
        )),
        None => out.push_str("Absolute medians (ns per operation), same machine and kernel\n"),
    }
    out.push_str(&format!(
        "verdict: regressed/improved only if the confidence intervals, each widened to at least ±{:.0}% \
         of its median (noise floor), do not overlap and the change exceeds {:.0}%\n\n",
        c.noise_floor * 100.0,
        c.threshold * 100.0
    ));
    let mut rows: Vec<Vec<String>> = vec![vec![
        "benchmark".into(),
        "old [CI]".into(),
        "new [CI]".into(),
        "change".into(),
        "verdict".into(),
    ]];
    for r in &c.rows {
        rows.push(vec![
            r.id.clone(),
            format!("{} [{}, {}]", f(r.old.0), f(r.old.1), f(r.old.2)),
            format!("{} [{}, {}]", f(r.new.0), f(r.new.1), f(r.new.2)),
            format!("{:+.1}%", r.change * 100.0),
            r.verdict.to_string(),
        ]);
    }
    out.push_str(&align(&rows));
    if !c.only_old.is_empty() {
        out.push_str(&format!("only in old: {}\n", c.only_old.join(", ")));
    }
    if !c.only_new.is_empty() {
        out.push_str(&format!("only in new: {}\n", c.only_new.join(", ")));
    }
    for n in &c.notes {
        out.push_str(n);
        out.push('\n');
    }
    let reg = c.rows.iter().filter(|r| r.verdict == Verdict::Regressed).count();
    let imp = c.rows.iter().filter(|r| r.verdict == Verdict::Improved).count();
    out.push_str(&format!(
        "\n{reg} regressed, {imp} improved, {} unchanged{}\n",
        c.rows.len() - reg - imp,
        if norm { " (normalised)" } else { "" }
    ));
    out
}
