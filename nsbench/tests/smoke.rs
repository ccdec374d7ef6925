//! Runs each measurement primitive once: correctness only (each primitive checks that its
//! operation created or joined the namespace), never timing.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nsbench::measure::{self, MeasureError};
use nscore::{Kind, KindSet};
use std::io::Write as _;

/// As root nothing skips; otherwise prints one SKIPPED line and returns false.
fn allowed(test: &str, r: &Result<impl Sized, MeasureError>) -> bool {
    match r {
        Err(e) if e.is_permission() && measure::rootless() => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: needs root: {e}");
            false
        }
        _ => true,
    }
}

#[test]
fn unshare_each_kind_once() {
    let r = measure::unshare_loop(None, 3);
    assert!(r.is_ok(), "unshare/none: {r:?}");
    for k in Kind::ALL {
        let r = measure::unshare_loop(Some(k), 3);
        if !allowed(&format!("unshare_each_kind_once({k})"), &r) {
            continue;
        }
        assert!(r.is_ok(), "unshare/{k}: {}", r.unwrap_err());
    }
}

#[test]
fn clone_each_kind_both_forms() {
    for vfork in [false, true] {
        let r = measure::clone_loop(KindSet::EMPTY, vfork, 2);
        assert!(r.is_ok(), "clone/none (vfork {vfork}): {r:?}");
        for k in Kind::ALL {
            let r = measure::clone_loop(k.set(), vfork, 2);
            if !allowed("clone_each_kind_both_forms", &r) {
                return;
            }
            assert!(r.is_ok(), "clone/{k} (vfork {vfork}): {}", r.unwrap_err());
        }
    }
}

