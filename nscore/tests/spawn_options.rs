//! The `Spawn` options a command sees: its environment (`env_clear`, `env_remove`), its root
//! (`root`, as `unshare --root`), its ids (`uid`, `gid`, as `unshare --setuid/--setgid`), and
//! what the parent can do with the handle (`Child` as a pollable pidfd, `signal(None)`), plus
//! the forms an `Error` takes for other code (`source`, `io::Error`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nscore::{Errno, Kind, KindSet, Op, Redirect, Spawn};

fn stdout_of(spawn: Spawn, program: &str, args: &[&str]) -> String {
    let out = spawn.output(program, args).expect("run the command");
    assert!(out.status.success(), "{program} {args:?}: {}", out.status);
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn env_clear_starts_empty_and_env_adds() {
    let out = stdout_of(
        Spawn::new(KindSet::EMPTY).env_clear().env("ONLY", "1"),
        "/usr/bin/env",
        &[],
    );
    assert_eq!(out, "ONLY=1\n");
}

#[test]
fn env_remove_takes_one_variable_out_of_the_parents() {
    let out = stdout_of(
        Spawn::new(KindSet::EMPTY)
            .env("NSCORE_GONE", "x")
            .env("NSCORE_KEPT", "y")
            .env_remove("NSCORE_GONE"),
        "/usr/bin/env",
        &[],
    );
    assert!(!out.contains("NSCORE_GONE="), "{out}");
    assert!(out.contains("NSCORE_KEPT=y\n"), "{out}");
    assert!(out.contains("PATH="), "the parent's variables stay: {out}");
}

/// `root` chroots before the exec: the program is found inside the new root (a copy of the
/// statically linked `ldconfig`), not at the same path outside.
#[test]
fn root_makes_the_directory_the_childs_root() {
    if !common::root_or_skip(
        "root_makes_the_directory_the_childs_root",
        "chroot needs CAP_SYS_CHROOT",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::copy_static_program(dir.path(), "only-in-the-new-root");
    let out = common::output_of_fresh_copy(
        || Spawn::new(Kind::Mnt).root(dir.path()),
        "/only-in-the-new-root",
        &["--version"],
    );
    assert!(out.status.success(), "{}", out.status);
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.starts_with("ldconfig"), "{out}");
    // control: without root, that path does not exist
    let err = Spawn::new(KindSet::EMPTY)
        .output("/only-in-the-new-root", ["--version"])
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOENT), "{err}");
    // a root that is not there fails the set-up, with what and where
    let err = Spawn::new(Kind::Mnt)
        .root(dir.path().join("missing"))
        .output("/x", [""; 0])
        .unwrap_err();
    assert_eq!((err.op(), err.errno()), (Op::Prepare, Some(Errno::ENOENT)), "{err}");
    assert!(err.to_string().contains("root"), "{err}");
}

/// `uid` and `gid` change the ids last, and drop the supplementary groups.
#[test]
fn uid_and_gid_are_the_commands() {
    if !common::root_or_skip(
        "uid_and_gid_are_the_commands",
        "setresuid to another uid needs CAP_SETUID",
    ) {
        return;
    }
    let ids = stdout_of(Spawn::new(KindSet::EMPTY).uid(65534).gid(65533), "id", &[]);
    assert!(ids.starts_with("uid=65534"), "{ids}");
    assert!(ids.contains("gid=65533"), "{ids}");
    assert!(
        !ids.contains("groups=0") && !ids.contains(",0("),
        "no supplementary group 0 is left: {ids}"
    );
    // control: without them, root's
    assert!(stdout_of(Spawn::new(KindSet::EMPTY), "id", &["-u"]).starts_with('0'));
}

/// In a new user namespace mapped to root, `uid`/`gid` name ids of that namespace; with
/// setgroups denied the groups stay (as util-linux does) and the set-up does not fail.
#[test]
fn uid_and_gid_inside_a_user_namespace() {
    let out = stdout_of(Spawn::new(Kind::User).map_root().uid(0).gid(0), "id", &["-u"]);
    assert_eq!(out.trim(), "0");
    // 1 is not mapped there: the step fails with EINVAL and says which
    let err = Spawn::new(Kind::User)
        .map_root()
        .uid(1)
        .output("id", [""; 0])
        .unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL), "{err}");
    assert!(err.to_string().contains("setresuid"), "{err}");
}

/// The child's pidfd is its fd: it polls readable when the child ends, and `signal(None)`
/// checks the child is there (`ESRCH` once reaped).
#[test]
fn child_is_a_pollable_pidfd_and_signal_none_checks_it() {
    let mut child = Spawn::new(KindSet::EMPTY)
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    child.signal(None).expect("the child is there");
    let mut fds = [PollFd::new(child.as_fd(), PollFlags::POLLIN)];
    assert_eq!(
        poll(&mut fds, PollTimeout::ZERO).unwrap(),
        0,
        "not readable while it runs"
    );
    child.kill().unwrap();
    let mut fds = [PollFd::new(child.as_fd(), PollFlags::POLLIN)];
    assert_eq!(
        poll(&mut fds, PollTimeout::from(10_000u16)).unwrap(),
        1,
        "readable once it ended"
    );
    child.wait().unwrap();
    assert_eq!(child.signal(None).unwrap_err().errno(), Some(Errno::ESRCH));
}

/// An `Error` with an errno has it as its `source`, and becomes an `io::Error` whose
/// `raw_os_error` is that errno.
#[test]
fn error_source_and_io_error_keep_the_errno() {
    let err = Spawn::new(KindSet::EMPTY)
        .output("/nonexistent/program", [""; 0])
        .unwrap_err();
    let source = std::error::Error::source(&err).expect("a source");
    assert_eq!(source.downcast_ref::<Errno>(), Some(&Errno::ENOENT));
    let io: std::io::Error = err.into();
    assert_eq!(io.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

/// Joining a time namespace from a multithreaded caller is EUSERS, and the error says why.
/// (The kernel refuses before doing anything, so the test thread stays where it is.)
#[test]
fn setns_time_from_a_multithreaded_caller_says_why() {
    if !common::root_or_skip("setns_time_from_a_multithreaded_caller_says_why", "CLONE_NEWTIME") {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = rx.recv();
    });
    let child = Spawn::new(Kind::Time)
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    let ns = child.ns(Kind::Time).unwrap();
    let before = nscore::NsHandle::current(Kind::Time).unwrap().inode().unwrap();
    let err = nscore::join::setns(&ns).expect_err("a multithreaded setns into a time namespace");
    let after = nscore::NsHandle::current(Kind::Time).unwrap().inode().unwrap();
    tx.send(()).unwrap();
    other.join().unwrap();
    assert_eq!(before, after, "nothing changed");
    assert_eq!(err.errno(), Some(Errno::EUSERS), "{err}");
    assert!(err.hint().unwrap_or_default().contains("multithreaded"), "{err}");
}
