//! `nswall-faults`: proof that the isolation suite fails, cleanly, when the kernel lies.
//!
//! For every namespace kind it runs that kind's test binary of `nstests` (each run inside its
//! own wall, which reads `NSWALL_FAULT`) once without a fault and once under each of:
//!
//! - `<kind>:lie`: `unshare`/`setns` with the kind's bit return 0 and do nothing. Every test
//!   case of the `unshare` mode (`…::case_N_unshare`) must FAIL.
//! - `<kind>:<errno>` (`EPERM` unless `--errno` says otherwise): they fail with that errno.
//!   Every `unshare` case must fail.
//! - `clone3:ENOSYS`: every `clone3(2)` fails (a filter cannot see its flags). Every `clone`
//!   case (`…::case_N_clone`) must fail.
//!
//! and `lifecycle` and `lifecycle_errors` without a fault, under every kind's lie at once and
//! under `clone3:ENOSYS`.
//! Every other test may pass or fail (cleanly). Every run must: have the fault installed
//! (the wall says so on stderr), end before the timeout, stay under `--max-tasks` tasks at
//! once (the wall's cgroup bounds them anyway), leave no process behind, and leave the host
//! (hostname, domain name, mounts, interfaces, IPC objects, message queues, namespace limits)
//! as it was. A failure that came only when nstests' child timeout killed the child is named
//! (`~~`), and counts as a failure with `--fail-slow`. It prints one line per run and exits
//! non-zero when any check failed.
//!
//! ```text
//! nswall-faults [--timeout SECS] [--errno NAME] [--kinds uts,pid,...] [--max-tasks N]
//!               [--fail-slow] [--logs DIR] [TEST-BINARY...]
//! ```
//!
//! Without test binaries it builds them (`cargo test -p nstests --tests --no-run`). Run it as
//! root on the host, as CI does: `scripts/faults.sh`.

mod host;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use run::Verdict;

/// The kinds, in the order their files are run, and the binaries with tests of all kinds.
const KINDS: [&str; 8] = ["uts", "ipc", "net", "pid", "mnt", "user", "time", "cgroup"];
const LIFECYCLE: [&str; 2] = ["lifecycle", "lifecycle_errors"];
/// The second-round files of a kind's depth items, run under that kind's faults too.
const MORE: [(&str, &[&str]); 5] = [
    ("ipc", &["ipc_lifetime"]),
    ("net", &["net_reach"]),
    ("pid", &["pid_containment", "pid_entry"]),
    ("time", &["time_entry"]),
    ("user", &["user_caps", "user_maps"]),
];

/// Options of the command line.
struct Options {
    timeout: Duration,
    errno: String,
    kinds: Vec<String>,
    max_tasks: u64,
    fail_slow: bool,
    logs: PathBuf,
    bins: Vec<PathBuf>,
}

/// One planned run: a binary under a fault, and which of its tests must fail.
struct Plan {
    file: String,
    fault: String,
    /// The fault as the table shows it.
    label: String,
    /// The mode whose cases must fail (`unshare` or `clone`); `None`: none must.
    must_fail: Option<&'static str>,
}

fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nswall-faults: {e}");
            return ExitCode::from(2);
        }
    };
    match main_with(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("nswall-faults: {e}");
            ExitCode::from(2)
        }
    }
}

