//! `join::setns_all` joins as nsenter does: a caller without privilege joins the user
//! namespace first; root joins it last, and a join refused with `EPERM` before the user
//! namespace is retried after it (the second pass); a refusal once the user namespace is
//! joined is final, and nothing after it is joined.
//!
//! Joining a user namespace needs a single-threaded caller, so this binary runs without
//! libtest (`harness = false`): each check runs in a child forked from the single-threaded
//! `main` (see `forked`), and joins in that child.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;
mod forked;

use nscore::join::{self, setns_all};
use nscore::{Child, Errno, Kind, NsHandle, Redirect, Spawn};

fn main() {
    forked::run(&[
        (
            "root_without_capabilities_joins_in_two_passes",
            root_without_capabilities_joins_in_two_passes,
        ),
        (
            "unprivileged_caller_joins_the_user_namespace_first",
            unprivileged_caller_joins_the_user_namespace_first,
        ),
        (
            "a_refusal_after_the_user_namespace_is_final",
            a_refusal_after_the_user_namespace_is_final,
        ),
    ])
}

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "dropping the capabilities of uid 0 needs uid 0")
}

/// Root becomes uid 65534; any other caller is unprivileged already.
fn unprivileged() {
    if nix::unistd::geteuid().is_root() {
        forked::become_nobody();
    }
}

/// A child in new user, UTS and IPC namespaces (root inside is the caller outside) with
/// `hostname`, sleeping until dropped.
fn target(hostname: &str) -> Child {
    Spawn::new(Kind::User | Kind::Uts | Kind::Ipc)
        .map_root()
        .hostname(hostname)
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .expect("spawn the target")
}

fn handles(t: &Child, kinds: &[Kind]) -> Vec<NsHandle> {
    kinds.iter().map(|&k| t.ns(k).expect("target's namespace")).collect()
}

fn assert_in(t: &Child, kinds: &[Kind]) {
    let theirs = t.namespaces().expect("target's namespaces");
    for &k in kinds {
        let mine = NsHandle::current(k).unwrap().inode().unwrap();
        assert_eq!(Some(mine), theirs.get(k), "not in the target's {k} namespace");
    }
}

/// Root whose capabilities are gone may not join a UTS namespace (that needs `CAP_SYS_ADMIN`
/// in the caller's own user namespace too), but as the owner of the target's user namespace
/// it may join that one, and gains the rights for the rest there: `setns_all` retries the
/// refused joins after the user namespace.
fn root_without_capabilities_joins_in_two_passes() {
    if !root_or_skip("root_without_capabilities_joins_in_two_passes") {
        return;
    }
    let t = target("nscore-two-pass");
    let all = handles(&t, &[Kind::Uts, Kind::Ipc, Kind::User]);
    forked::drop_all_capabilities();
    assert!(nix::unistd::geteuid().is_root());
    let order: Vec<Kind> = join::setns_order(&all).iter().map(|h| h.kind()).collect();
    assert_eq!(
        order.last(),
        Some(&Kind::User),
        "root joins the user namespace last: {order:?}"
    );
    // The first pass is refused: without the user namespace this caller may not join.
    let e = join::setns(&all[0]).expect_err("uts join without capabilities");
    assert_eq!(e.errno(), Some(Errno::EPERM), "{e}");
    setns_all(&all).expect("setns_all retries after the user namespace");
    assert_in(&t, &[Kind::Uts, Kind::Ipc, Kind::User]);
    assert_eq!(nix::unistd::gethostname().unwrap(), "nscore-two-pass");
}

/// A caller without privilege (uid 65534 when run as root) joins a target whose user namespace it owns: the
/// user namespace first, which gives it the rights over the others.
fn unprivileged_caller_joins_the_user_namespace_first() {
    unprivileged();
    let t = target("nscore-user-first");
    let all = handles(&t, &[Kind::Uts, Kind::Ipc, Kind::User]);
    let e = join::setns(&all[0]).expect_err("uts join before the user namespace");
    assert_eq!(e.errno(), Some(Errno::EPERM), "{e}");
    setns_all(&all).expect("setns_all joins the user namespace first");
    assert_in(&t, &[Kind::Uts, Kind::Ipc, Kind::User]);
    assert_eq!(nix::unistd::gethostname().unwrap(), "nscore-user-first");
}

/// Once the user namespace is joined, a refusal is not retried: the caller (uid 65534 in the
/// target's user namespace) has no right over the wall's cgroup namespace, `setns_all` says
/// `EPERM` for it and joins nothing after it (the target's IPC and UTS namespaces).
fn a_refusal_after_the_user_namespace_is_final() {
    let outer_cgroup = NsHandle::current(Kind::Cgroup).unwrap();
    let hostname = nix::unistd::gethostname().unwrap();
    let ipc = NsHandle::current(Kind::Ipc).unwrap().inode().unwrap();
    unprivileged();
    let t = target("nscore-not-joined");
    let mut all = handles(&t, &[Kind::Uts, Kind::Ipc, Kind::User]);
    all.push(outer_cgroup);
    let order: Vec<Kind> = join::setns_order(&all).iter().map(|h| h.kind()).collect();
    assert_eq!(order, [Kind::User, Kind::Cgroup, Kind::Ipc, Kind::Uts]);
    let e = setns_all(&all).expect_err("the cgroup namespace is out of reach");
    assert_eq!((e.errno(), e.kinds()), (Some(Errno::EPERM), Kind::Cgroup.into()), "{e}");
    assert_in(&t, &[Kind::User]);
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        hostname,
        "the UTS namespace was joined"
    );
    assert_eq!(
        NsHandle::current(Kind::Ipc).unwrap().inode().unwrap(),
        ipc,
        "the IPC namespace was joined"
    );
}
