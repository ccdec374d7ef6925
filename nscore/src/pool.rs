//! A pool of fresh namespaces, made ahead of time, so that a child starts in new namespaces at
//! about the cost of a plain process start.
//!
//! Making namespaces is the kernel's own cost on the critical path of every start (a network
//! namespace alone is ~0.4 ms). A [`Pool`] keeps up to `size` complete *sets* ready, made in
//! the background, and hands each out exactly once: a set is never reused, so a pooled child
//! is as isolated as one made fresh, in namespaces no other process has ever been in.
//!
//! ```no_run
//! use nscore::{Kind, Pool};
//! let pool = Pool::new(Kind::Uts | Kind::Ipc | Kind::Net | Kind::Mnt | Kind::Pid, 4)?;
//! let out = pool.spawn().hostname("box").mount_proc(true).output("hostname", ["-s"])?;
//! assert_eq!(out.stdout, b"box\n");
//! pool.shutdown();
//! # Ok::<(), nscore::Error>(())
//! ```
//!
//! # How a set is made and used
//! A set of namespaces cannot be kept as bare fds: the `pid_for_children` of a PID namespace
//! that no process has entered yet cannot be opened (`ENOENT`). So each set is a *launcher*, a
//! process already in new namespaces of the pool's kinds, with `unshare(CLONE_NEWPID)` done,
//! `/` made private and `lo` brought up as asked, waiting on a pipe. A spawn from the pool
//! ([`Spawn::pool`]) hands the launcher its plan; the launcher clones the command
//! (`CLONE_VM` on a small stack, `CLONE_PARENT`: PID 1 of the new PID namespace and a child of
//! *this* process, with a real pidfd), which sets its hostname, mounts `/proc` and execs as a
//! fresh spawn would. The launcher then waits for the command to exit and exits after it, so
//! that the teardown of the set (the mount tree, a network namespace's exit work) happens in
//! the background and not on the command's exit path, which its parent waits for. So each
//! running pooled child has a sleeping launcher beside it (a process sharing this one's memory,
//! with two small stacks), until it exits. A launcher shares this process's memory and fd
//! table (`CLONE_VM|CLONE_FILES`, like a thread, but a process of its own): its creation does
//! not copy page tables, so it stays flat in this process's memory size.
//!
//! A helper thread of the pool makes the launchers (each is a single-threaded process of its
//! own, so the kernel's single-threaded rules hold) and reaps the used ones. Launchers are
//! killed when that thread ends (`PR_SET_PDEATHSIG`): at [`Pool::shutdown`], when the last
//! handle is dropped, or when the process dies. A pooled child with
//! [`Spawn::kill_on_parent_death`] is therefore killed when the pool shuts down.
//!
//! # Limits
//! The kinds may be any of uts, ipc, net, mnt, pid and cgroup. `user` is refused (id maps are
//! per spawn, and the creator must be single-threaded), and so is `time` (its offsets must be
//! written before anything enters it, and it cannot be used with `CLONE_VM`).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::create::{Propagation, Spawn};
use crate::error::{Error, Op, Result};
use crate::kinds::{Kind, KindSet};
use crate::sys::child::Plan;
use crate::sys::launcher::{Config, Failure, Launcher, Stage};

/// What a spawn does when the pool has no ready set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenEmpty {
    /// Wait for the helper to make one (the default). A helper that cannot make sets turns
    /// the wait into that error.
    #[default]
    Wait,
    /// Make a set in the calling thread, at the cost of a fresh creation.
    Inline,
}

/// Builds a [`Pool`]: kinds, size and what to do when it is empty.
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    kinds: KindSet,
    size: usize,
    when_empty: WhenEmpty,
    propagation: Propagation,
    loopback_up: bool,
}

impl PoolBuilder {
    /// How many sets to keep ready (at least 1, at most [`Pool::MAX_SIZE`]); 4 by default.
    pub fn size(mut self, size: usize) -> PoolBuilder {
        self.size = size;
        self
    }

    /// What a spawn does when no set is ready ([`WhenEmpty::Wait`] by default).
    pub fn when_empty(mut self, policy: WhenEmpty) -> PoolBuilder {
        self.when_empty = policy;
        self
    }

    /// The propagation each set's mount namespace gets ahead of time ([`Propagation::Private`]
    /// by default, as a fresh spawn). A spawn that asks for another one sets it in the child.
    pub fn propagation(mut self, p: Propagation) -> PoolBuilder {
        self.propagation = p;
        self
    }

