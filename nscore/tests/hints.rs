//! Every hint of nscore's errors (`Error::hint`), each for a real failing call where this
//! machine can make one fail that way, else for the operation and errno the man pages
//! document (a kernel before 4.9, a kernel without `clone3`, ...).
//!
//! Some hints depend on how many threads the caller has, and several failures need a caller
//! that changed its credentials or namespaces, so this binary runs without libtest
//! (`harness = false`): each check runs in a child forked from the single-threaded `main`
//! (see `forked`), single-threaded unless the check starts a thread itself.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;
mod forked;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nscore::{idmap, join, limits, persist, timens};
use nscore::{Errno, Error, IdMap, Kind, KindSet, NsHandle, Op, Redirect, Result, Spawn, TimeOffsets};

fn main() {
    forked::run(&[
        (
            "eperm_of_namespace_calls_needs_cap_sys_admin",
            eperm_of_namespace_calls_needs_cap_sys_admin,
        ),
        (
            "eperm_of_hostname_needs_a_uts_namespace",
            eperm_of_hostname_needs_a_uts_namespace,
        ),
        (
            "writing_a_limit_needs_cap_sys_resource",
            writing_a_limit_needs_cap_sys_resource,
        ),
        ("einval_of_a_multithreaded_caller", einval_of_a_multithreaded_caller),
        ("einval_of_a_single_threaded_caller", einval_of_a_single_threaded_caller),
        ("second_pid_unshare_before_a_child", second_pid_unshare_before_a_child),
        ("setns_on_a_wrong_or_closed_fd", setns_on_a_wrong_or_closed_fd),
        ("ioctl_failures", ioctl_failures),
        ("enospc_at_a_limit", enospc_at_a_limit),
        ("eusers_of_old_kernels", eusers_of_old_kernels),
        ("a_process_that_is_gone", a_process_that_is_gone),
        ("id_maps_are_written_once", id_maps_are_written_once),
        (
            "time_offsets_after_a_process_entered",
            time_offsets_after_a_process_entered,
        ),
        ("features_of_newer_kernels", features_of_newer_kernels),
        ("no_hint_where_none_applies", no_hint_where_none_applies),
    ])
}

fn root_or_skip(test: &str, why: &str) -> bool {
    common::root_or_skip(test, why)
}

/// The call's error, with its operation and errno checked, and its hint containing `words`.
#[track_caller]
fn expect_hint<T: std::fmt::Debug>(r: Result<T>, op: Op, errno: Errno, words: &str) -> Error {
    let e = r.expect_err("the call must fail");
    assert_eq!((e.op(), e.errno()), (op, Some(errno)), "{e}");
    let hint = e.hint().unwrap_or_else(|| panic!("no hint: {e}"));
    assert!(hint.contains(words), "hint {hint:?} lacks {words:?}");
    assert!(e.to_string().ends_with(&format!("; hint: {hint}")), "{e}");
    e
}

/// The hint for `op` on `kinds` failing with `errno`, as the man pages document it.
fn hint_of(op: Op, kinds: impl Into<KindSet>, errno: Errno) -> Option<String> {
    Error::sys(op, kinds.into(), errno).hint().map(str::to_owned)
}

#[track_caller]
fn assert_hint(op: Op, kinds: impl Into<KindSet>, errno: Errno, words: &str) {
    let kinds = kinds.into();
    let hint = hint_of(op, kinds, errno).unwrap_or_else(|| panic!("no hint for {op} {kinds} {errno}"));
    assert!(
        hint.contains(words),
        "{op} {kinds} {errno}: hint {hint:?} lacks {words:?}"
    );
}

const CAP_SYS_ADMIN: &str = "needs CAP_SYS_ADMIN in the owning user namespace";

/// Without privilege (uid 65534), creating, joining, mounting and unmounting are refused.
fn eperm_of_namespace_calls_needs_cap_sys_admin() {
    if !root_or_skip(
        "eperm_of_namespace_calls_needs_cap_sys_admin",
        "becoming uid 65534 needs root",
    ) {
        return;
    }
    let net = NsHandle::current(Kind::Net).unwrap();
    forked::become_nobody();
    expect_hint(
        nscore::unshare(Kind::Uts.into()),
        Op::Unshare,
        Errno::EPERM,
        CAP_SYS_ADMIN,
    );
    let spawned = Spawn::new(Kind::Uts).spawn("true", std::iter::empty::<&str>());
    expect_hint(spawned, Op::Clone3, Errno::EPERM, CAP_SYS_ADMIN);
    expect_hint(join::setns(&net), Op::Setns, Errno::EPERM, CAP_SYS_ADMIN);
    let target = std::env::temp_dir().join(format!("nscore-hints-{}", std::process::id()));
    expect_hint(persist::persist(&net, &target), Op::Mount, Errno::EPERM, CAP_SYS_ADMIN);
    assert!(!target.exists(), "a failed persist removes the file it created");
    expect_hint(
        persist::unpersist("/proc/self/ns/net"),
        Op::Umount,
        Errno::EPERM,
        CAP_SYS_ADMIN,
    );
}

