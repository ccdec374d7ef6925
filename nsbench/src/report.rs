//! Results, reports, comparisons, history and export.
//!
//! After `cargo bench`, [`read_criterion`] collects criterion's per-benchmark files
//! (`<criterion-dir>/**/new/{benchmark,estimates,sample}.json`) into one [`Results`]: for every
//! `op/kind` the median with its confidence interval, the marginal cost over the same run's
//! baseline (`<op>/none`), and the run's [`Provenance`]. [`compare`] judges two results with
//! their confidence intervals, [`history_append`] and [`history_plot`] keep a JSON-lines history,
//! and [`to_bmf`] exports Bencher Metric Format.

mod bmf;
mod compare;
mod criterion;
mod figures;
mod history;
mod provenance;
mod spawn;
mod store;
mod summary;
pub mod svg;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub use bmf::to_bmf;
pub use compare::{compare, comparison_text, parse_threshold, CompareRow, Comparison, Verdict, DEFAULT_NOISE_FLOOR};
pub use criterion::{baseline_for, baseline_of, read_criterion};
pub use figures::figures;
pub use history::{history_append, history_plot, load_history, HistoryBy};
pub use provenance::{rfc3339, rfc3339_now, CriterionSettings, Provenance};
pub use spawn::{spawn_rows, SPAWN_OPS};
pub use store::{load_results, parse_results, write_atomic, write_report, Written};
pub use summary::{fmt_ns, summary_markdown, summary_rows, summary_text};

/// Version of the results format written by this crate; older files are refused.
pub const FORMAT_VERSION: u32 = 1;

/// The kinds in table order (by name, from [`nscore::Kind::ALL`]), then the baseline `none`.
pub fn kinds() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = nscore::Kind::ALL.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.push("none");
    names
}

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
