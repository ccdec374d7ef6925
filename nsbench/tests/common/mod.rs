//! What the tests of `nsbench-report` share: the fixtures, running the binary as a user would,
//! and checking a clean failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A saved criterion directory under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs `nsbench-report` with `args` (defaults under target/, not `$CARGO_TARGET_DIR`).
pub fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsbench-report"))
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run nsbench-report")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a clean failure: exit status 2, a message, no panic.
pub fn assert_error(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        text(&out.stdout)
    );
    assert!(err.contains("error"), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs `report` on a fixture into `dir` and returns the parsed results.json.
pub fn report(criterion: &Path, dir: &Path) -> (Output, serde_json::Value) {
    let out = tool(&[
        "report",
        "--criterion-dir",
        criterion.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "report failed: {}", text(&out.stderr));
    let json = fs::read_to_string(dir.join("results.json")).unwrap();
    (out, serde_json::from_str(&json).unwrap())
}

/// Writes `v` as pretty JSON to `path`.
pub fn write_json(path: &Path, v: &serde_json::Value) {
    fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}
