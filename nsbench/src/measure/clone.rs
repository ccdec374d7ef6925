//! `clone/*` and `clone_vfork/*`: `clone3` with namespace flags + `_exit` + reap, and the paired
//! loop behind the marginal costs.

use std::os::fd::AsRawFd;
use std::time::Duration;

use nscore::raw;
use nscore::{KindSet, ProcessNamespaces};

use super::child::{clone_ok, clone_stack, in_child, measurer_with, ns_of, pipe};
use super::{MeasureError, Result};

/// Times `iters` alternating pairs of clones in one child: with the flags of `kinds`, and
/// with none; returns (summed time with, summed time without). Their difference is the
/// marginal cost of the kinds, less exposed to drift than two separate runs.
pub fn clone_pair_loop(kinds: KindSet, vfork: bool, iters: u64) -> Result<(Duration, Duration)> {
    let stack = clone_stack()?;
    let out = in_child(|out| {
        let stack = vfork.then_some(&stack);
        let (mut with, mut without) = (0u64, 0u64);
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            clone_ok(kinds, stack)?;
            let t1 = raw::monotonic_ns();
            clone_ok(KindSet::EMPTY, stack)?;
            let t2 = raw::monotonic_ns();
            with += t1 - t0;
            without += t2 - t1;
        }
        (out[0], out[1]) = (with, without);
        Ok(())
    })?;
    Ok((ns_of(out[0]), ns_of(out[1])))
}

/// Times `iters` rounds of `clone3` with the flags of `kinds` + child `_exit(0)` + reap, in one
/// fresh child ([`raw::clone_exit`]). `vfork` makes it `CLONE_VM|CLONE_VFORK` on a small
/// stack (no address-space copy); otherwise the clone is fork-like. An empty set is the
/// baseline (`clone/none`).
///
/// The clone's success says that the namespaces were made (`clone3` fails rather than
/// ignore a flag); [`verify_clone`] checks it on a living child.
pub fn clone_loop(kinds: KindSet, vfork: bool, iters: u64) -> Result<Duration> {
    let stack = clone_stack()?;
    let out = in_child(|out| {
        let stack = vfork.then_some(&stack);
        let mut total = 0u64;
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            clone_ok(kinds, stack)?;
            total += raw::monotonic_ns() - t0;
        }
        out[0] = total;
        Ok(())
    })?;
    Ok(ns_of(out[0]))
}

/// Checks that a child cloned with the flags of `kinds` is in new namespaces of each of those
/// kinds (its `/proc/PID/ns` entries differ from this process's).
pub fn verify_clone(kinds: KindSet) -> Result<()> {
    let (r, w) = pipe()?;
    let rfd = r.as_raw_fd();
    // SAFETY: the body runs raw, allocation-free system calls only (async-signal-safe),
    // on buffers made before the clone, and reports through a pipe.
    let child = unsafe {
        measurer_with(kinds).run(move || {
            let mut b = [0u8; 1];
            let _ = raw::read_full(rfd, &mut b);
            0
        })
    }?;
    let mine = ProcessNamespaces::current()?;
    let theirs = child.namespaces()?;
    drop(w);
    let differ = mine.differing(&theirs);
    for k in kinds.iter() {
        if !differ.contains(k) {
            return Err(MeasureError::NotDone(format!(
                "a child cloned with {} is still in the parent's {k} namespace",
                k.flag_name()
            )));
        }
    }
    drop(child);
    Ok(())
}
