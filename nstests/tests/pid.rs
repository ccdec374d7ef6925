//! PID namespaces (checklist P1–P5), each isolation property with its `none` control.
//!
//! The test thread spawns one plain child (in a mapped user namespace when not root); that
//! single-threaded child makes the PID namespace itself as the mode says (`clone3` with
//! `CLONE_NEWPID`, or `unshare` + fork since `unshare(CLONE_NEWPID)` acts on the caller's
//! children) and reports what the process inside saw.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet, NsHandle, Spawn};
use nstests::child::*;
use nstests::live::*;
use nstests::{host_ino, level, pid_level, require_root, run_spawn, Mode, Probe};
use rstest::rstest;

/// P1: the first process in a new PID namespace is PID 1 with parent 0; outside it has
/// another pid. Control: without the namespace the pid is the outside one.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p1_first_child_is_pid_1(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { nsfork(mode, Kind::Pid.into()) } {
            Ok(0) => {
                p.line_num(b"pid", getpid());
                p.line_num(b"ppid", getppid());
                p.line_num(b"outside", readlink_num(c"/proc/self"));
                raw::exit(0)
            }
            Ok(child) => raw::reap(child).unwrap_or(99),
            Err(e) => {
                p.line_num(b"fork_errno", e as i64);
                1
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let (pid, ppid, outside) = (out.num("pid"), out.num("ppid"), out.num("outside"));
    assert!(outside > 1, "{}", out.text());
    if mode.isolates() {
        assert_eq!((pid, ppid), (1, 0), "mode {mode}: {}", out.text());
        assert_ne!(outside, pid, "mode {mode}: the outside pid is another one");
    } else {
        assert_eq!(pid, outside, "control: one pid everywhere: {}", out.text());
        assert_ne!(ppid, 0, "control: a parent is visible: {}", out.text());
    }
}

/// P2: a proc mounted inside (in a scratch mount namespace) lists only the namespace's
/// processes: just the caller, as 1. Control: the host's processes are all listed.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p2_proc_inside_shows_only_namespace_processes(#[case] mode: Mode) {
    let test_pid = std::process::id() as i64;
    let child_body = |p: &Probe| {
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { nsfork(mode, Kind::Pid.into()) } {
            Ok(0) => {
                if let Err(e) = mount_fs(c"proc", c"/proc") {
                    p.line_num(b"mount_errno", e as i64);
                    raw::exit(2);
                }
                let me = getpid();
                match count_pids(c"/proc", me) {
                    Ok((n, seen)) => {
                        p.line_num(b"count", n);
                        p.line_num(b"self_listed", seen as i64);
                    }
                    Err(e) => p.line_num(b"getdents_errno", e as i64),
                }
                p.line_num(
                    b"test_listed",
                    count_pids(c"/proc", test_pid).map(|r| r.1 as i64).unwrap_or(-1),
                );
                raw::exit(0)
            }
            Ok(child) => raw::reap(child).unwrap_or(99),
            Err(e) => {
                p.line_num(b"fork_errno", e as i64);
                1
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Mnt.into()), child_body) }.unwrap();
    if !nstests::is_root() && mode == Mode::None && out.get("mount_errno").as_deref() == Some("1") {
        nstests::skip(
            "p2_proc_inside_shows_only_namespace_processes::none",
            "needs root: mounting a proc of the host's PID namespace needs privilege over it",
        );
        return;
    }
    out.assert_ok();
    assert_eq!(out.num("self_listed"), 1, "{}", out.text());
    if mode.isolates() {
        assert_eq!(out.num("count"), 1, "mode {mode}: only PID 1 inside: {}", out.text());
        assert_eq!(out.num("test_listed"), 0, "{}", out.text());
    } else {
        assert!(
            out.num("count") >= 3,
            "control sees the host's processes: {}",
            out.text()
        );
        assert_eq!(
            out.num("test_listed"),
            1,
            "control sees the test process: {}",
            out.text()
        );
    }
}

/// P3: when PID 1 of a namespace ends, by its own exit or killed, the kernel ends every other
/// process in it: two orphans that init inherited, one of them PID 1 of a nested namespace
/// with a member of its own (each pidfd is readable once init has been waited for: init ends
/// only after them); a later fork into the namespace (setns by a held fd) fails with ENOMEM.
/// Control: without the namespace the orphans live on and forks work.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p3_init_death_kills_the_namespace(#[case] mode: Mode) {
    p3(mode, false);
}

