//! PID namespaces, second round (checklist P10): a namespace with no process yet cannot be
//! entered and its first fork is PID 1, and the pid choice of `clone3`'s `set_tid` works only
//! as the kernel allows.
//!
//! As in `pid.rs`, the test thread spawns one scaffolding child (in a mapped user namespace
//! when not root); that single-threaded child makes the PID namespace as the mode says and
//! reports what the processes inside saw. Peers: LTP `containers/pidns/pidns{05,06,10,12,13,16}`,
//! the kernel's `selftests/pid_namespace/` and `selftests/clone3/clone3_set_tid.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Errno, Kind};
use nstests::child::*;
use nstests::live::*;
use nstests::{run_spawn, Mode, Probe};
use rstest::rstest;

/// P10 (first fork): the first process of a PID namespace is its PID 1, whichever way it
/// comes in. After another process's `unshare`, the namespace has no process yet: up to Linux
/// 6.18 its `pid_for_children` does not open (ENOENT: no reference before the child reaper
/// exists), and the unsharing process's first child is PID 1; newer kernels (seen on 7.2) open
/// it, and then a process that joins by that file and forks first makes PID 1, and the
/// unsharing process's first child is PID 2. Either way a later `setns` by the file makes the
/// joiner's next child the next pid, and a kernel that opens the file must still make the
/// first fork PID 1. Control: a namespace that has processes opens at once, and pids are
/// ordinary. (That a namespace whose init has gone refuses forks with ENOMEM is P3.) All of it
/// below a scratch PID namespace, which the scaffold's user namespace owns when not root.
#[rstest]
#[case::none(Mode::None)]
#[case::unshare(Mode::Unshare)]
fn p10_empty_namespace_cannot_be_entered_first_fork_is_pid_1(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        let ([rd, wr], [go_r, go_w], [done_r, done_w]) = (pipe(), pipe(), pipe());
        let [early_r, early_w] = pipe();
        if rd < 0 || go_r < 0 || done_r < 0 || early_r < 0 {
            return 1;
        }
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        let holder = match unsafe { fork() } {
            Ok(0) => {
                // SAFETY: this process owns its copies of `rd`, `go_w` and `done_w` (pipe ends or
                // fds made for this test) and does not use them again.
                unsafe {
                    nstests::child::close(rd);
                    nstests::child::close(go_w);
                    nstests::child::close(done_w);
                }
                if mode == Mode::Unshare {
                    if let Err(e) = raw::unshare(Kind::Pid.into()) {
                        p.line_num(b"unshare_errno", e as i64);
                        raw::exit(2);
                    }
                }
                // its pid as the tests' /proc numbers it (not as the scratch namespace does)
                put_i64(wr, readlink_num(c"/proc/self"));
                wait(go_r);
                // SAFETY: until it exits, the forked process makes only raw system calls on memory
                // made before the fork.
                match unsafe { fork() } {
                    Ok(0) => {
                        p.line_num(b"first_child_pid", getpid());
                        signal(wr);
                        wait(done_r);
                        raw::exit(0)
                    }
                    Ok(c) => raw::exit(raw::reap(c).unwrap_or(99)),
                    Err(e) => {
                        p.line_num(b"holder_fork_errno", e as i64);
                        raw::exit(3)
                    }
                }
            }
            Ok(pid) => pid,
            Err(_) => return 3,
        };
        // SAFETY: this process owns its copies of `go_r`, `done_r` and `wr` (pipe ends or fds made
        // for this test) and does not use them again.
        unsafe {
            nstests::child::close(go_r);
            nstests::child::close(done_r);
            nstests::child::close(wr);
        }
        let Some(outer) = get_i64(rd) else {
            return 4;
        };
        let mut buf = [0u8; 64];
        let path = proc_path(&mut buf, outer, b"/ns/pid_for_children");
        // the early joiner: where the file opens before the namespace has a process, this
        // process joins by it and forks first; its child waits until the end (it may be the
        // namespace's init, whose exit would end every other process in it)
        let mut early = 0;
        match raw::open(path) {
            Ok(fd) => {
                p.line_num(b"open_before_errno", 0);
                let joined = raw::setns(fd, Kind::Pid.into());
                // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test)
                // and does not use it again.
                unsafe { nstests::child::close(fd) };
                if let Err(e) = joined {
                    p.line_num(b"early_setns_errno", e as i64);
                    return 8;
                }
                // SAFETY: until it exits, the forked process makes only raw system calls on
                // memory made before the fork.
                match unsafe { fork() } {
                    Ok(0) => {
                        p.line_num(b"early_child_pid", getpid());
                        wait(early_r);
                        raw::exit(0)
                    }
                    Ok(c) => early = c,
                    Err(e) => p.line_num(b"early_fork_errno", e as i64),
                }
            }
            Err(e) => p.line_num(b"open_before_errno", e as i64),
        }
        signal(go_w);
        if !wait(rd) {
            return 5;
        }
        let fd = match raw::open(path) {
            Ok(fd) => fd,
            Err(e) => {
                p.line_num(b"open_errno", e as i64);
                return 6;
            }
        };
        if let Err(e) = raw::setns(fd, Kind::Pid.into()) {
            p.line_num(b"setns_errno", e as i64);
            return 7;
        }
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { fork() } {
            Ok(0) => {
                p.line_num(b"joined_child_pid", getpid());
                raw::exit(0)
            }
            Ok(c) => {
                let _ = raw::reap(c);
            }
            Err(e) => p.line_num(b"fork_errno", e as i64),
        }
        signal(done_w);
        let rc = raw::reap(holder).unwrap_or(99);
        // the early child last: it may be the namespace's init
        signal(early_w);
        if early > 0 {
            let _ = raw::reap(early);
        }
        rc
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Pid.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    if !mode.isolates() {
        assert_eq!(out.num("open_before_errno"), 0, "control: {t}");
        assert!(out.num("early_child_pid") > 1, "control: {t}");
        assert!(out.num("first_child_pid") > 1, "control: {t}");
        assert!(out.num("joined_child_pid") > 1, "control: {t}");
    } else if out.num("open_before_errno") == 0 {
        // a kernel that hands out the empty namespace: the early joiner's child came first
        assert_eq!(out.num("early_child_pid"), 1, "the first process is PID 1: {t}");
        assert_eq!(out.num("first_child_pid"), 2, "the unsharer's child comes after: {t}");
        assert_eq!(out.num("joined_child_pid"), 3, "then the joiner's: {t}");
    } else {
        assert_eq!(out.num("open_before_errno"), libc::ENOENT as i64, "no process yet: {t}");
        assert!(out.get("early_child_pid").is_none(), "{t}");
        assert_eq!(out.num("first_child_pid"), 1, "{t}");
        assert_eq!(
            out.num("joined_child_pid"),
            2,
            "the joiner's child comes after init: {t}"
        );
    }
}

