//! One run of one test binary: started with a fault in its environment, bounded by a timeout,
//! watched for its process count, checked for processes left behind, and its libtest report
//! read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The environment variable that marks every process of one run (inherited by all of them),
/// so that processes left behind can be found, whoever their parent became.
const MARK_VAR: &str = "NSWALL_FAULTS_RUN";

/// What a test reported: libtest's word for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `ok`.
    Passed,
    /// `FAILED`.
    Failed,
    /// `ignored`.
    Ignored,
}

/// How one run went.
#[derive(Debug)]
pub struct Run {
    /// Each test's verdict, by name; a test the binary never reported is absent.
    pub tests: BTreeMap<String, Verdict>,
    /// Failed tests whose child was killed at nstests' child timeout: they failed, but only
    /// after waiting for it, not at once.
    pub slow: BTreeSet<String>,
    /// The test binary's exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Killed at the timeout.
    pub hung: bool,
    /// Most tasks at once in the wall's cgroup (`None`: not found, e.g. without cgroups).
    pub peak_tasks: Option<u64>,
    /// Processes of the run still alive after it ended (pids).
    pub left: Vec<i32>,
    /// Wall-clock time of the run.
    pub took: Duration,
    /// The stderr of the binary (where the wall says which fault it injected).
    pub stderr: String,
    /// Where stdout and stderr were kept.
    pub log: PathBuf,
}

