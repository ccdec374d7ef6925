//! IPC namespaces in depth (checklist I1–I7): System V shared memory, message queues,
//! semaphores, and POSIX message queues.
//!
//! No IPC object is ever made in the host's IPC namespace: the "parent" side of every test is
//! a scratch child in a new IPC namespace made for the test (plus a mapped user namespace when
//! not root), and the children under test (and the `none` controls) are its children. Objects
//! die with the scratch namespace, pass, fail or panic (the scratch child is killed then).
//! Mounts happen only in new, private mount namespaces, on temporary directories.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet, Spawn};
use nstests::child::*;
use nstests::{cstr, ipc, run_spawn, Mode, Probe};
use rstest::rstest;

/// A scratch child in a new IPC namespace (plus kinds `extra`; a mapped user namespace when
/// not root): the "parent" side of the tests.
fn scratch(extra: KindSet) -> Spawn {
    nstests::scratch(KindSet::EMPTY.with(Kind::Ipc) | extra)
}

/// The namespaces of a grandchild made in `mode`, plus `always`.
fn kinds_for(mode: Mode, always: KindSet) -> KindSet {
    nstests::child::kinds_for(mode, Kind::Ipc.into(), always)
}

/// In the grandchild: `unshare(CLONE_NEWIPC)` in `Unshare` mode. Returns `false` (after
/// reporting) on error.
fn enter(mode: Mode, p: &Probe) -> bool {
    nstests::child::enter(mode, Kind::Ipc.into(), p)
}

const KEY: libc::key_t = 0x4e53_4931;

/// I1: SysV shm, msg queue and semaphore set made under a key by the parent are not found
/// (ENOENT) by a child in a new IPC namespace; the `none` control child finds all three.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i1_sysv_objects_of_parent_not_found_in_child(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        let c = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
        if ipc::shmget(KEY, 4096, c) < 0 || ipc::msgget(KEY, c) < 0 || ipc::semget(KEY, 1, c) < 0 {
            p.line_num(b"create_errno", errno());
            return 2;
        }
        let gc_body = || {
            if !enter(mode, p) {
                return 4;
            }
            for (key, r) in [
                (b"shm".as_slice(), ipc::shmget(KEY, 0, 0)),
                (b"msg", ipc::msgget(KEY, 0)),
                (b"sem", ipc::semget(KEY, 0, 0)),
            ] {
                p.line_num(key, if r < 0 { errno() } else { 0 });
            }
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, KindSet::EMPTY), gc_body) };
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(KindSet::EMPTY), child_body) }.expect("spawn scratch IPC child");
    out.assert_ok();
    assert_eq!(out.num("gc_exit"), 0, "{}", out.text());
    let want = if mode.isolates() { libc::ENOENT as i64 } else { 0 };
    for key in ["shm", "msg", "sem"] {
        assert_eq!(out.num(key), want, "mode {mode}, {key}: {}", out.text());
    }
}

