//! `Spawn::empty_mntns` (`CLONE_EMPTY_MNTNS`, Linux 7.1): a child in a mount namespace that
//! holds one mount instead of a copy of the parent's.
//!
//! Which tests run depends on the kernel, as nscore's probe (`create::probe_empty_mntns`) finds
//! it: without the flag, the typed "unsupported" error and nothing made; with it, the child's
//! namespace (new, one mount, against a copy as the control) and a command run from a root
//! attached over the empty one. Each prints a `SKIPPED` line on the other kind of kernel. The
//! argument rules are checked everywhere.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;

use nscore::create::probe_empty_mntns;
use nscore::{Child, Errno, Kind, NsHandle, Op, Pid, Pool, Spawn, TimeOffsets};

/// Whether this process is root (a new mount namespace, and cloning a mount tree, need
/// `CAP_SYS_ADMIN`) and the probe finds `CLONE_EMPTY_MNTNS` in this kernel; otherwise says
/// why `test` skips.
fn root_and_kernel_flag_or_skip(test: &str) -> bool {
    if !common::root_or_skip(test, "a new mount namespace needs CAP_SYS_ADMIN") {
        return false;
    }
    match probe_empty_mntns() {
        Ok(()) => true,
        Err(e) => {
            assert!(e.is_unsupported(), "the probe fails only as unsupported: {e}");
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: needs Linux 7.1 or newer (CLONE_EMPTY_MNTNS); the probe says: {e}"
            );
            false
        }
    }
}

/// The mount points of `/proc/<pid>/mountinfo` (the fifth field), in its order.
fn mount_points(pid: &str) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap_or_default().to_owned())
        .collect()
}

/// A function child of `spawn` that says it is ready and then waits to be killed (on drop).
fn waiting_child(spawn: Spawn) -> Child {
    let (r, w) = common::ready_pipe();
    let w = w.as_raw_fd();
    // SAFETY: the body writes one byte to a pipe it has and then calls pause(2).
    let child = unsafe { spawn.run(|| common::report_and_pause(w, 0)) }.unwrap();
    common::wait_ready(&r);
    child
}

fn mnt_ino(pid: Pid) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/mnt")).unwrap().ino()
}

/// On a kernel without the flag, the option is an error for which `is_unsupported` is true:
/// `clone3` refused it with `EINVAL` (so no child and no namespace was made), and the hint says
/// which kernel and flag it needs; the same error as the probe's. With a root, the tree this
/// process cloned for it is dropped with the error: the mount table is as it was. On a kernel
/// with the flag (7.x), the probe's yes is checked instead: the same spawn works.
#[test]
fn without_the_kernel_flag_the_option_is_a_typed_error() {
    let test = "without_the_kernel_flag_the_option_is_a_typed_error";
    let before = mount_points("self");
    if probe_empty_mntns().is_ok() {
        // The other side of the same contract: where the probe says yes, the same spawn works
        // (as root; rootless, the clone is refused for want of privilege, not of the flag).
        if common::root_or_skip(test, "an empty mount namespace needs CAP_SYS_ADMIN") {
            // SAFETY: the body returns at once (no allocation, no lock).
            let mut c = unsafe { Spawn::new(Kind::Mnt).empty_mntns(true).run(|| 0) }.unwrap();
            assert!(c.wait().unwrap().success());
        }
        assert_eq!(mount_points("self"), before, "nothing was mounted here");
        return;
    }
    // SAFETY: the body returns at once (it never runs: the clone is refused).
    let e = unsafe { Spawn::new(Kind::Mnt).empty_mntns(true).run(|| 0) }.unwrap_err();
    assert!(e.is_unsupported(), "{e}");
    assert_eq!((e.op(), e.errno()), (Op::Clone3, Some(Errno::EINVAL)), "{e}");
    assert_eq!(e.kinds(), Kind::Mnt.into(), "{e}");
    let hint = e.hint().unwrap_or_default();
    assert!(
        hint.contains("needs Linux 7.1") && hint.contains("CLONE_EMPTY_MNTNS"),
        "{e}"
    );
    assert!(e.to_string().contains("CLONE_EMPTY_MNTNS"), "{e}");
    assert_eq!(probe_empty_mntns().unwrap_err(), e, "the probe's error is the spawn's");
    if common::root_or_skip(
        &format!("{test} (with a root)"),
        "cloning the root's mount tree needs CAP_SYS_ADMIN",
    ) {
        let e = Spawn::new(Kind::Mnt)
            .empty_mntns(true)
            .root("/")
            .spawn("/bin/true", [""; 0])
            .unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        assert_eq!((e.op(), e.errno()), (Op::Clone3, Some(Errno::EINVAL)), "{e}");
    }
    assert_eq!(mount_points("self"), before, "nothing was mounted");
}

