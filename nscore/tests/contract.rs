//! The library's own contract on the real kernel, depth items of the isolation checklist that
//! are about what nscore does: J1 (`setns_pidfd` is all-or-nothing), D2 (ownership queries stop
//! at the caller's user namespace), E1 (typed errors of `setns`, produced by nscore calls) and
//! M5 (joining a mount namespace while sharing the fs state).
//!
//! Each test re-executes this binary as a helper (`common::run_helper`): an exec'd process
//! whose other thread only waits, so that the children it makes may call nscore's allocating
//! API, and so that its own calls that the kernel refuses never run in the test process.
//! Peers: the kernel's `selftests/pidfd/pidfd_setns_test.c`, `selftests/nsfs/owner.c` and
//! `pidns.c`, LTP `syscalls/setns/setns01.c`, `syscalls/unshare/unshare02.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nscore::{join, raw, Child, Error, Kind, KindSet, NsHandle, Op, ProcessNamespaces, Spawn};

/// What a child reports for one nscore call: 0 when it succeeded; the errno when it failed
/// with `Op::Setns` (10000 + errno for another op, -1 for no errno).
fn code(r: nscore::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            let errno = e.errno().map_or(-1, |e| e as i32);
            if e.op() == Op::Setns {
                errno
            } else {
                10000 + errno
            }
        }
    }
}

/// Spawns `body` (which returns the codes of its calls, at most 8), waits for the codes and
/// returns them with the child, which then waits until dropped (killed), so that its
/// namespaces can be read from outside.
fn codes(spawn: Spawn, mut body: impl FnMut() -> [i32; 8]) -> (Child, [i32; 8]) {
    let (rd, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let w = wr.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let child = unsafe {
        spawn.run(move || {
            let c = body();
            let mut b = [0u8; 32];
            for (i, v) in c.iter().enumerate() {
                b[4 * i..4 * i + 4].copy_from_slice(&v.to_ne_bytes());
            }
            let _ = raw::write_all(w, &b);
            loop {
                // pause(2) only waits for a signal
                libc::pause();
            }
        })
    }
    .expect("spawn");
    drop(wr);
    let mut fds = [nix::poll::PollFd::new(rd.as_fd(), nix::poll::PollFlags::POLLIN)];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(n, 1, "child did not report within 20 s");
    let mut b = [0u8; 32];
    assert_eq!(raw::read_full(rd.as_raw_fd(), &mut b).unwrap(), 32, "child ended early");
    let mut c = [0i32; 8];
    for (i, v) in c.iter_mut().enumerate() {
        *v = i32::from_ne_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
    }
    (child, c)
}

/// A child in new namespaces of `kinds` (user mapped to root) that waits until dropped.
fn target(kinds: KindSet) -> Child {
    codes(Spawn::new(kinds | Kind::User).map_root(), || [0; 8]).0
}

/// J1: `setns_pidfd` with every kind at once joins all of them: seven namespaces equal the
/// target's, and pid only for the children. With no kind the kernel says EINVAL (and nscore's
/// `setns_pidfd` refuses before any call); an exited target gives ESRCH and changes none of the
/// eight; a target in a sibling user namespace gives EPERM, by pidfd and by nsfd, and changes
/// nothing. Control: the first joiner's namespaces differ from the target's before the join
/// (the helper's are the starting point of every joiner).
#[test]
fn j1_join_pidfd_is_all_or_nothing() {
    common::helper_ok(&common::run_helper(Spawn::new(KindSet::EMPTY), "helper_j1"), "J1-OK");
}

#[test]
#[ignore = "helper: j1_join_pidfd_is_all_or_nothing runs it in a child process"]
fn helper_j1() {
    if !common::is_helper("helper_j1") {
        return;
    }
    let mine = ProcessNamespaces::current().unwrap();
    let t = target(KindSet::ALL);
    let theirs = t.namespaces().unwrap();
    assert_eq!(
        theirs.differing(&mine),
        KindSet::ALL,
        "control: the target is elsewhere"
    );

    // every kind at once
    let pidfd = t.pidfd();
    let (j, c) = codes(Spawn::new(KindSet::EMPTY), || {
        [code(join::setns_pidfd(pidfd, KindSet::ALL)), 0, 0, 0, 0, 0, 0, 0]
    });
    assert_eq!(c[0], 0, "setns_pidfd(all): errno {}", c[0]);
    let joined = j.namespaces().unwrap();
    for k in Kind::ALL {
        if k == Kind::Pid {
            assert_eq!(joined.get(k), mine.get(k), "pid: the joiner's own stays");
            assert_eq!(
                joined.for_children(k),
                theirs.get(k),
                "pid_for_children is the target's"
            );
        } else {
            assert_eq!(joined.get(k), theirs.get(k), "{k} is the target's");
        }
    }
    drop(j);

    // no kind: nscore refuses, the kernel says EINVAL (a refused setns changes nothing, so the
    // helper itself may make these calls)
    let e = join::setns_pidfd(pidfd, KindSet::EMPTY).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, None), "{e}");
    let e = join::setns_fd(pidfd, KindSet::EMPTY).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, Some(Errno::EINVAL)), "{e}");

    // an exited target: ESRCH, nothing changed
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let mut gone = unsafe { Spawn::new(KindSet::EMPTY).run(|| 0) }.unwrap();
    assert!(gone.wait().unwrap().success());
    let gone_fd = gone.pidfd();
    let (j, c) = codes(Spawn::new(KindSet::EMPTY), || {
        [code(join::setns_pidfd(gone_fd, KindSet::ALL)), 0, 0, 0, 0, 0, 0, 0]
    });
    assert_eq!(c[0], Errno::ESRCH as i32, "exited target: errno {}", c[0]);
    let after = j.namespaces().unwrap();
    assert_eq!(
        (&after.own, &after.children),
        (&mine.own, &mine.children),
        "nothing changed after ESRCH"
    );
    drop(j);

    // a sibling user namespace: EPERM by pidfd and by nsfd, nothing changed
    let user = t.ns(Kind::User).unwrap();
    let (j, c) = codes(Spawn::new(Kind::User).map_root(), || {
        [
            code(join::setns_pidfd(pidfd, Kind::User | Kind::Net)),
            code(join::setns(&user)),
            0,
            0,
            0,
            0,
            0,
            0,
        ]
    });
    assert_eq!(c[0], Errno::EPERM as i32, "sibling by pidfd: errno {}", c[0]);
    assert_eq!(c[1], Errno::EPERM as i32, "sibling by nsfd: errno {}", c[1]);
    let after = j.namespaces().unwrap();
    assert_eq!(
        after.differing(&mine),
        Kind::User.into(),
        "only its own new user namespace"
    );
    assert_ne!(after.get(Kind::User), theirs.get(Kind::User));
    println!("J1-OK");
}

