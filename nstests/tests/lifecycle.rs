//! Across kinds (checklist L1, L5): a namespace's lifetime, and nothing left behind. Limits,
//! privilege and setns errors (L2–L4) are in `lifecycle_errors.rs`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::collections::BTreeSet;
use std::path::Path;

use nscore::{raw, Errno, Kind, KindSet, NsHandle, Spawn};
use nstests::child::*;
use nstests::live::*;
use nstests::{cstr, require_root, run_spawn, Mode, Probe};
use rstest::rstest;

/// Tries to create a namespace of `kind` (a clone that exits at once) until it works or
/// `tries` attempts of 10 ms have passed (namespace teardown is asynchronous): the number of
/// attempts used, or -errno of the last one.
fn create_until_ok(kind: Kind, tries: i64) -> i64 {
    let mut last = Errno::UnknownErrno;
    for i in 0..tries {
        match raw::clone_exit(kind.into(), None) {
            Ok(_) => return i + 1,
            Err(e) => last = e,
        }
        sleep_ms(10);
    }
    -(last as i64)
}

/// `shmget(key, 4096, flags)`: the id or -errno.
fn shmget(key: i32, flags: i32) -> i64 {
    let r = nstests::ipc::shmget(key, 4096, flags);
    if r < 0 {
        -errno()
    } else {
        r as i64
    }
}

/// A SysV key from the test's pid and a salt (unique enough among parallel tests).
fn ipc_key(salt: i32) -> i32 {
    0x4835_0000 ^ ((std::process::id() as i32) << 4) ^ salt
}

/// What holds the namespace in L1 after its last process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Nothing (control): the namespace ends with its process.
    Nothing,
    /// An open fd on its nsfs file.
    Fd,
    /// A bind mount of its nsfs file (what `ip netns add` and nscore::persist do).
    BindMount,
}

