//! [`Spawn::pool`]: a spawn that takes its namespaces from a [`Pool`] instead of making them.

use crate::error::{Error, Op, Result};
use crate::kinds::Kind;
use crate::pool::Pool;
use crate::sys::child::Plan;

use super::{CloneMode, Spawn};

impl Spawn {
    /// Takes the child's namespaces from `pool`: a set made ahead of time, used by this child
    /// only (see [`crate::pool`]). The child is PID 1 of the set's PID namespace and a child of
    /// this process; the hostname, `/proc` and the other options apply as for a fresh spawn.
    ///
    /// The spawn's kinds must be the pool's ([`Pool::spawn`] makes such a builder). When the
    /// pool is empty, the spawn waits or makes a set inline, as the pool was built to do.
    /// A command is cloned `CLONE_VM` from the set's launcher (flat in this
    /// process's memory size); a function ([`Spawn::run`]) fork-like, with the same rules as
    /// without a pool. Checked at spawn time: no namespaces to join, no cgroup, and for a
    /// command no [`CloneMode::Fork`]; errors are `Op::Validate`, and a launcher killed before
    /// it was used gives `Op::ChildReport` (`ESRCH`).
    pub fn pool(mut self, pool: &Pool) -> Spawn {
        self.pool = Some(pool.clone());
        self
    }

    /// Checks that what this spawn asks for can come from its pool.
    pub(super) fn check_pool(&self, pool: &Pool, exec: bool) -> Result<()> {
        let refuse = |what: &str| {
            Err(Error::invalid(
                Op::Validate,
                format!("a spawn from a namespace pool cannot {what}"),
            ))
        };
        if self.kinds != pool.kinds() {
            return Err(Error::invalid(
                Op::Validate,
                format!(
                    "the spawn asks for {} namespaces but the pool holds sets of {}; use Pool::spawn",
                    self.kinds,
                    pool.kinds()
                ),
            ));
        }
        if !self.joins.is_empty() {
            return refuse("join other namespaces");
        }
        if self.cgroup.is_some() {
            return refuse("start in a cgroup (CLONE_INTO_CGROUP)");
        }
        if self.empty_mntns {
            return refuse("have an empty mount namespace (a set's mount namespace is made with the set)");
        }
        if self.mode == CloneMode::Fork && exec {
            return refuse(
                "start a command with CloneMode::Fork (a command is cloned CLONE_VM from the set's launcher)",
            );
        }
        Ok(())
    }

    /// Adjusts the child's plan to what the pool's set already has done.
    pub(super) fn plan_for_pool(&self, pool: &Pool, plan: &mut Plan<'_>) {
        if self.kinds.contains(Kind::Mnt) && self.propagation == pool.propagation() {
            plan.propagation = 0;
        }
        if pool.loopback_is_up() {
            plan.loopback_up = false;
        }
        // A command shares the launcher's memory (CLONE_VM): handlers of this process must
        // not run in it. (Harmless for a fork-like function child.)
        plan.reset_all_handlers = true;
    }
}
