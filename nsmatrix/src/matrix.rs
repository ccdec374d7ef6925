//! The matrix over kernels: reads the per-kernel result directories `scripts/kernels.sh`
//! leaves, and renders kernel × test, kernel × feature and kernel × cost as a terminal table,
//! Markdown and an SVG chart.
//!
//! A kernel's directory holds `meta` (`key=value` lines: `kernel`, `package`, `version`,
//! `engine` (host, kvm, tcg), `seconds`, `status` (ok, or why the run failed), `message`),
//! `probe.out` ([`crate::probe::render`]), `tests/<binary>.out`, `.err` and `.rc`
//! (`<exit code> <seconds>`), and the quick bench's `results.json` when it ran.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::formats::xml;
use crate::libtest::{self, Outcome, TestResult};
use crate::probe::{self, Feature};

/// One kernel's run.
#[derive(Debug, Clone)]
pub struct KernelRun {
    /// Its name in the matrix: the alias (`6.1`, `host`) or the image's file name.
    pub name: String,
    /// The `meta` file.
    pub meta: BTreeMap<String, String>,
    /// The running kernel's release, from the probe.
    pub release: String,
    /// Every test of every binary.
    pub tests: Vec<TestResult>,
    /// The probe's features.
    pub features: Vec<Feature>,
    /// The quick bench's results (nsbench `results.json`).
    pub bench: Option<serde_json::Value>,
}

impl KernelRun {
    fn get(&self, k: &str) -> &str {
        self.meta.get(k).map(String::as_str).unwrap_or("")
    }
    /// `host`, `kvm` or `tcg`.
    pub fn engine(&self) -> &str {
        self.get("engine")
    }
    /// `ok`, or what went wrong with the run itself (not the tests).
    pub fn status(&self) -> &str {
        match self.get("status") {
            "" => "unknown",
            s => s,
        }
    }
    /// Count of tests with this outcome word.
    pub fn count(&self, word: &str) -> usize {
        self.tests.iter().filter(|t| t.outcome.word() == word).count()
    }
    /// What is wrong with the run itself: not `ok`, no test output when tests were asked for
    /// (`tests=1` in `meta`), no `results.json` when the bench was (`bench=1`).
    pub fn problem(&self) -> Option<String> {
        if self.status() != "ok" {
            Some(format!("{}: {}", self.status(), self.get("message")))
        } else if self.get("tests") == "1" && self.tests.is_empty() {
            Some("no test ran".into())
        } else if self.get("bench") == "1" && self.bench.is_none() {
            Some("the bench left no results.json".into())
        } else {
            None
        }
    }
    /// Whether the run and every test on it went right.
    pub fn ok(&self) -> bool {
        self.problem().is_none() && self.count("fail") == 0
    }
    /// The outcome of a test (`binary::name`) on this kernel.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.tests.iter().find(|t| t.id() == id).map(|t| &t.outcome)
    }
    /// The bench's median (ns) of `op/kind`.
    pub fn median(&self, id: &str) -> Option<f64> {
        self.bench.as_ref()?.get("benchmarks")?.get(id)?.get("median")?.as_f64()
    }
}

/// Reads one kernel's directory.
pub fn load(dir: &Path) -> io::Result<KernelRun> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta: BTreeMap<String, String> = fs::read_to_string(dir.join("meta"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (release, features) = probe::parse(&fs::read_to_string(dir.join("probe.out")).unwrap_or_default());
    let mut labels: Vec<PathBuf> = match fs::read_dir(dir.join("tests")) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rc"))
            .collect(),
        Err(_) => Vec::new(),
    };
    labels.sort();
    let mut tests = Vec::new();
    for rc in labels {
        let label = rc
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = |ext: &str| fs::read_to_string(rc.with_extension(ext)).unwrap_or_default();
        let code = read("rc").split_whitespace().next().and_then(|c| c.parse().ok());
        tests.extend(libtest::parse(&label, &read("out"), &read("err"), code));
    }
    let bench = fs::read_to_string(dir.join("results.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    Ok(KernelRun {
        name,
        meta,
        release,
        tests,
        features,
        bench,
    })
}

/// Every test id over the runs, in first-seen order.
fn all_tests(runs: &[KernelRun]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in runs {
        for t in &r.tests {
            if seen.insert(t.id()) {
                ids.push(t.id());
            }
        }
    }
    ids
}

/// Tests whose outcome is not a pass on every kernel (skips, failures, absences); a kernel
/// whose run broke off (its problem is in the kernels table) does not make every test differ.
fn differing(runs: &[KernelRun]) -> Vec<String> {
    all_tests(runs)
        .into_iter()
        .filter(|id| {
            runs.iter().any(|r| match r.outcome(id) {
                Some(Outcome::Pass) => false,
                None => r.problem().is_none(),
                Some(_) => true,
            })
        })
        .collect()
}

fn cell(o: Option<&Outcome>) -> &'static str {
    match o {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Skip(_)) => "skip",
        Some(Outcome::Fail(_)) => "FAIL",
        None => "-",
    }
}