/// P3 (killed): the same when init is killed (SIGKILL from the parent namespace).
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p3_init_killed_kills_the_namespace(#[case] mode: Mode) {
    p3(mode, true);
}

/// P3's body: init exits (or is killed) after two orphans came to it.
fn p3(mode: Mode, killed: bool) {
    if !require_root(
        "p3_init_death_kills_the_namespace",
        "setns(CLONE_NEWPID) needs CAP_SYS_ADMIN in both namespaces",
    ) {
        return;
    }
    let child_body = |p: &Probe| {
        // the control's orphans come here, to be killed and reaped
        become_subreaper();
        let [go_r, go_w] = pipe();
        if go_r < 0 {
            return 1;
        }
        let init = |b_w| {
            // "init" (or the control's first process)
            // SAFETY: this process owns its copies of `go_w` and `p.fd()` (pipe ends made for this
            // test) and does not use them again.
            unsafe {
                nstests::child::close(go_w);
                nstests::child::close(p.fd());
            }
            put_i64(b_w, readlink_num(c"/proc/self"));
            // a process that makes the two orphans and exits
            // SAFETY: until it exits, the forked process makes only raw system calls on memory
            // made before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    // SAFETY: this process owns its copy of `go_r` (a pipe end or fd made for
                    // this test) and does not use it again.
                    unsafe { nstests::child::close(go_r) };
                    // SAFETY: until it exits, the forked process makes only raw system calls on
                    // memory made before the fork.
                    if let Ok(0) = unsafe { fork() } {
                        put_i64(b_w, readlink_num(c"/proc/self"));
                        // SAFETY: in a fork-like child, which never runs past this call.
                        unsafe { pause_forever() };
                    }
                    // SAFETY: a child body: only async-signal-safe code runs in the new process.
                    if let Ok(0) = unsafe { raw::fork(Kind::Pid.into()) } {
                        // SAFETY: until it exits, the forked process makes only raw system calls
                        // on memory made before the fork.
                        if let Ok(0) = unsafe { fork() } {
                            put_i64(b_w, readlink_num(c"/proc/self"));
                            // SAFETY: in a fork-like child, which never runs past this call.
                            unsafe { pause_forever() };
                        }
                        put_i64(b_w, readlink_num(c"/proc/self"));
                        // SAFETY: in a fork-like child, which never runs past this call.
                        unsafe { pause_forever() };
                    }
                    raw::exit(0)
                }
                Ok(m) => {
                    let _ = raw::reap(m);
                }
                Err(_) => return 3,
            }
            // SAFETY: this process owns its copy of `b_w` (a pipe end or fd made for this test)
            // and does not use it again.
            unsafe { nstests::child::close(b_w) };
            wait(go_r);
            0
        };
        // SAFETY: `init` makes only raw system calls on memory made before the fork.
        let Some((first, b_r)) = (unsafe { nsfork_reporting(p, mode, Kind::Pid.into(), init) }) else {
            return 1;
        };
        // SAFETY: this process owns its copy of `go_r` (a pipe end made for this test) and does not
        // use it again.
        unsafe { nstests::child::close(go_r) };
        let Some(init) = get_i64(b_r) else {
            p.put(b"no pid from init\n");
            return 2;
        };
        let mut orphans = [-1; 3];
        for fd in &mut orphans {
            match get_i64(b_r).map(pidfd_open) {
                Some(Ok(pidfd)) => *fd = pidfd,
                _ => {
                    p.put(b"an orphan did not report\n");
                    return 2;
                }
            }
        }
        let mut buf = [0u8; 64];
        let nsfd = match raw::open(proc_path(&mut buf, init, b"/ns/pid")) {
            Ok(fd) => fd,
            Err(e) => {
                p.line_num(b"open_errno", e as i64);
                return 3;
            }
        };
        if killed {
            let _ = kill(init, libc::SIGKILL);
        } else {
            // an explicit byte: the unshare mode's middle process holds a copy of the write
            // end too
            let _ = raw::write_all(go_w, b"x");
        }
        // SAFETY: this process owns its copy of `go_w` (a pipe end or fd made for this test) and
        // does not use it again.
        unsafe { nstests::child::close(go_w) };
        p.line_num(b"first_exit", raw::reap(first).unwrap_or(-1) as i64);
        // SAFETY: the orphans' pidfds, opened above, stay open until the end of the body.
        let ended = orphans.iter().filter(|&&fd| unsafe { readable_within(fd, 0) }).count();
        p.line_num(b"orphans_ended", ended as i64);
        match raw::setns(nsfd, Kind::Pid.into()) {
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            Ok(()) => match unsafe { fork() } {
                Ok(0) => raw::exit(0),
                Ok(pid) => {
                    let _ = raw::reap(pid);
                    p.line_num(b"fork_errno", 0);
                }
                Err(e) => p.line_num(b"fork_errno", e as i64),
            },
            Err(e) => p.line_num(b"setns_errno", e as i64),
        }
        for fd in orphans {
            // SAFETY: as above: a pidfd opened above, still open.
            let _ = unsafe { pidfd_kill(fd, libc::SIGKILL) };
        }
        reap_all(8);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(Spawn::new(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    let first = if killed { 128 + libc::SIGKILL as i64 } else { 0 };
    assert_eq!(out.num("first_exit"), first, "{t}");
    if mode.isolates() {
        assert_eq!(out.num("orphans_ended"), 3, "mode {mode}: all ended with init: {t}");
        assert_eq!(out.num("fork_errno"), libc::ENOMEM as i64, "mode {mode}: {t}");
    } else {
        assert_eq!(out.num("orphans_ended"), 0, "control: the orphans live: {t}");
        assert_eq!(out.num("fork_errno"), 0, "control: forks work: {t}");
    }
}

/// P4: `setns(CLONE_NEWPID)` (and `unshare(CLONE_NEWPID)`) change `pid_for_children` only:
/// `/proc/self/ns/pid` stays, and the next child lands in the target. Control: joining one's
/// own PID namespace changes nothing.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn p4_setns_pid_changes_pid_for_children_only(#[case] mode: Mode) {
    if !require_root(
        "p4_setns_pid_changes_pid_for_children_only",
        "setns(CLONE_NEWPID) needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    let host = host_ino(Kind::Pid);
    // SAFETY: run in the fork-like child below, which never runs past this call.
    let hold = || unsafe { pause_forever() };
    let target = match mode {
        // SAFETY: the body makes only raw system calls (close_range(2), pause(2)).
        Mode::Clone => Some(unsafe { Spawn::new(Kind::Pid).run(hold) }.expect("target child")),
        _ => None,
    };
    let spawn = match (&target, mode) {
        (Some(t), _) => Spawn::new(KindSet::EMPTY).join(t.ns(Kind::Pid).unwrap()),
        (None, Mode::None) => Spawn::new(KindSet::EMPTY).join(NsHandle::current(Kind::Pid).unwrap()),
        (None, _) => Spawn::new(KindSet::EMPTY),
    };
    let target_ino = target
        .as_ref()
        .map(|t| t.ns(Kind::Pid).unwrap().inode().unwrap().ino as i64);
    let child_body = |p: &Probe| {
        if mode == Mode::Unshare {
            if let Err(e) = raw::unshare(Kind::Pid.into()) {
                p.line_num(b"unshare_errno", e as i64);
                return 1;
            }
        }
        p.line_num(b"pid_ino", ino(c"/proc/self/ns/pid"));
        // unresolvable (0) after unshare until the first child is in
        p.line_num(b"pfc_before", ino(c"/proc/self/ns/pid_for_children"));
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { fork() } {
            Ok(0) => {
                p.line_num(b"child_pid", getpid());
                p.line_num(b"child_pid_ino", ino(c"/proc/self/ns/pid"));
                raw::exit(0)
            }
            Ok(c) => {
                let code = raw::reap(c).unwrap_or(99);
                p.line_num(b"pfc_ino", ino(c"/proc/self/ns/pid_for_children"));
                p.line_num(b"pid_ino_after", ino(c"/proc/self/ns/pid"));
                code
            }
            Err(e) => {
                p.line_num(b"fork_errno", e as i64);
                1
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(spawn, child_body) }.unwrap();
    drop(target);
    out.assert_ok();
    let (pid_ino, pfc, child_ino) = (out.num("pid_ino"), out.num("pfc_ino"), out.num("child_pid_ino"));
    assert_eq!(pid_ino, host, "mode {mode}: /proc/self/ns/pid stays: {}", out.text());
    assert_eq!(out.num("pid_ino_after"), host, "mode {mode}: {}", out.text());
    assert_eq!(
        child_ino,
        pfc,
        "the next child lands in pid_for_children: {}",
        out.text()
    );
    match mode {
        Mode::None => {
            assert_eq!(pfc, host, "control: {}", out.text());
            assert!(out.num("child_pid") > 1, "{}", out.text());
        }
        Mode::Clone | Mode::Pool => {
            assert_eq!(Some(pfc), target_ino, "joined the target's: {}", out.text());
            assert_eq!(out.num("child_pid"), 2, "after the target's init: {}", out.text());
        }
        Mode::Unshare => {
            assert_ne!(pfc, host, "{}", out.text());
            assert_eq!(out.num("child_pid"), 1, "{}", out.text());
        }
    }
}

/// P5: PID namespaces nest to the kernel's depth (level 32 at most, counted from the initial
/// namespace, so from the tests' own level; the next `unshare` gives ENOSPC), and
/// `NS_GET_PARENT` walks from the deepest back to the caller's, then says EPERM (nothing above
/// the caller's namespace is visible). Bounded: the chain stops at
/// [`level::NESTING_CAP`] levels (then the test fails: the kernel did not enforce the limit),
/// and every process of it dies with its parent.
#[test]
fn p5_nesting_stops_at_kernel_depth() {
    let host = host_ino(Kind::Pid);
    let level = pid_level();
    let child_body = |p: &Probe| {
        let ([r_r, r_w], [go_r, go_w]) = (pipe(), pipe());
        if r_r < 0 || go_r < 0 {
            return 1;
        }
        let mut depth = 0i64;
        let refused = loop {
            if depth == level::NESTING_CAP {
                break 0;
            }
            if let Err(e) = raw::unshare(Kind::Pid.into()) {
                break e as i64;
            }
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    // a chain whose namespaces were not made must still die with its top
                    let _ = raw::set_death_signal(libc::SIGKILL);
                    if depth == 0 {
                        // SAFETY: this process owns its copies of `go_w` and `r_r` (pipe ends or fds
                        // made for this test) and does not use them again.
                        unsafe {
                            nstests::child::close(go_w);
                            nstests::child::close(r_r);
                        }
                    }
                    depth += 1;
                }
                Ok(child) if depth > 0 => raw::exit(raw::reap(child).unwrap_or(99)),
                Ok(child) => {
                    // the top: walk up from the deepest namespace
                    // SAFETY: this process owns its copies of `r_w` and `go_r` (pipe ends or fds
                    // made for this test) and does not use them again.
                    unsafe {
                        nstests::child::close(r_w);
                        nstests::child::close(go_r);
                    }
                    let Some(deep) = get_i64(r_r) else {
                        p.put(b"no pid from the deepest\n");
                        return 2;
                    };
                    let mut buf = [0u8; 64];
                    let mut fd = match raw::open(proc_path(&mut buf, deep, b"/ns/pid")) {
                        Ok(fd) => fd,
                        Err(e) => {
                            p.line_num(b"open_errno", e as i64);
                            return 3;
                        }
                    };
                    let mut steps = 0;
                    while steps <= level::NESTING_CAP {
                        // SAFETY: `fd` is open (closed only once its parent is found).
                        match ns_get_parent(unsafe { borrow(fd) }) {
                            Ok(up) => {
                                // SAFETY: this process owns its copy of `fd` (a pipe end or fd made
                                // for this test) and does not use it again.
                                unsafe { nstests::child::close(fd) };
                                fd = up;
                                steps += 1;
                            }
                            Err(e) => {
                                p.line_num(b"walk_end_errno", e as i64);
                                break;
                            }
                        }
                    }
                    p.line_num(b"walk_steps", steps);
                    // SAFETY: `fd`, the top of the walk, is open (closed only below).
                    p.line_num(b"walk_top_ino", unsafe { fd_ino(fd) });
                    let _ = raw::write_all(go_w, b"x");
                    // SAFETY: this process owns its copy of `go_w` (a pipe end or fd made for this
                    // test) and does not use it again.
                    unsafe { nstests::child::close(go_w) };
                    return raw::reap(child).unwrap_or(99);
                }
                Err(e) => {
                    p.line_num(b"fork_errno", e as i64);
                    raw::exit(4)
                }
            }
        };
        p.line_num(b"depth", depth);
        p.line_num(b"depth_errno", refused);
        if depth == 0 {
            return 5;
        }
        put_i64(r_w, readlink_num(c"/proc/self"));
        wait(go_r);
        raw::exit(0)
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    level::check_nesting(
        "p5_nesting_stops_at_kernel_depth",
        "PID",
        level,
        out.num("depth"),
        out.num("depth_errno"),
        level::PID_DEEPEST,
        &t,
    );
    assert_eq!(out.num("walk_steps"), out.num("depth"), "{t}");
    assert_eq!(out.num("walk_top_ino"), host, "the walk ends at our namespace: {t}");
    assert_eq!(out.num("walk_end_errno"), libc::EPERM as i64, "{t}");
}
