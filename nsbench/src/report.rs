//! Results, reports, comparisons, history and export.
//!
//! After `cargo bench`, [`read_criterion`] collects criterion's per-benchmark files
//! (`<criterion-dir>/**/new/{benchmark,estimates,sample}.json`) into one [`Results`]: for every
//! `op/kind` the median with its confidence interval, the marginal cost over the same run's
//! baseline (`<op>/none`), and the run's [`Provenance`]. [`compare`] judges two results with
//! their confidence intervals, [`history_append`] and [`history_plot`] keep a JSON-lines history,
//! and [`to_bmf`] exports Bencher Metric Format.

pub mod svg;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version of the results format written by this crate; older files are refused.
pub const FORMAT_VERSION: u32 = 1;

/// The kinds in table order, then the baseline `none`.
pub const KINDS: [&str; 9] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts", "none"];

/// An error of the report tool: a message for a person, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, Error>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error(msg.into()))
}

/// One run's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// Format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Unit of every figure (`ns`, time per operation).
    pub unit: String,
    /// Where and how the figures were measured.
    pub provenance: Provenance,
    /// Figures by criterion id `op/kind`.
    pub benchmarks: BTreeMap<String, Benchmark>,
}

/// One benchmark's figures, in [`Results::unit`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Benchmark {
    /// Criterion group: `unshare`, `clone`, `clone_vfork`, `setns`, `spawn`, `scale_mnt`, ...
    pub op: String,
    /// The part after `op/`: a kind name, `none`, or a scaling parameter.
    pub kind: String,
    /// Median time per operation.
    pub median: f64,
    /// Lower bound of the median's confidence interval.
    pub lower: f64,
    /// Upper bound of the median's confidence interval.
    pub upper: f64,
    /// Confidence level of the interval (criterion's default 0.95).
    pub confidence_level: f64,
    /// Mean time per operation.
    pub mean: f64,
    /// Number of samples criterion took.
    pub samples: usize,
    /// Total iterations over all samples.
    pub iterations: u64,
    /// Cost over the same run's `<op>/none`, when this op has a baseline.
    pub marginal: Option<Marginal>,
}

/// Cost over a same-run baseline: `median - baseline.median`, with a conservative interval
/// (`lower - baseline.upper`, `upper - baseline.lower`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Marginal {
    /// The baseline's id, for example `clone/none`.
    pub baseline: String,
    /// Median minus the baseline's median.
    pub value: f64,
    /// Conservative lower bound.
    pub lower: f64,
    /// Conservative upper bound.
    pub upper: f64,
}

/// Where a result file came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// How that kernel ran: `host` (the machine itself), `kvm` or `tcg` (a QEMU guest of
    /// `scripts/kernels.sh`; tcg is emulated). From `NSBENCH_ENGINE`; files without it: `host`.
    #[serde(default = "host_engine")]
    pub engine: String,
    /// Machine architecture.
    pub arch: String,
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs in /proc/cpuinfo.
    pub cores: usize,
    /// `root` or `rootless` (effective uid of the reporting process).
    pub privilege: String,
    /// Lines of /proc/self/mountinfo.
    pub mount_count: usize,
    /// Distinct network namespaces among /proc/*/ns/net.
    pub net_namespaces: usize,
    /// `git rev-parse HEAD`, if in a git work tree.
    pub git_commit: Option<String>,
    /// When criterion wrote the newest of the estimates read (else when the report was made),
    /// UTC RFC 3339.
    pub date: String,
    /// Criterion's settings as far as they can be read from its files.
    pub criterion: CriterionSettings,
}

/// Criterion settings discovered from `sample.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CriterionSettings {
    /// `quick` (criterion `--quick`: 2 samples), `full`, or `mixed`.
    pub mode: String,
    /// Fewest samples of any benchmark.
    pub min_samples: usize,
    /// Most samples of any benchmark.
    pub max_samples: usize,
    /// Which saved set was read: `new` (the last run) or a `--save-baseline` name.
    pub baseline: String,
    /// The criterion directory read.
    pub directory: String,
    /// Benchmarks left out because criterion wrote them before this run began (`--since`):
    /// results of earlier or differently filtered runs that are still in the directory.
    #[serde(default)]
    pub left_out_older: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Reading criterion's output

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

