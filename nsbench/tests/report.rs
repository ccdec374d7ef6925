//! Tests of `nsbench-report` on real criterion output saved from two runs of one build
//! (tests/fixtures/criterion and tests/fixtures/criterion-rerun). The binary is run as a user
//! would run it; exit status, stdout, stderr and the files it writes are checked.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use common::{assert_error, fixture, report, text, tool, write_json};
use std::fs;
use std::path::Path;

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Parses an SVG and checks the title, the axis labels and the time axis: its ticks are
/// distinct, and in human units (the unit named in the axis label, or on every tick).
fn check_svg(path: &Path) {
    let s = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&s).unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let title = root.children().find(|n| n.has_tag_name("title")).expect("<title>");
    assert!(!title.text().unwrap_or("").trim().is_empty());
    let texts: Vec<(&str, Option<&str>)> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| (n.text().unwrap_or("").trim(), n.attribute("text-anchor")))
        .collect();
    let y_label = texts
        .iter()
        .find(|(t, _)| t.starts_with("time per operation"))
        .unwrap_or_else(|| panic!("{}: no time axis label", path.display()))
        .0;
    // The time axis ticks: the right-aligned texts.
    let ticks: Vec<&str> = texts
        .iter()
        .filter(|(_, a)| *a == Some("end"))
        .map(|(t, _)| *t)
        .collect();
    assert!(ticks.len() >= 2, "{}: ticks {ticks:?}", path.display());
    let distinct: std::collections::BTreeSet<&str> = ticks.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ticks.len(),
        "{}: repeated ticks {ticks:?}",
        path.display()
    );
    let units = ["ns", "µs", "ms", "s"];
    let on_ticks = ticks
        .iter()
        .all(|t| units.iter().any(|u| t.ends_with(&format!(" {u}"))));
    let in_label = units.iter().any(|u| y_label.ends_with(&format!("({u})")));
    assert!(on_ticks || in_label, "{}: {y_label:?} {ticks:?}", path.display());
    assert!(!ticks.iter().any(|t| t.contains('e')), "{}: {ticks:?}", path.display());
}

