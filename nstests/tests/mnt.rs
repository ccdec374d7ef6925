//! Mount namespaces (checklist M1–M3). Every mount happens inside a scratch mount namespace
//! that a child made (private, so nothing reaches the host), or below it.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::ffi::CStr;

use nscore::{raw, Kind};
use nstests::child::*;
use nstests::live::*;
use nstests::{cstr, run_spawn, skip, Mode, Probe};
use rstest::rstest;
use rustix::mount::MountPropagationFlags;

/// The st_dev of `path` (0 on error).
fn dev(path: &CStr) -> u64 {
    stat(path).map(|s| s.0).unwrap_or(0)
}

/// Counts the lines of a small /proc file (async-signal-safe).
fn count_lines(path: &CStr) -> i64 {
    let Ok(fd) = raw::open(path) else {
        return -1;
    };
    let mut buf = [0u8; 4096];
    let mut n = 0;
    loop {
        let r = raw::read_full(fd, &mut buf).unwrap_or(0);
        if r == 0 {
            break;
        }
        n += buf[..r].iter().filter(|&&c| c == b'\n').count() as i64;
    }
    // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test) and does not
    // use it again.
    unsafe { close(fd) };
    n
}

/// M1: a tmpfs mounted in a new mount namespace (root made private first) is invisible to
/// the namespace it came from. Control: mounted without a new namespace, it is seen.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn m1_tmpfs_inside_is_invisible_outside(#[case] mode: Mode) {
    let dir = tempfile::tempdir().unwrap();
    let target = cstr(dir.path().to_str().unwrap());
    let child_body = |p: &Probe| {
        let ([r, w], [go_r, go_w]) = (pipe(), pipe());
        if r < 0 || go_r < 0 {
            return 1;
        }
        let before = dev(&target);
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { nsfork(mode, Kind::Mnt.into()) } {
            Ok(0) => {
                if mode.isolates() {
                    if let Err(e) = make_private() {
                        p.line_num(b"private_errno", e as i64);
                    }
                }
                let e = err_of(mount_fs(c"tmpfs", &target));
                put_i64(w, e);
                put_i64(w, (dev(&target) != before) as i64);
                wait(go_r);
                raw::exit(0)
            }
            Ok(child) => {
                // the child's ends: a child that fails early shows as end of file at once
                // SAFETY: this process owns its copies of `w` and `go_r` (pipe ends or fds made for
                // this test) and does not use them again.
                unsafe {
                    close(w);
                    close(go_r);
                }
                let (mount_errno, inside) = (get_i64(r), get_i64(r));
                let outside = dev(&target) != before;
                let _ = raw::write_all(go_w, b"x");
                let code = raw::reap(child).unwrap_or(99);
                p.line_num(b"mount_errno", mount_errno.unwrap_or(-1));
                p.line_num(b"seen_inside", inside.unwrap_or(-1));
                p.line_num(b"seen_outside", outside as i64);
                code
            }
            Err(e) => {
                p.line_num(b"fork_errno", e as i64);
                1
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Mnt.into()), child_body) }.unwrap();
    out.assert_ok();
    assert_eq!(out.num("mount_errno"), 0, "{}", out.text());
    assert_eq!(out.num("seen_inside"), 1, "{}", out.text());
    assert_eq!(
        out.num("seen_outside"),
        !mode.isolates() as i64,
        "mode {mode}: {}",
        out.text()
    );
    // and never on the host
    let host_dev = std::fs::metadata(dir.path()).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
    let parent_dev = std::fs::metadata(dir.path().parent().unwrap()).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
    assert_eq!(host_dev.unwrap(), parent_dev.unwrap(), "no mount reached the host");
}

/// How the child's copy of the shared mount is set in M2.
#[derive(Debug, Clone, Copy)]
enum Prop {
    Shared,
    Private,
    Slave,
}

