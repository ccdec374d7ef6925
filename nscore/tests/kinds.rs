//! What each `Kind` says about itself: its man page and what it isolates, as `namespaces(7)`
//! lists them, and whether this kernel supports it (has its `/proc/self/ns` entry); and a
//! `KindSet` holds each kind at most once.
//!
//! The last check hides `/proc` in a mount namespace of its own, which needs a
//! single-threaded caller for `unshare(2)`; so this binary runs without libtest
//! (`harness = false`): each check runs in a child forked from the single-threaded `main`
//! (see `forked`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;
mod forked;

use nix::mount::{mount, MsFlags};
use nscore::{Kind, KindSet};

fn main() {
    forked::run(&[
        (
            "man_pages_and_what_each_kind_isolates",
            man_pages_and_what_each_kind_isolates,
        ),
        (
            "every_kind_is_supported_by_this_kernel",
            every_kind_is_supported_by_this_kernel,
        ),
        (
            "no_kind_is_supported_without_its_proc_entry",
            no_kind_is_supported_without_its_proc_entry,
        ),
        ("adding_a_kind_twice_adds_it_once", adding_a_kind_twice_adds_it_once),
    ])
}

/// The table of `namespaces(7)`: page and what is isolated, for every kind.
fn man_pages_and_what_each_kind_isolates() {
    let table = [
        (Kind::Cgroup, "cgroup_namespaces(7)", "cgroup root directory"),
        (Kind::Ipc, "ipc_namespaces(7)", "System V IPC, POSIX message queues"),
        (
            Kind::Net,
            "network_namespaces(7)",
            "network devices, stacks, ports, etc.",
        ),
        (Kind::Mnt, "mount_namespaces(7)", "mount points"),
        (Kind::Pid, "pid_namespaces(7)", "process IDs"),
        (Kind::Time, "time_namespaces(7)", "boot and monotonic clocks"),
        (Kind::User, "user_namespaces(7)", "user and group IDs"),
        (Kind::Uts, "uts_namespaces(7)", "hostname and NIS domain name"),
    ];
    assert_eq!(table.map(|(k, _, _)| k), Kind::ALL);
    for (kind, page, isolates) in table {
        assert_eq!(kind.man_page(), page, "{kind}");
        assert_eq!(kind.isolates(), isolates, "{kind}");
    }
}

/// Since Linux 5.6 (time, the last kind added) every kind is there; on an older kernel, a
/// kind is supported exactly when this process can open its namespace.
fn every_kind_is_supported_by_this_kernel() {
    let modern = nscore::inspect::kernel_version() >= (5, 6);
    for kind in Kind::ALL {
        let openable = nscore::NsHandle::current(kind).is_ok();
        assert_eq!(
            kind.is_supported(),
            modern || openable,
            "{kind} on {:?}",
            nscore::inspect::kernel_version()
        );
    }
}

/// With an empty filesystem over `/proc` (in a mount namespace of this check's own), there
/// is no `/proc/self/ns` entry, and no kind counts as supported.
fn no_kind_is_supported_without_its_proc_entry() {
    if !common::root_or_skip(
        "no_kind_is_supported_without_its_proc_entry",
        "a mount namespace needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    nscore::unshare(Kind::Mnt.into()).expect("a mount namespace of the check's own");
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>).expect("make / private");
    mount(Some("tmpfs"), "/proc", Some("tmpfs"), MsFlags::empty(), None::<&str>).expect("tmpfs over /proc");
    for kind in Kind::ALL {
        assert!(!kind.is_supported(), "{kind} without /proc/self/ns/{}", kind.name());
    }
}

/// A set holds a kind or not: adding one it holds already changes nothing, by any way of
/// adding.
fn adding_a_kind_twice_adds_it_once() {
    let net: KindSet = Kind::Net.into();
    assert_eq!(net.with(Kind::Net), net);
    assert_eq!(net | Kind::Net, net);
    let (again, same) = (Kind::Net, net);
    assert_eq!(Kind::Net | again, net);
    assert_eq!(net | same, net);
    assert_eq!("net,network,newnet".parse::<KindSet>().unwrap(), net);
    assert_eq!([Kind::Net, Kind::Net].into_iter().collect::<KindSet>(), net);
    let mut set = net;
    set.insert(Kind::Net);
    assert_eq!(set, net);
    set.remove(Kind::Uts);
    assert_eq!(set, net, "removing a kind it does not hold");
    assert_eq!(net.without(Kind::Uts), net);
}