/// A row per test id: the id, then its outcome on each kernel.
fn test_rows(runs: &[KernelRun], ids: &[String]) -> Vec<Vec<String>> {
    ids.iter()
        .map(|id| {
            let mut row = vec![id.clone()];
            row.extend(runs.iter().map(|r| cell(r.outcome(id)).to_owned()));
            row
        })
        .collect()
}

fn first_line(s: &str) -> String {
    let l = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if l.chars().count() > 110 {
        format!("{}…", l.chars().take(110).collect::<String>())
    } else {
        l.to_owned()
    }
}

/// The cost rows: `unshare/<kind>` and `clone_vfork/<kind>` present in any run.
fn cost_rows(runs: &[KernelRun]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for r in runs {
        if let Some(b) = r
            .bench
            .as_ref()
            .and_then(|b| b.get("benchmarks"))
            .and_then(|b| b.as_object())
        {
            for id in b.keys() {
                if (id.starts_with("unshare/") || id.starts_with("clone_vfork/")) && !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
    }
    ids.sort();
    ids
}

fn micros(ns: Option<f64>, engine: &str) -> String {
    match ns {
        Some(v) if engine == "tcg" => format!("{:.1} µs (tcg)", v / 1000.0),
        Some(v) => format!("{:.1} µs", v / 1000.0),
        None => "-".into(),
    }
}

/// A plain-text table with columns padded to width.
fn table(head: &[String], rows: &[Vec<String>]) -> String {
    let n = head.len();
    let mut w = vec![0; n];
    for r in std::iter::once(&head.to_vec()).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        format!("{}\n", cells.join("  ").trim_end())
    };
    let mut s = line(head);
    for r in rows {
        s.push_str(&line(r));
    }
    s
}

fn md_table(head: &[String], rows: &[Vec<String>]) -> String {
    let esc = |c: &String| c.replace('|', "\\|");
    let mut s = format!(
        "| {} |\n|{}\n",
        head.iter().map(esc).collect::<Vec<_>>().join(" | "),
        " --- |".repeat(head.len())
    );
    for r in rows {
        s.push_str(&format!("| {} |\n", r.iter().map(esc).collect::<Vec<_>>().join(" | ")));
    }
    s
}

/// The tables every rendering shows: (title, head, rows).
fn tables(runs: &[KernelRun]) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    let head: Vec<String> = ["kernel", "release", "engine", "time", "pass", "skip", "fail", "run"]
        .map(String::from)
        .to_vec();
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                if r.release.is_empty() {
                    r.get("version").to_owned()
                } else {
                    r.release.clone()
                },
                r.engine().to_owned(),
                format!("{}s", r.get("seconds")),
                r.count("pass").to_string(),
                r.count("skip").to_string(),
                r.count("fail").to_string(),
                r.problem().unwrap_or_else(|| match r.meta.get("retried") {
                    Some(why) => format!("ok, retried {why}"),
                    None => "ok".into(),
                }),
            ]
        })
        .collect();
    out.push(("Kernels".to_owned(), head, rows));

    let mut head = vec!["feature".to_owned(), "since".to_owned()];
    head.extend(runs.iter().map(|r| r.name.clone()));
    let mut names: Vec<(String, String)> = Vec::new();
    for r in runs {
        for f in &r.features {
            if !names.iter().any(|(n, _)| *n == f.name) {
                names.push((f.name.clone(), f.since.clone()));
            }
        }
    }
    let rows = names
        .iter()
        .map(|(n, since)| {
            let mut row = vec![n.clone(), since.clone()];
            row.extend(runs.iter().map(|r| match r.features.iter().find(|f| &f.name == n) {
                Some(f) if f.present => "yes".to_owned(),
                Some(_) => "no".to_owned(),
                None => "-".to_owned(),
            }));
            row
        })
        .collect();
    out.push(("Features (probed in each kernel)".to_owned(), head, rows));

    let mut head = vec!["test (not a pass everywhere)".to_owned()];
    head.extend(runs.iter().map(|r| r.name.clone()));
    out.push(("Tests".to_owned(), head, test_rows(runs, &differing(runs))));

    // one row per test and reason, naming every kernel that gave it
    let head: Vec<String> = ["test", "kernels", "outcome", "why"].map(String::from).to_vec();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for id in differing(runs) {
        let mut seen: Vec<(String, String, Vec<String>)> = Vec::new();
        for r in runs {
            let (word, why) = match r.outcome(&id) {
                Some(Outcome::Skip(why)) => ("skip", first_line(why)),
                Some(Outcome::Fail(m)) => ("FAIL", first_line(&fail_reason(m))),
                _ => continue,
            };
            match seen.iter_mut().find(|(w, y, _)| w == word && *y == why) {
                Some((_, _, ks)) => ks.push(r.name.clone()),
                None => seen.push((word.to_owned(), why, vec![r.name.clone()])),
            }
        }
        for (word, why, ks) in seen {
            rows.push(vec![id.clone(), ks.join(" "), word, why]);
        }
    }
    out.push(("Why (skips and failures)".to_owned(), head, rows));

    let costs = cost_rows(runs);
    if !costs.is_empty() {
        let mut head = vec!["quick bench, median".to_owned()];
        head.extend(runs.iter().map(|r| r.name.clone()));
        let rows = costs
            .iter()
            .map(|id| {
                let mut row = vec![id.clone()];
                row.extend(runs.iter().map(|r| micros(r.median(id), r.engine())));
                row
            })
            .collect();
        out.push((
            "Cost per kind (compare only within one engine: tcg is emulated)".to_owned(),
            head,
            rows,
        ));
    }
    out
}

