//! Killing a test child together with every process below it, for a child that did not
//! finish in time. Test thread only (allocates).
//!
//! The tree is read from `/proc/<pid>/task/<tid>/children`. Each process is stopped
//! (`SIGSTOP`) before its children are read, so that none forks or reaps while the tree is
//! walked; once the whole tree is stopped, every process in it gets `SIGKILL`. A stopped
//! process neither exits nor reaps by itself, so no pid in the list can be reused before the
//! kill. What the walk cannot see: a process whose parent exited before the walk (it was
//! reparented to the nearest subreaper or to the PID namespace's init, and is no longer below
//! the child); the wall's PID namespace ends those with the run.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How often the walk looks again for children that appeared while it stopped their parent.
const ROUNDS: usize = 16;
/// How long the walk waits for a signalled process to be stopped, per round.
const STOP_WAIT: Duration = Duration::from_millis(100);

/// Stops `root` and every process below it, then kills them all with `SIGKILL`. Returns the
/// pids it killed, `root` first.
pub fn kill_tree(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut seen: Vec<libc::pid_t> = Vec::new();
    let mut todo = vec![root];
    for _ in 0..ROUNDS {
        if todo.is_empty() {
            break;
        }
        for &pid in &todo {
            signal(pid, Signal::SIGSTOP);
        }
        wait_stopped(&todo);
        seen.append(&mut todo);
        // all of `seen` are stopped (or dead): their children lists no longer change
        for &pid in &seen {
            for child in children(pid) {
                if !seen.contains(&child) && !todo.contains(&child) {
                    todo.push(child);
                }
            }
        }
    }
    // a tree deeper or wider than the rounds could follow: what is left still gets killed
    seen.append(&mut todo);
    for &pid in &seen {
        signal(pid, Signal::SIGKILL);
    }
    seen
}

/// The children of every thread of `pid` (empty when it is gone).
pub fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(text.split_whitespace().filter_map(|w| w.parse::<libc::pid_t>().ok()));
        }
    }
    out
}

/// Whether `pid` still exists and has not exited: its state in `/proc/<pid>/stat` is neither
/// zombie (`Z`) nor dead (`X`).
pub fn alive(pid: libc::pid_t) -> bool {
    matches!(state(pid), Some(s) if s != 'Z' && s != 'X' && s != 'x')
}

/// The state letter of `pid` (`/proc/<pid>/stat`, after the command name), or `None` when
/// it is gone.
fn state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits (at most [`STOP_WAIT`]) until each of `pids` is stopped or gone.
fn wait_stopped(pids: &[libc::pid_t]) {
    let deadline = Instant::now() + STOP_WAIT;
    while Instant::now() < deadline {
        let running = pids
            .iter()
            .any(|&p| matches!(state(p), Some(s) if !matches!(s, 'T' | 't' | 'Z' | 'X' | 'x')));
        if !running {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sends `sig`; a pid that is gone (ESRCH) is fine.
fn signal(pid: libc::pid_t, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}
