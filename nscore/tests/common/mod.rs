//! What the integration tests of nscore share.

// each test binary uses a part of it
#![allow(dead_code)]

use std::io::Write as _;

/// `true` as root; otherwise prints `SKIPPED <test>: needs root: <why>` straight to stderr
/// (libtest would capture `eprintln!`) and returns `false`.
pub fn root_or_skip(test: &str, why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: needs root: {why}");
        false
    }
}

/// Runs the `--ignored` helper test `name` in a child made by `spawn`, re-executing this test
/// binary: an exec'd process whose only other thread (libtest's main) waits, so that it may
/// call nscore's allocating API in the children it makes, and make its own failing calls.
pub fn run_helper(spawn: nscore::Spawn, name: &str) -> nscore::Output {
    let exe = std::env::current_exe().unwrap();
    spawn
        .env("NSCORE_H1_HELPER", name)
        .output(&exe, [name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .unwrap()
}

/// Asserts that a helper passed and printed `marker`, showing its output otherwise.
pub fn helper_ok(out: &nscore::Output, marker: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(marker), "{stdout}");
}

/// Whether this process is the re-executed helper `name` (otherwise says it skips).
pub fn is_helper(name: &str) -> bool {
    if std::env::var_os("NSCORE_H1_HELPER").is_some_and(|v| v == name) {
        true
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {name}: runs only re-executed by its test, in a child process"
        );
        false
    }
}