/// The panic message of a libtest failure section (the line after `panicked at`), else its
/// first line.
fn fail_reason(m: &str) -> String {
    let lines: Vec<&str> = m.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("panicked at") {
            if let Some(next) = lines.get(i + 1) {
                return format!("{} ({})", next.trim(), l.trim().trim_start_matches("thread "));
            }
        }
    }
    m.to_owned()
}

/// The terminal rendering.
pub fn terminal(runs: &[KernelRun]) -> String {
    let mut s = String::new();
    for (title, head, rows) in tables(runs) {
        if rows.is_empty() {
            continue;
        }
        s.push_str(&format!("\n{title}\n{}", table(&head, &rows)));
    }
    s
}

/// The Markdown rendering, with the full kernel × test table folded at the end.
pub fn markdown(runs: &[KernelRun]) -> String {
    let mut s = String::from("# Kernel matrix\n");
    for (title, head, rows) in tables(runs) {
        if rows.is_empty() {
            continue;
        }
        s.push_str(&format!("\n## {title}\n\n{}", md_table(&head, &rows)));
    }
    let mut head = vec!["test".to_owned()];
    head.extend(runs.iter().map(|r| r.name.clone()));
    let rows = test_rows(runs, &all_tests(runs));
    s.push_str(&format!(
        "\n<details><summary>Every test ({})</summary>\n\n{}\n</details>\n",
        rows.len(),
        md_table(&head, &rows)
    ));
    s
}

/// One SVG: a bar per kernel, split into passed, skipped and failed tests, with the engine and
/// the run's time.
pub fn svg(runs: &[KernelRun]) -> String {
    let (w, bar, gap, left, top) = (760.0, 26.0, 14.0, 230.0, 40.0);
    let h = top + runs.len() as f64 * (bar + gap) + 40.0;
    let max = runs.iter().map(|r| r.tests.len()).max().unwrap_or(1).max(1) as f64;
    let scale = (w - left - 120.0) / max;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"15\">Tests per kernel: pass (green), skip (grey), fail (red)</text>\n"
    );
    for (i, r) in runs.iter().enumerate() {
        let y = top + i as f64 * (bar + gap);
        s.push_str(&format!(
            "<text x=\"10\" y=\"{:.1}\">{} ({}, {}s)</text>\n",
            y + bar * 0.65,
            xml(&format!("{} {}", r.name, r.release)),
            xml(r.engine()),
            xml(r.get("seconds"))
        ));
        let mut x = left;
        for (word, color) in [("pass", "#3a3"), ("skip", "#aaa"), ("fail", "#d33")] {
            let n = r.count(word) as f64;
            if n > 0.0 {
                s.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar}\" fill=\"{color}\"><title>{word}: {n}</title></rect>\n",
                    n * scale
                ));
                x += n * scale;
            }
        }
        let label = if r.status() == "ok" {
            format!("{}/{}/{}", r.count("pass"), r.count("skip"), r.count("fail"))
        } else {
            r.status().to_owned()
        };
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            x + 6.0,
            y + bar * 0.65,
            xml(&label)
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, outcome: Outcome) -> KernelRun {
        KernelRun {
            name: name.into(),
            meta: [
                ("status".to_owned(), "ok".to_owned()),
                ("tests".to_owned(), "1".to_owned()),
                ("engine".to_owned(), "tcg".to_owned()),
            ]
            .into(),
            release: format!("{name}.0"),
            tests: vec![
                TestResult {
                    binary: "b".into(),
                    name: "same".into(),
                    outcome: Outcome::Pass,
                },
                TestResult {
                    binary: "b".into(),
                    name: "differs".into(),
                    outcome,
                },
            ],
            features: vec![],
            bench: None,
        }
    }

    #[test]
    fn only_differing_tests_are_listed_with_why() {
        let runs = [
            run(
                "6.1",
                Outcome::Fail("thread 'x' panicked at a.rs:1:\nNS_GET_ID: ENOTTY".into()),
            ),
            run("7.2", Outcome::Pass),
        ];
        let t = terminal(&runs);
        assert!(
            t.lines()
                .any(|l| l.split_whitespace().eq(["b::differs", "FAIL", "pass"])),
            "{t}"
        );
        assert!(!t.contains("b::same "), "{t}");
        assert!(t.contains("NS_GET_ID: ENOTTY"), "{t}");
        assert!(!runs[0].ok() && runs[1].ok());
        assert!(markdown(&runs).contains("| b::same | pass | pass |"));
        assert!(svg(&runs).starts_with("<svg"));
    }
}
