//! Long-lived test children: a child that reports through a probe and then waits at a gate
//! while the test thread looks at it. Parent side (allocates; test thread only), except
//! [`Gate::wait`], which the child calls.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use nscore::{raw, Child, KindSet, Spawn};

use crate::child::close_others;
use crate::tree::kill_tree;
use crate::{is_root, Outcome, Probe, CHILD_TIMEOUT};

/// A spawn for a scaffolding child: new namespaces of `extra` (may be empty), plus a mapped
/// user namespace (root inside) when the tests do not run as root, so that the child may
/// create namespaces itself.
pub fn scaffold(extra: KindSet) -> Spawn {
    if is_root() {
        Spawn::new(extra)
    } else {
        Spawn::new(extra).map_root()
    }
}

/// A child that reports through a probe and then waits at a gate, so that the test thread
/// can look at it (or write its maps) while it lives.
pub struct Live {
    /// The child.
    pub child: Child,
    rd: std::fs::File,
    go: Option<OwnedFd>,
    /// What the child reported so far.
    pub data: Vec<u8>,
}

/// The child's end of the gate of a [`Live`] child.
#[derive(Clone, Copy)]
pub struct Gate {
    fd: RawFd,
}

impl Gate {
    /// Waits until the parent opens the gate (or goes away).
    pub fn wait(&self) {
        let mut b = [0u8; 1];
        let _ = raw::read_full(self.fd, &mut b);
    }
}

impl Live {
    /// Spawns `body` in a child of `spawn`.
    ///
    /// # Safety
    /// As for [`crate::run_spawn`]: `body` runs in a fork-like copy of one thread of the
    /// multithreaded test process, so it must only do async-signal-safe work (system calls on
    /// memory made before the spawn; no allocation, no lock, no panic) and close only fds it
    /// owns.
    pub unsafe fn start<F>(spawn: Spawn, mut body: F) -> nscore::Result<Live>
    where
        F: FnMut(&Probe, Gate) -> i32,
    {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        let (grd, gwr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        // SAFETY: `wr` stays open in the child for its whole life (the parent's copy is dropped
        // only after the spawn), and the probe is not used outside it.
        let probe = unsafe { Probe::new(wr.as_raw_fd()) };
        let gate = Gate { fd: grd.as_raw_fd() };
        let gate_w = gwr.as_raw_fd();
        let child_body = move || {
            // SAFETY: in the child, its own copy of the gate's write end (which would keep
            // the gate from closing) and of every other fd but the probe's and the gate's are
            // its own, and nothing in it uses them again.
            unsafe {
                crate::child::close(gate_w);
                close_others(&[probe.fd(), gate.fd]);
            }
            body(&probe, gate)
        };
        // SAFETY: the wrapper makes only raw close(2) calls; `body` is async-signal-safe and
        // closes only its own fds, by this function's contract.
        let child = unsafe { spawn.run(child_body) }?;
        drop(wr);
        drop(grd);
        Ok(Live {
            child,
            rd: std::fs::File::from(rd),
            go: Some(gwr),
            data: Vec::new(),
        })
    }

    /// Reads the report until it holds a line `marker` (or the child closes the probe). A
    /// child that reports neither within [`CHILD_TIMEOUT`] is killed with every process below
    /// it, and the test fails saying so.
    pub fn until(&mut self, marker: &str) -> String {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let want = format!("{marker}\n");
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&self.data).contains(&want) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let killed = kill_tree(self.child.pid().as_raw());
                let _ = self.child.wait();
                panic!(
                    "child did not report {marker:?} within {CHILD_TIMEOUT:?}; killed it and the {} \
                     processes below it; it reported:\n{}",
                    killed.len() - 1,
                    String::from_utf8_lossy(&self.data)
                );
            }
            let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
            match poll(&mut [PollFd::new(self.rd.as_fd(), PollFlags::POLLIN)], ms) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
                Ok(_) => {}
            }
            match self.rd.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Lets the child pass one `Gate::wait`.
    pub fn go_once(&mut self) {
        if let Some(fd) = &self.go {
            let _ = raw::write_all(fd.as_raw_fd(), b"x");
        }
    }

    /// Opens the gate for good (closes it).
    pub fn go(&mut self) {
        self.go.take();
    }

    /// Opens the gate, waits for the child (killing it and every process below it after
    /// [`CHILD_TIMEOUT`]) and returns all it reported.
    pub fn finish(mut self) -> Outcome {
        // an explicit byte, then close: a copy of the write end in some other process must
        // not keep the child waiting
        self.go_once();
        self.go();
        let status = match self.child.wait_timeout(CHILD_TIMEOUT).expect("wait") {
            Some(s) => s,
            None => {
                let killed = kill_tree(self.child.pid().as_raw());
                let _ = self.child.wait();
                panic!(
                    "child did not finish within {CHILD_TIMEOUT:?}; killed it and the {} processes below \
                     it; it reported:\n{}",
                    killed.len() - 1,
                    String::from_utf8_lossy(&self.data)
                );
            }
        };
        // what the child wrote is in the pipe now; read it without waiting for end of file
        // (a process of a parallel test may hold a copy of the write end for a while)
        let _ = nix::fcntl::fcntl(&self.rd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        let _ = self.rd.read_to_end(&mut self.data);
        Outcome {
            status,
            data: self.data,
        }
    }
}
