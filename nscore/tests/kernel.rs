//! Creating and joining through nscore's public API on the real kernel, as root: every kind
//! made new (and not without it), all at once, joined by handle, path and pidfd, in nsenter's
//! order, the builder's options seen from the child, the raw primitives of child bodies.
//!
//! Every namespace change happens in a child made by `Spawn` (whose function bodies use only
//! raw, async-signal-safe calls); the test threads only read.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use common::{ready_pipe, report_and_pause, run_code, sleeper, wait_ready};
use nix::errno::Errno;
use nscore::{join, raw};
use nscore::{Kind, KindSet, NsHandle, Op, ProcessNamespaces, Redirect, Spawn};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "creating and joining namespaces needs CAP_SYS_ADMIN")
}

#[test]
fn every_kind_new_namespace_differs_and_empty_set_shares() {
    if !root_or_skip("every_kind_new_namespace_differs_and_empty_set_shares") {
        return;
    }
    let mine = ProcessNamespaces::current().unwrap();
    for kind in Kind::ALL {
        assert!(kind.is_supported(), "{kind} missing on this kernel");
        let child = sleeper(Spawn::new(kind));
        let theirs = child.namespaces().unwrap();
        assert_ne!(theirs.get(kind), mine.get(kind), "{kind}");
        assert_eq!(
            theirs.differing(&mine),
            KindSet::from(kind),
            "{kind}: only that kind is new"
        );
        assert_eq!(child.kinds(), KindSet::from(kind));
        // The handle through the pidfd names the same namespace as /proc/[pid]/ns.
        let h = child.ns(kind).unwrap();
        assert_eq!(h.kind(), kind);
        assert_eq!(Some(h.inode().unwrap()), theirs.get(kind));
        assert_eq!(
            NsHandle::of_process(child.pid(), kind).unwrap().inode().unwrap(),
            h.inode().unwrap()
        );
        assert_eq!(h.inode().unwrap().to_string(), format!("[{}]", h.inode().unwrap().ino));
    }
    let plain = sleeper(Spawn::new(KindSet::EMPTY));
    assert!(plain.namespaces().unwrap().differing(&mine).is_empty());
}

#[test]
fn all_kinds_at_once() {
    if !root_or_skip("all_kinds_at_once") {
        return;
    }
    let mine = ProcessNamespaces::current().unwrap();
    let child = sleeper(Spawn::new(KindSet::ALL).map_root());
    let theirs = child.namespaces().unwrap();
    assert_eq!(
        theirs.differing(&mine),
        KindSet::ALL,
        "theirs {theirs:?}, mine {mine:?}"
    );
}

#[test]
fn join_by_handle_path_and_pidfd() {
    if !root_or_skip("join_by_handle_path_and_pidfd") {
        return;
    }
    let target = sleeper(Spawn::new(Kind::Uts | Kind::Ipc | Kind::Net).hostname("h1-join-target"));
    let tns = target.namespaces().unwrap();

    // 1. Spawn::join with a handle (setns in the child before it execs).
    let out = Spawn::new(KindSet::EMPTY)
        .join(target.ns(Kind::Uts).unwrap())
        .output("hostname", std::iter::empty::<&str>())
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"h1-join-target\n");

    // 2. join::setns with a handle, in a function body.
    let net = target.ns(Kind::Net).unwrap();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| match join::setns(&net) {
            Ok(()) => report_and_pause(wfd, 0),
            Err(_) => report_and_pause(wfd, 1),
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    assert_eq!(c.namespaces().unwrap().get(Kind::Net), tns.get(Kind::Net));

    // 3. By path: open and setns with raw calls (the path prepared before the clone).
    let path = CString::new(format!("/proc/{}/ns/ipc", target.pid())).unwrap();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| {
            let fd = match raw::open(&path) {
                Ok(fd) => fd,
                Err(_) => report_and_pause(wfd, 1),
            };
            match raw::setns(fd, Kind::Ipc.into()) {
                Ok(()) => report_and_pause(wfd, 0),
                Err(_) => report_and_pause(wfd, 2),
            }
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    assert_eq!(c.namespaces().unwrap().get(Kind::Ipc), tns.get(Kind::Ipc));

    // 4. By pidfd: three kinds at once (join::setns_pidfd).
    let pidfd = target.pidfd();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| match join::setns_pidfd(pidfd, Kind::Uts | Kind::Ipc | Kind::Net) {
            Ok(()) => report_and_pause(wfd, 0),
            Err(_) => report_and_pause(wfd, 1),
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    let cns = c.namespaces().unwrap();
    assert!(
        cns.differing(&tns).is_empty(),
        "joined all three: {:?}",
        cns.differing(&tns)
    );
    drop(c);

    // setns_path checks the kind before any system call, so this is safe in the test thread.
    let e = join::setns_path(format!("/proc/{}/ns/net", target.pid()), Kind::Uts).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, Some(Errno::EINVAL)));
    assert!(e.to_string().contains("net namespace, not uts"), "{e}");
}