/// On a kernel with the flag, the child's mount namespace is new and holds one mount, mounted
/// on `/`: its root and working directory (the kernel's selftests check it is `nullfs`). The
/// control, a copy (`Kind::Mnt` alone), holds every mount this process sees.
#[test]
fn the_childs_mount_namespace_is_new_and_holds_one_mount() {
    if !root_and_kernel_flag_or_skip("the_childs_mount_namespace_is_new_and_holds_one_mount") {
        return;
    }
    let mine = mount_points("self");
    assert!(mine.len() > 1, "the wall has mounts of its own: {mine:?}");
    let own = mnt_ino(Pid::this());

    let empty = waiting_child(Spawn::new(Kind::Mnt).empty_mntns(true));
    let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", empty.pid())).unwrap();
    assert_eq!(mount_points(&empty.pid().to_string()), ["/"], "one mount, on /: {info}");
    assert_ne!(mnt_ino(empty.pid()), own, "a new mount namespace");

    let copy = waiting_child(Spawn::new(Kind::Mnt));
    // the same mounts, in whatever order the copy lists them (7.2 lists a copy's mounts in
    // another order than the original's mountinfo)
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(mount_points(&copy.pid().to_string())),
        sorted(mine.clone()),
        "control: a copy has them all"
    );
    assert_ne!(mnt_ino(copy.pid()), own);
    assert_eq!(mount_points("self"), mine, "this process's mounts are as they were");
}

/// With a root, the child's mount table is the tree at that directory (a scratch directory
/// on the wall's `/tmp`: one mount) attached over the empty root, plus the `/proc` it mounted
/// there; a command is run from it (a static program copied into the root); nothing the child
/// mounted shows in this process's mount namespace.
#[test]
fn a_root_is_attached_over_the_empty_one_and_runs_the_command() {
    if !root_and_kernel_flag_or_skip("a_root_is_attached_over_the_empty_one_and_runs_the_command") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("proc")).unwrap();
    common::copy_static_program(dir.path(), "only-in-the-root");
    let mine = mount_points("self");

    let child = waiting_child(
        Spawn::new(Kind::Mnt | Kind::Pid)
            .empty_mntns(true)
            .root(dir.path())
            .mount_proc(true),
    );
    assert_eq!(
        mount_points(&child.pid().to_string()),
        ["/", "/proc"],
        "the root's tree and the fresh /proc, nothing else of this process's {mine:?}"
    );
    drop(child);

    let out = common::output_of_fresh_copy(
        || Spawn::new(Kind::Mnt).empty_mntns(true).root(dir.path()),
        "/only-in-the-root",
        &["--version"],
    );
    assert!(out.status.success(), "{}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ldconfig"), "{text}");
    assert_eq!(mount_points("self"), mine, "nothing mounted here, /proc included");
}

fn refused(spawn: Spawn, words: &str) {
    // SAFETY: the body returns at once (it never runs: the spawn is refused before the clone).
    let e = unsafe { spawn.run(|| 0) }.unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Validate, None), "{e}");
    assert!(e.to_string().contains(words), "{words:?}: {e}");
}

/// What the option cannot go with is refused before any system call, whatever the kernel: it
/// needs `Kind::Mnt`; a command, or `/proc`, needs a root; no time offsets, no mount namespace
/// to join, no pool.
#[test]
fn what_an_empty_mount_namespace_cannot_go_with_is_refused() {
    refused(Spawn::new(Kind::Uts).empty_mntns(true), "needs a new mnt namespace");
    let e = Spawn::new(Kind::Mnt)
        .empty_mntns(true)
        .spawn("/bin/true", [""; 0])
        .unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Validate, None), "{e}");
    assert!(e.to_string().contains("Spawn::root"), "{e}");
    refused(
        Spawn::new(Kind::Mnt | Kind::Pid).empty_mntns(true).mount_proc(true),
        "no /proc",
    );
    refused(
        Spawn::new(Kind::Mnt | Kind::Time)
            .empty_mntns(true)
            .time_offsets(TimeOffsets::default()),
        "time offsets",
    );
    refused(
        Spawn::new(Kind::Mnt)
            .empty_mntns(true)
            .join(NsHandle::current(Kind::Mnt).unwrap()),
        "joining a mount namespace",
    );
    if !common::root_or_skip(
        "what_an_empty_mount_namespace_cannot_go_with_is_refused (from a pool)",
        "a pool needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    let pool = Pool::new(Kind::Mnt | Kind::Uts, 1).unwrap();
    refused(pool.spawn().empty_mntns(true), "empty mount namespace");
    assert_eq!(pool.stats().handed_out, 0, "nothing was taken by the refused spawn");
}