/// The baseline id of an id's op, `<op>/none`, for ops measured against a same-run floor.
pub fn baseline_of(op: &str) -> Option<String> {
    match op {
        "unshare" | "clone" | "clone_vfork" => Some(format!("{op}/none")),
        _ => None,
    }
}

fn compute_marginals(benchmarks: &mut BTreeMap<String, Benchmark>) {
    let snapshot = benchmarks.clone();
    for (id, b) in benchmarks.iter_mut() {
        let Some(base_id) = baseline_of(&b.op) else { continue };
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

// ---------------------------------------------------------------------------------------------
// Provenance

fn host_engine() -> String {
    "host".into()
}

impl Provenance {
    /// Reads provenance of the running machine. Missing sources give `unknown`, never an error.
    pub fn collect(criterion: CriterionSettings) -> Provenance {
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let cores = if cores == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        } else {
            cores
        };
        let euid = fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
            })
            .unwrap_or_default();
        let privilege = if euid == "0" { "root" } else { "rootless" }.to_string();
        let mount_count = fs::read_to_string("/proc/self/mountinfo")
            .map(|s| s.lines().count())
            .unwrap_or(0);
        let mut nets = BTreeSet::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().bytes().all(|c| c.is_ascii_digit()) {
                    if let Ok(l) = fs::read_link(e.path().join("ns/net")) {
                        nets.insert(l);
                    }
                }
            }
        }
        let git_commit = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty());
        Provenance {
            kernel,
            engine: std::env::var("NSBENCH_ENGINE").unwrap_or_else(|_| host_engine()),
            arch: std::env::consts::ARCH.into(),
            cpu_model,
            cores,
            privilege,
            mount_count,
            net_namespaces: nets.len(),
            git_commit,
            date: rfc3339_now(),
            criterion,
        }
    }

    /// Whether two runs were measured on what looks like the same machine and kernel.
    pub fn same_machine(&self, other: &Provenance) -> bool {
        self.kernel == other.kernel
            && self.engine == other.engine
            && self.cpu_model == other.cpu_model
            && self.cores == other.cores
            && self.arch == other.arch
    }
}

/// The current time as UTC RFC 3339 (`2026-11-29T08:30:10Z`).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as UTC RFC 3339.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Loading and writing

/// Loads a results file, refusing other format versions and malformed files.
pub fn load_results(path: &Path) -> Result<Results> {
    let text = fs::read_to_string(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    parse_results(&text, &path.display().to_string())
}

/// Parses results JSON text; `what` names the source in errors.
pub fn parse_results(text: &str, what: &str) -> Result<Results> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error(format!("{what} is not valid JSON (truncated?): {e}")))?;
    match v.get("format_version").and_then(|x| x.as_u64()) {
        None => {
            return err(format!(
                "{what} has no format_version: not an nsbench results file (format {FORMAT_VERSION})"
            ))
        }
        Some(n) if n != u64::from(FORMAT_VERSION) => {
            return err(format!(
                "{what} has format_version {n}, this tool reads format {FORMAT_VERSION}: \
                 re-run `nsbench-report report` with this version on the criterion output"
            ))
        }
        _ => {}
    }
    let r: Results =
        serde_json::from_value(v).map_err(|e| Error(format!("{what} is not a valid nsbench results file: {e}")))?;
    if r.benchmarks.is_empty() {
        return err(format!("{what} holds no benchmarks"));
    }
    Ok(r)
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, then rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Summary table and figures

/// Formats nanoseconds for people: `812 ns`, `12.3 µs`, `1.20 ms`.
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    if a >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if a >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn cell(b: Option<&Benchmark>) -> String {
    match b {
        Some(b) => format!("{} ±{}", fmt_ns(b.median), fmt_ns((b.upper - b.lower) / 2.0)),
        None => "-".into(),
    }
}

