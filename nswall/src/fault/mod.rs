//! Fault injection: make the kernel "lie" to the code under test, inside the wall only.
//!
//! `NSWALL_FAULT=<spec>` asks the wall to install a seccomp filter in the tests' process
//! before `main` (single-threaded, after the wall's own namespaces were made), so that every
//! thread and child of the run inherits it, and nothing outside the run sees it.
//!
//! # Grammar
//!
//! ```text
//! spec   := fault { "," fault }
//! fault  := kind ":" [ calls ":" ] action     the namespace calls for one kind
//!         | "clone3" ":" errno                every clone3(2), whatever its flags
//! kind   := cgroup | ipc | mnt | net | pid | time | user | uts
//! calls  := call { "+" call }                 default: unshare+setns
//! call   := unshare | setns | clone           clone: the legacy clone(2)
//! action := "lie"                             return 0 and do nothing
//!         | errno                             fail with that errno
//! errno  := an E-name (EPERM, ENOSPC, ENOSYS, ...) or its number (1 to 4095)
//! ```
//!
//! A fault of a kind matches `unshare(flags)` and `clone(flags, ...)` whose `flags`, and
//! `setns(fd, nstype)` whose `nstype`, contain that kind's `CLONE_NEW*` bit. Examples:
//! `pid:lie`, `net:EPERM`, `uts:setns:EINVAL`, `mnt:unshare+clone:ENOMEM`, `clone3:ENOSYS`,
//! `pid:lie,clone3:ENOSYS`. An empty value is no fault. When two faults match one call, the
//! later one of the spec wins (the kernel runs the newest filter first and keeps its answer
//! when the actions are of the same kind).
//!
//! # What cannot be faked, and why
//!
//! - **`clone3(2)` per kind**: its flags are in a `struct clone_args` in memory, and a seccomp
//!   filter sees only the registers (the kernel deliberately does not let it read memory, which
//!   the caller could change after the check). So `clone3:<errno>` fails *every* clone3:
//!   nscore's spawns and forks (which have no fallback to `clone`: a spawn then fails with that
//!   errno), and glibc's `pthread_create` and `posix_spawn`, which fall back to `clone(2)` on
//!   `ENOSYS` only. Use `ENOSYS` (what a kernel before 5.3, or Docker's default seccomp profile,
//!   answers); another errno also makes the test harness unable to start its threads.
//! - **A lie from `clone` or `clone3`**: their 0 return means "you are the child"; the caller
//!   would run on as a child that does not exist. Only errnos are offered.
//! - **`time` with `clone`**: the legacy `clone(2)` cannot make a time namespace
//!   (`CLONE_NEWTIME`, `0x80`, lies in its exit-signal byte).
//! - **`setns(fd, 0)`**: an nstype of 0 accepts any kind, which only the fd tells; such a call
//!   is not matched.
//! - **Half a lie**: `unshare(CLONE_NEWPID | CLONE_NEWNET)` under `pid:lie` makes *neither*
//!   namespace; a filter cannot let the kernel do part of a call.
//! - **The wall itself**: its namespaces are made before the filter is installed.
//!
//! The filter is built with `seccompiler` (the Firecracker project's BPF compiler) and
//! installed with `PR_SET_NO_NEW_PRIVS` and `seccomp(SECCOMP_SET_MODE_FILTER)`: one filter
//! per fault.

mod filter;
mod spec;

pub use filter::install;
pub use spec::{parse, Action, Call, Fault, Kind};

/// The environment variable that names the fault to inject.
pub const FAULT_VAR: &str = "NSWALL_FAULT";

/// Installs the fault that [`FAULT_VAR`] names, if any. `Ok(None)`: none asked for;
/// `Ok(Some(what))`: installed, described; `Err`: asked for but not possible (the wall then
/// refuses to run, rather than run without the fault).
pub fn install_from_env() -> Result<Option<String>, String> {
    let spec = match std::env::var(FAULT_VAR) {
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => return Err(format!("{FAULT_VAR}={v:?} is not UTF-8")),
        Ok(spec) => spec,
    };
    let faults = parse(&spec).map_err(|e| format!("{FAULT_VAR}={spec}: {e}"))?;
    if faults.is_empty() {
        return Ok(None);
    }
    install(&faults).map_err(|e| format!("{FAULT_VAR}={spec}: {e}"))?;
    let what: Vec<String> = faults.iter().map(Fault::to_string).collect();
    Ok(Some(what.join("; ")))
}