/// I2: two siblings each make the same key: shm writes do not leak, messages do not mix, a
/// semaphore taken in one is free in the other. The `none` control sees all three shared.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i2_siblings_same_key_do_not_share(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        let mut a_ready = pipe();
        let mut b_ready = pipe();
        let go = pipe();
        let sibling = |me: u8, lock: bool, ready: libc::c_int| {
            move || -> i32 {
                if !enter(mode, p) {
                    return 4;
                }
                let shm = ipc::shmget(KEY, 4096, libc::IPC_CREAT | 0o600);
                let mem = if shm < 0 { std::ptr::null_mut() } else { ipc::shmat(shm) };
                let msg = ipc::msgget(KEY, libc::IPC_CREAT | 0o600);
                let mut sem = ipc::semget(KEY, 1, libc::IPC_CREAT | libc::IPC_EXCL | 0o600);
                if sem >= 0 {
                    ipc::semsetval(sem, 1);
                } else {
                    sem = ipc::semget(KEY, 1, 0);
                }
                if mem.is_null() || msg < 0 || sem < 0 {
                    p.line_num(b"create_errno", errno());
                    signal(ready);
                    return 5;
                }
                // SAFETY: `mem` is an attached segment of 4096 bytes.
                unsafe { *mem = me };
                ipc::msgsnd(msg, me);
                if lock {
                    p.line_num(b"a_lock", ipc::semtrylock(sem));
                }
                signal(ready);
                if !wait(go[0]) {
                    return 6;
                }
                let tag = [me, b'_'];
                let mut key = [0u8; 8];
                let mut put = |what: &[u8], v: i64| {
                    key[..2].copy_from_slice(&tag);
                    key[2..2 + what.len()].copy_from_slice(what);
                    p.line_num(&key[..2 + what.len()], v);
                };
                // SAFETY: as above.
                put(b"shm", unsafe { *mem } as i64);
                put(b"qnum", ipc::msg_qnum(msg));
                if !lock {
                    put(b"lock", ipc::semtrylock(sem));
                }
                0
            }
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let a = unsafe { fork_with(kinds_for(mode, KindSet::EMPTY), sibling(b'a', true, a_ready[1])) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if a < 0 || !unsafe { wait_ready(&mut a_ready) } {
            return 2;
        }
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let b = unsafe { fork_with(kinds_for(mode, KindSet::EMPTY), sibling(b'b', false, b_ready[1])) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if b < 0 || !unsafe { wait_ready(&mut b_ready) } {
            return 3;
        }
        signal(go[1]);
        signal(go[1]);
        p.line_num(b"a_exit", raw::reap(a).unwrap_or(-1) as i64);
        p.line_num(b"b_exit", raw::reap(b).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(KindSet::EMPTY), child_body) }.expect("spawn scratch IPC child");
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("a_exit"), 0, "{t}");
    assert_eq!(out.num("b_exit"), 0, "{t}");
    assert_eq!(out.num("a_lock"), 0, "{t}");
    if mode.isolates() {
        assert_eq!(out.num("a_shm"), b'a' as i64, "{t}");
        assert_eq!(out.num("b_shm"), b'b' as i64, "{t}");
        assert_eq!(out.num("a_qnum"), 1, "{t}");
        assert_eq!(out.num("b_qnum"), 1, "{t}");
        assert_eq!(
            out.num("b_lock"),
            0,
            "the semaphore is free in the other namespace\n{t}"
        );
    } else {
        assert_eq!(out.num("a_shm"), b'b' as i64, "control: shared segment\n{t}");
        assert_eq!(out.num("a_qnum"), 2, "control: shared queue\n{t}");
        assert_eq!(out.num("b_qnum"), 2, "control: shared queue\n{t}");
        assert_eq!(out.num("b_lock"), libc::EAGAIN as i64, "control: shared semaphore\n{t}");
    }
}

/// I3: POSIX mqueue: the parent's `/q` is ENOENT in the child; `O_CREAT|O_EXCL` of `/q`
/// succeeds in the child and gives EEXIST in the `none` control.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i3_posix_mqueue_of_parent_not_found_in_child(#[case] mode: Mode) {
    let q = cstr("q");
    let child_body = |p: &Probe| {
        if ipc::mq_open(&q, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR) < 0 {
            p.line_num(b"create_errno", errno());
            return 2;
        }
        let gc_body = || {
            if !enter(mode, p) {
                return 4;
            }
            let r = ipc::mq_open(&q, libc::O_RDWR);
            p.line_num(b"open", if r < 0 { errno() } else { 0 });
            let r = ipc::mq_open(&q, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR);
            p.line_num(b"excl", if r < 0 { errno() } else { 0 });
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, KindSet::EMPTY), gc_body) };
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(KindSet::EMPTY), child_body) }.expect("spawn scratch IPC child");
    out.assert_ok();
    assert_eq!(out.num("gc_exit"), 0, "{}", out.text());
    if mode.isolates() {
        assert_eq!(out.num("open"), libc::ENOENT as i64, "{}", out.text());
        assert_eq!(out.num("excl"), 0, "{}", out.text());
    } else {
        assert_eq!(out.num("open"), 0, "control: {}", out.text());
        assert_eq!(out.num("excl"), libc::EEXIST as i64, "control: {}", out.text());
    }
}

