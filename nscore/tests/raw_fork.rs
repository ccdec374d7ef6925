//! `raw::fork`: a grandchild from inside a child, plain or into new namespaces.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use nscore::{raw, Kind, KindSet, Spawn};

fn in_child(kinds: KindSet) -> Option<i32> {
    // SAFETY: the body and the grandchild make raw system calls only (async-signal-safe).
    let mut child = unsafe {
        Spawn::new(KindSet::EMPTY).run(move || match raw::fork(kinds) {
            Ok(0) => {
                let _ = raw::set_death_signal(libc::SIGKILL);
                // getpid(2) has no arguments and cannot fail
                let pid = libc::getpid();
                raw::exit(if pid == 1 { 11 } else { 12 })
            }
            Ok(pid) => raw::reap(pid).unwrap_or(99),
            Err(e) => 100 + e as i32 % 100,
        })
    }
    .expect("spawn");
    child.wait().expect("wait").code()
}

#[test]
fn fork_plain_gives_an_ordinary_grandchild() {
    assert_eq!(in_child(KindSet::EMPTY), Some(12));
}

#[test]
fn fork_into_a_pid_namespace_makes_the_grandchild_pid_1() {
    if !common::root_or_skip("fork_into_a_pid_namespace_makes_the_grandchild_pid_1", "CLONE_NEWPID") {
        return;
    }
    assert_eq!(in_child(Kind::Pid.into()), Some(11));
}