fn main_with(opts: &Options) -> Result<bool, String> {
    if std::env::var(nswall::SWITCH_VAR).as_deref() == Ok("off") {
        return Err("NSWALL=off: fault-injected runs happen only inside the wall".to_owned());
    }
    let bins = if opts.bins.is_empty() {
        build()?
    } else {
        named(&opts.bins)?
    };
    std::fs::create_dir_all(&opts.logs).map_err(|e| format!("{}: {e}", opts.logs.display()))?;
    let plans = plan(opts, &bins)?;
    println!(
        "nswall-faults: uid {}, {} runs, timeout {}s each, logs in {}",
        nix::unistd::getuid(),
        plans.len(),
        opts.timeout.as_secs(),
        opts.logs.display()
    );
    let host_before = host::Snapshot::take();
    let procs_before = host::process_count();
    println!("host before:\n{host_before}  processes: {procs_before}");
    println!(
        "\n{:<16} {:<22} {:>6} {:>7} {:>6} {:>15} {:>6} {:>7}  result",
        "binary", "fault", "must", "failed", "PASSED", "others ok/fail", "tasks", "time"
    );
    let mut baselines: BTreeMap<String, BTreeMap<String, Verdict>> = BTreeMap::new();
    let (mut good, mut bad, mut slow) = (0, 0, 0);
    for p in &plans {
        let bin = &bins[&p.file];
        let names = run::list(bin)?;
        let tag =
            format!("{}-{}", p.file, if p.fault.is_empty() { "none" } else { &p.fault }).replace([':', ',', '+'], "_");
        let before = host::Snapshot::take();
        let r = run::run(bin, &p.fault, opts.timeout, &opts.logs, &tag)?;
        let changes = host::Snapshot::take().changes_since(&before);
        let base = baselines.get(&p.file);
        let j = judge(opts, p, &names, &r, base, &changes);
        if p.fault.is_empty() {
            baselines.insert(p.file.clone(), r.tests.clone());
        }
        let tasks = r.peak_tasks.map_or("-".to_owned(), |n| n.to_string());
        let must = |n: usize| {
            if p.must_fail.is_some() {
                n.to_string()
            } else {
                "-".to_owned()
            }
        };
        println!(
            "{:<16} {:<22} {:>6} {:>7} {:>6} {:>15} {:>6} {:>6.1}s  {}",
            p.file,
            if p.label.is_empty() { "none" } else { &p.label },
            must(j.must),
            must(j.failed_as_expected),
            must(j.unexpected_passes.len()),
            format!("{}/{}{}", j.others_ok, j.others_failed, j.new_failures_note()),
            tasks,
            r.took.as_secs_f64(),
            if j.problems.is_empty() {
                "ok".to_owned()
            } else {
                "FAILED".to_owned()
            }
        );
        for problem in &j.problems {
            println!("    !! {problem}");
        }
        if !r.slow.is_empty() && !opts.fail_slow {
            slow += r.slow.len();
            let names: Vec<&str> = r.slow.iter().map(String::as_str).collect();
            println!(
                "    ~~ failed only when nstests' child timeout killed the child: {}",
                names.join(", ")
            );
        }
        if j.problems.is_empty() {
            good += 1;
        } else {
            bad += 1;
            println!("    (output: {} and .err)", r.log.display());
        }
    }
    let host_after = host::Snapshot::take();
    let changes = host_after.changes_since(&host_before);
    println!(
        "\nhost after:\n{host_after}  processes: {} (before: {procs_before}; the machine's other work counts too)",
        host::process_count()
    );
    if changes.is_empty() {
        println!("host unchanged (hostname, domain name, mounts, interfaces, IPC objects, message queues, limits)");
    } else {
        bad += 1;
        println!("!! the host changed during the runs:");
        for c in &changes {
            println!("    {c}");
        }
    }
    if slow > 0 {
        println!(
            "~~ {slow} test failures waited for nstests' child timeout instead of failing at once \
             (a test that does not expect the refusal it got; see the ~~ lines)"
        );
    }
    println!("faults: {good} passed, {bad} failed");
    Ok(bad == 0)
}

/// The runs: per kind, none, lie, errno and clone3; the `lifecycle` files with all lies and
/// clone3.
fn plan(opts: &Options, bins: &BTreeMap<String, PathBuf>) -> Result<Vec<Plan>, String> {
    let mut plans = Vec::new();
    for kind in &opts.kinds {
        if !bins.contains_key(kind) {
            return Err(format!("no test binary for kind {kind}"));
        }
        let more = MORE.iter().find(|(k, _)| k == kind).map_or(&[][..], |(_, f)| *f);
        let files = std::iter::once(kind.as_str()).chain(more.iter().copied().filter(|f| bins.contains_key(*f)));
        for file in files {
            let p = |fault: String, must_fail| Plan {
                file: file.to_owned(),
                label: fault.clone(),
                fault,
                must_fail,
            };
            plans.push(p(String::new(), None));
            plans.push(p(format!("{kind}:lie"), Some("unshare")));
            plans.push(p(format!("{kind}:{}", opts.errno), Some("unshare")));
            plans.push(p("clone3:ENOSYS".to_owned(), Some("clone")));
        }
    }
    let all_lies: Vec<String> = opts.kinds.iter().map(|k| format!("{k}:lie")).collect();
    for file in LIFECYCLE.iter().filter(|f| bins.contains_key(**f)) {
        for (fault, label) in [
            (String::new(), ""),
            (all_lies.join(","), "every kind:lie"),
            ("clone3:ENOSYS".to_owned(), "clone3:ENOSYS"),
        ] {
            plans.push(Plan {
                file: (*file).to_owned(),
                fault,
                label: label.to_owned(),
                must_fail: None,
            });
        }
    }
    // every fault must parse before anything runs
    for p in &plans {
        nswall::fault::parse(&p.fault).map_err(|e| format!("{}: {e}", p.fault))?;
    }
    Ok(plans)
}

