//! Runs each measurement primitive once: correctness only (each primitive checks that its
//! operation created or joined the namespace), never timing.

use nsbench::measure::{self, MeasureError};
use nscore::{Kind, KindSet};

/// As root nothing skips; otherwise prints one SKIPPED line and returns false.
fn allowed(test: &str, r: &Result<impl Sized, MeasureError>) -> bool {
    match r {
        Err(e) if e.is_permission() && measure::rootless() => {
            println!("SKIPPED {test}: needs root: {e}");
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
        let r = measure::clone_loop(KindSet::new(), vfork, 2);
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
        println!("SKIPPED setns_each_kind_with_holder: needs root: cannot join the host's namespaces back");
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
