//! History: runs appended as JSON lines, and plotted per kind over dates or kernel releases.

use std::fs;
use std::path::Path;

use super::store::{parse_results, write_atomic};
use super::svg;
use super::{err, Benchmark, Error, Result, Results};

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
pub fn history_plot(history: &[Results], by: HistoryBy) -> Result<Vec<(String, String)>> {
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
    for kind in super::kinds() {
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
                "time per operation",
            )?,
        ));
    }
    Ok(out)
}
