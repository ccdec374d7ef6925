//! What the integration tests of nscore share.

// each test binary uses a part of it
#![allow(dead_code)]

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use std::time::Duration;

use nscore::{raw, Redirect, Spawn};

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

/// Panics unless this process is in a user namespace other than the initial one: where a
/// helper may lower `/proc/sys/user/max_*_namespaces`, which are then that namespace's own.
pub fn assert_in_child_user_namespace() {
    let map = nscore::idmap::read_uid_map(nix::unistd::getpid()).unwrap();
    assert_ne!(
        map,
        [nscore::IdMap::new(0, 0, u32::MAX)],
        "helper must run in a child user namespace, not the initial one"
    );
}

/// `/sbin/ldconfig` (statically linked: it runs in a root that holds nothing else) copied into
/// `dir` as `name`.
pub fn copy_static_program(dir: &std::path::Path, name: &str) {
    std::fs::copy("/sbin/ldconfig", dir.join(name)).expect("copy the static ldconfig");
}

/// `spawn().output(program, args)` for a program just copied (see [`copy_static_program`]): a
/// fork-like child of another test thread, cloned while the copy was open for writing, holds
/// that fd until it exits, and exec says `ETXTBSY` meanwhile; so try again, a bounded time.
pub fn output_of_fresh_copy(spawn: impl Fn() -> Spawn, program: &str, args: &[&str]) -> nscore::Output {
    let mut tries = 0;
    loop {
        match spawn().output(program, args) {
            Err(e) if e.errno() == Some(nscore::Errno::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            r => break r.expect("run the copy in the new root"),
        }
    }
}

// ---- children for the API tests (inspect, kernel, error_paths)

/// A child in new namespaces of `kinds` that sleeps until killed (dropping it kills it).
pub fn sleeper(spawn: Spawn) -> nscore::Child {
    spawn
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .expect("spawn sleeper")
}

/// Runs `body` in a plain child (no new namespaces) and returns its exit code.
pub fn run_code(spawn: Spawn, body: impl FnMut() -> i32) -> i32 {
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let mut c = unsafe { spawn.run(body) }.expect("spawn run child");
    match c.wait_timeout(Duration::from_secs(20)).expect("wait") {
        Some(status) => status.code().expect("exited, not signaled"),
        None => panic!("child {} did not finish in 20 s (killed on drop)", c.pid()),
    }
}

/// A pipe whose write end the child uses to say "ready" (one byte) and then waits.
pub fn ready_pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
}

pub fn wait_ready(r: &OwnedFd) -> u8 {
    let mut fds = [nix::poll::PollFd::new(r.as_fd(), nix::poll::PollFlags::POLLIN)];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(n, 1, "child not ready within 20 s");
    let mut b = [0u8; 1];
    assert_eq!(
        raw::read_full(r.as_raw_fd(), &mut b).unwrap(),
        1,
        "child ended before it was ready"
    );
    b[0]
}

/// Body helper: report `code` on the pipe, then sleep until killed.
pub fn report_and_pause(w: i32, code: u8) -> ! {
    let _ = raw::write_all(w, &[code]);
    loop {
        // SAFETY: pause(2) only blocks until a signal arrives; async-signal-safe.
        unsafe {
            libc::pause();
        }
    }
}
