//! `cold/*`: one namespace creation with no backlog, as the first start of a sandbox meets it.
//!
//! The `unshare/*` loops give the sustained figure: creation back to back, with the deferred
//! teardown of the previous namespaces (a network namespace's `cleanup_net` above all) still
//! running. Here each iteration first waits [`COLD_SETTLE`], then a fresh child makes one
//! namespace, timed alone.

use std::time::Duration;

use nscore::Kind;

use super::unshare::{unshare_loop, unshare_user_once};
use super::Result;

/// How long each cold creation waits first, so that the deferred teardown of the previous
/// iteration's namespaces is over (a network namespace takes ~4 ms of such work here).
pub const COLD_SETTLE: Duration = Duration::from_millis(25);

/// `iters` single creations of a namespace of `kind` (`None`: `unshare(0)`, the floor), each in
/// a fresh child after [`COLD_SETTLE`]; returns the summed time of the creations alone.
pub fn cold_unshare(kind: Option<Kind>, iters: u64) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        std::thread::sleep(COLD_SETTLE);
        total += match kind {
            Some(Kind::User) => unshare_user_once(1, 1)?,
            _ => unshare_loop(kind, 1)?,
        };
    }
    Ok(total)
}