/// `sethostname(2)` and `setdomainname(2)` without `CAP_SYS_ADMIN` over the UTS namespace
/// (nscore refuses a hostname without a new UTS namespace before any call, so the kernel's
/// refusal cannot be reached through it).
fn eperm_of_hostname_needs_a_uts_namespace() {
    for op in [Op::SetHostname, Op::SetDomainname] {
        assert_hint(op, Kind::Uts, Errno::EPERM, "create it with Kind::Uts");
    }
}

/// Writing `/proc/sys/user/max_*_namespaces` without privilege: `EACCES` (the file is
/// root's), or `EPERM`.
fn writing_a_limit_needs_cap_sys_resource() {
    if !root_or_skip(
        "writing_a_limit_needs_cap_sys_resource",
        "becoming uid 65534 needs root",
    ) {
        return;
    }
    let was = limits::read(Kind::Uts).unwrap();
    forked::become_nobody();
    expect_hint(
        limits::set(Kind::Uts, was),
        Op::WriteLimit,
        Errno::EACCES,
        "CAP_SYS_RESOURCE",
    );
    assert_hint(Op::WriteLimit, Kind::Uts, Errno::EPERM, "CAP_SYS_RESOURCE");
}

const MULTITHREADED: &str = "caller is multithreaded";

/// With a second thread, the kernel refuses a new user namespace and joining a mount
/// namespace (whose fs state the threads share).
fn einval_of_a_multithreaded_caller() {
    if !root_or_skip(
        "einval_of_a_multithreaded_caller",
        "joining a mount namespace needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    let mnt = NsHandle::current(Kind::Mnt).unwrap();
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = parked.recv();
    });
    expect_hint(
        nscore::unshare(Kind::User.into()),
        Op::Unshare,
        Errno::EINVAL,
        MULTITHREADED,
    );
    expect_hint(join::setns(&mnt), Op::Setns, Errno::EINVAL, MULTITHREADED);
    drop(stop);
    other.join().unwrap();
}

/// Single-threaded, the same errno means something else: joining one's own user namespace,
/// or (documented) a caller sharing its fs state.
fn einval_of_a_single_threaded_caller() {
    let own = NsHandle::current(Kind::User).unwrap();
    expect_hint(
        join::setns(&own),
        Op::Setns,
        Errno::EINVAL,
        "the caller's own user namespace",
    );
    assert_hint(
        Op::Unshare,
        Kind::User,
        Errno::EINVAL,
        "does not share its fs state (CLONE_FS)",
    );
    assert_hint(Op::Unshare, Kind::Mnt | Kind::User, Errno::EINVAL, "(CLONE_FS)");
}