#[test]
fn join_order_puts_user_last_for_root() {
    let handles = vec![
        NsHandle::current(Kind::User).unwrap(),
        NsHandle::current(Kind::Mnt).unwrap(),
        NsHandle::current(Kind::Net).unwrap(),
    ];
    let order: Vec<Kind> = join::setns_order(&handles).iter().map(|h| h.kind()).collect();
    if nix::unistd::geteuid().is_root() {
        assert_eq!(order, [Kind::Net, Kind::Mnt, Kind::User]);
    } else {
        assert_eq!(order, [Kind::User, Kind::Net, Kind::Mnt]);
    }
}

#[test]
fn spawn_options_and_child_methods() {
    if !root_or_skip("spawn_options_and_child_methods") {
        return;
    }
    let none = std::iter::empty::<&str>();
    // Hostname and domain name in a new UTS namespace.
    let out = Spawn::new(Kind::Uts)
        .hostname("h1-host")
        .domainname("h1-domain")
        .output("cat", ["/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname"])
        .unwrap();
    assert_eq!(out.stdout, b"h1-host\nh1-domain\n");
    // A fresh /proc in new mount and PID namespaces: the shell is PID 1.
    let out = Spawn::new(Kind::Mnt | Kind::Pid)
        .mount_proc(true)
        .propagation(nscore::Propagation::Private)
        .output("sh", ["-c", "echo $$; cat /proc/self/stat | cut -d' ' -f4"])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n1\n");
    // lo up in a new network namespace.
    let out = Spawn::new(Kind::Net)
        .loopback_up(true)
        .output("ip", ["-o", "link", "show", "lo"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(",UP"), "{text}");
    let out = Spawn::new(Kind::Net).output("ip", ["-o", "link"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "only lo: {text}");
    assert!(!text.contains(",UP"), "lo starts down: {text}");
    // Working directory, environment, clone modes, death signal, propagation choices.
    let out = Spawn::new(KindSet::EMPTY)
        .current_dir("/tmp")
        .output("pwd", none.clone())
        .unwrap();
    assert_eq!(out.stdout, b"/tmp\n");
    let out = Spawn::new(KindSet::EMPTY)
        .env("H1_VAR", "yes")
        .output("sh", ["-c", "echo $H1_VAR"])
        .unwrap();
    assert_eq!(out.stdout, b"yes\n");
    for mode in [
        nscore::CloneMode::Fork,
        nscore::CloneMode::Vfork,
        nscore::CloneMode::Auto,
    ] {
        let out = Spawn::new(Kind::Uts)
            .clone_mode(mode)
            .kill_on_parent_death(true)
            .output("true", none.clone())
            .unwrap();
        assert!(out.status.success(), "{mode:?}");
    }
    for p in [
        nscore::Propagation::Slave,
        nscore::Propagation::Unchanged,
        nscore::Propagation::Private,
    ] {
        let out = Spawn::new(Kind::Mnt)
            .propagation(p)
            .output("true", none.clone())
            .unwrap();
        assert!(out.status.success(), "{p:?}");
    }
    // into_cgroup: builder.rs (a scratch cgroup of its own, with its control).
    // Piped stdin/stdout.
    let mut c = Spawn::new(KindSet::EMPTY)
        .stdin(Redirect::Piped)
        .stdout(Redirect::Piped)
        .spawn("cat", none.clone())
        .unwrap();
    {
        use std::io::Write;
        c.stdin.as_mut().unwrap().write_all(b"through the pipe").unwrap();
    }
    let out = c.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"through the pipe");
    // try_wait / wait_timeout / signal / kill / exit status.
    let mut c = sleeper(Spawn::new(KindSet::EMPTY));
    assert_eq!(c.try_wait().unwrap(), None);
    assert_eq!(c.wait_timeout(Duration::from_millis(10)).unwrap(), None);
    c.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = c.wait().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert!(!st.success() && st.code().is_none());
    assert!(st.to_string().contains("SIGTERM"), "{st}");
    assert_eq!(
        c.wait_timeout(Duration::from_millis(1)).unwrap(),
        Some(st),
        "already reaped"
    );
    let mut c = sleeper(Spawn::new(KindSet::EMPTY));
    c.kill().unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    let mut c = Spawn::new(KindSet::EMPTY).spawn("sh", ["-c", "exit 7"]).unwrap();
    let st = c.wait().unwrap();
    assert_eq!((st.code(), st.to_string()), (Some(7), "exit status: 7".to_string()));
    // A failing set-up step is an error naming the step (setns of a pidfd with no kinds is
    // refused by the kernel: EINVAL).
    let e = Spawn::new(KindSet::EMPTY)
        .join(NsHandle::current(Kind::User).unwrap())
        .spawn("true", none)
        .unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, Some(Errno::EINVAL)), "{e}");
    assert!(e.to_string().contains("in the child"), "{e}");
}

