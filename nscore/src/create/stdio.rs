//! A child's standard streams: inherited, null, or a pipe to the parent.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Where a child's standard stream goes (`std::process::Stdio`'s role; another name, so that
/// both can be imported together).
#[derive(Debug, Default)]
pub enum Redirect {
    /// The parent's stream (the default).
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent's end is in [`Child::stdin`](super::Child::stdin),
    /// [`stdout`](super::Child::stdout) or [`stderr`](super::Child::stderr).
    Piped,
    /// This fd.
    Fd(OwnedFd),
}

/// (fd for the child, fd for the parent) for one stream.
pub(super) fn stdio_pair(
    s: Redirect,
    child_writes: bool,
) -> std::result::Result<(Option<OwnedFd>, Option<OwnedFd>), Errno> {
    Ok(match s {
        Redirect::Inherit => (None, None),
        Redirect::Fd(fd) => (Some(fd), None),
        Redirect::Null => {
            let f = nix::fcntl::open(
                "/dev/null",
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            (Some(f), None)
        }
        Redirect::Piped => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            if child_writes {
                (Some(w), Some(r))
            } else {
                (Some(r), Some(w))
            }
        }
    })
}

/// Reads two pipes to their ends at once (so neither can fill up and block the child).
pub(super) fn read_both(a: Option<File>, b: Option<File>) -> std::result::Result<(Vec<u8>, Vec<u8>), Errno> {
    use std::io::Read;
    let mut out = [Vec::new(), Vec::new()];
    let mut files = [a, b];
    let mut buf = [0u8; 8192];
    while files.iter().any(Option::is_some) {
        let mut ready = [false; 2];
        {
            let open: Vec<(usize, BorrowedFd<'_>)> = files
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.as_ref().map(|f| (i, f.as_fd())))
                .collect();
            let mut fds: Vec<PollFd<'_>> = open.iter().map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN)).collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            for ((i, _), p) in open.iter().zip(&fds) {
                ready[*i] = p.revents().is_some_and(|r| !r.is_empty());
            }
        }
        for i in 0..2 {
            let Some(f) = files[i].as_mut().filter(|_| ready[i]) else {
                continue;
            };
            match f.read(&mut buf) {
                Ok(0) => files[i] = None,
                Ok(n) => out[i].extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
    }
    let [o, e] = out;
    Ok((o, e))
}
