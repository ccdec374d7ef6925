//! Tests of `nsbench-report`'s command line: help, usage errors and bad input files, with the
//! exit status a shell expects (0 fine, 1 regression, 2 trouble).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use common::{assert_error, fixture, report, text, tool, write_json};
use std::fs;

#[test]
fn bad_results_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, r) = report(&fixture("criterion"), dir.path());
    let good = dir.path().join("results.json");
    let good_s = good.to_str().unwrap();

    let mut old = r.clone();
    old["format_version"] = 0.into();
    let older = dir.path().join("older.json");
    write_json(&older, &old);
    assert_error(&tool(&["compare", older.to_str().unwrap(), good_s]), "format_version 0");
    assert_error(
        &tool(&["export", "--format", "bmf", older.to_str().unwrap()]),
        "format_version 0",
    );
    let hist = dir.path().join("history.jsonl");
    let out = tool(&[
        "history",
        "append",
        older.to_str().unwrap(),
        "--file",
        hist.to_str().unwrap(),
    ]);
    assert_error(&out, "format_version 0");
    assert!(!hist.exists());

    let mut renamed = r.clone();
    let b = renamed["benchmarks"].as_object_mut().unwrap();
    let moved: Vec<(String, serde_json::Value)> = std::mem::take(b).into_iter().collect();
    for (k, v) in moved {
        b.insert(format!("other_{k}"), v);
    }
    let disjoint = dir.path().join("disjoint.json");
    write_json(&disjoint, &renamed);
    assert_error(
        &tool(&["compare", good_s, disjoint.to_str().unwrap()]),
        "no benchmark in common",
    );

    let cut = dir.path().join("cut.json");
    let full = fs::read_to_string(&good).unwrap();
    fs::write(&cut, &full[..full.len() / 3]).unwrap();
    assert_error(&tool(&["compare", good_s, cut.to_str().unwrap()]), "not valid JSON");
    assert_error(&tool(&["compare", good_s, "/nonexistent.json"]), "cannot read");
    assert_error(&tool(&["compare", good_s]), "NEW.json");
    assert_error(&tool(&["compare", good_s, good_s, "--threshold", "lots"]), "threshold");
    assert_error(&tool(&["frobnicate"]), "unrecognized subcommand");
}

/// `--help` for the tool and each subcommand (exit 0, on stdout); no command is a usage error
/// (exit 2), as is an unknown option.
#[test]
fn help_per_subcommand_and_usage_errors() {
    for (args, needle) in [
        (&["--help"][..], "compare"),
        (&["report", "--help"][..], "--since"),
        (&["compare", "--help"][..], "--noise-floor"),
        (&["history", "--help"][..], "append"),
        (&["history", "plot", "--help"][..], "--by"),
        (&["history", "append", "--help"][..], "--file"),
        (&["export", "--help"][..], "bmf"),
    ] {
        let out = tool(args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(
            stdout.contains("Usage:") && stdout.contains(needle),
            "{args:?}: {stdout}"
        );
    }
    for args in [&[][..], &["history"][..], &["report", "--frobnicate"][..]] {
        let out = tool(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains("Usage:"), "{args:?}");
    }
}