    /// Brings `lo` up in each set's network namespace ahead of time (off by default). A spawn
    /// that asks for `lo` up from a pool without it brings it up in the child.
    pub fn loopback_up(mut self, yes: bool) -> PoolBuilder {
        self.loopback_up = yes;
        self
    }

    /// Checks the options and starts the helper thread, which fills the pool in the background.
    ///
    /// Errors: `Op::Validate` for kinds the pool cannot hold (user, time, none) or a size out
    /// of range; `Op::Prepare` if the thread cannot start.
    pub fn build(self) -> Result<Pool> {
        let bad: KindSet = self
            .kinds
            .iter()
            .filter(|k| matches!(k, Kind::User | Kind::Time))
            .collect();
        if !bad.is_empty() {
            return Err(Error::invalid(
                Op::Validate,
                format!("a pool cannot hold {bad} namespaces: a user namespace needs id maps per spawn and a single-threaded creator, a time namespace needs its offsets before anything enters it; spawn those fresh with Spawn"),
            ));
        }
        if self.kinds.is_empty() {
            return Err(Error::invalid(
                Op::Validate,
                "a pool needs at least one kind of namespace",
            ));
        }
        if self.size == 0 || self.size > Pool::MAX_SIZE {
            return Err(Error::invalid(
                Op::Validate,
                format!("a pool's size is 1 to {}, not {}", Pool::MAX_SIZE, self.size),
            ));
        }
        let config = Config {
            flags: self.kinds.clone_flags(),
            propagation: if self.kinds.contains(Kind::Mnt) {
                self.propagation.flag()
            } else {
                0
            },
            loopback_up: self.loopback_up && self.kinds.contains(Kind::Net),
        };
        let state = Arc::new(State {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            config,
            kinds: self.kinds,
            size: self.size,
        });
        let helper_state = Arc::clone(&state);
        let helper = std::thread::Builder::new()
            .name("nscore-pool".into())
            .spawn(move || helper(&helper_state))
            .map_err(|e| {
                Error::sys(Op::Prepare, self.kinds, Errno::from_raw(e.raw_os_error().unwrap_or(0)))
                    .with_detail("starting the pool's helper thread")
            })?;
        Ok(Pool {
            owner: Arc::new(Owner {
                state,
                helper: Mutex::new(Some(helper)),
                when_empty: self.when_empty,
                propagation: self.propagation,
                loopback_up: config.loopback_up,
            }),
        })
    }
}

/// Counts of a pool's work so far (see [`Pool::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Sets the helper made.
    pub made: u64,
    /// Sets made inline by a spawn that found the pool empty ([`WhenEmpty::Inline`]).
    pub made_inline: u64,
    /// Sets handed out to spawns (each exactly once).
    pub handed_out: u64,
    /// Sets found dead when taken (their launcher was killed) and discarded.
    pub discarded: u64,
}

/// A pool of fresh, never reused namespace sets (see the [module docs](self)).
///
/// A cheap handle: clones share one pool, which shuts down when the last handle (a [`Spawn`]
/// given it holds one) is dropped, or at [`Pool::shutdown`].
#[derive(Debug, Clone)]
pub struct Pool {
    owner: Arc<Owner>,
}

impl Pool {
    /// The largest size a pool may have.
    pub const MAX_SIZE: usize = 1024;

    /// A builder for a pool of sets of new namespaces of `kinds`.
    pub fn builder(kinds: impl Into<KindSet>) -> PoolBuilder {
        PoolBuilder {
            kinds: kinds.into(),
            size: 4,
            when_empty: WhenEmpty::Wait,
            propagation: Propagation::Private,
            loopback_up: false,
        }
    }

    /// A pool of `size` sets of `kinds` that waits when empty; see [`PoolBuilder::build`] for
    /// the errors.
    pub fn new(kinds: impl Into<KindSet>, size: usize) -> Result<Pool> {
        Pool::builder(kinds).size(size).build()
    }

    /// The kinds of each set.
    pub fn kinds(&self) -> KindSet {
        self.owner.state.kinds
    }

    /// How many sets the pool keeps ready.
    pub fn size(&self) -> usize {
        self.owner.state.size
    }

    /// How many sets are ready now.
    pub fn ready(&self) -> usize {
        self.owner.state.lock().ready.len()
    }