/// D2: ownership queries stop at the caller's user namespace. In a process that runs in a
/// new user namespace, `owner()` (NS_GET_USERNS) of the network namespace it inherited and
/// `parent()` (NS_GET_PARENT) of its own user namespace give EPERM, typed as nscore's ioctl
/// errors with their hint. Control: the owner of a namespace made inside is found, and is the
/// caller's user namespace.
#[test]
fn d2_ownership_queries_stop_at_the_callers_user_namespace() {
    common::helper_ok(
        &common::run_helper(Spawn::new(Kind::User).map_root(), "helper_d2"),
        "D2-OK",
    );
}

#[test]
#[ignore = "helper: d2_ownership_queries_stop_at_the_callers_user_namespace runs it in a child"]
fn helper_d2() {
    if !common::is_helper("helper_d2") {
        return;
    }
    let own_user = NsHandle::current(Kind::User).unwrap();
    for (what, r) in [
        (
            "owner of the inherited net",
            NsHandle::current(Kind::Net).unwrap().owner(),
        ),
        (
            "owner of the inherited uts",
            NsHandle::current(Kind::Uts).unwrap().owner(),
        ),
        ("parent of the own user namespace", own_user.parent()),
        ("owner of the own user namespace", own_user.owner()),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.errno(), Some(Errno::EPERM), "{what}: {e}");
        assert!(matches!(e.op(), Op::Ioctl(_)), "{what}: {e}");
        assert!(e.hint().unwrap_or_default().contains("outside"), "{what}: {e}");
    }
    // control: a namespace made inside has its owner in view
    let c = target(Kind::Uts.into());
    let inner_user = c.ns(Kind::User).unwrap();
    let owner = c.ns(Kind::Uts).unwrap().owner().expect("owner inside the view");
    assert_eq!(owner.inode().unwrap(), inner_user.inode().unwrap());
    let up = inner_user.parent().expect("parent inside the view");
    assert_eq!(up.inode().unwrap(), own_user.inode().unwrap());
    println!("D2-OK");
}

/// An fd number that is not open in this process.
fn closed_fd() -> RawFd {
    let fd = nix::fcntl::open("/", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty()).unwrap();
    let n = fd.as_raw_fd();
    drop(fd);
    n
}

