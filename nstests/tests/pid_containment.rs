//! PID containment (checklist depth items P6–P10): signals stay inside, init is protected,
//! senders outside are hidden, nested namespaces die with the outermost init, entering.
//!
//! As in `pid.rs`, the test thread spawns one scaffolding child (in a mapped user namespace
//! when not root); that single-threaded child makes the PID namespace as the mode says and
//! reports what the processes inside saw. Peers: LTP `containers/pidns/pidns{05,06,10,12,13,16}`,
//! the kernel's `selftests/pid_namespace/` and `selftests/clone3/clone3_set_tid.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nix::sys::signal::{SigSet, Signal};
use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::live::*;
use nstests::{run_spawn, Mode, Probe};
use rstest::rstest;

/// P6: signals stay inside. From the first process of a new PID namespace, `kill(p, 0)` of a
/// pid that exists only outside (a sentinel, a sibling of the namespace) is ESRCH, and
/// `kill(-1, SIGTERM)` ends the namespace's other processes while the sentinel survives.
/// Everything runs below a scratch PID namespace, so the control's `kill(-1)` reaches only the
/// test's own processes. Control: without the namespace, the sentinel is found and killed.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p6_kill_stays_inside_the_namespace(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        // PID 1 of the scratch namespace: use up a few numbers, so that the sentinel's is
        // not one the processes inside will have
        for _ in 0..8 {
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            match unsafe { fork() } {
                Ok(0) => raw::exit(0),
                Ok(pid) => {
                    let _ = raw::reap(pid);
                }
                Err(_) => return 1,
            }
        }
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        let sentinel = match unsafe { fork() } {
            // SAFETY: in a fork-like child, which never runs past this call.
            Ok(0) => unsafe { pause_forever() },
            Ok(pid) => pid as i64,
            Err(_) => return 2,
        };
        p.line_num(b"sentinel_pid", sentinel);
        let inside = || {
            p.line_num(b"inside_pid", getpid());
            p.line_num(b"kill0_sentinel_errno", err_of(kill(sentinel, 0)));
            let mut members = [0; 2];
            for m in &mut members {
                // SAFETY: until it exits, the forked process makes only raw system calls on
                // memory made before the fork.
                *m = match unsafe { fork() } {
                    // SAFETY: in a fork-like child, which never runs past this call.
                    Ok(0) => unsafe { pause_forever() },
                    Ok(pid) => pid,
                    Err(_) => return 3,
                };
            }
            p.line_num(b"kill_all_errno", err_of(kill(-1, libc::SIGTERM)));
            p.line_num(b"member1", raw::reap(members[0]).unwrap_or(-1) as i64);
            p.line_num(b"member2", raw::reap(members[1]).unwrap_or(-1) as i64);
            0
        };
        // SAFETY: `inside` makes only raw system calls on memory made before the fork.
        let Some(inside) = (unsafe { nsfork_with(p, mode, Kind::Pid.into(), inside) }) else {
            return 4;
        };
        p.line_num(b"inside_exit", raw::reap(inside).unwrap_or(-1) as i64);
        // a sentinel still alive is ended now; its status says which signal came first (a
        // fatal signal already sent fixes the exit code)
        let _ = kill(sentinel, libc::SIGKILL);
        p.line_num(b"sentinel", raw::reap(sentinel as libc::pid_t).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Pid.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("inside_exit"), 0, "{t}");
    assert_eq!(out.num("kill_all_errno"), 0, "{t}");
    let term = 128 + libc::SIGTERM as i64;
    assert_eq!(
        (out.num("member1"), out.num("member2")),
        (term, term),
        "kill(-1) reaches the namespace's own processes: {t}"
    );
    if mode.isolates() {
        assert_eq!(out.num("inside_pid"), 1, "{t}");
        assert_eq!(out.num("kill0_sentinel_errno"), libc::ESRCH as i64, "mode {mode}: {t}");
        assert_eq!(
            out.num("sentinel"),
            128 + libc::SIGKILL as i64,
            "mode {mode}: the sentinel outside survives kill(-1): {t}"
        );
    } else {
        assert_eq!(
            out.num("kill0_sentinel_errno"),
            0,
            "control: the sentinel is found: {t}"
        );
        assert_eq!(out.num("sentinel"), term, "control: kill(-1) reaches the sentinel: {t}");
    }
}

