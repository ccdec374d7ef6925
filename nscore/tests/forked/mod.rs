//! A runner for the test binaries of nscore that run without libtest (`harness = false`).
//!
//! libtest runs every test on a thread of its own, so a test process is always multithreaded;
//! but the kernel lets only a single-threaded caller join a user namespace, and some of
//! nscore's behaviour (its error hints) depends on how many threads the caller has. Such
//! tests are plain functions run by [`run`]: each in a child forked from the single-threaded
//! `main`, where it may change its own namespaces and credentials without touching the test
//! process, and where nothing needs to be async-signal-safe (a fork of a single-threaded
//! process is a whole process).

#![allow(dead_code)] // each test binary uses a part of it

use std::io::Write as _;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

/// A named check: it passes unless it panics.
pub type Check = (&'static str, fn());

/// How long one check may run before `SIGALRM` ends it (a failure, not a hang).
const CHECK_SECONDS: u32 = 60;

/// The checks the command line selects, as libtest reads it: free arguments are filters
/// (substrings, or whole names with `--exact`), `--skip NAME` leaves out matching checks,
/// and other flags (with their values) are accepted and ignored.
fn select<'a>(checks: &'a [Check], args: &[String]) -> Vec<&'a Check> {
    const WITH_VALUE: [&str; 6] = [
        "--test-threads",
        "--format",
        "--color",
        "--logfile",
        "-Z",
        "--shuffle-seed",
    ];
    let (mut filters, mut skips, mut exact) = (Vec::new(), Vec::new(), false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--skip" {
            skips.extend(it.next().cloned());
        } else if let Some(v) = a.strip_prefix("--skip=") {
            skips.push(v.to_owned());
        } else if a == "--exact" {
            exact = true;
        } else if WITH_VALUE.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
    }
    let matches = |name: &str, pattern: &String| {
        if exact {
            name == pattern
        } else {
            name.contains(pattern.as_str())
        }
    };
    checks
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| matches(name, f)))
        .filter(|(name, _)| !skips.iter().any(|s| matches(name, s)))
        .collect()
}

/// Runs the `checks` the command line selects (see [`select`]), each in its own forked
/// child, prints `test <name> ... ok` or `FAILED` as libtest does, and exits with 1 if any
/// failed. `--list` lists them (`<name>: test`).
pub fn run(checks: &[Check]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let chosen = select(checks, &args);
    if args.iter().any(|a| a == "--list") {
        for (name, _) in chosen {
            println!("{name}: test");
        }
        std::process::exit(0);
    }
    let threads = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
    });
    assert_eq!(threads, Some(1), "the checks must fork from a single-threaded main");
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    let mut ran = 0usize;
    for (name, check) in chosen {
        let _ = std::io::stdout().flush();
        // SAFETY: main has one thread (asserted above), so the child is a whole process.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                // SAFETY: alarm(2) only arms a timer; its default action ends the process.
                unsafe { libc::alarm(CHECK_SECONDS) };
                let ok = std::panic::catch_unwind(check).is_ok();
                let _ = std::io::stdout().flush();
                // SAFETY: _exit ends the forked child at once, without running the parent's
                // exit handlers twice.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            Ok(ForkResult::Parent { child }) => {
                let status = loop {
                    match waitpid(child, None) {
                        Err(nix::errno::Errno::EINTR) => continue,
                        other => break other,
                    }
                };
                ran += 1;
                if matches!(status, Ok(WaitStatus::Exited(_, 0))) {
                    println!("test {name} ... ok");
                } else {
                    println!("test {name} ... FAILED ({status:?})");
                    failed.push(*name);
                }
            }
            Err(e) => panic!("fork for {name}: {e}"),
        }
    }
    // libtest's closing line, which CI and the kernel matrix read
    let counts = format!(
        "{} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
        ran - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        println!("\ntest result: ok. {counts}\n");
        std::process::exit(0);
    }
    println!("\nfailures: {}\n\ntest result: FAILED. {counts}\n", failed.join(", "));
    std::process::exit(1)
}

/// Becomes uid and gid 65534 with no supplementary groups: every capability is dropped, as
/// for any unprivileged process. Needs root. The process is made dumpable again (a change
/// of uid clears that), so that its `/proc/[pid]` files belong to it as they would to a
/// process started as 65534: its children can write their own id maps.
pub fn become_nobody() {
    nix::unistd::setgroups(&[]).expect("setgroups([])");
    let nobody_g = nix::unistd::Gid::from_raw(65534);
    let nobody_u = nix::unistd::Uid::from_raw(65534);
    nix::unistd::setresgid(nobody_g, nobody_g, nobody_g).expect("setresgid(65534)");
    nix::unistd::setresuid(nobody_u, nobody_u, nobody_u).expect("setresuid(65534)");
    nix::sys::prctl::set_dumpable(true).expect("prctl(PR_SET_DUMPABLE, 1)");
}

/// Clears every capability set of this process (single-threaded) while it stays uid 0: root
/// without privilege, the caller nsenter's second pass is for.
pub fn drop_all_capabilities() {
    nswall::drop_capabilities().expect("capset(2) to no capability");
}