/// E1: typed `setns` errors produced by nscore's calls, for every kind: a namespace fd with
/// another kind's nstype gives `Op::Setns` EINVAL with the kind asked for and a hint; a
/// non-nsfs fd EINVAL; a closed fd EBADF with "not open". The kernel's own answers to what
/// nscore's types cannot express (nstype -1, `unshare(-1)`, unknown flag bits) are EINVAL.
/// Control: the matching nstype is accepted (a process joining its own UTS namespace).
#[test]
fn e1_setns_errors_are_typed_for_every_kind() {
    common::helper_ok(&common::run_helper(Spawn::new(KindSet::EMPTY), "helper_e1"), "E1-OK");
}

#[test]
#[ignore = "helper: e1_setns_errors_are_typed_for_every_kind runs it in a child process"]
fn helper_e1() {
    if !common::is_helper("helper_e1") {
        return;
    }
    for (i, k) in Kind::ALL.into_iter().enumerate() {
        let other = Kind::ALL[(i + 1) % Kind::ALL.len()];
        let h = NsHandle::current(k).unwrap();
        let e: Error = join::setns_fd(h.as_fd(), other.into()).unwrap_err();
        assert_eq!(
            (e.op(), e.errno()),
            (Op::Setns, Some(Errno::EINVAL)),
            "{k} as {other}: {e}"
        );
        assert_eq!(e.kinds(), KindSet::from(other), "{e}");
        assert!(e.hint().is_some(), "{k} as {other}: {e}");
        assert!(e.to_string().contains(other.flag_name()), "{e}");

        let (rd, _wr) = nix::unistd::pipe().unwrap();
        let e = join::setns_fd(rd.as_fd(), k.into()).unwrap_err();
        assert_eq!(
            (e.op(), e.errno()),
            (Op::Setns, Some(Errno::EINVAL)),
            "pipe as {k}: {e}"
        );
        assert!(e.hint().is_some(), "{e}");

        // SAFETY: the number is not open; it is only passed to setns(2), which says EBADF.
        let bad = unsafe { BorrowedFd::borrow_raw(closed_fd()) };
        let e = join::setns_fd(bad, k.into()).unwrap_err();
        assert_eq!(
            (e.op(), e.errno()),
            (Op::Setns, Some(Errno::EBADF)),
            "closed fd as {k}: {e}"
        );
        assert!(e.hint().unwrap_or_default().contains("not open"), "{e}");
    }
    // the kernel's answers below nscore's types, and the control, in a child
    let uts = NsHandle::current(Kind::Uts).unwrap();
    let fd = uts.as_raw_fd();
    // the child has a UTS namespace of its own (and a user namespace owning it, so that it
    // may join it rootless too) for the control
    let (_c, c) = codes(Spawn::new(Kind::User | Kind::Uts).map_root(), || {
        let raw_errno = |r: libc::c_int| if r == 0 { 0 } else { Errno::last() as i32 };
        // SAFETY: setns/unshare with plain integers; the kernel refuses the flags.
        let (minus_one, unshare_all, unknown) = unsafe {
            (
                raw_errno(libc::setns(fd, -1)),
                raw_errno(libc::unshare(-1)),
                raw_errno(libc::unshare(0x1)),
            )
        };
        [
            minus_one,
            unshare_all,
            unknown,
            match raw::open(c"/proc/thread-self/ns/uts") {
                // SAFETY: `own` was just opened and stays open for the call.
                Ok(own) => code(join::setns_fd(unsafe { BorrowedFd::borrow_raw(own) }, Kind::Uts.into())),
                Err(e) => 20000 + e as i32,
            },
            0,
            0,
            0,
            0,
        ]
    });
    assert_eq!(c[0], Errno::EINVAL as i32, "setns(fd, -1)");
    assert_eq!(c[1], Errno::EINVAL as i32, "unshare(-1)");
    assert_eq!(c[2], Errno::EINVAL as i32, "unshare(unknown bit)");
    assert_eq!(c[3], 0, "control: the matching nstype is accepted");
    println!("E1-OK");
}

/// M5: a process that shares its fs state with another (made with `CLONE_FS`) cannot join a
/// mount namespace: nscore's `join::setns` gives `Op::Setns` EINVAL (the kernel wants the
/// fs state unshared, `fs->users == 1`). `unshare(CLONE_NEWNS)` by the same process works:
/// the kernel gives it a copy of the fs state first (so the checklist's "unshare gives
/// EINVAL" does not hold on Linux; joining is what is refused). Control: the process that
/// shared it, once the sharer is gone, joins the same mount namespace.
#[test]
fn m5_setns_mnt_while_sharing_fs_is_einval() {
    // in a mount namespace of its own, owned by a user namespace of its own: rootless too
    common::helper_ok(
        &common::run_helper(Spawn::new(Kind::User | Kind::Mnt).map_root(), "helper_m5"),
        "M5-OK",
    );
}

