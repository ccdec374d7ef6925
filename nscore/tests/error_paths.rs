//! nscore's errors from real failing calls: EPERM without privilege, EINVAL from a
//! multithreaded caller, ENOSPC at a limit, the wrong kind, a gone process, a file that is not a
//! namespace, and bad input, each with the call, the errno and the hint.
//!
//! The one call made in a test thread is `unshare_user_in_multithreaded_caller_is_einval`'s
//! `nscore::unshare` for a user namespace, from a process that is certainly multithreaded, so
//! the kernel refuses it and nothing changes.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use common::run_code;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nscore::{join, raw};
use nscore::{Error, Kind, KindSet, NsHandle, Op, ProcessNamespaces, Spawn};
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "creating and joining namespaces needs CAP_SYS_ADMIN")
}

#[test]
fn eperm_without_cap_sys_admin() {
    if !root_or_skip("eperm_without_cap_sys_admin") {
        return;
    }
    // The child becomes uid 65534 (which drops every capability), then tries to unshare.
    let code = run_code(Spawn::new(KindSet::EMPTY), || {
        // Raw system calls, not glibc's setresuid(): in a child cloned from a multithreaded
        // process glibc would try to signal the parent's other threads (setxid) and hang.
        // SAFETY: setresgid(2)/setresuid(2) take three integers and change only this process.
        let ok = unsafe {
            libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
                && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0
        };
        if !ok {
            return 100;
        }
        match raw::unshare(Kind::Uts | Kind::Net) {
            Ok(()) => 0,
            Err(e) => e as i32,
        }
    });
    assert_eq!(code, Errno::EPERM as i32, "expected EPERM, child said {code}");
    let e = Error::sys(Op::Unshare, Kind::Uts | Kind::Net, Errno::from_raw(code));
    assert!(e.is_permission());
    assert!(e.hint().unwrap().contains("CAP_SYS_ADMIN"));
    assert!(e.to_string().contains("CLONE_NEWNET|CLONE_NEWUTS"), "{e}");

    // The same through an exec'd command: setpriv drops to nobody, unshare(1) fails.
    if std::path::Path::new("/usr/bin/setpriv").exists() {
        let out = Spawn::new(KindSet::EMPTY)
            .output(
                "setpriv",
                [
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "unshare",
                    "--uts",
                    "true",
                ],
            )
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    }
}

#[test]
fn unshare_user_in_multithreaded_caller_is_einval() {
    // Make sure the process is multithreaded for the whole call, whatever --test-threads says:
    // a single-threaded caller would really move into a new user namespace.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        ready_tx.send(()).unwrap();
        let _ = rx.recv();
    });
    ready_rx.recv().unwrap();
    let threads: usize = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        threads > 1,
        "not multithreaded; refusing to call unshare(CLONE_NEWUSER)"
    );
    let before = ProcessNamespaces::current().unwrap();
    let e = nscore::unshare(Kind::User.into()).unwrap_err();
    tx.send(()).unwrap();
    t.join().unwrap();
    assert_eq!((e.op(), e.errno()), (Op::Unshare, Some(Errno::EINVAL)));
    assert!(e.hint().unwrap().contains("multithreaded"), "{e}");
    assert_eq!(ProcessNamespaces::current().unwrap(), before, "nothing changed");
}

/// In a fresh user namespace (root mapped), set `max_uts_namespaces` to 0 with
/// `nscore::limits::set` and try to create a UTS namespace: `ENOSPC`.
///
/// This runs the test binary itself again, as a child in a new user namespace, with only
/// `limit_helper_in_child_userns` selected: that process may change its own namespaces.
#[test]
fn enospc_at_a_limit_in_a_child_user_namespace() {
    if !root_or_skip("enospc_at_a_limit_in_a_child_user_namespace") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Spawn::new(Kind::User)
        .map_root()
        .env("NSCORE_H1_LIMIT_HELPER", "1")
        .output(
            &exe,
            [
                "limit_helper_in_child_userns",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ],
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("LIMIT-HELPER-OK"), "{stdout}");
    // The host's limit is untouched.
    assert!(nscore::limits::read(Kind::Uts).unwrap() > 0);
}

#[test]
#[ignore = "helper: enospc_at_a_limit_in_a_child_user_namespace runs it in a child user namespace"]
fn limit_helper_in_child_userns() {
    if std::env::var_os("NSCORE_H1_LIMIT_HELPER").is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED limit_helper_in_child_userns: runs only re-executed in a child user namespace"
        );
        return;
    }
    // Refuse to lower a limit anywhere but in a user namespace other than the initial one.
    common::assert_in_child_user_namespace();
    let was = nscore::limits::read(Kind::Uts).unwrap();
    nscore::limits::set(Kind::Uts, 0).unwrap();
    assert_eq!(nscore::limits::read(Kind::Uts).unwrap(), 0);
    let e = nscore::unshare(Kind::Uts.into()).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Unshare, Some(Errno::ENOSPC)), "{e}");
    assert!(e.hint().unwrap().contains("max_<kind>_namespaces"), "{e}");
    nscore::limits::set(Kind::Uts, was).unwrap();
    println!("LIMIT-HELPER-OK");
}

