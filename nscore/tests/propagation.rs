//! `Spawn::propagation`: what a child with a new mount namespace does to the propagation of
//! its `/` (`mount_namespaces(7)`), seen in the child's `/proc/self/mountinfo`; and a child
//! without a new mount namespace changes nothing of its parent's.
//!
//! The parent's `/` must be shared for the choices to differ (the wall makes it private), so
//! the check makes a mount namespace of its own with a shared `/`, which needs a
//! single-threaded caller for `unshare(2)`: this binary runs without libtest
//! (`harness = false`), each check in a child forked from the single-threaded `main` (see
//! `forked`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;
mod forked;

use nix::mount::{mount, MsFlags};
use nscore::{Kind, KindSet, Propagation, Spawn};

fn main() {
    forked::run(&[("each_propagation_of_a_shared_root", each_propagation_of_a_shared_root)])
}

/// The propagation fields of the `/` mount in a mountinfo text: `shared:N`, `master:N`, ...
/// (empty for a private mount).
fn root_tags(mountinfo: &str) -> Vec<String> {
    let line = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in {mountinfo}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let end = fields.iter().position(|f| *f == "-").expect("separator");
    fields[6..end].iter().map(|s| s.to_string()).collect()
}

fn childs_root_tags(spawn: Spawn) -> Vec<String> {
    let out = spawn.output("cat", ["/proc/self/mountinfo"]).expect("spawn cat");
    assert!(out.status.success(), "{out:?}");
    root_tags(&String::from_utf8_lossy(&out.stdout))
}

fn own_root_tags() -> Vec<String> {
    root_tags(&std::fs::read_to_string("/proc/self/mountinfo").unwrap())
}

/// Under a shared `/` (peer group N): `Private` makes the child's private, `Slave` makes it
/// receive from N only, `Shared` and `Unchanged` keep it in N.
fn each_propagation_of_a_shared_root() {
    if !common::root_or_skip(
        "each_propagation_of_a_shared_root",
        "a mount namespace needs CAP_SYS_ADMIN",
    ) {
        return;
    }
    nscore::unshare(Kind::Mnt.into()).expect("a mount namespace of the check's own");
    let shared = MsFlags::MS_REC | MsFlags::MS_SHARED;
    mount(None::<&str>, "/", None::<&str>, shared, None::<&str>).expect("make / shared");
    let mine = own_root_tags();
    let group = mine
        .iter()
        .find_map(|t| t.strip_prefix("shared:"))
        .unwrap_or_else(|| panic!("/ is not shared: {mine:?}"))
        .to_owned();
    let peer = vec![format!("shared:{group}")];
    let cases = [
        (Some(Propagation::Private), vec![]),
        (None, vec![]),
        (Some(Propagation::Slave), vec![format!("master:{group}")]),
        (Some(Propagation::Shared), peer.clone()),
        (Some(Propagation::Unchanged), peer.clone()),
    ];
    for (p, want) in cases {
        let spawn = Spawn::new(Kind::Mnt);
        let spawn = match p {
            Some(p) => spawn.propagation(p),
            None => spawn, // the default
        };
        assert_eq!(childs_root_tags(spawn), want, "{p:?}");
    }
    // Without a new mount namespace the child must not touch its parent's mounts.
    for p in [Propagation::Private, Propagation::Slave] {
        let tags = childs_root_tags(Spawn::new(KindSet::EMPTY).propagation(p));
        assert_eq!(tags, peer, "the child shares the parent's / ({p:?})");
        assert_eq!(
            own_root_tags(),
            peer,
            "a child without Kind::Mnt changed its parent's / ({p:?})"
        );
    }
}
