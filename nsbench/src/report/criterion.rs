//! Reading criterion's output: every `<id>/<set>/{benchmark,estimates,sample}.json` under its
//! directory, into one [`Results`] with same-run marginal costs.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::provenance::{rfc3339, CriterionSettings, Provenance};
use super::{err, Benchmark, Error, Marginal, Result, Results, FORMAT_VERSION};

#[derive(Deserialize)]
struct CritBenchmark {
    group_id: String,
    full_id: String,
}

#[derive(Deserialize)]
struct CritCi {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct CritEstimate {
    confidence_interval: CritCi,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct CritEstimates {
    mean: CritEstimate,
    median: CritEstimate,
}

#[derive(Deserialize)]
struct CritSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Error(format!(
            "{} is not valid criterion/nsbench JSON (truncated?): {e}",
            path.display()
        ))
    })
}

fn find_benchmark_dirs(dir: &Path, set: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        // Not following symlinks: no loops.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        if name == "report" {
            continue;
        }
        if path.join(set).join("benchmark.json").is_file() {
            out.push(path.join(set));
        } else if name != "new" && name != "base" && name != "change" {
            find_benchmark_dirs(&path, set, out)?;
        }
    }
    Ok(())
}

/// Reads every benchmark under `criterion_dir` from the saved set `set` (`new` for the last
/// run, or a `--save-baseline` name), computes marginals and attaches `provenance`.
///
/// With `since` (seconds since the epoch), benchmarks whose `estimates.json` is older are
/// left out (and named in `provenance.criterion.left_out_older`): criterion keeps every
/// benchmark it ever ran, so after a filtered run the directory mixes runs.
pub fn read_criterion(criterion_dir: &Path, set: &str, since: Option<u64>) -> Result<Results> {
    if !criterion_dir.is_dir() {
        return err(format!(
            "criterion directory {} does not exist: run `cargo bench -p nsbench` first (or pass --criterion-dir)",
            criterion_dir.display()
        ));
    }
    let mut dirs = Vec::new();
    find_benchmark_dirs(criterion_dir, set, &mut dirs)?;
    dirs.sort();
    if dirs.is_empty() {
        return err(format!(
            "no benchmark results ({set}/benchmark.json) under {}: run `cargo bench -p nsbench` first",
            criterion_dir.display()
        ));
    }
    let written = |d: &Path| {
        fs::metadata(d.join("estimates.json"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|t| t.as_secs())
    };
    let mut left_out_older = Vec::new();
    if let Some(since) = since {
        dirs.retain(|d| {
            let keep = written(d).is_none_or(|t| t >= since);
            if !keep {
                let id = d.parent().and_then(|p| p.strip_prefix(criterion_dir).ok());
                left_out_older.push(id.map_or_else(|| d.display().to_string(), |p| p.display().to_string()));
            }
            keep
        });
        if dirs.is_empty() {
            return err(format!(
                "no benchmark under {} was written since {} (all {} are older): did the benchmarks run?",
                criterion_dir.display(),
                rfc3339(since),
                left_out_older.len()
            ));
        }
    }
    let mut benchmarks = BTreeMap::new();
    for d in &dirs {
        for f in ["estimates.json", "sample.json"] {
            if !d.join(f).is_file() {
                return err(format!(
                    "truncated criterion output: {} has benchmark.json but no {f}",
                    d.display()
                ));
            }
        }
        let b: CritBenchmark = read_json(&d.join("benchmark.json"))?;
        let e: CritEstimates = read_json(&d.join("estimates.json"))?;
        let s: CritSample = read_json(&d.join("sample.json"))?;
        if s.iters.is_empty() || s.iters.len() != s.times.len() {
            return err(format!(
                "{}: sample.json has no samples or mismatched lengths",
                d.display()
            ));
        }
        let vals = [
            e.median.point_estimate,
            e.median.confidence_interval.lower_bound,
            e.median.confidence_interval.upper_bound,
        ];
        if vals.iter().any(|v| !v.is_finite()) {
            return err(format!("{}: estimates.json has a non-finite median", d.display()));
        }
        let kind = b
            .full_id
            .strip_prefix(&format!("{}/", b.group_id))
            .unwrap_or("")
            .to_string();
        benchmarks.insert(
            b.full_id.clone(),
            Benchmark {
                op: b.group_id.clone(),
                kind,
                median: e.median.point_estimate,
                lower: e.median.confidence_interval.lower_bound,
                upper: e.median.confidence_interval.upper_bound,
                confidence_level: e.median.confidence_interval.confidence_level,
                mean: e.mean.point_estimate,
                samples: s.iters.len(),
                iterations: s.iters.iter().map(|i| *i as u64).sum(),
                marginal: None,
            },
        );
    }
    compute_marginals(&mut benchmarks);
    let min_samples = benchmarks.values().map(|b| b.samples).min().unwrap_or(0);
    let max_samples = benchmarks.values().map(|b| b.samples).max().unwrap_or(0);
    // criterion --quick keeps exactly two (linear) samples per benchmark.
    let mode = match (min_samples <= 2, max_samples <= 2) {
        (true, true) => "quick",
        (false, false) => "full",
        _ => "mixed",
    };
    let criterion = CriterionSettings {
        mode: mode.into(),
        min_samples,
        max_samples,
        baseline: set.into(),
        directory: criterion_dir.display().to_string(),
        left_out_older,
    };
    let mut provenance = Provenance::collect(criterion);
    // The date of the measurement: when criterion wrote its newest estimates.
    let newest = dirs
        .iter()
        .filter_map(|d| fs::metadata(d.join("estimates.json")).ok()?.modified().ok())
        .max()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    if let Some(t) = newest {
        provenance.date = rfc3339(t.as_secs());
    }
    Ok(Results {
        format_version: FORMAT_VERSION,
        unit: "ns".into(),
        provenance,
        benchmarks,
    })
}

/// The baseline id of an id's op, `<op>/none`, for ops measured against a same-run floor
/// (for the spawn ops, whose floor depends on the id, see [`baseline_for`]).
pub fn baseline_of(op: &str) -> Option<String> {
    match op {
        "unshare" | "clone" | "clone_vfork" | "cold" => Some(format!("{op}/none")),
        _ => None,
    }
}

/// The same-run floor of the id `op/kind`: [`baseline_of`]; for the spawn ops a start with no
/// namespaces timed the same way (`spawn/plain`, `spawn_1g/plain`, `spawn_burst/plain`, and
/// `spawn_rate/plain_<workers>` for `spawn_rate/<method>_<workers>`).
pub fn baseline_for(op: &str, kind: &str) -> Option<String> {
    match op {
        "spawn" | "spawn_1g" | "spawn_burst" => Some(format!("{op}/plain")),
        "spawn_rate" => kind
            .rsplit_once('_')
            .map(|(_, workers)| format!("{op}/plain_{workers}")),
        _ => baseline_of(op),
    }
}

fn compute_marginals(benchmarks: &mut BTreeMap<String, Benchmark>) {
    let snapshot = benchmarks.clone();
    for (id, b) in benchmarks.iter_mut() {
        let Some(base_id) = baseline_for(&b.op, &b.kind) else {
            continue;
        };
        if *id == base_id {
            continue;
        }
        if let Some(base) = snapshot.get(&base_id) {
            b.marginal = Some(Marginal {
                baseline: base_id,
                value: b.median - base.median,
                lower: b.lower - base.upper,
                upper: b.upper - base.lower,
            });
        }
    }
}
