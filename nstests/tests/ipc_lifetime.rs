//! The life of an IPC namespace seen through an mqueue mount (checklist depth item I8). The
//! "parent" side is a scratch child in new mount (and, not as root, user) namespaces; the
//! namespace under test is a grandchild's; mounts go on temporary directories only.
//! Peers: LTP `containers/mqns/mqns_0{3,4}.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::{cstr, ipc, run_spawn, scratch, Probe};
use rstest::rstest;

/// I8: a grandchild in a new IPC namespace makes a queue, mounts its mqueue filesystem on a
/// directory of the shared mount namespace and exits. With nothing else holding it (the
/// mount alone), the namespace ends: the mount still lists the queue's file, but an
/// outsider's `creat()` in it gives EACCES (the filesystem has lost its namespace). Control:
/// while the parent holds an nsfd, the same `creat()` works and the new queue is found by
/// joining the namespace. (The checklist said the mount alone keeps the namespace alive; on
/// Linux it does not: the mount pins the filesystem, not the namespace.)
#[rstest]
#[case::mount_only(false)]
#[case::mount_and_nsfd(true)]
fn i8_mqueue_mount_alone_does_not_keep_the_namespace(#[case] hold_nsfd: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = cstr(dir.path().to_str().unwrap());
    let new_file = cstr(&format!("{}/i8new", dir.path().display()));
    let (queue, new_queue) = (cstr("i8queue"), cstr("i8new"));
    let child_body = |p: &Probe| {
        let (mut ready, go) = (pipe(), pipe());
        let g_body = || {
            // SAFETY: this process owns its copy of `go[1]` (a pipe end or fd made for this test)
            // and does not use it again.
            unsafe { nstests::child::close(go[1]) };
            if ipc::mq_open(&queue, libc::O_CREAT | libc::O_RDWR) < 0 {
                p.line_num(b"mq_open_errno", errno());
                return 2;
            }
            p.line_num(b"mount", ipc::mount(c"mqueue", &target));
            signal(ready[1]);
            wait(go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let g = unsafe { fork_with(Kind::Ipc.into(), g_body) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if g < 0 || !unsafe { wait_ready(&mut ready) } {
            return 1;
        }
        let mut path = [0u8; 64];
        let nsfd = if hold_nsfd {
            raw::open(proc_path(&mut path, g as i64, b"/ns/ipc")).unwrap_or(-1)
        } else {
            -1
        };
        signal(go[1]);
        p.line_num(b"g_exit", raw::reap(g).unwrap_or(-1) as i64);
        list_dir(p, b"listed", &target);
        let flags = rustix::fs::OFlags::CREATE | rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC;
        let created = rustix::fs::open(&new_file, flags, rustix::fs::Mode::from_raw_mode(0o600));
        // (the file, if made, is closed as `created` drops)
        p.line_num(b"creat_errno", err_code(created));
        if nsfd >= 0 {
            let found_body = || {
                if raw::setns(nsfd, Kind::Ipc.into()).is_err() {
                    return 2;
                }
                (ipc::mq_open(&new_queue, libc::O_RDWR) < 0) as i32
            };
            // SAFETY: the grandchild's body makes only raw system calls on memory made before the
            // fork and closes only its own pipe ends.
            let found = unsafe { fork_with(KindSet::EMPTY, found_body) };
            p.line_num(b"found_by_join", raw::reap(found).unwrap_or(-1) as i64);
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(Kind::Mnt.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("mount"), 0, "{t}");
    assert_eq!(out.num("g_exit"), 0, "{t}");
    assert!(t.contains("listed=i8queue\n"), "the mount still lists the queue: {t}");
    if hold_nsfd {
        assert_eq!(out.num("creat_errno"), 0, "control: the namespace lives: {t}");
        assert_eq!(out.num("found_by_join"), 0, "control: {t}");
    } else {
        assert_eq!(
            out.num("creat_errno"),
            libc::EACCES as i64,
            "the mount alone does not keep the namespace: {t}"
        );
    }
}