#[test]
fn verify_clone_sees_new_namespaces() {
    let r = measure::verify_clone(KindSet::ALL);
    if allowed("verify_clone_sees_new_namespaces", &r) {
        assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn user_difference_at_depth() {
    for depth in [1, 4] {
        let r = measure::unshare_user_once(2, depth);
        assert!(r.is_ok(), "depth {depth}: {}", r.unwrap_err());
    }
    assert!(measure::unshare_user_once(1, 33).is_err());
    assert!(measure::unshare_user_once(1, 0).is_err());
}

#[test]
fn clone_pairs() {
    for vfork in [false, true] {
        let r = measure::clone_pair_loop(Kind::Uts | Kind::Net, vfork, 2);
        if allowed("clone_pairs", &r) {
            assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}

#[test]
fn setns_each_kind_with_holder() {
    if measure::rootless() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED setns_each_kind_with_holder: needs root: cannot join the host's namespaces back"
        );
        return;
    }
    for k in measure::SETNS_KINDS {
        let holder = measure::Holder::new(k, 1).unwrap_or_else(|e| panic!("holder {k}: {e}"));
        let target = holder.handle().unwrap_or_else(|e| panic!("handle {k}: {e}"));
        let r = measure::setns_loop(&target, 3);
        assert!(r.is_ok(), "setns/{k}: {}", r.unwrap_err());
    }
}

#[test]
fn holder_refuses_user() {
    assert!(measure::Holder::new(Kind::User, 1).is_err());
}

#[test]
fn spawn_methods_create_namespaces() {
    for m in measure::SpawnMethod::ALL {
        if !m.available() {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED spawn_methods_create_namespaces({}): {}",
                m.name(),
                match m {
                    measure::SpawnMethod::Pool => "a pool needs root",
                    _ => "util-linux unshare not installed",
                }
            );
            continue;
        }
        let r = m.verify();
        if !allowed("spawn_methods_create_namespaces", &r) {
            return;
        }
        assert!(r.is_ok(), "{}: {}", m.name(), r.unwrap_err());
        let r = m.run("/bin/true", &[], false);
        assert!(r.is_ok(), "{}: {}", m.name(), r.unwrap_err());
    }
    // A failing program is an error, not a silent success.
    assert!(measure::SpawnMethod::Nscore.run("/bin/false", &[], false).is_err());
    assert!(measure::SpawnMethod::Plain.run("/bin/false", &[], false).is_err());
}

#[test]
fn settled_burst_and_rate_spawns_and_cold_creations_run() {
    for m in [
        measure::SpawnMethod::Plain,
        measure::SpawnMethod::Pool,
        measure::SpawnMethod::Nscore,
    ] {
        if !m.available() {
            continue;
        }
        for r in [
            measure::settled_spawns(m, 2),
            measure::burst_spawns(m, 2),
            measure::spawn_rate(m, 2, 3),
        ] {
            if !allowed("settled_burst_and_rate_spawns_and_cold_creations_run", &r) {
                return;
            }
            assert!(r.is_ok(), "{}: {}", m.name(), r.unwrap_err());
        }
    }
    for k in [None, Some(Kind::Net), Some(Kind::User)] {
        let r = measure::cold_unshare(k, 1);
        if !allowed("settled_burst_and_rate_spawns_and_cold_creations_run", &r) {
            return;
        }
        assert!(r.is_ok(), "cold/{k:?}: {}", r.unwrap_err());
    }
}

#[test]
fn mnt_scaling_with_mounts() {
    let r = measure::mnt_scaling_loop(10, 2);
    if allowed("mnt_scaling_with_mounts", &r) {
        assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn concurrent_workers() {
    for workers in [1, 2] {
        let r = measure::concurrent_unshare(Kind::Uts, workers, 3);
        if !allowed("concurrent_workers", &r) {
            return;
        }
        assert!(r.is_ok(), "{workers} workers: {}", r.unwrap_err());
    }
    assert!(measure::concurrent_unshare(Kind::User, 1, 1).is_err());
}

#[test]
fn teardown_net_and_ipc() {
    for kind in [Kind::Ipc, Kind::Net] {
        let r = measure::teardown_loop(kind, 3);
        if !allowed("teardown_net_and_ipc", &r) {
            return;
        }
        assert!(r.is_ok(), "{kind}: {}", r.unwrap_err());
    }
    assert!(measure::teardown_loop(Kind::Uts, 1).is_err());
}

#[test]
fn holder_keeps_many_and_memory_reads() {
    let h = measure::Holder::new(Kind::Net, 5);
    if !allowed("holder_keeps_many_and_memory_reads", &h) {
        return;
    }
    let h = h.unwrap_or_else(|e| panic!("{e}"));
    let target = h.handle().unwrap_or_else(|e| panic!("{e}"));
    let mine = nscore::NsHandle::current(Kind::Net).and_then(|n| n.inode());
    assert_ne!(
        target.inode().ok(),
        mine.ok(),
        "the holder's net namespace is this process's"
    );
    let m = measure::kernel_memory(Kind::Uts, 10, 1);
    assert!(m.is_ok(), "{}", m.unwrap_err());
    assert!(measure::kernel_memory(Kind::Uts, 0, 1).is_err());
    assert_eq!(measure::touched_memory(8192).len(), 8192);
}

/// The fast paths' primitives: each runs where the kernel has it (or the scratch cgroup can be
/// made), and otherwise says why (the reason the bench prints).
#[test]
fn fast_paths_run_where_the_kernel_has_them() {
    match measure::probe_empty_mntns() {
        Ok(()) => {
            for empty in [true, false] {
                let r = measure::mntns_loop(empty, 2);
                assert!(r.is_ok(), "mntns_loop({empty}): {r:?}");
            }
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED fast_paths_run_where_the_kernel_has_them (open_tree): {e}"
            );
        }
    }
    match nscore::create::probe_empty_mntns() {
        Ok(()) => {
            for empty in [true, false] {
                let r = measure::clone_mntns_spawns(empty, 2);
                if !allowed("fast_paths_run_where_the_kernel_has_them", &r) {
                    return;
                }
                assert!(r.is_ok(), "clone_mntns_spawns({empty}): {r:?}");
            }
        }
        Err(e) => {
            assert!(e.is_unsupported(), "{e}");
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED fast_paths_run_where_the_kernel_has_them (clone3): {e}"
            );
        }
    }
}
