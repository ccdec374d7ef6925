//! `Redirect::Inherit` (the default) gives the child the parent's own standard streams: its
//! stdin is the parent's fd 0, its stdout fd 1, its stderr fd 2, each to its own place.
//!
//! The check points its own fds 0, 1 and 2 at three different pipes, which a libtest thread
//! must not do to the whole test process; so this binary runs without libtest
//! (`harness = false`), the check in a child forked from the single-threaded `main` (see
//! `forked`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod forked;

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nscore::{KindSet, Spawn};

fn main() {
    forked::run(&[(
        "inherited_streams_are_the_parents_own",
        inherited_streams_are_the_parents_own,
    )])
}

/// Makes `fd` (0, 1 or 2) a copy of `to`.
fn point(fd: i32, to: &OwnedFd) {
    // SAFETY: dup2 onto a standard fd of this single-threaded check process.
    assert!(unsafe { libc::dup2(to.as_raw_fd(), fd) } == fd, "dup2 onto {fd}");
}

/// A standard fd of this process, borrowed.
fn std_fd(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: fds 1 and 2 stay open for the whole check (dup2 replaces them atomically).
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Everything in a pipe whose write ends are all closed.
fn drain(r: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(r).read_to_string(&mut s).unwrap();
    s
}

fn inherited_streams_are_the_parents_own() {
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    let ((in_r, in_w), (out_r, out_w), (err_r, err_w)) = (pipe(), pipe(), pipe());
    std::fs::File::from(in_w).write_all(b"from stdin\n").unwrap();
    let saved = [1, 2].map(|fd| nix::unistd::dup(std_fd(fd)).unwrap());
    point(0, &in_r);
    point(1, &out_w);
    point(2, &err_w);
    drop((in_r, out_w, err_w));
    let status = Spawn::new(KindSet::EMPTY)
        .spawn("sh", ["-c", "cat; echo to-stdout; echo to-stderr >&2"])
        .expect("spawn with inherited streams")
        .wait()
        .unwrap();
    // Put back this process's own stdout and stderr, which closes its copies of the pipes.
    point(1, &saved[0]);
    point(2, &saved[1]);
    let (out, err) = (drain(out_r), drain(err_r));
    assert!(
        status.success() && out == "from stdin\nto-stdout\n" && err == "to-stderr\n",
        "{status}: stdout {out:?}, stderr {err:?}"
    );
}