/// Rows of the per-kind summary: kind, unshare, clone, vfork-clone, setns, marginal.
pub fn summary_rows(r: &Results) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    for kind in KINDS {
        let get = |op: &str| r.benchmarks.get(&format!("{op}/{kind}"));
        if ["unshare", "clone", "clone_vfork", "setns"]
            .iter()
            .all(|op| get(op).is_none())
        {
            continue;
        }
        let marginal = get("clone_vfork")
            .and_then(|b| b.marginal.as_ref())
            .or_else(|| get("clone").and_then(|b| b.marginal.as_ref()))
            .map(|m| {
                format!(
                    "{} [{}, {}] ({}){}",
                    fmt_ns(m.value),
                    fmt_ns(m.lower),
                    fmt_ns(m.upper),
                    m.baseline.split('/').next().unwrap_or(""),
                    if m.lower <= 0.0 && m.upper >= 0.0 { " ~0" } else { "" }
                )
            })
            .unwrap_or_else(|| "-".into());
        rows.push([
            kind.to_string(),
            cell(get("unshare")),
            cell(get("clone")),
            cell(get("clone_vfork")),
            cell(get("setns")),
            marginal,
        ]);
    }
    rows
}

const SUMMARY_HEAD: [&str; 6] = ["kind", "unshare", "clone", "vfork-clone", "setns", "marginal"];

/// Ids outside the per-kind table, by op, then scaling points by series and number
/// (`scale_user/8` before `scale_user/16`).
fn other_ids(r: &Results) -> Vec<&Benchmark> {
    let mut v: Vec<&Benchmark> = r
        .benchmarks
        .values()
        .filter(|b| !["unshare", "clone", "clone_vfork", "setns"].contains(&b.op.as_str()))
        .collect();
    let key = |x: &Benchmark| scaling_point(&x.kind).unwrap_or((x.kind.clone(), f64::MIN));
    v.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        a.op.cmp(&b.op).then(ka.0.cmp(&kb.0)).then(ka.1.total_cmp(&kb.1))
    });
    v
}

fn provenance_line(p: &Provenance) -> String {
    format!(
        "kernel {} ({}, {}), {} × {}, {}, {} mounts, {} net namespaces, commit {}, {}, criterion {} ({}-{} samples)",
        p.kernel,
        p.engine,
        p.arch,
        p.cores,
        p.cpu_model,
        p.privilege,
        p.mount_count,
        p.net_namespaces,
        p.git_commit
            .as_deref()
            .map(|c| c.get(..12).unwrap_or(c))
            .unwrap_or("unknown"),
        p.date,
        p.criterion.mode,
        p.criterion.min_samples,
        p.criterion.max_samples
    )
}

/// The summary as an aligned plain-text table for the terminal.
pub fn summary_text(r: &Results) -> String {
    let mut rows: Vec<Vec<String>> = vec![SUMMARY_HEAD.iter().map(|s| s.to_string()).collect()];
    rows.extend(summary_rows(r).into_iter().map(|r| r.to_vec()));
    let mut out = format!(
        "Median time per operation (± half the {:.0}% CI); marginal = cost over <op>/none of the same run [interval], ~0: indistinguishable from zero\n",
        r.benchmarks
            .values()
            .next()
            .map(|b| b.confidence_level * 100.0)
            .unwrap_or(95.0)
    );
    out.push_str(&align(&rows));
    let others = other_ids(r);
    if !others.is_empty() {
        out.push('\n');
        let mut rows: Vec<Vec<String>> = vec![vec!["benchmark".into(), "median ± half CI".into()]];
        rows.extend(
            others
                .iter()
                .map(|b| vec![format!("{}/{}", b.op, b.kind), cell(Some(b))]),
        );
        out.push_str(&align(&rows));
    }
    out.push_str(&format!("\n{}\n", provenance_line(&r.provenance)));
    out
}

fn align(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (ri, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}{}", " ".repeat(widths[i] - c.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if ri == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    out
}

