//! Reads what a libtest binary printed: the `test <name> ... ok|FAILED|ignored` lines and the
//! failure sections on stdout, and the `SKIPPED <test>: <why>` lines the workspace's tests print
//! on stderr (a test that could not run returns early, and libtest counts it as passed).

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Returned early after a `SKIPPED` line (the reason), or `#[ignore]`d.
    Skip(String),
    /// Failed (the panic message and the test's output, or why the binary did not finish).
    Fail(String),
}

impl Outcome {
    /// `pass`, `skip` or `fail`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Skip(_) => "skip",
            Outcome::Fail(_) => "fail",
        }
    }
}

/// One test of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The binary's label (`nstests.uts`).
    pub binary: String,
    /// libtest's name (`h5_id_of_new_namespace::case_1_unshare`).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl TestResult {
    /// `binary::name`, unique over the matrix.
    pub fn id(&self) -> String {
        format!("{}::{}", self.binary, self.name)
    }
}

/// Whether a `SKIPPED` line's test name names this libtest test: the same name, its last
/// segments, or one of its segments (a case of a parametrised test prints its function's name).
fn names(libtest: &str, skipped: &str) -> bool {
    libtest == skipped || libtest.ends_with(&format!("::{skipped}")) || libtest.split("::").any(|seg| seg == skipped)
}

/// The `---- <name> stdout ----` section of a failed test, up to 30 lines.
fn failure_text(stdout: &str, name: &str) -> String {
    let head = format!("---- {name} stdout ----");
    let mut lines = stdout.lines().skip_while(|l| l.trim() != head);
    if lines.next().is_none() {
        return String::from("failed (no output section)");
    }
    let body: Vec<&str> = lines
        .take_while(|l| !l.starts_with("---- ") && l.trim() != "failures:")
        .collect();
    let body: Vec<&str> = body.into_iter().filter(|l| !l.trim().is_empty()).take(30).collect();
    body.join("\n")
}

/// Parses one binary's run. `code` is its exit status (`None`: unknown). A binary that did not
/// end with libtest's `test result:` line (it crashed, or the guest's timeout killed it) gets
/// one failed test named after the binary, with the end of its stderr.
pub fn parse(binary: &str, stdout: &str, stderr: &str, code: Option<i32>) -> Vec<TestResult> {
    let skips: Vec<(&str, &str)> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("SKIPPED "))
        .filter_map(|l| l.split_once(": "))
        .collect();
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.split_once(" ... ") else {
            continue;
        };
        let name = name.trim().to_owned();
        let result = result.trim();
        let outcome = if result == "ok" {
            match skips.iter().find(|(t, _)| names(&name, t)) {
                Some((_, why)) => Outcome::Skip(why.to_string()),
                None => Outcome::Pass,
            }
        } else if result == "FAILED" {
            Outcome::Fail(failure_text(stdout, &name))
        } else if let Some(why) = result.strip_prefix("ignored") {
            let why = why.trim_start_matches(", ").trim();
            Outcome::Skip(if why.is_empty() {
                "#[ignore]".into()
            } else {
                format!("#[ignore] {why}")
            })
        } else {
            continue;
        };
        out.push(TestResult {
            binary: binary.to_owned(),
            name,
            outcome,
        });
    }
    let finished = stdout.lines().any(|l| l.starts_with("test result:"));
    let failed_any = out.iter().any(|t| matches!(t.outcome, Outcome::Fail(_)));
    if !finished || (code.unwrap_or(0) != 0 && !failed_any) {
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let how = match code {
            Some(124) | Some(137) | Some(143) => {
                format!("killed (exit code {}; the run's timeout?)", code.unwrap_or(0))
            }
            Some(c) => format!("exit code {c}"),
            None => "no exit code".into(),
        };
        let msg = format!(
            "the binary did not finish: {how}; {} tests reported\n{}",
            out.len(),
            tail.join("\n")
        );
        out.push(TestResult {
            binary: binary.to_owned(),
            name: "(binary)".into(),
            outcome: Outcome::Fail(msg),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "\nrunning 4 tests\ntest a::one ... ok\ntest b::two::case_1 ... ok\ntest c ... FAILED\ntest d ... ignored, slow\n\nfailures:\n\n---- c stdout ----\nthread 'c' panicked at x.rs:1:1:\nNS_GET_ID: ENOTTY\n\nfailures:\n    c\n\ntest result: FAILED. 2 passed; 1 failed; 1 ignored\n";

    #[test]
    fn reads_outcomes_skips_and_failures() {
        let r = parse("x", OUT, "SKIPPED two: no veth\n", Some(101));
        let w: Vec<(&str, &str)> = r.iter().map(|t| (t.name.as_str(), t.outcome.word())).collect();
        assert_eq!(
            w,
            [
                ("a::one", "pass"),
                ("b::two::case_1", "skip"),
                ("c", "fail"),
                ("d", "skip")
            ]
        );
        assert_eq!(r[1].outcome, Outcome::Skip("no veth".into()));
        let Outcome::Fail(m) = &r[2].outcome else { panic!() };
        assert!(m.contains("NS_GET_ID: ENOTTY"), "{m}");
        assert_eq!(r[3].outcome, Outcome::Skip("#[ignore] slow".into()));
    }

    #[test]
    fn a_binary_that_did_not_finish_fails() {
        let r = parse("x", "running 2 tests\ntest a ... ok\n", "boom\n", Some(137));
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].name, "(binary)");
        let Outcome::Fail(m) = &r[1].outcome else { panic!() };
        assert!(m.contains("killed") && m.contains("boom"), "{m}");
    }
}