/// P7: init protection. PID 1 without handlers survives SIGTERM from a process inside and its
/// own `kill(getpid(), SIGKILL)`; SIGKILL from the parent namespace by pidfd ends it.
/// Control: without the namespace the same process dies of the SIGTERM.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p7_init_ignores_signals_from_inside_not_from_parent(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        become_subreaper();
        let init = |wr| {
            // SAFETY: until it exits, the forked process makes only raw system calls on memory
            // made before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    let parent = getppid();
                    let _ = kill(parent, libc::SIGTERM);
                    raw::exit(0)
                }
                Ok(m) => p.line_num(b"member", raw::reap(m).unwrap_or(-1) as i64),
                Err(_) => return 3,
            }
            p.line_num(b"after_sigterm", getpid());
            p.line_num(b"self_sigkill_errno", err_of(kill(getpid(), libc::SIGKILL)));
            p.line_num(b"after_sigkill", getpid());
            put_i64(wr, readlink_num(c"/proc/self"));
            // SAFETY: in a fork-like child, which never runs past this call.
            unsafe { pause_forever() }
        };
        // SAFETY: `init` makes only raw system calls on memory made before the fork.
        let Some((first, rd)) = (unsafe { nsfork_reporting(p, mode, Kind::Pid.into(), init) }) else {
            return 2;
        };
        if let Some(outer) = get_i64(rd) {
            match pidfd_open(outer) {
                // SAFETY: `fd` was just opened and is still open.
                Ok(fd) => p.line_num(b"pidfd_kill_errno", err_of(unsafe { pidfd_kill(fd, libc::SIGKILL) })),
                Err(e) => p.line_num(b"pidfd_open_errno", e as i64),
            }
        }
        p.line_num(b"first", raw::reap(first).unwrap_or(-1) as i64);
        reap_all(4);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    if mode.isolates() {
        assert_eq!(
            out.num("after_sigterm"),
            1,
            "mode {mode}: init survives SIGTERM from inside: {t}"
        );
        assert_eq!(out.num("self_sigkill_errno"), 0, "{t}");
        assert_eq!(
            out.num("after_sigkill"),
            1,
            "mode {mode}: init survives its own SIGKILL: {t}"
        );
        assert_eq!(out.num("pidfd_kill_errno"), 0, "{t}");
        assert_eq!(
            out.num("first"),
            128 + libc::SIGKILL as i64,
            "mode {mode}: the parent's SIGKILL ends init: {t}"
        );
    } else {
        assert_eq!(out.get("after_sigterm"), None, "control: SIGTERM ends it: {t}");
        assert_eq!(out.num("first"), 128 + libc::SIGTERM as i64, "control: {t}");
    }
}

/// Waits for the blocked signal `sig` at most 10 s (`sigtimedwait`); returns `si_pid`, or
/// -1 - errno. Hand-written: neither rustix nor nix has `sigtimedwait`.
fn wait_signal(sig: Signal) -> i64 {
    let mut set = SigSet::empty();
    set.add(sig);
    // SAFETY: siginfo_t is plain data, all-zero is valid; the pointers are to locals.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ts = libc::timespec { tv_sec: 10, tv_nsec: 0 };
        if libc::sigtimedwait(set.as_ref(), &mut info, &ts) < 0 {
            return -1 - errno();
        }
        info.si_pid() as i64
    }
}

/// Blocks SIGUSR1 and SIGUSR2 in the caller.
fn block_usr() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.add(Signal::SIGUSR2);
    let _ = set.thread_block();
}

/// P8: siginfo from an ancestor namespace says `si_pid == 0` (the sender has no pid inside);
/// from a process inside, the sender's inside pid. Control: without the namespace the
/// parent's own pid.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p8_sender_outside_shows_as_pid_0(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        p.line_num(b"parent_pid", getpid());
        block_usr();
        let init = |wr| {
            put_i64(wr, readlink_num(c"/proc/self"));
            p.line_num(b"from_parent", wait_signal(Signal::SIGUSR1));
            // SAFETY: until it exits, the forked process makes only raw system calls on memory
            // made before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    let _ = kill(getppid(), libc::SIGUSR2);
                    raw::exit(0)
                }
                Ok(m) => {
                    p.line_num(b"member_pid", m as i64);
                    p.line_num(b"from_member", wait_signal(Signal::SIGUSR2));
                    let _ = raw::reap(m);
                }
                Err(_) => return 3,
            }
            0
        };
        // SAFETY: `init` makes only raw system calls on memory made before the fork.
        let Some((first, rd)) = (unsafe { nsfork_reporting(p, mode, Kind::Pid.into(), init) }) else {
            return 2;
        };
        match get_i64(rd) {
            Some(outer) => p.line_num(b"kill_errno", err_of(kill(outer, libc::SIGUSR1))),
            None => p.put(b"no pid from inside\n"),
        }
        raw::reap(first).unwrap_or(99)
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("kill_errno"), 0, "{t}");
    assert!(out.num("member_pid") > 1, "{t}");
    assert_eq!(
        out.num("from_member"),
        out.num("member_pid"),
        "inside: the sender's pid: {t}"
    );
    if mode.isolates() {
        assert_eq!(out.num("from_parent"), 0, "mode {mode}: an ancestor shows as 0: {t}");
    } else {
        assert_eq!(out.num("from_parent"), out.num("parent_pid"), "control: {t}");
    }
}