/// What one run proved, and what went wrong.
struct Judgement {
    must: usize,
    failed_as_expected: usize,
    unexpected_passes: Vec<String>,
    others_ok: usize,
    others_failed: usize,
    new_failures: usize,
    problems: Vec<String>,
}

impl Judgement {
    fn new_failures_note(&self) -> String {
        if self.new_failures > 0 {
            format!(" ({} new)", self.new_failures)
        } else {
            String::new()
        }
    }
}

/// Whether test `name` is a case of `mode` (`…::case_3_unshare`).
fn is_case_of(name: &str, mode: &str) -> bool {
    let last = name.rsplit("::").next().unwrap_or(name);
    last.strip_prefix("case_")
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(n, m)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && m == mode)
}

fn judge(
    opts: &Options,
    p: &Plan,
    names: &[String],
    r: &run::Run,
    base: Option<&BTreeMap<String, Verdict>>,
    host_changes: &[String],
) -> Judgement {
    let mut j = Judgement {
        must: 0,
        failed_as_expected: 0,
        unexpected_passes: Vec::new(),
        others_ok: 0,
        others_failed: 0,
        new_failures: 0,
        problems: Vec::new(),
    };
    let mut unreported = Vec::new();
    for name in names {
        let verdict = r.tests.get(name).copied();
        if p.must_fail.is_some_and(|m| is_case_of(name, m)) {
            j.must += 1;
            match verdict {
                Some(Verdict::Failed) => j.failed_as_expected += 1,
                Some(Verdict::Passed) => j.unexpected_passes.push(name.clone()),
                Some(Verdict::Ignored) => unreported.push(format!("{name} (ignored)")),
                None => unreported.push(name.clone()),
            }
        } else {
            match verdict {
                Some(Verdict::Passed) => j.others_ok += 1,
                Some(Verdict::Failed) => {
                    j.others_failed += 1;
                    if base.and_then(|b| b.get(name)) == Some(&Verdict::Passed) {
                        j.new_failures += 1;
                    }
                }
                Some(Verdict::Ignored) => {}
                None if !r.hung => unreported.push(name.clone()),
                None => {}
            }
        }
    }
    if !p.fault.is_empty() && !r.stderr.contains("nswall: fault injected:") {
        j.problems.push(format!(
            "the wall did not say it injected {}; its stderr ends: {}",
            p.fault,
            tail(&r.stderr)
        ));
    }
    if let Some(mode) = p.must_fail {
        // a kind's own file must have cases of the mode; a depth file may have none of it
        if j.must == 0 && KINDS.contains(&p.file.as_str()) {
            j.problems
                .push(format!("no `{mode}` case in {}: the fault proves nothing", p.file));
        }
    }
    for t in &j.unexpected_passes {
        j.problems.push(format!("PASSED although the kernel lied: {t}"));
    }
    if r.hung {
        j.problems
            .push(format!("hung: killed after {}s", opts.timeout.as_secs()));
    } else if !unreported.is_empty() {
        j.problems
            .push(format!("not reported (code {:?}): {}", r.code, unreported.join(", ")));
    }
    if r.tests.is_empty() && !r.hung {
        j.problems
            .push(format!("no test ran (exit code {:?}): {}", r.code, tail(&r.stderr)));
    }
    if let Some(n) = r.peak_tasks.filter(|n| *n > opts.max_tasks) {
        j.problems.push(format!(
            "ran away: {n} tasks at once (over --max-tasks {}; the wall's cgroup held it)",
            opts.max_tasks
        ));
    }
    if opts.fail_slow && !r.slow.is_empty() {
        let names: Vec<&str> = r.slow.iter().map(String::as_str).collect();
        j.problems.push(format!(
            "failed only when nstests' child timeout killed the child (--fail-slow): {}",
            names.join(", ")
        ));
    }
    if !r.left.is_empty() {
        j.problems.push(format!("processes left behind: {:?}", r.left));
    }
    for c in host_changes {
        j.problems.push(format!("the host changed: {c}"));
    }
    j
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Builds the test binaries of `nstests`; returns them by file name (`uts`, ...).
fn build() -> Result<BTreeMap<String, PathBuf>, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("nswall-faults: building the test binaries of nstests");
    let out = Command::new(cargo)
        .args([
            "test",
            "-p",
            "nstests",
            "--tests",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&workspace)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo test --no-run: {}", out.status));
    }
    let bins: BTreeMap<String, PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#) && l.contains(r#""kind":["test"]"#))
        .filter_map(|l| Some((json_str(l, "name")?, PathBuf::from(json_str(l, "executable")?))))
        .collect();
    if bins.is_empty() {
        return Err("cargo built no test binary of nstests".to_owned());
    }
    Ok(bins)
}