#[test]
fn report_on_criterion_output() {
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = report(&fixture("criterion"), dir.path());
    assert_eq!(r["format_version"], 1);
    assert_eq!(r["unit"], "ns");
    let b = &r["benchmarks"];
    for id in [
        "unshare/none",
        "unshare/net",
        "clone/none",
        "clone/net",
        "clone_vfork/uts",
        "setns/net",
    ] {
        let (m, l, u) = (num(&b[id]["median"]), num(&b[id]["lower"]), num(&b[id]["upper"]));
        assert!(m > 0.0 && l <= m && m <= u, "{id}: {m} [{l}, {u}]");
        assert!(b[id]["samples"].as_u64().unwrap() >= 2);
    }
    // Marginals: clone/<kind> - clone/none of the same run; unshare likewise; none for setns.
    let marg = &b["clone/net"]["marginal"];
    assert_eq!(marg["baseline"], "clone/none");
    let expect = num(&b["clone/net"]["median"]) - num(&b["clone/none"]["median"]);
    assert!((num(&marg["value"]) - expect).abs() < 1e-6);
    assert!(num(&marg["lower"]) <= num(&marg["value"]) && num(&marg["value"]) <= num(&marg["upper"]));
    assert_eq!(b["unshare/net"]["marginal"]["baseline"], "unshare/none");
    assert_eq!(b["clone_vfork/net"]["marginal"]["baseline"], "clone_vfork/none");
    assert!(b["setns/net"]["marginal"].is_null());
    assert!(b["clone/none"]["marginal"].is_null());
    // Provenance of this machine.
    let p = &r["provenance"];
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(p["kernel"], release.trim());
    assert!(p["cores"].as_u64().unwrap() >= 1);
    assert!(p["mount_count"].as_u64().unwrap() >= 1);
    assert!(p["net_namespaces"].as_u64().unwrap() >= 1);
    assert!(["root", "rootless"].contains(&p["privilege"].as_str().unwrap()));
    assert!(p["cpu_model"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(p["date"].as_str().unwrap().ends_with('Z'));
    assert!(p.get("git_commit").is_some());
    assert_eq!(p["criterion"]["mode"], "full");
    assert_eq!(p["criterion"]["min_samples"], 20);
    // The table, the Markdown and the figures.
    let stdout = text(&out.stdout);
    for h in [
        "kind",
        "unshare",
        "clone",
        "vfork-clone",
        "setns",
        "marginal",
        "net",
        "results.json",
    ] {
        assert!(stdout.contains(h), "{h} missing from:\n{stdout}");
    }
    let md = fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("| kind | unshare | clone | vfork-clone | setns | marginal |"),
        "{md}"
    );
    assert!(md.lines().any(|l| l.starts_with("| net |")), "{md}");
    check_svg(&dir.path().join("results.svg"));
    check_svg(&dir.path().join("scaling-scale_mnt.svg"));
}

#[test]
fn compare_flags_a_figure_made_twice_as_slow() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut r) = report(&fixture("criterion"), dir.path());
    let old = dir.path().join("results.json");
    let b = &mut r["benchmarks"]["unshare/net"];
    for f in ["median", "lower", "upper", "mean"] {
        b[f] = serde_json::json!(num(&b[f]) * 2.0);
    }
    let slow = dir.path().join("slow.json");
    write_json(&slow, &r);

    let out = tool(&["compare", old.to_str().unwrap(), slow.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("unshare/net ")).expect("row");
    assert!(line.contains("REGRESSED") && line.contains("+100.0%"), "{line}");
    assert_eq!(stdout.matches("REGRESSED").count(), 1, "{stdout}");
    assert!(!stdout.contains("NORMALISED"), "{stdout}");

    // The other way round it is an improvement, and that passes the gate.
    let out = tool(&["compare", slow.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("unshare/net ") && l.contains("improved")),
        "{stdout}"
    );

    // Beyond the threshold only: 2x is within a 150% threshold.
    let out = tool(&[
        "compare",
        old.to_str().unwrap(),
        slow.to_str().unwrap(),
        "--threshold",
        "150%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn compare_two_honest_runs_stays_quiet() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    report(&fixture("criterion"), a.path());
    report(&fixture("criterion-rerun"), b.path());
    let out = tool(&[
        "compare",
        a.path().join("results.json").to_str().unwrap(),
        b.path().join("results.json").to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    assert!(stdout.contains("0 regressed"), "{stdout}");
    assert!(stdout.contains("unshare/net"), "{stdout}");
}

#[test]
fn compare_normalises_across_machines_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut r) = report(&fixture("criterion"), dir.path());
    let old = dir.path().join("results.json");
    // Another kernel on a machine twice as slow overall: normalised, nothing changed.
    r["provenance"]["kernel"] = "5.10.0-other".into();
    let ids: Vec<String> = r["benchmarks"].as_object().unwrap().keys().cloned().collect();
    for id in ids {
        let b = &mut r["benchmarks"][&id];
        for f in ["median", "lower", "upper"] {
            b[f] = serde_json::json!(num(&b[f]) * 2.0);
        }
    }
    let other = dir.path().join("other.json");
    write_json(&other, &r);
    let out = tool(&["compare", old.to_str().unwrap(), other.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("NORMALISED"), "{stdout}");
    assert!(stdout.contains("kernel"), "{stdout}");
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    // The same machine, forced with --normalize: said so too.
    let out = tool(&["compare", old.to_str().unwrap(), old.to_str().unwrap(), "--normalize"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--normalize"));
}

#[test]
fn history_append_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut r) = report(&fixture("criterion"), dir.path());
    let first = dir.path().join("results.json");
    r["provenance"]["kernel"] = "6.1.0-older".into();
    r["provenance"]["date"] = "2020-01-01T00:00:00Z".into();
    let second = dir.path().join("older.json");
    write_json(&second, &r);
    let hist = dir.path().join("h/history.jsonl");
    for f in [&first, &second] {
        let out = tool(&[
            "history",
            "append",
            f.to_str().unwrap(),
            "--file",
            hist.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let lines: Vec<String> = fs::read_to_string(&hist).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["format_version"], 1);
    }
    for by in ["date", "kernel"] {
        let out_dir = dir.path().join(by);
        let out = tool(&[
            "history",
            "plot",
            "--file",
            hist.to_str().unwrap(),
            "--by",
            by,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let svg = out_dir.join("history-net.svg");
        check_svg(&svg);
        let s = fs::read_to_string(&svg).unwrap();
        if by == "kernel" {
            // Version order: 6.1 before 6.18.
            let (a, b) = (s.find("6.1.0-older").unwrap(), s.find(&*r_kernel()).unwrap());
            assert!(a < b);
        } else {
            assert!(s.contains("2020-01-01"));
        }
    }
    // A history with a malformed line is refused and left as it was.
    fs::write(&hist, "{\"format_version\": 1, \"trunc").unwrap();
    let out = tool(&[
        "history",
        "append",
        first.to_str().unwrap(),
        "--file",
        hist.to_str().unwrap(),
    ]);
    assert_error(&out, "history.jsonl line 1");
    assert_eq!(fs::read_to_string(&hist).unwrap(), "{\"format_version\": 1, \"trunc");
}

fn r_kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn export_bencher_metric_format() {
    let dir = tempfile::tempdir().unwrap();
    let (_, r) = report(&fixture("criterion"), dir.path());
    let out = tool(&[
        "export",
        "--format",
        "bmf",
        dir.path().join("results.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bmf: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let obj = bmf.as_object().unwrap();
    assert_eq!(obj.len(), r["benchmarks"].as_object().unwrap().len());
    for (id, v) in obj {
        let lat = v["latency"].as_object().unwrap_or_else(|| panic!("{id}: no latency"));
        assert_eq!(v.as_object().unwrap().len(), 1);
        let (m, l, u) = (num(&lat["value"]), num(&lat["lower_value"]), num(&lat["upper_value"]));
        assert!(l <= m && m <= u, "{id}");
        assert_eq!(m, num(&r["benchmarks"][id]["median"]));
    }
    assert!(obj.contains_key("unshare/net"));
    let out = tool(&[
        "export",
        "--format",
        "csv",
        dir.path().join("results.json").to_str().unwrap(),
    ]);
    assert_error(&out, "bmf");
}

#[test]
fn bad_criterion_folders_are_errors_and_overwrite_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    fs::write(out_dir.join("results.json"), "previous").unwrap();
    let out_s = out_dir.to_str().unwrap();

    let out = tool(&["report", "--criterion-dir", "/nonexistent/criterion", "--out", out_s]);
    assert_error(&out, "does not exist");

    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = tool(&["report", "--criterion-dir", empty.to_str().unwrap(), "--out", out_s]);
    assert_error(&out, "no benchmark results");

    // A copy of the fixture with one estimates.json missing, then one cut in half.
    let crit = dir.path().join("criterion");
    copy_dir(&fixture("criterion"), &crit);
    let est = crit.join("unshare/net/new/estimates.json");
    let full = fs::read_to_string(&est).unwrap();
    fs::remove_file(&est).unwrap();
    let out = tool(&["report", "--criterion-dir", crit.to_str().unwrap(), "--out", out_s]);
    assert_error(&out, "truncated");
    fs::write(&est, &full[..full.len() / 2]).unwrap();
    let out = tool(&["report", "--criterion-dir", crit.to_str().unwrap(), "--out", out_s]);
    assert_error(&out, "estimates.json");

    assert_eq!(fs::read_to_string(out_dir.join("results.json")).unwrap(), "previous");
    assert!(!out_dir.join("summary.md").exists());
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The real suite's output (criterion files saved from a run of `benches/namespaces.rs`).
#[test]
fn report_on_the_namespace_suite_output() {
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = report(&fixture("criterion-nsbench"), dir.path());
    let b = &r["benchmarks"];
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "time", "uts"] {
        for op in ["unshare", "clone", "clone_vfork", "setns"] {
            assert!(b[format!("{op}/{kind}")]["median"].is_number(), "{op}/{kind}");
        }
        for op in ["unshare", "clone", "clone_vfork"] {
            let m = &b[format!("{op}/{kind}")]["marginal"];
            assert_eq!(m["baseline"], format!("{op}/none"));
            let expect = num(&b[format!("{op}/{kind}")]["median"]) - num(&b[format!("{op}/none")]["median"]);
            assert!((num(&m["value"]) - expect).abs() < 1e-6);
        }
    }
    let stdout = text(&out.stdout);
    for id in ["teardown/net", "scale_user/32"] {
        assert!(stdout.contains(id), "{id} missing from:\n{stdout}");
    }
    // The spawn ids are in the spawn table, one row per start method, with the 1 GiB column.
    assert!(stdout.contains("start method"), "no spawn table in:\n{stdout}");
    let nscore = stdout
        .lines()
        .find(|l| l.starts_with("nscore "))
        .unwrap_or_else(|| panic!("no nscore row in:\n{stdout}"));
    assert!(nscore.contains("×)"), "settled and 1 GiB figures in {nscore:?}");
    // scale_user/8 is listed before scale_user/16 (numeric, not string order).
    assert!(stdout.find("scale_user/8 ").unwrap() < stdout.find("scale_user/16").unwrap());
    for op in ["scale_mnt", "scale_user", "scale_net", "concurrent"] {
        check_svg(&dir.path().join(format!("scaling-{op}.svg")));
    }
    let conc = fs::read_to_string(dir.path().join("scaling-concurrent.svg")).unwrap();
    assert!(conc.contains("concurrent net") && conc.contains("concurrent uts"));
    assert!(!dir.path().join("scaling-spawn.svg").exists());
    check_svg(&dir.path().join("results.svg"));
}

#[test]
fn compare_says_when_intervals_come_from_quick_runs() {
    let dir = tempfile::tempdir().unwrap();
    report(&fixture("criterion-nsbench"), dir.path());
    let f = dir.path().join("results.json");
    let out = tool(&["compare", f.to_str().unwrap(), f.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("criterion --quick"), "{stdout}");
    assert!(stdout.contains("0 regressed, 0 improved"), "{stdout}");
}

#[test]
fn dates_and_thresholds() {
    use nsbench::report::{parse_threshold, rfc3339};
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    assert!(rfc3339(u64::MAX).ends_with("s after 1970-01-01T00:00:00Z"));
    assert_eq!(parse_threshold("10%").unwrap(), 0.10);
    assert_eq!(parse_threshold("25").unwrap(), 0.25);
    assert_eq!(parse_threshold("0.2").unwrap(), 0.2);
    assert!(parse_threshold("-5%").is_err());
    assert!(parse_threshold("ten").is_err());
}

/// Two honest full runs of the namespace suite, one after the other on one machine: quiet in
/// both directions under the default noise floor, though criterion's own intervals alone would
/// flag several ids; and with one figure made 2× slower, that figure is caught.
#[test]
fn compare_on_two_real_full_runs_of_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let (_, mut r) = report(&fixture("criterion-nsbench-full"), &a_dir);
    let (_, rb) = report(&fixture("criterion-nsbench-full-rerun"), &b_dir);
    assert_eq!(r["provenance"]["criterion"]["mode"], "full");
    assert_eq!(rb["provenance"]["criterion"]["mode"], "full");
    let (a, b) = (a_dir.join("results.json"), b_dir.join("results.json"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    for (x, y) in [(a, b), (b, a)] {
        let out = tool(&["compare", x, y]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("0 regressed"), "{stdout}");
        assert!(stdout.contains("±25%"), "{stdout}");
        // Criterion's intervals alone understate run-to-run noise: without the floor the same
        // honest pair "regresses".
        let out = tool(&["compare", x, y, "--noise-floor", "0%"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    }

    let doubled = ["unshare/mnt", "clone_vfork/net", "setns/uts"];
    for id in doubled {
        let x = &mut r["benchmarks"][id];
        for f in ["median", "lower", "upper", "mean"] {
            x[f] = serde_json::json!(num(&x[f]) * 2.0);
        }
    }
    let slow = dir.path().join("slow.json");
    write_json(&slow, &r);
    let out = tool(&["compare", b, slow.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for id in doubled {
        let line = stdout.lines().find(|l| l.starts_with(&format!("{id} "))).expect("row");
        assert!(line.contains("REGRESSED"), "{line}");
    }
    assert_eq!(stdout.matches("REGRESSED").count(), doubled.len(), "{stdout}");
}

/// `--since` keeps only what criterion wrote since then (what `scripts/bench.sh` passes, so a
/// filtered run is not mixed with older results); nothing newer is an error, not an empty report.
#[test]
fn report_since_leaves_out_older_results() {
    let dir = tempfile::tempdir().unwrap();
    let crit = dir.path().join("criterion");
    copy_dir(&fixture("criterion-nsbench"), &crit);
    let out_dir = dir.path().join("out");

    let out = tool(&[
        "report",
        "--criterion-dir",
        crit.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--since",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(all["benchmarks"].as_object().unwrap().len(), 59);

    // Far in the future: every result is older.
    let later = dir.path().join("later");
    let out = tool(&[
        "report",
        "--criterion-dir",
        crit.to_str().unwrap(),
        "--out",
        later.to_str().unwrap(),
        "--since",
        "99999999999",
    ]);
    assert_error(&out, "was written since");
    assert!(!later.join("results.json").exists());

    let out = tool(&[
        "report",
        "--criterion-dir",
        crit.to_str().unwrap(),
        "--since",
        "yesterday",
    ]);
    assert_error(&out, "seconds since the epoch");
}