/// The levels of P9's chain.
const P9_LEVELS: i64 = 5;

/// Writes `(tag, pid)` in one `write(2)`, so that the reports of several processes do not mix.
fn put_pair(wr: i32, tag: i64, pid: i64) {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&tag.to_ne_bytes());
    b[8..].copy_from_slice(&pid.to_ne_bytes());
    let _ = raw::write_all(wr, &b);
}

/// One level of P9's chain: a member that waits, the next level (below the last: none), and
/// this process's own pid reported as `(tag, pid)` on `wr` (tag = 2 × level + role).
fn p9_level(mode: Mode, level: i64, wr: i32) -> ! {
    // SAFETY: until it exits, the forked process makes only raw system calls on memory made before
    // the fork.
    match unsafe { fork() } {
        Ok(0) => {
            put_pair(wr, 2 * level + 1, readlink_num(c"/proc/self"));
            // SAFETY: in a fork-like child, which never runs past this call.
            unsafe { pause_forever() }
        }
        Ok(_) => {}
        Err(_) => raw::exit(3),
    }
    if level + 1 < P9_LEVELS {
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { nsfork(mode, Kind::Pid.into()) } {
            Ok(0) => p9_level(mode, level + 1, wr),
            Ok(_) => {}
            Err(_) => raw::exit(4),
        }
    }
    put_pair(wr, 2 * level, readlink_num(c"/proc/self"));
    // SAFETY: in a fork-like child, which never runs past this call.
    unsafe { pause_forever() }
}

/// P9: nested teardown. Five nested PID namespaces, each with its init and a member; SIGKILL
/// to the outermost init ends every process at every level (each pidfd is readable once that
/// init has been waited for). Control: a chain of plain processes outlives its top.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p9_outermost_init_death_ends_every_level(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        // the control's orphans come here, to be killed and reaped
        become_subreaper();
        let top = |wr| {
            // SAFETY: this process owns its copy of `p.fd()` (a pipe end made for this test) and
            // does not use it again.
            unsafe { nstests::child::close(p.fd()) };
            p9_level(mode, 0, wr)
        };
        // SAFETY: `top` makes only raw system calls on memory made before the fork.
        let Some((first, rd)) = (unsafe { nsfork_reporting(p, mode, Kind::Pid.into(), top) }) else {
            return 2;
        };
        let n = 2 * P9_LEVELS as usize;
        let mut pidfds = [-1; 10];
        for _ in 0..n {
            let (Some(tag), Some(pid)) = (get_i64(rd), get_i64(rd)) else {
                p.put(b"a process did not report\n");
                return 3;
            };
            if !(0..n as i64).contains(&tag) {
                return 3;
            }
            match pidfd_open(pid) {
                Ok(fd) => pidfds[tag as usize] = fd,
                Err(e) => p.line_num(b"pidfd_open_errno", e as i64),
            }
        }
        if pidfds.iter().any(|&fd| fd < 0) {
            return 4;
        }
        // SAFETY: every pidfd was opened above (none is -1) and stays open to the end of the body.
        p.line_num(b"kill_errno", err_of(unsafe { pidfd_kill(pidfds[0], libc::SIGKILL) }));
        // the outermost init is waited for: in a PID namespace it ends only after every
        // process of the namespace (and of the namespaces below) is gone
        // SAFETY: as above.
        p.line_num(b"top_ended", unsafe { readable_within(pidfds[0], 10_000) } as i64);
        let mut ended = 0;
        for &fd in &pidfds[..n] {
            // SAFETY: as above.
            if unsafe { readable_within(fd, 0) } {
                ended += 1;
            }
        }
        p.line_num(b"ended", ended);
        for &fd in &pidfds[..n] {
            // SAFETY: as above.
            let _ = unsafe { pidfd_kill(fd, libc::SIGKILL) };
        }
        let _ = raw::reap(first);
        reap_all(2 * n);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("kill_errno"), 0, "{t}");
    assert_eq!(out.num("top_ended"), 1, "{t}");
    if mode.isolates() {
        assert_eq!(out.num("ended"), 2 * P9_LEVELS, "mode {mode}: every level ended: {t}");
    } else {
        assert_eq!(out.num("ended"), 1, "control: only the top ended: {t}");
    }
}