#[test]
fn raw_primitives_in_children() {
    if !root_or_skip("raw_primitives_in_children") {
        return;
    }
    for kinds in [
        KindSet::EMPTY,
        Kind::Uts | Kind::Ipc,
        Kind::Net.into(),
        Kind::Time | Kind::Pid,
    ] {
        assert_eq!(raw::clone_exit(kinds, None).unwrap(), 0, "{kinds}");
        let stack = raw::Stack::new(64 * 1024).unwrap();
        assert_eq!(raw::clone_exit(kinds, Some(&stack)).unwrap(), 0, "{kinds} (vfork)");
    }
    let t0 = raw::monotonic_ns();
    // A function body: unshare net, bring lo up, report through a pipe with raw calls.
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    let code = run_code(Spawn::new(KindSet::EMPTY), || {
        if raw::unshare(Kind::Net.into()).is_err() {
            return 1;
        }
        if raw::loopback_up().is_err() {
            return 2;
        }
        if raw::write_all(wfd, b"ok").is_err() {
            return 3;
        }
        // SAFETY: the child's own copy of the pipe end.
        unsafe { raw::close(wfd) };
        raw::exit(0)
    });
    drop(w);
    assert_eq!(code, 0);
    let mut buf = [0u8; 8];
    assert_eq!(
        raw::read_full(r.as_raw_fd(), &mut buf).unwrap(),
        2,
        "EOF after two bytes"
    );
    assert_eq!(&buf[..2], b"ok");
    assert!(raw::monotonic_ns() > t0);
}

#[test]
fn join_all_and_unshare_in_an_execd_child() {
    if !root_or_skip("join_all_and_unshare_in_an_execd_child") {
        return;
    }
    let target = sleeper(Spawn::new(Kind::Uts | Kind::Net | Kind::Ipc).hostname("h1-setns-all"));
    let out = common::run_helper(
        Spawn::new(KindSet::EMPTY).env("H1_TARGET", target.pid().to_string()),
        "helper_join_all_and_unshare",
    );
    common::helper_ok(&out, "JOIN-HELPER-OK");
}

#[test]
#[ignore = "helper: join_all_and_unshare_in_an_execd_child runs it in a child process"]
fn helper_join_all_and_unshare() {
    if !common::is_helper("helper_join_all_and_unshare") {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(std::env::var("H1_TARGET").unwrap().parse().unwrap());
    let theirs = ProcessNamespaces::of(pid).unwrap();
    // Joined one by one (setns_all) and by path; this process is the child's, not the host's.
    let handles: Vec<NsHandle> = [Kind::Uts, Kind::Net]
        .iter()
        .map(|&k| NsHandle::of_process(pid, k).unwrap())
        .collect();
    join::setns_all(&handles).unwrap();
    join::setns_path(format!("/proc/{pid}/ns/ipc"), Kind::Ipc).unwrap();
    // The test runs on a thread of its own: compare through /proc/thread-self.
    for k in [Kind::Uts, Kind::Net, Kind::Ipc] {
        assert_eq!(
            Some(NsHandle::current(k).unwrap().inode().unwrap()),
            theirs.get(k),
            "{k}"
        );
    }
    assert_eq!(nix::unistd::gethostname().unwrap(), "h1-setns-all");
    // A new UTS namespace of its own, with nscore::unshare.
    nscore::unshare(Kind::Uts.into()).unwrap();
    assert_ne!(
        Some(NsHandle::current(Kind::Uts).unwrap().inode().unwrap()),
        theirs.get(Kind::Uts)
    );
    println!("JOIN-HELPER-OK");
}