/// M2: propagation. A tmpfs made shared in a scratch namespace is copied into a child's new
/// mount namespace; a mount below it propagates both ways (shared), not at all (private),
/// or only into the child (slave).
#[rstest]
#[case::shared(Prop::Shared)]
#[case::private(Prop::Private)]
#[case::slave(Prop::Slave)]
fn m2_propagation_shared_private_slave(#[case] prop: Prop) {
    let dir = tempfile::tempdir().unwrap();
    let top = cstr(dir.path().to_str().unwrap());
    let sub1 = cstr(dir.path().join("from_child").to_str().unwrap());
    let sub2 = cstr(dir.path().join("from_parent").to_str().unwrap());
    let flag = match prop {
        Prop::Shared => MountPropagationFlags::empty(),
        Prop::Private => MountPropagationFlags::PRIVATE,
        Prop::Slave => MountPropagationFlags::DOWNSTREAM,
    };
    let child_body = |p: &Probe| {
        let ([r, w], [go_r, go_w]) = (pipe(), pipe());
        if r < 0 || go_r < 0 {
            return 1;
        }
        // the shared mount point, in the scratch namespace only
        if let Err(e) = mount_fs(c"tmpfs", &top) {
            p.line_num(b"prep_errno", e as i64);
            return 2;
        }
        if let Err(e) = set_propagation(&top, MountPropagationFlags::SHARED) {
            p.line_num(b"prep_errno", e as i64);
            return 2;
        }
        if let Err(e) = mkdir(&sub1).and_then(|()| mkdir(&sub2)) {
            p.line_num(b"prep_errno", e as i64);
            return 2;
        }
        let (d1, d2) = (dev(&sub1), dev(&sub2));
        // SAFETY: a child body (async-signal-safe).
        match unsafe { raw::fork(Kind::Mnt.into()) } {
            Ok(0) => {
                if !flag.is_empty() {
                    if let Err(e) = set_propagation(&top, flag) {
                        put_i64(w, -(e as i64));
                        raw::exit(1);
                    }
                }
                put_i64(w, err_of(mount_fs(c"tmpfs", &sub1)));
                wait(go_r);
                put_i64(w, (dev(&sub2) != d2) as i64);
                raw::exit(0)
            }
            Ok(child) => {
                let child_mount = get_i64(r).unwrap_or(-1);
                let parent_mount = err_of(mount_fs(c"tmpfs", &sub2));
                let child_to_parent = (dev(&sub1) != d1) as i64;
                let _ = raw::write_all(go_w, b"x");
                let parent_to_child = get_i64(r).unwrap_or(-1);
                let code = raw::reap(child).unwrap_or(99);
                p.line_num(b"child_mount_errno", child_mount);
                p.line_num(b"parent_mount_errno", parent_mount);
                p.line_num(b"child_to_parent", child_to_parent);
                p.line_num(b"parent_to_child", parent_to_child);
                code
            }
            Err(e) => {
                p.line_num(b"clone_errno", e as i64);
                1
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Mnt.into()), child_body) }.unwrap();
    out.assert_ok();
    assert_eq!(out.num("child_mount_errno"), 0, "{}", out.text());
    assert_eq!(out.num("parent_mount_errno"), 0, "{}", out.text());
    let want = match prop {
        Prop::Shared => (1, 1),
        Prop::Private => (0, 0),
        Prop::Slave => (0, 1),
    };
    assert_eq!(
        (out.num("child_to_parent"), out.num("parent_to_child")),
        want,
        "{prop:?}: (child->parent, parent->child): {}",
        out.text()
    );
}