/// The first string value of `"key":"..."` in a line of cargo's JSON (paths and target names
/// have no quotes or escapes).
fn json_str(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_owned())
}

/// Test binaries given by path: `target/debug/deps/uts-0123abcd` is `uts`.
fn named(paths: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>, String> {
    paths
        .iter()
        .map(|p| {
            let stem = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let name = stem.rsplit_once('-').map_or(stem, |(n, _)| n);
            if name.is_empty() || !p.is_file() {
                Err(format!("not a test binary: {}", p.display()))
            } else {
                Ok((name.to_owned(), p.clone()))
            }
        })
        .collect()
}

fn options() -> Result<Options, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut o = Options {
        timeout: Duration::from_secs(120),
        errno: "EPERM".to_owned(),
        kinds: KINDS.map(str::to_owned).to_vec(),
        max_tasks: 300,
        fail_slow: false,
        logs: workspace.join("target").join("nswall-faults"),
        bins: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--timeout" => o.timeout = Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout: {e}"))?),
            "--errno" => o.errno = value()?,
            "--kinds" => o.kinds = value()?.split(',').map(str::to_owned).collect(),
            "--max-tasks" => o.max_tasks = value()?.parse().map_err(|e| format!("--max-tasks: {e}"))?,
            "--logs" => o.logs = PathBuf::from(value()?),
            "--fail-slow" => o.fail_slow = true,
            "-h" | "--help" => {
                return Err(
                    "usage: nswall-faults [--timeout SECS] [--errno NAME] [--kinds uts,pid,...] \
                            [--max-tasks N] [--fail-slow] [--logs DIR] [TEST-BINARY...]"
                        .to_owned(),
                )
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s} (see --help)")),
            path => o.bins.push(PathBuf::from(path)),
        }
    }
    for k in &o.kinds {
        if !KINDS.contains(&k.as_str()) {
            return Err(format!("unknown kind {k}: expected some of {}", KINDS.join(",")));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_of_a_mode_are_told_apart() {
        assert!(is_case_of("h1_x::case_3_unshare", "unshare"));
        assert!(is_case_of("h4_x::case_2_unshare", "unshare"));
        assert!(is_case_of("h4_x::case_1_clone", "clone"));
        assert!(!is_case_of("h4_x::case_1_clone", "unshare"));
        assert!(!is_case_of("p5_nesting_stops_at_kernel_depth", "unshare"));
        assert!(!is_case_of("l2::case_3_unshare_twice", "unshare"));
        assert!(!is_case_of("l2::case__unshare", "unshare"));
    }

    #[test]
    fn cargo_json_fields() {
        let l = r#"{"reason":"compiler-artifact","target":{"kind":["test"],"name":"uts","src_path":"/w/uts.rs"},"executable":"/w/target/debug/deps/uts-0923"}"#;
        assert_eq!(json_str(l, "name").as_deref(), Some("uts"));
        assert_eq!(
            json_str(l, "executable").as_deref(),
            Some("/w/target/debug/deps/uts-0923")
        );
        assert_eq!(json_str(l, "nothing"), None);
    }
}