#[test]
#[ignore = "helper: m5_setns_mnt_while_sharing_fs_is_einval runs it in a child process"]
fn helper_m5() {
    if !common::is_helper("helper_m5") {
        return;
    }
    let mnt = NsHandle::current(Kind::Mnt).unwrap();
    let (_c, c) = codes(Spawn::new(KindSet::EMPTY), || {
        let [rd, wr] = pipe();
        // SAFETY: a fork-like clone(2) (no CLONE_VM, no new stack): the child has its own
        // copy of memory and ends with _exit.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_FS | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        if pid == 0 {
            let joined = code(join::setns(&mnt));
            let unshared = match nscore::unshare(Kind::Mnt.into()) {
                Ok(()) => 0,
                Err(e) => e.errno().map_or(-1, |e| e as i32),
            };
            let _ = raw::write_all(wr, &[joined as u8, unshared as u8]);
            raw::exit(0);
        }
        if pid < 0 {
            return [-2; 8];
        }
        // SAFETY: this process's own copy of the pipe's write end.
        unsafe { raw::close(wr) };
        let mut b = [0xffu8; 2];
        let _ = raw::read_full(rd, &mut b);
        let _ = raw::reap(pid as libc::pid_t);
        [b[0] as i32, b[1] as i32, code(join::setns(&mnt)), 0, 0, 0, 0, 0]
    });
    assert_eq!(c[0], Errno::EINVAL as i32, "setns(mnt) while sharing the fs state");
    assert_eq!(c[1], 0, "unshare(mnt) while sharing: the kernel copies the fs state");
    assert_eq!(c[2], 0, "control: setns(mnt) once nothing shares the fs state");
    println!("M5-OK");
}

/// A close-on-exec pipe `[read, write]` (raw fds, for a child body).
fn pipe() -> [RawFd; 2] {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a valid two-int out-buffer.
    unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    fds
}

/// J2: `setns_process` (`nsenter --all`) joins exactly the namespaces of a process that the
/// calling thread does not share (pid for its children), all at once, says which, and joins
/// nothing the second time; a gone process is an error that changes nothing. Control: before,
/// the thread differs from the target in those kinds and shares the others.
#[test]
fn j2_setns_process_joins_what_differs() {
    if !common::root_or_skip(
        "j2_setns_process_joins_what_differs",
        "the target's namespaces need CAP_SYS_ADMIN",
    ) {
        return;
    }
    common::helper_ok(&common::run_helper(Spawn::new(KindSet::EMPTY), "helper_j2"), "J2-OK");
}

#[test]
#[ignore = "helper: j2_setns_process_joins_what_differs runs it in a child process"]
fn helper_j2() {
    if !common::is_helper("helper_j2") {
        return;
    }
    let kinds = Kind::Uts | Kind::Ipc | Kind::Net | Kind::Pid;
    let t = Spawn::new(kinds)
        .stdout(nscore::Redirect::Null)
        .spawn("sleep", ["60"])
        .expect("the target");
    let theirs = t.namespaces().unwrap();
    let before = ProcessNamespaces::current_thread().unwrap();
    assert_eq!(
        theirs.differing(&before),
        kinds,
        "control: the target differs in those kinds only"
    );

    // this re-executed process may move its own (test) thread: it ends with the test
    let joined = join::setns_process(t.pid()).expect("setns_process");
    assert_eq!(joined, kinds, "it joins what differs, and says so");
    let after = ProcessNamespaces::current_thread().unwrap();
    for k in [Kind::Uts, Kind::Ipc, Kind::Net] {
        assert_eq!(after.get(k), theirs.get(k), "{k} is the target's");
    }
    assert_eq!(
        after.get(Kind::Pid),
        before.get(Kind::Pid),
        "pid: the thread's own stays"
    );
    assert_eq!(
        after.for_children(Kind::Pid),
        theirs.get(Kind::Pid),
        "pid_for_children is the target's"
    );
    for k in [Kind::Cgroup, Kind::Mnt, Kind::Time, Kind::User] {
        assert_eq!(after.get(k), before.get(k), "{k} was shared and is left alone");
    }
    assert_eq!(
        join::setns_process(t.pid()).unwrap(),
        KindSet::EMPTY,
        "nothing left to join"
    );

    // a process that is gone
    let pid = t.pid();
    drop(t);
    let e = join::setns_process(pid).unwrap_err();
    assert!(matches!(e.errno(), Some(Errno::ENOENT | Errno::ESRCH)), "{e}");
    assert_eq!(
        ProcessNamespaces::current_thread().unwrap().own,
        after.own,
        "nothing changed"
    );
    println!("J2-OK");
}
