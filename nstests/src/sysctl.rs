//! Per-namespace sysctls: the one check that IPC and network sysctls (and any other kind's)
//! written in a new namespace are seen there and nowhere else.
//!
//! [`check_per_namespace`] runs in the test thread; its child bodies are async-signal-safe
//! (the paths are made and the buffers sized before the spawn).

use std::ffi::CString;

use nscore::{raw, KindSet, Spawn};

use crate::child::{enter, fork_with, kinds_for, pipe, signal, wait, wait_ready, write_file};
use crate::{cstr, read_small, run_spawn, Mode, Outcome, Probe};

/// The most sysctls one check takes (report keys `c0`..`c9`, `p0`..`p9`).
pub const MAX_SYSCTLS: usize = 10;

/// Reads a sysctl file in the test process (nothing is written here), trimmed.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_owned()
}

/// Checks that the sysctls `sysctls` (`(file under /proc/sys, value)` pairs) are per
/// namespace of `kinds`, and returns what the children reported for further checks.
///
/// A child of `scratch` (the "parent" side; it should have new namespaces of `kinds`, so that
/// nothing is written in the host's) makes a grandchild in `mode` ([`kinds_for`] and
/// [`enter`] with `kinds`). The grandchild writes every value, runs `inside` (an extra step;
/// `false` fails the check), reports the values it reads (`c<i>=value` lines) and calls
/// `report(p, b'c')`, then waits while the scratch child reports the values it reads
/// (`p<i>=value`) and calls `report(p, b'p')`. `inside` and `report` run in the children:
/// they must be async-signal-safe (see Safety).
///
/// Asserts that the grandchild exited with 0, that it sees the values it wrote, that the
/// scratch child sees other values when `mode` isolates and the same ones in the `none`
/// control, and that the host's values are the same after the check as before.
///
/// # Safety
/// As for [`crate::run_spawn`]: `inside` and `report` run in fork-like children of the
/// multithreaded test process, so they must only do async-signal-safe work (system calls on
/// memory made before the spawn; no allocation, no lock, no panic) and close only fds they own.
pub unsafe fn check_per_namespace<I, R>(
    scratch: Spawn,
    mode: Mode,
    kinds: KindSet,
    sysctls: &[(&str, &[u8])],
    inside: I,
    report: R,
) -> Outcome
where
    I: Fn(&Probe) -> bool,
    R: Fn(&Probe, u8),
{
    assert!(
        !sysctls.is_empty() && sysctls.len() <= MAX_SYSCTLS,
        "check_per_namespace takes 1 to {MAX_SYSCTLS} sysctls, not {}",
        sysctls.len()
    );
    let host_before: Vec<String> = sysctls.iter().map(|(f, _)| read(f)).collect();
    let paths: Vec<CString> = sysctls.iter().map(|(f, _)| cstr(f)).collect();
    let child_body = |p: &Probe| {
        let mut ready = pipe();
        let go = pipe();
        let read_all = |prefix: u8| {
            for (i, path) in paths.iter().enumerate() {
                let mut buf = [0u8; 64];
                p.line(&[prefix, b'0' + i as u8], read_small(path, &mut buf));
            }
            report(p, prefix);
        };
        let gc_body = || {
            if !enter(mode, kinds, p) {
                return 4;
            }
            for (path, (_, v)) in paths.iter().zip(sysctls) {
                if let Err(e) = write_file(path, v) {
                    p.line_num(b"write_errno", e as i64);
                    return 5;
                }
            }
            if !inside(p) {
                return 6;
            }
            read_all(b'c');
            signal(ready[1]);
            wait(go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, kinds, KindSet::EMPTY), gc_body) };
        if gc < 0 {
            return 2;
        }
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if unsafe { wait_ready(&mut ready) } {
            read_all(b'p');
            signal(go[1]);
        }
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made; `inside` and `report` are
    // async-signal-safe by this function's contract.
    let out = unsafe { run_spawn(scratch, child_body) }.expect("spawn the scratch child");
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("gc_exit"), 0, "mode {mode}\n{t}");
    for (i, (file, v)) in sysctls.iter().enumerate() {
        let v = String::from_utf8_lossy(v);
        assert_eq!(out.str(&format!("c{i}")), v, "{file} inside, mode {mode}\n{t}");
        if mode.isolates() {
            assert_ne!(out.str(&format!("p{i}")), v, "{file} outside, mode {mode}\n{t}");
        } else {
            assert_eq!(out.str(&format!("p{i}")), v, "control {file}\n{t}");
        }
    }
    let host_after: Vec<String> = sysctls.iter().map(|(f, _)| read(f)).collect();
    assert_eq!(host_after, host_before, "the host's sysctls changed");
    out
}
