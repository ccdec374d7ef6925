//! The summary of one run: the per-kind table (plain text and Markdown) and every other id.

use super::figures::scaling_point;
use super::spawn::{spawn_rows, SPAWN_HEAD, SPAWN_OPS};
use super::{Benchmark, Provenance, Results};

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
    for kind in super::kinds() {
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
        .filter(|b| !SPAWN_OPS.contains(&b.op.as_str()))
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
    let spawns = spawn_rows(r);
    if !spawns.is_empty() {
        out.push_str("\nStarting /bin/true (median; settled: one start after the previous one's teardown; rate: sustained starts per second)\n");
        let mut rows: Vec<Vec<String>> = vec![SPAWN_HEAD.iter().map(|s| s.to_string()).collect()];
        rows.extend(spawns.into_iter().map(|r| r.to_vec()));
        out.push_str(&align(&rows));
    }
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

/// Aligns rows into columns two spaces apart, with a dashed rule under the first (the header).
pub(super) fn align(rows: &[Vec<String>]) -> String {
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
    let spawns = spawn_rows(r);
    if !spawns.is_empty() {
        out.push_str("\nStarting `/bin/true`: median of a settled start (after the previous start's teardown), its ratio to a start with no namespaces, from a parent holding 1 GiB, back to back, and sustained starts per second.\n\n");
        out.push_str(&format!(
            "| {} |\n|{}\n",
            SPAWN_HEAD.join(" | "),
            "---|".repeat(SPAWN_HEAD.len())
        ));
        for row in spawns {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
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