/// The summary as Markdown.
pub fn summary_markdown(r: &Results) -> String {
    let mut out = String::from("# Namespace costs\n\n");
    out.push_str(&format!("{}\n\n", provenance_line(&r.provenance)));
    out.push_str("Median time per operation (± half the confidence interval). `marginal` is the cost over the same run's `<op>/none` (vfork-clone if measured, else clone) with its conservative interval; `~0` marks an interval that contains zero (no cost distinguishable from noise).\n\n");
    out.push_str(&format!("| {} |\n", SUMMARY_HEAD.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(SUMMARY_HEAD.len())));
    for row in summary_rows(r) {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    let others = other_ids(r);
    if !others.is_empty() {
        out.push_str("\n| benchmark | median ± half CI |\n|---|---|\n");
        for b in others {
            out.push_str(&format!("| {}/{} | {} |\n", b.op, b.kind, cell(Some(b))));
        }
    }
    out
}

/// A scaling point: the kind is a number (`scale_mnt/1000`: one curve) or `<series>_<number>`
/// (`concurrent/net_2`: one curve per series).
fn scaling_point(kind: &str) -> Option<(String, f64)> {
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
pub fn figures(r: &Results) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let kinds: Vec<String> = KINDS
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
                "time per operation (ns, log scale)",
                true,
            ),
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
                "time per operation (ns)",
            ),
        ));
    }
    out
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

/// Paths written by [`write_report`].
#[derive(Debug, Clone)]
pub struct Written {
    /// The results JSON.
    pub json: PathBuf,
    /// The Markdown summary.
    pub markdown: PathBuf,
    /// The SVG figures.
    pub svgs: Vec<PathBuf>,
}

/// Writes `results.json`, `summary.md` and the figures into `out_dir`, each atomically.
/// Everything is rendered before the first file is written.
pub fn write_report(r: &Results, out_dir: &Path) -> Result<Written> {
    let json = serde_json::to_string_pretty(r).map_err(|e| Error(format!("cannot encode results: {e}")))?;
    let md = summary_markdown(r);
    let figs = figures(r);
    let json_path = out_dir.join("results.json");
    let md_path = out_dir.join("summary.md");
    write_atomic(&json_path, json.as_bytes())?;
    write_atomic(&md_path, md.as_bytes())?;
    let mut svgs = Vec::new();
    for (name, body) in figs {
        let p = out_dir.join(name);
        write_atomic(&p, body.as_bytes())?;
        svgs.push(p);
    }
    Ok(Written {
        json: json_path,
        markdown: md_path,
        svgs,
    })
}

// ---------------------------------------------------------------------------------------------
// Compare

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

/// The same-run baseline used to normalise an id: `<op>/none` for ops that have one, else
/// `unshare/none` (the bare syscall floor). `None` for a baseline itself or when absent.
fn normalizer<'a>(r: &'a Results, b: &Benchmark, id: &str) -> Option<(&'a Benchmark, String)> {
    let own = format!("{}/none", b.op);
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
/// of the same build lands. Measured on the 2-core shared machine this suite was written on,
/// two honest full runs of one build differed by up to 1.54× (fork-like clones: a clone of
/// ~0.5 ms fits between scheduler ticks or waits one out) with intervals a few percent wide;
/// `--quick` runs (2 samples) by up to 1.9× on the clones. Widened to ±25%, two intervals
/// stop overlapping only beyond a 1.67× change: quiet on such honest full-run pairs, and a 2×
/// regression is still caught.
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

// ---------------------------------------------------------------------------------------------
// History

/// Appends `r` as one JSON line to the history file (rewritten atomically). An unreadable or
/// malformed history file is refused, not overwritten.
pub fn history_append(r: &Results, file: &Path) -> Result<usize> {
    let mut text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return err(format!("cannot read {}: {e}", file.display())),
    };
    let existing = parse_history(&text, file)?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let line = serde_json::to_string(r).map_err(|e| Error(format!("cannot encode results: {e}")))?;
    text.push_str(&line);
    text.push('\n');
    write_atomic(file, text.as_bytes())?;
    Ok(existing.len() + 1)
}

fn parse_history(text: &str, file: &Path) -> Result<Vec<Results>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_results(l, &format!("{} line {}", file.display(), i + 1)))
        .collect()
}

