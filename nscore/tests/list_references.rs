//! `inspect::list` finds the namespaces that nothing but another namespace keeps alive: a
//! user namespace whose processes are gone, kept as the owner of a bind-mounted UTS
//! namespace, is listed (held by reference), with its own owner and parent.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use nscore::inspect::list::{list_kinds, HeldBy};
use nscore::{persist, Kind, NsHandle, Redirect, Spawn};

#[test]
fn an_owner_kept_only_by_reference_is_listed() {
    if !common::root_or_skip(
        "an_owner_kept_only_by_reference_is_listed",
        "persisting a namespace is a bind mount (CAP_SYS_ADMIN)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Spawn::new(Kind::User | Kind::Uts)
        .map_root()
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    let target = dir.path().join("uts");
    let kept = persist::persist(&child.ns(Kind::Uts).unwrap(), &target).unwrap();
    let uts = kept.open().unwrap().inode().unwrap();
    let user = child.ns(Kind::User).unwrap().inode().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mine = NsHandle::current(Kind::User).unwrap().inode().unwrap();

    let all = list_kinds(Kind::User | Kind::Uts).unwrap();
    let u = all
        .get(user)
        .expect("the owner, kept only by the persisted UTS namespace");
    assert_eq!((u.kind, u.held_by()), (Kind::User, vec![HeldBy::Reference]), "{u:?}");
    assert_eq!((u.owner, u.parent), (Some(mine), Some(mine)), "{u:?}");
    let t = all.get(uts).expect("the persisted UTS namespace");
    assert_eq!(t.held_by(), [HeldBy::BindMount(target.clone())]);
    assert_eq!(t.owner, Some(user));
    kept.remove().unwrap();
}