/// The names of the tests of `bin` (`<bin> --list`, inside the wall, without a fault).
pub fn list(bin: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(bin)
        .args(["--list", "--format", "terse"])
        .env_remove(nswall::fault::FAULT_VAR)
        .env_remove(nswall::INSIDE_VAR)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --list: {}: {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// Runs `bin` with `NSWALL_FAULT=fault` (none when empty), killing it after `timeout`; the
/// output goes to `<logs>/<tag>.out` and `.err`.
pub fn run(bin: &Path, fault: &str, timeout: Duration, logs: &Path, tag: &str) -> Result<Run, String> {
    let out_path = logs.join(format!("{tag}.out"));
    let err_path = logs.join(format!("{tag}.err"));
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mark = format!("{}-{tag}", std::process::id());
    let mut cmd = Command::new(bin);
    cmd.env(MARK_VAR, &mark)
        // a run inside another wall must still build its own, or the fault would not be read
        .env_remove(nswall::INSIDE_VAR)
        .env_remove(nswall::SWITCH_VAR)
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?);
    if fault.is_empty() {
        cmd.env_remove(nswall::fault::FAULT_VAR);
    } else {
        cmd.env(nswall::fault::FAULT_VAR, fault);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let (status, hung, peak_tasks) = watch(&mut child, timeout)?;
    let took = start.elapsed();
    let left = left_behind(&mark);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    Ok(Run {
        tests: parse_report(&stdout),
        slow: killed_at_child_timeout(&stdout),
        code: status.code(),
        hung,
        peak_tasks,
        left,
        took,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        log: out_path,
    })
}

/// Waits for `child` until `timeout`, sampling the task count of the wall's cgroup; at the
/// timeout sends `SIGTERM` (the wall turns it into a `SIGKILL` of its whole tree), and
/// `SIGKILL` five seconds later.
fn watch(child: &mut Child, timeout: Duration) -> Result<(std::process::ExitStatus, bool, Option<u64>), String> {
    let start = Instant::now();
    let pid = Pid::from_raw(child.id() as i32);
    let mut tasks_file: Option<PathBuf> = None;
    let mut peak: Option<u64> = None;
    let mut hung = false;
    let mut term_at: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            return Ok((status, hung, peak));
        }
        if tasks_file.is_none() {
            tasks_file = wall_tasks_file(child.id());
        }
        if let Some(n) = tasks_file.as_deref().and_then(read_u64) {
            peak = Some(peak.map_or(n, |p| p.max(n)));
        }
        match term_at {
            None if start.elapsed() > timeout => {
                hung = true;
                term_at = Some(Instant::now());
                let _ = kill(pid, Signal::SIGTERM);
            }
            Some(t) if t.elapsed() > Duration::from_secs(5) => {
                let _ = kill(pid, Signal::SIGKILL);
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `pids.current` file of the wall's cgroup: the cgroup of the wall's init (the outer
/// process leaves the cgroup once the init is forked).
fn wall_tasks_file(outer: u32) -> Option<PathBuf> {
    let children = std::fs::read_to_string(format!("/proc/{outer}/task/{outer}/children")).ok()?;
    let init = children.split_whitespace().next()?;
    let cgroups = std::fs::read_to_string(format!("/proc/{init}/cgroup")).ok()?;
    for line in cgroups.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let path = path.trim_start_matches('/');
        let candidates: Vec<PathBuf> = if controllers.split(',').any(|c| c == "pids") {
            vec![Path::new("/sys/fs/cgroup/pids").join(path)]
        } else if controllers.is_empty() {
            vec![
                Path::new("/sys/fs/cgroup/unified").join(path),
                Path::new("/sys/fs/cgroup").join(path),
            ]
        } else {
            continue;
        };
        if let Some(file) = candidates
            .into_iter()
            .map(|d| d.join("pids.current"))
            .find(|f| f.is_file() && f.to_string_lossy().contains("nswall-"))
        {
            return Some(file);
        }
    }
    None
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Pids of processes whose environment carries `mark`, after giving the kernel up to five
/// seconds to finish killing the wall's tree.
fn left_behind(mark: &str) -> Vec<i32> {
    let needle = format!("{MARK_VAR}={mark}\0");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = marked(needle.as_bytes());
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose `/proc/<pid>/environ` holds `needle` (zombies have an empty environ and
/// are not counted: they hold no resource but their pid, and their parent reaps them).
fn marked(needle: &[u8]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The verdicts in libtest's report: lines `test <name> ... ok|FAILED|ignored`.
pub fn parse_report(stdout: &str) -> BTreeMap<String, Verdict> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, result) = l.strip_prefix("test ")?.split_once(" ... ")?;
            let verdict = match result.trim() {
                "ok" => Verdict::Passed,
                "FAILED" => Verdict::Failed,
                r if r.starts_with("ignored") => Verdict::Ignored,
                _ => return None,
            };
            Some((name.to_owned(), verdict))
        })
        .collect()
}

/// What `nstests::run_spawn` panics with when a child outlived `nstests::CHILD_TIMEOUT`.
const CHILD_TIMEOUT_PANIC: &str = "did not finish within";

/// The failed tests whose captured output (libtest's `---- <name> stdout ----` sections) says
/// their child was killed at the child timeout.
pub fn killed_at_child_timeout(stdout: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut current: Option<&str> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----")) {
            current = Some(name);
        } else if line == "failures:" || line == "successes:" {
            current = None;
        } else if let Some(name) = current.filter(|_| line.contains(CHILD_TIMEOUT_PANIC)) {
            found.insert(name.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_are_read_and_noise_is_not() {
        let out = "\nrunning 3 tests\n\
                   test a::case_1_none ... ok\n\
                   test a::case_3_unshare ... FAILED\n\
                   test b ... ignored, needs root\n\
                   test c has been running for over 60 seconds\n\
                   test result: FAILED. 1 passed; 1 failed\n";
        let r = parse_report(out);
        assert_eq!(r.len(), 3);
        assert_eq!(r["a::case_1_none"], Verdict::Passed);
        assert_eq!(r["a::case_3_unshare"], Verdict::Failed);
        assert_eq!(r["b"], Verdict::Ignored);
    }

    #[test]
    fn failures_at_the_child_timeout_are_found() {
        let out = "failures:\n\n---- a::case_3_unshare stdout ----\n\
                   thread 'a' panicked at nstests/src/lib.rs:272:13:\n\
                   child 12 did not finish within 20s; killed\n\n\
                   ---- b stdout ----\nassertion failed\n\n\
                   failures:\n    a::case_3_unshare\n    b\n";
        let slow = killed_at_child_timeout(out);
        assert_eq!(
            slow.into_iter().collect::<Vec<_>>(),
            vec!["a::case_3_unshare".to_owned()]
        );
    }
}