/// L1: an IPC namespace outlives its last process while an fd or a bind mount holds it (a
/// SysV segment made in it is still found by a process that joins it through the holder),
/// and ends when the last holder goes. Observed through the per-user-namespace count: in a
/// scratch user namespace with `max_ipc_namespaces` = 1, a new IPC namespace gives ENOSPC
/// exactly while the old one lives. Control: without a holder, it ends with its process.
#[rstest]
#[case::nothing(Holder::Nothing)]
#[case::fd(Holder::Fd)]
#[case::bind_mount(Holder::BindMount)]
fn l1_namespace_lives_while_held(#[case] holder: Holder) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ipcns");
    std::fs::write(&file, b"").unwrap();
    let target = cstr(file.to_str().unwrap());
    let limit = cstr(Kind::Ipc.limit_file());
    let key = ipc_key(holder as i32);
    let spawn = Spawn::new(Kind::User | Kind::Mnt).map_root();
    let child_body = |p: &Probe| {
        if let Err(e) = write_file(&limit, b"1\n") {
            p.line_num(b"limit_errno", e as i64);
            return 1;
        }
        let ([r, w], [go_r, go_w]) = (pipe(), pipe());
        if r < 0 || go_r < 0 {
            return 1;
        }
        let first = || {
            if let Err(e) = raw::unshare(Kind::Ipc.into()) {
                put_i64(w, -(e as i64));
                return 1;
            }
            put_i64(w, shmget(key, libc::IPC_CREAT | 0o600));
            put_i64(w, readlink_num(c"/proc/self"));
            wait(go_r);
            0
        };
        // SAFETY: `first` makes only raw system calls on memory made before the fork.
        let Some(first) = (unsafe { nsfork_with(p, Mode::None, KindSet::EMPTY, first) }) else {
            return 1;
        };
        let shm = get_i64(r).unwrap_or(-1);
        let pid = get_i64(r).unwrap_or(-1);
        let mut buf = [0u8; 64];
        let nspath = proc_path(&mut buf, pid, b"/ns/ipc");
        let mut fd = -1;
        match holder {
            Holder::Nothing => {}
            Holder::Fd => fd = raw::open(nspath).unwrap_or(-1),
            Holder::BindMount => {
                if let Err(e) = bind(nspath, &target, false) {
                    p.line_num(b"bind_errno", e as i64);
                }
            }
        }
        let _ = raw::write_all(go_w, b"x");
        let code = raw::reap(first).unwrap_or(99);
        p.line_num(b"first_exit", code as i64);
        p.line_num(b"shm", shm);
        if holder == Holder::Nothing {
            // it ends with its process: a new one can be made (after the async teardown)
            p.line_num(b"create_after_exit", create_until_ok(Kind::Ipc, 300));
            return 0;
        }
        // still alive: the limit is taken, and the segment is found by joining
        p.line_num(b"create_while_held", err_of(raw::clone_exit(Kind::Ipc.into(), None)));
        let join = || {
            let jfd = if fd >= 0 { fd } else { raw::open(&target).unwrap_or(-1) };
            if let Err(e) = raw::setns(jfd, Kind::Ipc.into()) {
                put_i64(w, -(e as i64));
                return 1;
            }
            put_i64(w, shmget(key, 0));
            0
        };
        // SAFETY: `join` makes only raw system calls on memory made before the fork.
        if let Some(c) = unsafe { nsfork_with(p, Mode::None, KindSet::EMPTY, join) } {
            let found = get_i64(r).unwrap_or(-1);
            let _ = raw::reap(c);
            p.line_num(b"found_after_join", (found == shm) as i64);
        }
        // release the last holder: then it ends
        if fd >= 0 {
            // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test) and
            // does not use it again.
            unsafe { nstests::child::close(fd) };
        }
        if holder == Holder::BindMount {
            p.line_num(b"detach_errno", err_of(detach(&target)));
        }
        p.line_num(b"create_after_release", create_until_ok(Kind::Ipc, 300));
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(spawn, child_body) }.unwrap();
    out.assert_ok();
    assert_eq!(out.num("first_exit"), 0, "{}", out.text());
    assert!(out.num("shm") >= 0, "{}", out.text());
    if holder == Holder::Nothing {
        assert!(out.num("create_after_exit") > 0, "control: it ended: {}", out.text());
    } else {
        assert_eq!(
            out.num("create_while_held"),
            libc::ENOSPC as i64,
            "{holder:?} holds it: {}",
            out.text()
        );
        assert_eq!(out.num("found_after_join"), 1, "{holder:?}: {}", out.text());
        assert!(
            out.num("create_after_release") > 0,
            "{holder:?}: ended on release: {}",
            out.text()
        );
    }
    // the bind mount was only ever in the child's mount namespace
    assert!(
        NsHandle::open(&file).is_err(),
        "no namespace mounted on the host's file"
    );
}

/// What the host shows: mounts, SysV objects, interfaces.
fn host_state() -> (String, String, BTreeSet<String>) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ipc = ["shm", "msg", "sem"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("/proc/sysvipc/{f}")).unwrap_or_default())
        .collect();
    let links = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (mounts, ipc, links)
}

/// How L5's run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The child ends normally; the test cleans up.
    Pass,
    /// The child is killed in the middle; the test cleans up.
    Killed,
    /// Control: the test "forgets" to undo the namespace it persisted on the host.
    Leaked,
}