#[test]
fn setns_wrong_kind_is_einval() {
    if !root_or_skip("setns_wrong_kind_is_einval") {
        return;
    }
    let net = NsHandle::current(Kind::Net).unwrap();
    let fd = net.as_raw_fd();
    let code = run_code(Spawn::new(KindSet::EMPTY), || match raw::setns(fd, Kind::Uts.into()) {
        Ok(()) => 0,
        Err(e) => e as i32,
    });
    assert_eq!(code, Errno::EINVAL as i32);
    let e = Error::sys(Op::Setns, Kind::Uts.into(), Errno::EINVAL);
    assert!(e.hint().is_some(), "{e}");
    // setns_fd/setns_pidfd argument checks before any system call.
    let pidfd_err = join::setns_pidfd(net.as_fd(), KindSet::EMPTY).unwrap_err();
    assert_eq!(pidfd_err.op(), Op::Setns);
    assert_eq!(pidfd_err.errno(), None);
}

#[test]
fn gone_process_is_enoent() {
    let mut c = Spawn::new(KindSet::EMPTY)
        .spawn("true", std::iter::empty::<&str>())
        .unwrap();
    assert!(c.wait().unwrap().success());
    let pid = c.pid();
    let e = NsHandle::of_process(pid, Kind::Net).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT), "{e}");
    assert!(e.hint().unwrap().contains("gone"), "{e}");
    assert!(e
        .path()
        .unwrap()
        .to_string_lossy()
        .contains(&format!("/proc/{pid}/ns/net")));
    assert!(ProcessNamespaces::of(pid).is_err());
    // The pidfd of a reaped child: no namespace to open through it.
    assert!(c.ns(Kind::Net).is_err());
    assert_eq!(c.signal(None).unwrap_err().errno(), Some(Errno::ESRCH));
}

#[test]
fn non_nsfs_fd_is_enotty() {
    let fd = nix::fcntl::open(
        "/etc/passwd",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let e = NsHandle::from_fd(fd).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOTTY), "{e}");
    assert!(matches!(e.op(), Op::Ioctl(_)));
    assert!(e.hint().is_some());
    let e = NsHandle::open("/etc/passwd").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOTTY));
    assert_eq!(e.path(), Some(std::path::Path::new("/etc/passwd")));
    let io: std::io::Error = e.into();
    assert_eq!(
        io.raw_os_error(),
        Some(libc::ENOTTY),
        "the errno survives the conversion"
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let e = "bogus".parse::<Kind>().unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Parse, None));
    assert!(e.to_string().contains("bogus"));
    assert!("net,nope".parse::<KindSet>().is_err());
    assert_eq!("".parse::<KindSet>().unwrap(), KindSet::EMPTY);
    // Options that would change a namespace the child does not own are refused.
    let e = Spawn::new(Kind::Net)
        .hostname("x")
        .spawn("true", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = Spawn::new(Kind::Uts)
        .hostname("x".repeat(65))
        .spawn("true", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL));
    let e = Spawn::new(KindSet::EMPTY).spawn("true", ["a\0b"]).unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = Spawn::new(KindSet::EMPTY)
        .spawn("no-such-program-h1", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Exec, Some(Errno::ENOENT)));
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let e = unsafe {
        Spawn::new(KindSet::EMPTY)
            .clone_mode(nscore::CloneMode::Vfork)
            .run(|| 0)
    }
    .unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = nscore::limits::set(Kind::Net, u64::MAX).unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = nscore::persist::unpersist("/nonexistent/h1").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
}

/// Writing a namespace limit without `CAP_SYS_RESOURCE` over its user namespace fails with the
/// call, the file, the errno and what to do; reading it needs nothing. Run as uid 65534 in a
/// re-executed helper, so the host's limit cannot change whatever nscore does.
#[test]
fn writing_a_limit_unprivileged_says_why() {
    if !root_or_skip("writing_a_limit_unprivileged_says_why") {
        return;
    }
    let spawn = Spawn::new(KindSet::EMPTY).uid(65534).gid(65534);
    common::helper_ok(&common::run_helper(spawn, "helper_limit_eacces"), "LIMIT-OK");
}

#[test]
#[ignore = "helper: writing_a_limit_unprivileged_says_why runs it as uid 65534"]
fn helper_limit_eacces() {
    if !common::is_helper("helper_limit_eacces") {
        return;
    }
    assert_ne!(nix::unistd::geteuid().as_raw(), 0, "the helper runs unprivileged");
    let before = nscore::limits::read(Kind::Uts).expect("a limit is readable by anyone");
    let e = nscore::limits::set(Kind::Uts, before.saturating_sub(1)).unwrap_err();
    assert_eq!(e.op(), Op::WriteLimit, "{e}");
    assert!(matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM)), "{e}");
    assert_eq!(e.path(), Some(std::path::Path::new(Kind::Uts.limit_file())), "{e}");
    let hint = e.hint().unwrap_or_default();
    assert!(
        hint.contains("CAP_SYS_RESOURCE") && hint.contains("never on the host"),
        "{e}"
    );
    assert_eq!(nscore::limits::read(Kind::Uts).unwrap(), before, "unchanged");
    let all = nscore::limits::Limits::read().expect("every limit file is readable");
    assert_eq!(all.get(Kind::Uts), Some(before));
    println!("LIMIT-OK");
}