/// I4: with a new mount namespace and mqueue mounted inside, the mount lists only the
/// child's queues (the `none` control, in a new mount namespace but the same IPC namespace,
/// lists the parent's too); after a child's last process has exited, its mqueue mount still
/// lists its queue and an nsfd joins a namespace that still has it. (What the mount alone
/// does for the namespace's life, without the nsfd, is I8.)
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i4_mqueue_mount_lists_own_queues_and_keeps_ns_alive(#[case] mode: Mode) {
    let d1 = tempfile::tempdir().expect("tempdir");
    let d2 = tempfile::tempdir().expect("tempdir");
    let d3 = tempfile::tempdir().expect("tempdir");
    let (c1, c2, c3) = (
        nstests::cpath(d1.path()),
        nstests::cpath(d2.path()),
        nstests::cpath(d3.path()),
    );
    let mqfs = cstr("mqueue");
    let (qp, qc, qk) = (cstr("i4parent"), cstr("i4child"), cstr("i4keep"));
    let child_body = |p: &Probe| {
        let rw = libc::O_CREAT | libc::O_RDWR;
        if ipc::mq_open(&qp, rw) < 0 {
            p.line_num(b"create_errno", errno());
            return 2;
        }
        p.line_num(b"mount1", ipc::mount(&mqfs, &c1));
        // A grandchild in a new mount namespace (always) and, unless `none`, a new IPC one.
        let gc_body = || {
            if !enter(mode, p) {
                return 4;
            }
            if ipc::mq_open(&qc, rw) < 0 {
                p.line_num(b"create_errno", errno());
                return 5;
            }
            p.line_num(b"mount2", ipc::mount(&mqfs, &c2));
            list_dir(p, b"gc_sees", &c2);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, Kind::Mnt.into()), gc_body) };
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        list_dir(p, b"parent_sees", &c1);
        // Lifetime: a grandchild in a new IPC namespace (same mount namespace) makes a queue
        // and mounts its mqueue; the parent holds an nsfd too; then the grandchild exits.
        let mut ready = pipe();
        let go = pipe();
        let gk_body = || {
            if ipc::mq_open(&qk, rw) < 0 {
                p.line_num(b"create_errno", errno());
                signal(ready[1]);
                return 5;
            }
            p.line_num(b"mount3", ipc::mount(&mqfs, &c3));
            signal(ready[1]);
            wait(go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gk = unsafe { fork_with(Kind::Ipc.into(), gk_body) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if gk < 0 || !unsafe { wait_ready(&mut ready) } {
            return 6;
        }
        let mut path = [0u8; 64];
        let nsfd = raw::open(proc_path(&mut path, gk as i64, b"/ns/ipc")).unwrap_or(-1);
        signal(go[1]);
        p.line_num(b"gk_exit", raw::reap(gk).unwrap_or(-1) as i64);
        // The mount still shows the dead grandchild's queue.
        list_dir(p, b"kept_by_mount", &c3);
        // And the nsfd still joins a namespace that has it.
        let gj_body = || {
            if raw::setns(nsfd, Kind::Ipc.into()).is_err() {
                return 7;
            }
            (ipc::mq_open(&qk, libc::O_RDWR) < 0) as i32
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gj = unsafe { fork_with(KindSet::EMPTY, gj_body) };
        p.line_num(b"kept_by_nsfd", raw::reap(gj).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(Kind::Mnt.into()), child_body) }.expect("spawn scratch IPC+mount child");
    out.assert_ok();
    let t = out.text();
    for key in ["mount1", "mount2", "mount3", "gc_exit", "gk_exit", "kept_by_nsfd"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    let seen = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    if mode.isolates() {
        assert_eq!(seen("gc_sees"), ["i4child"], "{t}");
        assert_eq!(seen("parent_sees"), ["i4parent"], "{t}");
    } else {
        assert_eq!(seen("gc_sees"), ["i4child", "i4parent"], "control\n{t}");
        assert_eq!(seen("parent_sees"), ["i4child", "i4parent"], "control\n{t}");
    }
    assert_eq!(seen("kept_by_mount"), ["i4keep"], "{t}");
}

/// I5: per-namespace IPC sysctls (`kernel.shmmax`, `kernel.msgmni`,
/// `fs.mqueue.msg_max`) set inside are seen inside and not outside; `/proc/sysvipc/shm`
/// lists a segment made inside only there. The `none` control sees both shared. The host's
/// values never change (they are read before and after).
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i5_ipc_sysctls_and_sysvipc_listing_per_namespace(#[case] mode: Mode) {
    const SYSCTLS: [(&str, &[u8]); 3] = [
        ("/proc/sys/kernel/shmmax", b"1234567"),
        ("/proc/sys/kernel/msgmni", b"321"),
        ("/proc/sys/fs/mqueue/msg_max", b"17"),
    ];
    const K5: libc::key_t = 0x4e53_4935;
    let sysvipc = cstr("/proc/sysvipc/shm");
    let mut kbuf = [0u8; 24];
    let kdec: Vec<u8> = decimal(K5 as i64, &mut kbuf).to_vec();
    // Inside, after the sysctls: a segment under K5; both sides report whether
    // /proc/sysvipc/shm lists it ("cl" inside, "pl" outside).
    let make_segment = |_: &Probe| ipc::shmget(K5, 4096, libc::IPC_CREAT | 0o600) >= 0;
    let report_listing = |p: &Probe, prefix: u8| {
        let mut big = [0u8; 16384];
        let listing = nstests::read_small(&sysvipc, &mut big);
        p.line_num(&[prefix, b'l'], contains(listing, &kdec) as i64);
    };
    // SAFETY: `make_segment` and `report_listing` make only raw system calls on memory made
    // before the spawn (no allocation, no lock, no panic) and close only the file they open.
    let out = unsafe {
        nstests::sysctl::check_per_namespace(
            scratch(KindSet::EMPTY),
            mode,
            Kind::Ipc.into(),
            &SYSCTLS,
            make_segment,
            report_listing,
        )
    };
    let t = out.text();
    assert_eq!(out.num("cl"), 1, "the child lists its segment\n{t}");
    assert_eq!(out.num("pl"), !mode.isolates() as i64, "parent's listing\n{t}");
}

/// I6: objects made inside live exactly as long as their namespace: after their maker has
/// exited, a process that joins the namespace by a held nsfd finds the shm segment and the
/// queue (control: the parent's own namespace does not have them). When the nsfd is closed
/// too, nothing refers to the namespace any more and it is freed with its objects (this end
/// itself is not observable from outside without `listns`; L1 covers lifetime across kinds).
#[test]
fn i6_objects_live_with_the_namespace_joined_by_held_fd() {
    let q = cstr("i6q");
    let child_body = |p: &Probe| {
        let mut ready = pipe();
        let go = pipe();
        let maker_body = || {
            let c = libc::IPC_CREAT | libc::IPC_EXCL | 0o600;
            let o = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR;
            if ipc::shmget(KEY, 4096, c) < 0 || ipc::mq_open(&q, o) < 0 {
                p.line_num(b"create_errno", errno());
                return 5;
            }
            signal(ready[1]);
            wait(go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let maker = unsafe { fork_with(Kind::Ipc.into(), maker_body) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if maker < 0 || !unsafe { wait_ready(&mut ready) } {
            return 2;
        }
        let mut path = [0u8; 64];
        let nsfd = raw::open(proc_path(&mut path, maker as i64, b"/ns/ipc")).unwrap_or(-1);
        signal(go[1]);
        p.line_num(b"maker_exit", raw::reap(maker).unwrap_or(-1) as i64);
        // The maker is gone; the nsfd holds the namespace.
        let joiner = |p: &Probe, tag: &[u8]| {
            let j_body = || {
                if raw::setns(nsfd, Kind::Ipc.into()).is_err() {
                    return 7;
                }
                let shm = (ipc::shmget(KEY, 0, 0) >= 0) as i32;
                let mq = (ipc::mq_open(&q, libc::O_RDWR) >= 0) as i32;
                shm + 2 * mq
            };
            // SAFETY: the grandchild's body makes only raw system calls on memory made before the
            // fork and closes only its own pipe ends.
            let j = unsafe { fork_with(KindSet::EMPTY, j_body) };
            p.line_num(tag, raw::reap(j).unwrap_or(-1) as i64);
        };
        joiner(p, b"found");
        // Control: the scratch namespace itself does not have them.
        p.line_num(b"own_shm", (ipc::shmget(KEY, 0, 0) >= 0) as i64);
        // SAFETY: this process owns its copy of `nsfd` (a pipe end or fd made for this test) and
        // does not use it again.
        unsafe { close(nsfd) };
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(KindSet::EMPTY), child_body) }.expect("spawn scratch IPC child");
    out.assert_ok();
    assert_eq!(out.num("maker_exit"), 0, "{}", out.text());
    assert_eq!(out.num("found"), 3, "shm and mqueue found by joining\n{}", out.text());
    assert_eq!(out.num("own_shm"), 0, "{}", out.text());
}

/// I7: shmat of the parent's segment (by id) fails inside a new IPC namespace and works after
/// setns into the parent's IPC namespace; the `none` control attaches at once.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn i7_shmat_parent_segment_only_after_setns(#[case] mode: Mode) {
    let own = cstr("/proc/self/ns/ipc");
    let child_body = |p: &Probe| {
        let id = ipc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
        let mem = if id < 0 { std::ptr::null_mut() } else { ipc::shmat(id) };
        if mem.is_null() {
            return 2;
        }
        // SAFETY: `mem` is an attached 4096-byte segment.
        unsafe { *mem = 0x5a };
        let nsfd = raw::open(&own).unwrap_or(-1);
        let gc_body = || {
            if !enter(mode, p) {
                return 4;
            }
            let before = ipc::shmat_peek(id);
            p.line_num(b"before", before);
            if let Err(e) = raw::setns(nsfd, Kind::Ipc.into()) {
                p.line_num(b"setns_errno", e as i64);
                return 5;
            }
            let after = ipc::shmat_peek(id);
            p.line_num(b"after", after);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, KindSet::EMPTY), gc_body) };
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(KindSet::EMPTY), child_body) }.expect("spawn scratch IPC child");
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("gc_exit"), 0, "{t}");
    if mode.isolates() {
        assert_eq!(out.num("before"), -(libc::EINVAL as i64), "{t}");
    } else {
        assert_eq!(out.num("before"), 0x5a, "control\n{t}");
    }
    assert_eq!(out.num("after"), 0x5a, "{t}");
}
