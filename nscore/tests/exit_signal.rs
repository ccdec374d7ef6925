//! The children of `raw::fork` and `raw::clone_exit` end as a `fork(2)` child does: their
//! parent gets `SIGCHLD`.
//!
//! The check blocks `SIGCHLD` and looks for it pending, which needs a process of its own
//! whose signal mask no other thread shares; so this binary runs without libtest
//! (`harness = false`), each check in a child forked from the single-threaded `main` (see
//! `forked`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod forked;

use nix::sys::signal::{SigSet, Signal};
use nscore::{raw, KindSet};

fn main() {
    forked::run(&[("children_end_with_sigchld", children_end_with_sigchld)])
}

/// Whether `SIGCHLD` is pending now; takes it if so.
fn take_sigchld() -> bool {
    // SAFETY: sigemptyset/sigpending/sigismember fill and read a set this frame owns.
    let pending = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        assert_eq!(libc::sigpending(&mut set), 0);
        libc::sigismember(&set, libc::SIGCHLD) == 1
    };
    if !pending {
        return false;
    }
    SigSet::from(Signal::SIGCHLD).wait().expect("take the pending SIGCHLD");
    true
}

/// Blocked, `SIGCHLD` stays pending once a child has ended: after `clone_exit` (which reaps
/// its child) and after `fork` + `reap`, fork-like and vfork-like.
fn children_end_with_sigchld() {
    SigSet::from(Signal::SIGCHLD).thread_set_mask().expect("block SIGCHLD");
    let mask = SigSet::thread_get_mask().unwrap();
    assert!(mask.contains(Signal::SIGCHLD));
    assert!(!take_sigchld(), "nothing ended yet");
    assert_eq!(raw::clone_exit(KindSet::EMPTY, None).unwrap(), 0);
    assert!(take_sigchld(), "clone_exit, fork-like: no SIGCHLD");
    let stack = raw::Stack::new(64 * 1024).unwrap();
    assert_eq!(raw::clone_exit(KindSet::EMPTY, Some(&stack)).unwrap(), 0);
    assert!(take_sigchld(), "clone_exit, vfork-like: no SIGCHLD");
    // SAFETY: this binary runs without libtest (single-threaded main); the child only exits.
    let pid = unsafe { raw::fork(KindSet::EMPTY) }.unwrap();
    if pid == 0 {
        raw::exit(0);
    }
    assert_eq!(raw::reap(pid).unwrap(), 0);
    assert!(take_sigchld(), "fork: no SIGCHLD");
}