/// `struct clone_args` up to `set_tid_size` (CLONE_ARGS_SIZE_VER1, 80 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
}

/// A fork-like `clone3` whose child gets pid `tid` and exits at once; the child's pid in the
/// caller, or the errno. The child runs no code but `_exit`.
fn clone3_set_tid(tid: libc::pid_t) -> Result<libc::pid_t, Errno> {
    let tids = [tid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..CloneArgs::default()
    };
    // SAFETY: a fork-like clone3 (no stack, no CLONE_VM): the child has its own copy of the
    // address space and calls only _exit. Hand-written: no crate has clone3 with `set_tid`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        0 => raw::exit(0),
        r if r < 0 => Err(Errno::last()),
        pid => Ok(pid as libc::pid_t),
    }
}

/// P10 (`set_tid`): in a PID namespace of the test's own, `clone3` with `set_tid` gives the
/// child exactly the pid asked for where the caller has CAP_CHECKPOINT_RESTORE (or
/// CAP_SYS_ADMIN) over the namespace's owner, EEXIST for a pid in use, and EPERM once the
/// caller has dropped every capability. Control: a plain fork gets the next pid, not the one asked.
#[test]
fn p10_clone3_set_tid_where_privileged() {
    let child_body = |p: &Probe| {
        match clone3_set_tid(700) {
            Ok(pid) => {
                p.line_num(b"got_pid", pid as i64);
                // still a zombie: the pid is in use
                p.line_num(b"in_use_errno", err_of(clone3_set_tid(700)));
                let _ = raw::reap(pid);
            }
            Err(e) => p.line_num(b"set_tid_errno", e as i64),
        }
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { fork() } {
            Ok(0) => raw::exit(0),
            Ok(pid) => {
                p.line_num(b"plain_pid", pid as i64);
                let _ = raw::reap(pid);
            }
            Err(_) => return 2,
        }
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { fork() } {
            Ok(0) => {
                if let Err(e) = drop_capabilities() {
                    p.line_num(b"drop_errno", e as i64);
                    raw::exit(3);
                }
                p.line_num(b"unprivileged_errno", err_of(clone3_set_tid(900)));
                raw::exit(0)
            }
            Ok(pid) => raw::reap(pid).unwrap_or(99),
            Err(_) => 4,
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Pid.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("got_pid"), 700, "the pid asked for: {t}");
    assert_eq!(out.num("in_use_errno"), libc::EEXIST as i64, "{t}");
    assert_ne!(out.num("plain_pid"), 700, "control: {t}");
    assert_eq!(out.num("unprivileged_errno"), libc::EPERM as i64, "{t}");
}