/// `unshare(CLONE_NEWPID)` twice without a child in between.
fn second_pid_unshare_before_a_child() {
    if !root_or_skip(
        "second_pid_unshare_before_a_child",
        "a PID namespace needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    nscore::unshare(Kind::Pid.into()).expect("the first PID unshare");
    expect_hint(
        nscore::unshare(Kind::Pid.into()),
        Op::Unshare,
        Errno::EINVAL,
        "pid_for_children already points to a new PID namespace",
    );
}

/// `setns(2)` on an fd that is not a namespace, or not open.
fn setns_on_a_wrong_or_closed_fd() {
    let passwd = std::fs::File::open("/etc/passwd").unwrap();
    expect_hint(
        join::setns_fd(passwd.as_fd(), KindSet::EMPTY),
        Op::Setns,
        Errno::EINVAL,
        "another kind than asked for, or to none",
    );
    let raw = passwd.as_raw_fd();
    drop(passwd);
    // SAFETY: `raw` is closed and this check's process has one thread: nothing reopens it
    // before the call, which must see a closed fd.
    let closed = unsafe { BorrowedFd::borrow_raw(raw) };
    expect_hint(
        join::setns_fd(closed, Kind::Net.into()),
        Op::Setns,
        Errno::EBADF,
        "the fd is not open",
    );
}

/// nsfs ioctls: on a file that is no namespace, above the caller's view, on a kind the
/// request does not apply to.
fn ioctl_failures() {
    let passwd = std::fs::File::open("/etc/passwd").unwrap();
    let e = NsHandle::from_fd(passwd.into()).expect_err("not a namespace");
    assert!(
        matches!(e.op(), Op::Ioctl(_)) && e.errno() == Some(Errno::ENOTTY),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("not a namespace (nsfs) file"), "{e}");
    let uts = NsHandle::current(Kind::Uts).unwrap();
    let e = uts.parent().expect_err("a UTS namespace has no parent");
    assert!(
        matches!(e.op(), Op::Ioctl(_)) && e.errno() == Some(Errno::EINVAL),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("does not apply to this kind"), "{e}");
    // The initial user namespace's parent is outside every view; elsewhere (a rootless run)
    // the documented combination.
    let user = NsHandle::current(Kind::User).unwrap();
    let hint = match user.parent() {
        Err(e) => {
            assert!(matches!(e.op(), Op::Ioctl(_)) && e.errno() == Some(Errno::EPERM), "{e}");
            e.hint().unwrap().to_owned()
        }
        Ok(_) => hint_of(Op::Ioctl("NS_GET_PARENT"), Kind::User, Errno::EPERM).unwrap(),
    };
    assert!(hint.contains("outside the caller's view"), "{hint}");
}

/// A limit of 0 in a user namespace of this check's own: creating a namespace is refused.
fn enospc_at_a_limit() {
    if !root_or_skip(
        "enospc_at_a_limit",
        "the limit is set in a user namespace made with unshare",
    ) {
        return;
    }
    nscore::unshare(Kind::User.into()).expect("a user namespace of the check's own");
    limits::set(Kind::Uts, 0).expect("the new user namespace's own uts limit");
    let words = "/proc/sys/user/max_<kind>_namespaces";
    expect_hint(nscore::unshare(Kind::Uts.into()), Op::Unshare, Errno::ENOSPC, words);
    let spawned = Spawn::new(Kind::Uts).spawn("true", std::iter::empty::<&str>());
    expect_hint(spawned, Op::Clone3, Errno::ENOSPC, words);
}

/// Kernels before 4.9 said `EUSERS` at the user namespace nesting limit.
fn eusers_of_old_kernels() {
    for op in [Op::Unshare, Op::Clone3] {
        assert_hint(op, Kind::User, Errno::EUSERS, "kernels before 4.9 say EUSERS");
    }
}

const GONE: &str = "the process is gone";

/// A reaped child: its `/proc` files and its pidfd lead nowhere.
fn a_process_that_is_gone() {
    let mut c = Spawn::new(KindSet::EMPTY)
        .spawn("true", std::iter::empty::<&str>())
        .unwrap();
    assert!(c.wait().unwrap().success());
    expect_hint(NsHandle::of_process(c.pid(), Kind::Net), Op::Open, Errno::ENOENT, GONE);
    expect_hint(idmap::read_uid_map(c.pid()), Op::ReadProc, Errno::ENOENT, GONE);
    expect_hint(c.kill(), Op::Kill, Errno::ESRCH, GONE);
    assert_hint(Op::PidfdOpen, KindSet::EMPTY, Errno::ENOENT, GONE);
}

/// A uid map can be written once; the second write is refused.
fn id_maps_are_written_once() {
    if !root_or_skip("id_maps_are_written_once", "mapping uid 0 needs CAP_SETUID") {
        return;
    }
    let c = Spawn::new(Kind::User)
        .uid_map(&[IdMap::single(0, 0)])
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    expect_hint(
        idmap::write_uid_map(c.pid(), &[IdMap::single(0, 0)]),
        Op::WriteIdMap,
        Errno::EPERM,
        "maps can be written once",
    );
}

/// Offsets of a time namespace that a process has entered already.
fn time_offsets_after_a_process_entered() {
    if !root_or_skip(
        "time_offsets_after_a_process_entered",
        "a time namespace needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    let c = Spawn::new(Kind::Time)
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    expect_hint(
        timens::write_offsets(c.pid(), &TimeOffsets::ZERO.monotonic(1_000_000_000)),
        Op::WriteTimeOffsets,
        Errno::EACCES,
        "before the first process enters",
    );
}

/// What older kernels lack (this one has all of it): `clone3`, `CLONE_NEWTIME`.
fn features_of_newer_kernels() {
    assert_hint(Op::Clone3, KindSet::EMPTY, Errno::ENOSYS, "clone3(2) needs Linux 5.3");
    for op in [Op::Clone3, Op::Unshare] {
        assert_hint(op, Kind::Time, Errno::EINVAL, "CLONE_NEWTIME needs Linux 5.6");
    }
}

/// A hint only where it applies: an `EINVAL` of `clone3` without time or PID, an errno no
/// man page gives a cause for.
fn no_hint_where_none_applies() {
    assert_eq!(hint_of(Op::Clone3, Kind::Uts, Errno::EINVAL), None);
    assert_eq!(hint_of(Op::Unshare, Kind::Net, Errno::EINVAL), None);
    assert_eq!(hint_of(Op::Mount, Kind::Mnt, Errno::EBUSY), None);
}