/// L5: everything a test makes is gone after it, whether the child ends normally or is
/// killed in the middle: no mounts (tmpfs, bind mount of a namespace file inside the child;
/// the child's network namespace persisted by nscore on a file of the tests' own mount
/// namespace, a real mount there while the test runs), no bind-mount file left mounted, no
/// processes (the child, grandchildren in its PID namespace), no IPC objects, no interfaces.
/// Control (`leaked`): a persisted namespace that is not undone is seen by the same check
/// (then removed by hand), so the check can fail.
#[rstest]
#[case::pass(End::Pass)]
#[case::killed(End::Killed)]
#[case::leaked(End::Leaked)]
fn l5_nothing_left_behind(#[case] end: End) {
    // the cases mount on the tests' own mount namespace: one at a time, so that each sees
    // only its own
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let killed = end == End::Killed;
    if !require_root(
        "l5_nothing_left_behind",
        "mounts a tmpfs and binds a namespace file in a child",
    ) {
        return;
    }
    let (mounts0, _, links0) = host_state();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("tmpfs");
    std::fs::create_dir(&mnt).unwrap();
    let file = dir.path().join("netns");
    std::fs::write(&file, b"").unwrap();
    let (mnt_c, file_c) = (cstr(mnt.to_str().unwrap()), cstr(file.to_str().unwrap()));
    let key = ipc_key(0x100 + end as i32);
    let spawn = Spawn::new(Kind::Pid | Kind::Mnt | Kind::Ipc | Kind::Net | Kind::Uts).loopback_up(true);
    let child_body = |r: &Probe, gate: Gate| {
        r.line_num(b"pid", readlink_num(c"/proc/self"));
        r.line_num(b"tmpfs", err_of(mount_fs(c"tmpfs", &mnt_c)));
        r.line_num(b"bind", err_of(bind(c"/proc/self/ns/net", &file_c, false)));
        r.line_num(b"shm", shmget(key, libc::IPC_CREAT | 0o600));
        let [sync_r, sync_w] = pipe();
        if sync_r < 0 {
            return 1;
        }
        for _ in 0..2 {
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    r.line_num(b"pid", readlink_num(c"/proc/self"));
                    let _ = raw::write_all(sync_w, b"x");
                    // SAFETY: in a fork-like child, which never runs past this call.
                    unsafe { pause_forever() };
                }
                Ok(_) => {
                    // one writer at a time: wait until this one has reported
                    wait(sync_r);
                }
                Err(e) => r.line_num(b"fork_errno", e as i64),
            }
        }
        r.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(spawn, child_body) }.unwrap();
    let text = live.until("ready");
    let pids: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("pid="))
        .map(str::to_owned)
        .collect();
    assert_eq!(pids.len(), 3, "{text}");
    assert!(text.contains("tmpfs=0\n") && text.contains("bind=0\n"), "{text}");
    let ipc_during = host_state().1;
    let hex = format!("{key:10}");
    assert!(!ipc_during.contains(&hex), "the segment is not on the host: {key}");
    let persisted_file = dir.path().join("persisted");
    let persisted = nscore::persist::persist(&live.child.ns(Kind::Net).unwrap(), &persisted_file).unwrap();
    assert_ne!(
        host_state().0,
        mounts0,
        "the persisted namespace is a mount here while it runs"
    );
    if killed {
        live.child.kill().unwrap();
    }
    let out = live.finish();
    if !killed {
        out.assert_ok();
    }
    if end == End::Leaked {
        let path = persisted.keep();
        assert_ne!(host_state().0, mounts0, "control: the check sees what was left");
        assert!(
            NsHandle::open(&path).is_ok(),
            "control: the namespace outlived its processes"
        );
        nscore::persist::unpersist(&path).unwrap();
    } else {
        persisted.remove().unwrap();
    }
    assert!(
        NsHandle::open(&persisted_file).is_err(),
        "no namespace is held by the file"
    );
    let (mounts1, ipc1, links1) = host_state();
    assert_eq!(mounts0, mounts1, "no mounts left on the host");
    assert_eq!(links0, links1, "no interfaces left on the host");
    assert!(!ipc1.contains(&hex), "no IPC object left on the host");
    for pid in &pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} is gone");
    }
    assert!(NsHandle::open(&file).is_err(), "the bind-mount file holds no namespace");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
    drop(dir);
    assert!(!file.exists(), "the bind-mount file is gone");
}