    /// What the pool has done so far.
    pub fn stats(&self) -> PoolStats {
        self.owner.state.lock().stats
    }

    /// The pids of the ready sets' launcher processes (for diagnostics and tests: each holds
    /// one set of namespaces, visible as `/proc/<pid>/ns/*`).
    pub fn launcher_pids(&self) -> Vec<Pid> {
        self.owner
            .state
            .lock()
            .ready
            .iter()
            .map(|l| Pid::from_raw(l.pid()))
            .collect()
    }

    /// A [`Spawn`] of the pool's kinds that takes its namespaces from this pool.
    pub fn spawn(&self) -> Spawn {
        Spawn::new(self.kinds()).pool(self)
    }

    /// Waits until `size` sets are ready, at most `timeout`.
    ///
    /// Errors: the helper's error if it cannot make sets; `ETIMEDOUT` after `timeout`;
    /// `Op::Validate` after shutdown.
    pub fn fill(&self, timeout: Duration) -> Result<()> {
        let state = &self.owner.state;
        let end = Instant::now() + timeout;
        let mut q = state.lock();
        loop {
            if q.shutdown {
                return Err(shut_down());
            }
            if q.ready.len() >= state.size {
                return Ok(());
            }
            if let Some(e) = &q.error {
                return Err(e.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(
                    Error::sys(Op::Prepare, state.kinds, Errno::ETIMEDOUT).with_detail(format!(
                        "{} of {} sets ready",
                        q.ready.len(),
                        state.size
                    )),
                );
            }
            q = state
                .changed
                .wait_timeout(q, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Shuts the pool down: stops the helper, ends and reaps every launcher, so that the pool
    /// holds no set of namespaces any more (a running child keeps its own). Children already
    /// started are not touched (unless started with [`Spawn::kill_on_parent_death`]: the
    /// helper thread is their parent). Spawns after this fail. Dropping the last handle does
    /// the same.
    pub fn shutdown(&self) {
        self.owner.shutdown();
    }

    /// The propagation a set's mount namespace already has.
    pub(crate) fn propagation(&self) -> Propagation {
        self.owner.propagation
    }

    /// Whether `lo` is already up in each set.
    pub(crate) fn loopback_is_up(&self) -> bool {
        self.owner.loopback_up
    }

    /// Takes a set (as the empty-pool policy says) and starts `plan`'s child from it: a
    /// command with `CLONE_VM`, a function (`fork`) fork-like.
    pub(crate) fn launch(&self, plan: &mut Plan<'_>, fork: bool) -> Result<(libc::pid_t, std::os::fd::OwnedFd)> {
        let state = &self.owner.state;
        let mut launcher = self.take()?;
        let res = launcher.launch(plan, fork);
        let pid = launcher.pid();
        // It ends when its child does; the helper reaps it then and frees its memory. After a
        // shutdown there is no helper: end it now (the child keeps its namespaces).
        let mut q = state.lock();
        if q.shutdown {
            drop(q);
            drop(launcher);
        } else {
            q.used.push(launcher);
            drop(q);
            state.changed.notify_all();
        }
        res.map_err(|f| failure(f, state.kinds, pid))
    }

    fn take(&self) -> Result<Launcher> {
        let state = &self.owner.state;
        let mut q = state.lock();
        loop {
            if q.shutdown {
                return Err(shut_down());
            }
            if let Some(l) = q.ready.pop_front() {
                // The helper is told after the launch (in `launch`), so that its refill does
                // not compete with this start.
                if l.alive() {
                    q.stats.handed_out += 1;
                    return Ok(l);
                }
                // Killed while it waited: discard it (the helper reaps it) and say so.
                q.stats.discarded += 1;
                let pid = l.pid();
                q.used.push(l);
                state.changed.notify_all();
                return Err(failure(Failure::Died, state.kinds, pid));
            }
            match self.owner.when_empty {
                WhenEmpty::Inline => {
                    drop(q);
                    let l = Launcher::make(state.config).map_err(|f| failure(f, state.kinds, 0))?;
                    let mut q = state.lock();
                    q.stats.made_inline += 1;
                    q.stats.handed_out += 1;
                    return Ok(l);
                }
                WhenEmpty::Wait => {
                    if let Some(e) = &q.error {
                        return Err(e.clone());
                    }
                    q = state.changed.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

fn shut_down() -> Error {
    Error::invalid(Op::Prepare, "the namespace pool was shut down")
}

fn failure(f: Failure, kinds: KindSet, pid: libc::pid_t) -> Error {
    let made = "making a set of the namespace pool";
    match f {
        Failure::Clone(e) if pid == 0 => Error::sys(Op::Clone3, kinds, e).with_detail(made),
        Failure::Clone(e) => Error::sys(Op::Clone3, kinds, e).with_detail("starting the command from a pooled set"),
        Failure::Stage(Stage::UnsharePid, e) => Error::sys(Op::Unshare, Kind::Pid.into(), e).with_detail(made),
        Failure::Stage(Stage::Propagation, e) => Error::sys(Op::Mount, Kind::Mnt.into(), e).with_detail(made),
        Failure::Stage(Stage::LoopbackUp, e) => Error::sys(Op::LoopbackUp, Kind::Net.into(), e).with_detail(made),
        Failure::Stage(Stage::DeathSignal, e) => Error::sys(Op::Prepare, kinds, e).with_detail(made),
        Failure::Owner(e) => Error::sys(Op::Prepare, kinds, e).with_detail(made),
        Failure::Died => Error::sys(Op::ChildReport, kinds, Errno::ESRCH).with_detail(format!(
            "the pool's launcher process {pid} ended before it started the command (was it killed?); its set was discarded, the next spawn takes another"
        )),
    }
}

struct Owner {
    state: Arc<State>,
    helper: Mutex<Option<JoinHandle<()>>>,
    when_empty: WhenEmpty,
    propagation: Propagation,
    loopback_up: bool,
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("kinds", &self.state.kinds)
            .field("size", &self.state.size)
            .field("when_empty", &self.when_empty)
            .finish_non_exhaustive()
    }
}

impl Owner {
    fn shutdown(&self) {
        let (ready, used) = {
            let mut q = self.state.lock();
            q.shutdown = true;
            (std::mem::take(&mut q.ready), std::mem::take(&mut q.used))
        };
        self.state.changed.notify_all();
        // Dropping a launcher ends and reaps it.
        drop(ready);
        drop(used);
        let helper = self.helper.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = helper {
            let _ = h.join();
        }
        // The helper may have finished a set after the first sweep.
        let mut q = self.state.lock();
        let rest = (std::mem::take(&mut q.ready), std::mem::take(&mut q.used));
        drop(q);
        drop(rest);
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the helper and the spawns share.
struct State {
    queue: Mutex<Queue>,
    changed: Condvar,
    config: Config,
    kinds: KindSet,
    size: usize,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Launcher>,
    /// Launchers that started their child (each holds its set until the child exits) or
    /// died: reaped once they have ended, killed at shutdown.
    used: Vec<Launcher>,
    shutdown: bool,
    /// The helper's last failure to make a set, cleared by its next success.
    error: Option<Error>,
    stats: PoolStats,
}

/// How long the helper waits before it tries again after a failure.
const RETRY: Duration = Duration::from_millis(100);

/// How often the helper looks for used launchers that have ended (each ends when its child
/// does).
const REAP_EVERY: Duration = Duration::from_millis(20);

/// The helper thread: reaps used launchers once they end and keeps `size` sets ready.
fn helper(state: &State) {
    loop {
        let mut q = state.lock();
        let ended = loop {
            if q.shutdown {
                return;
            }
            let (ended, running): (Vec<Launcher>, Vec<Launcher>) =
                std::mem::take(&mut q.used).into_iter().partition(Launcher::exited);
            q.used = running;
            if !ended.is_empty() || q.ready.len() < state.size {
                break ended;
            }
            q = if q.used.is_empty() {
                state.changed.wait(q).unwrap_or_else(|e| e.into_inner())
            } else {
                state
                    .changed
                    .wait_timeout(q, REAP_EVERY)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0)
            };
        };
        let want = q.ready.len() < state.size;
        drop(q);
        drop(ended);
        if !want {
            continue;
        }
        match Launcher::make(state.config) {
            Ok(l) => {
                let mut q = state.lock();
                q.error = None;
                q.stats.made += 1;
                q.ready.push_back(l);
                drop(q);
                state.changed.notify_all();
            }
            Err(f) => {
                let mut q = state.lock();
                q.error = Some(failure(f, state.kinds, 0));
                drop(q);
                state.changed.notify_all();
                let q = state.lock();
                let _ = state.changed.wait_timeout(q, RETRY);
            }
        }
    }
}
