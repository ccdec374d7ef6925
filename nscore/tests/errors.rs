//! How an `Error` classifies and shows itself: `is_unsupported` (the kernel lacks the
//! feature), `is_permission`, its `Display` line and its `std::io::Error` form; for real
//! failing calls where this kernel makes one, else for the documented operation and errno.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::inspect::list::listns;
use nscore::{Errno, Error, Kind, KindSet, NsHandle, Op};

/// `ENOSYS` from any call, and `ENOTTY` from an nsfs ioctl or `listns`, mean "not in this
/// kernel"; the same errnos elsewhere, and other errnos, do not.
#[test]
fn unsupported_is_enosys_or_enotty_of_an_ioctl() {
    // listns(2) arrived in Linux 6.19: before, a real ENOSYS.
    match listns(KindSet::ALL) {
        Ok(ids) => assert!(!ids.is_empty()),
        Err(e) => {
            assert_eq!((e.op(), e.errno()), (Op::Listns, Some(Errno::ENOSYS)), "{e}");
            assert!(e.is_unsupported(), "{e}");
        }
    }
    // An nsfs ioctl on a file that is no namespace: ENOTTY, as from a kernel without it.
    let passwd = std::fs::File::open("/etc/passwd").unwrap();
    let e = NsHandle::from_fd(passwd.into()).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOTTY), "{e}");
    assert!(e.is_unsupported(), "{e}");
    let sys = |op, errno| Error::sys(op, Kind::Net.into(), errno);
    assert!(sys(Op::Clone3, Errno::ENOSYS).is_unsupported());
    assert!(sys(Op::Listns, Errno::ENOTTY).is_unsupported());
    assert!(sys(Op::Ioctl("NS_GET_ID"), Errno::ENOTTY).is_unsupported());
    assert!(!sys(Op::Open, Errno::ENOTTY).is_unsupported());
    assert!(!sys(Op::Ioctl("NS_GET_ID"), Errno::EINVAL).is_unsupported());
    assert!(!sys(Op::Unshare, Errno::EPERM).is_unsupported());
    assert!(!Error::invalid(Op::Validate, "no errno").is_unsupported());
    // A flag the kernel predates is EINVAL: unsupported only when a probe made it so.
    assert!(!sys(Op::Clone3, Errno::EINVAL).is_unsupported());
    assert!(Error::unsupported(Op::Clone3, Kind::Mnt.into(), Errno::EINVAL, "7.1").is_unsupported());
}

/// Cloning a mount tree without `CAP_SYS_ADMIN` over the caller's own mount namespace
/// (`Spawn::root` with `Spawn::empty_mntns`) names the call and says that a user namespace made
/// by the same spawn does not help.
#[test]
fn open_tree_eperm_says_root_is_needed_here() {
    let e = Error::sys(Op::OpenTree, Kind::Mnt.into(), Errno::EPERM);
    assert!(
        e.to_string().starts_with("open_tree(2) [CLONE_NEWNS] failed: EPERM"),
        "{e}"
    );
    let hint = e.hint().unwrap_or_default();
    assert!(
        hint.contains("CAP_SYS_ADMIN") && hint.contains("does not give it"),
        "{e}"
    );
}

/// `EPERM` and `EACCES` are a lack of privilege; nothing else is.
#[test]
fn permission_is_eperm_or_eacces() {
    for (errno, yes) in [(Errno::EPERM, true), (Errno::EACCES, true), (Errno::EINVAL, false)] {
        assert_eq!(
            Error::sys(Op::Setns, Kind::Net.into(), errno).is_permission(),
            yes,
            "{errno}"
        );
    }
    assert!(!Error::invalid(Op::Validate, "no errno").is_permission());
}

/// The message names the call, the kinds as flags (none when empty), the path, the errno,
/// the detail and the hint, in that order; the `std::io::Error` keeps the errno's kind.
#[test]
fn display_and_io_error() {
    let e = Error::sys(Op::Setns, Kind::Net | Kind::Uts, Errno::EPERM)
        .with_path("/run/netns/x")
        .with_detail("joining")
        .with_hint("be root");
    assert_eq!(
        e.to_string(),
        "setns(2) [CLONE_NEWNET|CLONE_NEWUTS] on /run/netns/x failed: EPERM (Operation not permitted): joining; hint: be root"
    );
    let e = Error::sys(Op::Setns, KindSet::EMPTY, Errno::EBADF);
    assert!(e.to_string().starts_with("setns(2) failed: EBADF"), "{e}");
    let io: std::io::Error = Error::sys(Op::Open, Kind::Net.into(), Errno::ENOENT).into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let io: std::io::Error = Error::invalid(Op::Parse, "bad").into();
    assert_eq!(io.kind(), std::io::ErrorKind::Other);
}