/// Loads a history file.
pub fn load_history(file: &Path) -> Result<Vec<Results>> {
    let text = fs::read_to_string(file).map_err(|e| Error(format!("cannot read history {}: {e}", file.display())))?;
    let h = parse_history(&text, file)?;
    if h.is_empty() {
        return err(format!(
            "history {} is empty: `history append RESULTS.json` first",
            file.display()
        ));
    }
    Ok(h)
}

/// The x axis of a history plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryBy {
    /// One point per run, in date order.
    Date,
    /// One point per kernel release (median over its runs), in version order.
    Kernel,
}

fn version_key(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One SVG per kind (`history-<kind>.svg`): a line per op over dates or kernel releases.
pub fn history_plot(history: &[Results], by: HistoryBy) -> Vec<(String, String)> {
    // Buckets: (label, runs).
    let mut buckets: Vec<(String, Vec<&Results>)> = Vec::new();
    match by {
        HistoryBy::Date => {
            let mut runs: Vec<&Results> = history.iter().collect();
            runs.sort_by(|a, b| a.provenance.date.cmp(&b.provenance.date));
            for r in runs {
                let commit = r
                    .provenance
                    .git_commit
                    .as_deref()
                    .map(|c| c.get(..7).unwrap_or(c))
                    .unwrap_or("");
                let date = r.provenance.date.replace('T', " ");
                let date = date.get(..16).unwrap_or(&date);
                buckets.push((format!("{date} {commit}").trim().to_string(), vec![r]));
            }
        }
        HistoryBy::Kernel => {
            let mut kernels: Vec<String> = history.iter().map(|r| r.provenance.kernel.clone()).collect();
            kernels.sort_by_key(|k| (version_key(k), k.clone()));
            kernels.dedup();
            for k in kernels {
                let runs = history.iter().filter(|r| r.provenance.kernel == k).collect();
                buckets.push((k, runs));
            }
        }
    }
    let labels: Vec<String> = buckets.iter().map(|b| b.0.clone()).collect();
    let mut out = Vec::new();
    for kind in KINDS {
        let mut series = Vec::new();
        for (op, label) in [
            ("unshare", "unshare"),
            ("clone", "clone"),
            ("clone_vfork", "vfork-clone"),
            ("setns", "setns"),
        ] {
            let id = format!("{op}/{kind}");
            let mut points = Vec::new();
            for (i, (_, runs)) in buckets.iter().enumerate() {
                let bs: Vec<&Benchmark> = runs.iter().filter_map(|r| r.benchmarks.get(&id)).collect();
                if bs.is_empty() {
                    continue;
                }
                points.push((
                    i as f64,
                    median_of(bs.iter().map(|b| b.median).collect()),
                    median_of(bs.iter().map(|b| b.lower).collect()),
                    median_of(bs.iter().map(|b| b.upper).collect()),
                ));
            }
            if !points.is_empty() {
                series.push(svg::LineSeries {
                    label: label.into(),
                    points,
                });
            }
        }
        if series.is_empty() {
            continue;
        }
        let (title, x_label) = match by {
            HistoryBy::Date => (format!("{kind} namespace cost over time"), "run (UTC date, commit)"),
            HistoryBy::Kernel => (
                format!("{kind} namespace cost per kernel release"),
                "kernel release (median over runs)",
            ),
        };
        out.push((
            format!("history-{kind}.svg"),
            svg::line_chart(
                &title,
                &svg::XAxis::Categories(labels.clone()),
                &series,
                x_label,
                "time per operation (ns)",
            ),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Export

/// Bencher Metric Format: `{"unshare/net": {"latency": {"value": ns, "lower_value": ..,
/// "upper_value": ..}}}`, as read by bencher.dev and github-action-benchmark.
pub fn to_bmf(r: &Results) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (id, b) in &r.benchmarks {
        m.insert(
            id.clone(),
            serde_json::json!({"latency": {"value": b.median, "lower_value": b.lower, "upper_value": b.upper}}),
        );
    }
    serde_json::Value::Object(m)
}
