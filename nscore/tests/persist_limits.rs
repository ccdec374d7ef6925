//! Integration tests (real kernel, as root) for `nscore::persist` and `nscore::limits`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use nscore::persist::{persist, unpersist};
use nscore::{limits, Kind, NsHandle, Spawn};

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "bind mounts and namespaces of every kind need CAP_SYS_ADMIN")
}

fn mountinfo_mentions(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = path.to_string_lossy();
    text.lines().any(|l| l.split(' ').nth(4) == Some(&*p))
}

#[test]
fn limits_read_all_eight() {
    let all = limits::Limits::read().unwrap();
    assert_eq!(all.iter().count(), 8);
    for kind in Kind::ALL {
        let v = limits::read(kind).unwrap();
        assert_eq!(all.get(kind), Some(v), "{kind}");
        assert!(v > 0, "{kind} limit is 0 on the host");
    }
    assert!(all.to_string().contains("max_net_namespaces = "));
}

#[test]
fn limits_set_rejects_out_of_range_without_writing() {
    let before = limits::read(Kind::Uts).unwrap();
    let e = limits::set(Kind::Uts, limits::MAX_LIMIT + 1).unwrap_err();
    assert_eq!(e.op(), nscore::Op::Validate);
    assert_eq!(limits::read(Kind::Uts).unwrap(), before);
}

#[test]
fn persist_outlives_child_then_leaves_nothing() {
    if !root_or_skip("persist_outlives_child_then_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for kind in [Kind::Net, Kind::Uts, Kind::Ipc] {
        let target = dir.path().join(kind.name());
        let mut child = Spawn::new(kind).spawn("sleep", ["30"]).unwrap();
        let id = child.ns(kind).unwrap().inode().unwrap();
        let p = persist(&child.ns(kind).unwrap(), &target).unwrap();
        assert_eq!(p.path(), target);
        assert_eq!(p.kind(), kind);
        assert!(mountinfo_mentions(&target));
        child.kill().unwrap();
        child.wait().unwrap();
        let h = p.open().unwrap();
        assert_eq!(h.kind(), kind);
        assert_eq!(h.inode().unwrap(), id, "the persisted {kind} namespace is the child's");
        p.remove().unwrap();
        assert!(!mountinfo_mentions(&target));
        assert!(!target.exists());
    }
}

#[test]
fn persist_from_path_drop_and_unpersist() {
    if !root_or_skip("persist_from_path_drop_and_unpersist") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Spawn::new(Kind::Uts).spawn("sleep", ["30"]).unwrap();
    let src = format!("/proc/{}/ns/uts", child.pid());
    let id = NsHandle::open(&src).unwrap().inode().unwrap();

    // Drop of the guard undoes the mount and the file it created.
    let a = dir.path().join("a");
    let p = persist(src.as_str(), &a).unwrap();
    assert_eq!(p.open().unwrap().inode().unwrap(), id);
    drop(p);
    assert!(!mountinfo_mentions(&a) && !a.exists());

    // keep() + unpersist(); an existing file is used as it is.
    let b = dir.path().join("b");
    std::fs::write(&b, b"").unwrap();
    let kept = persist(src.as_str(), &b).unwrap().keep();
    assert!(mountinfo_mentions(&kept));
    unpersist(&kept).unwrap();
    assert!(!mountinfo_mentions(&b) && !b.exists());

    // unpersist on a file that is no namespace unmounts nothing.
    std::fs::write(&b, b"x").unwrap();
    let e = unpersist(&b).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY));
}

#[test]
fn persist_errors_leave_nothing_behind() {
    if !root_or_skip("persist_errors_leave_nothing_behind") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Source that is not a namespace file.
    let t = dir.path().join("t");
    let e = persist("/etc/passwd", &t).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY));
    assert!(!t.exists());
    // Own mount namespace into itself: EINVAL, and the created file is removed again.
    let e = persist("/proc/self/ns/mnt", &t).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL), "{e}");
    assert!(e.hint().unwrap().contains("mount namespace"), "{e}");
    assert!(!t.exists() && !mountinfo_mentions(&t));
    // Target directory missing.
    let e = persist("/proc/self/ns/uts", dir.path().join("no/such/dir")).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT));
    // Target is a directory.
    let e = persist("/proc/self/ns/uts", dir.path()).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::EISDIR));
    assert!(!mountinfo_mentions(dir.path()));
}

#[test]
fn persist_mount_namespace_of_a_child() {
    if !root_or_skip("persist_mount_namespace_of_a_child") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("mnt");
    let child = Spawn::new(Kind::Mnt).spawn("sleep", ["30"]).unwrap();
    let id = child.ns(Kind::Mnt).unwrap().inode().unwrap();
    match persist(&child.ns(Kind::Mnt).unwrap(), &t) {
        Ok(p) => {
            assert_eq!(p.open().unwrap().inode().unwrap(), id);
            p.remove().unwrap();
        }
        // The target's mount is shared with the child's namespace (propagation): the kernel
        // refuses the loop; nothing may be left behind.
        Err(e) => assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL), "{e}"),
    }
    assert!(!t.exists() && !mountinfo_mentions(&t));
}

#[test]
fn persist_remove_after_external_umount() {
    if !root_or_skip("persist_remove_after_external_umount") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("uts");
    let child = Spawn::new(Kind::Uts).spawn("sleep", ["30"]).unwrap();
    let p = persist(&child.ns(Kind::Uts).unwrap(), &t).unwrap();
    // Someone else unmounts it (as `umount` would); the guard still cleans up its file.
    nix::mount::umount2(&t, nix::mount::MntFlags::MNT_DETACH).unwrap();
    let e = p.remove().unwrap_err();
    assert_eq!(
        (e.op(), e.errno()),
        (nscore::Op::Umount, Some(nix::errno::Errno::EINVAL))
    );
    assert!(e.hint().unwrap().contains("not a mount point"), "{e}");
    assert!(!t.exists() && !mountinfo_mentions(&t));
}