/// M3: `NS_MNT_GET_INFO` (Linux 6.12) reports the namespace's mount count: the lines of its
/// `/proc/self/mountinfo` (6.12 in the matrix's guests: one fewer, the same before and after),
/// one more after a mount inside. Skipped cleanly on older kernels.
#[test]
fn m3_mnt_get_info_counts_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let target = cstr(dir.path().to_str().unwrap());
    let child_body = |r: &Probe, gate: Gate| {
        r.line_num(b"lines1", count_lines(c"/proc/self/mountinfo"));
        r.put(b"stage1\n");
        gate.wait();
        r.line_num(b"mount_errno", err_of(mount_fs(c"tmpfs", &target)));
        r.line_num(b"lines2", count_lines(c"/proc/self/mountinfo"));
        r.put(b"stage2\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(scaffold(Kind::Mnt.into()), child_body) }.unwrap();
    live.until("stage1");
    let ns = live.child.ns(Kind::Mnt).unwrap();
    let info1 = match ns.mnt_info() {
        Ok(i) => i,
        Err(e) if e.is_unsupported() => {
            skip(
                "m3_mnt_get_info_counts_mounts",
                &format!("kernel lacks NS_MNT_GET_INFO: {e}"),
            );
            return;
        }
        Err(e) => panic!("NS_MNT_GET_INFO: {e}"),
    };
    live.go_once();
    live.until("stage2");
    let info2 = ns.mnt_info().unwrap();
    let out = live.finish();
    out.assert_ok();
    assert_eq!(out.num("mount_errno"), 0, "{}", out.text());
    // The count is the lines of mountinfo, or one fewer: Debian's 6.12 (6.12.117) counts one
    // mount fewer than mountinfo shows when the root is the initramfs (the kernel matrix's
    // guests); 6.18 on the host and 7.x in the same guests agree with mountinfo.
    let t = out.text();
    let (lines1, lines2) = (out.num("lines1"), out.num("lines2"));
    let uncounted = lines1 - info1.nr_mounts as i64;
    assert!(
        uncounted == 0 || uncounted == 1,
        "mountinfo {lines1}, NS_MNT_GET_INFO {info1:?}: {t}"
    );
    assert_eq!(lines2 - info2.nr_mounts as i64, uncounted, "{info2:?}: {t}");
    assert_eq!(lines2, lines1 + 1, "{t}");
    assert_eq!(
        info2.nr_mounts,
        info1.nr_mounts + 1,
        "one mount more: {info1:?} {info2:?}"
    );
    assert_eq!(info1.mnt_ns_id, ns.mnt_ns_id().unwrap());
}

/// M4: an `MS_UNBINDABLE` mount cannot be bind-mounted (EINVAL), and a recursive bind of a
/// tree that holds it leaves it out (the copy's `sub` is a plain directory of its parent);
/// a new mount namespace still gets a copy of it (`CL_COPY_UNBINDABLE`: "not copied" holds
/// for bind copies, not for namespaces). Control: the same tree with a private `sub` binds,
/// and its recursive bind has `sub` mounted.
#[test]
fn m4_unbindable_mount_cannot_be_bound_and_is_pruned_from_rbind() {
    let dir = tempfile::tempdir().unwrap();
    let path = |s: &str| cstr(&format!("{}/{s}", dir.path().display()));
    for d in ["u", "k", "u_rbind", "k_rbind", "u_bind", "k_bind"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let (u, k) = (path("u"), path("k"));
    let (u_sub, k_sub) = (path("u/sub"), path("k/sub"));
    let (u_rbind, k_rbind) = (path("u_rbind"), path("k_rbind"));
    let (u_rsub, k_rsub) = (path("u_rbind/sub"), path("k_rbind/sub"));
    let (u_bind, k_bind) = (path("u_bind"), path("k_bind"));
    let child_body = |p: &Probe| {
        if let Err(e) = make_private() {
            p.line_num(b"private_errno", e as i64);
            return 1;
        }
        // two trees: u/sub unbindable, k/sub private (the control)
        for (top, sub) in [(&u, &u_sub), (&k, &k_sub)] {
            let setup = mount_fs(c"tmpfs", top)
                .and_then(|()| mkdir(sub))
                .and_then(|()| mount_fs(c"tmpfs", sub));
            if let Err(e) = setup {
                p.line_num(b"setup_errno", e as i64);
                return 2;
            }
        }
        if let Err(e) = set_propagation(&u_sub, MountPropagationFlags::UNBINDABLE) {
            p.line_num(b"unbindable_errno", e as i64);
            return 3;
        }
        p.line_num(b"bind_unbindable", err_of(bind(&u_sub, &u_bind, false)));
        p.line_num(b"bind_private", err_of(bind(&k_sub, &k_bind, false)));
        p.line_num(b"rbind_u", err_of(bind(&u, &u_rbind, true)));
        p.line_num(b"rbind_k", err_of(bind(&k, &k_rbind, true)));
        // a sub mount is there when its st_dev differs from its parent's
        p.line_num(b"u_sub_in_rbind", (dev(&u_rsub) != dev(&u_rbind)) as i64);
        p.line_num(b"k_sub_in_rbind", (dev(&k_rsub) != dev(&k_rbind)) as i64);
        p.line_num(b"u_sub_here", (dev(&u_sub) != dev(&u)) as i64);
        let here = dev(&u_sub);
        let copied_body = || (dev(&u_sub) == here && here != dev(&u)) as i32;
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let copied = unsafe { run_child(p, Kind::Mnt.into(), copied_body) };
        p.line_num(b"u_sub_in_new_ns", copied as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Mnt.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("bind_unbindable"), libc::EINVAL as i64, "{t}");
    assert_eq!(out.num("bind_private"), 0, "control: {t}");
    assert_eq!((out.num("rbind_u"), out.num("rbind_k")), (0, 0), "{t}");
    assert_eq!(out.num("u_sub_here"), 1, "{t}");
    assert_eq!(out.num("u_sub_in_rbind"), 0, "pruned from the recursive bind: {t}");
    assert_eq!(out.num("k_sub_in_rbind"), 1, "control: a private sub is copied: {t}");
    assert_eq!(out.num("u_sub_in_new_ns"), 1, "a new mount namespace copies it: {t}");
}
