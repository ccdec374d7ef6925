//! Sockets and interfaces for child bodies (rustix's calls; no allocation).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType};

/// A socket address on the stack.
pub struct Sa(SocketAddrAny);

impl Sa {
    /// An IPv4 address and port.
    pub fn v4(ip: [u8; 4], port: u16) -> Sa {
        Sa(SocketAddrV4::new(Ipv4Addr::from(ip), port).into())
    }

    /// An IPv6 address and port.
    pub fn v6(ip: [u8; 16], port: u16) -> Sa {
        Sa(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0).into())
    }

    /// An AF_UNIX address: a path, or an abstract name when `abstract_` (no leading NUL
    /// in `name`). Names that do not fit `sun_path` give an address no socket binds to.
    pub fn unix(name: &[u8], abstract_: bool) -> Sa {
        let addr = if abstract_ {
            SocketAddrUnix::new_abstract_name(name)
        } else {
            SocketAddrUnix::new(name)
        };
        Sa(addr.unwrap_or_else(|_| SocketAddrUnix::new_unnamed()).into())
    }
}

/// A socket of the tests', or the errno of the call that failed to make it.
pub type Sock = rustix::io::Result<OwnedFd>;

/// 0 for a socket, minus the errno for a failure (what a body reports).
pub fn code(s: &Sock) -> i64 {
    s.as_ref().map_or_else(|e| -(e.raw_os_error() as i64), |_| 0)
}

/// A socket of `ty` for `sa`'s family with 5 s timeouts.
pub fn socket(sa: &Sa, ty: SocketType) -> Sock {
    let fd = rustix::net::socket_with(sa.0.address_family(), ty, SocketFlags::CLOEXEC, None)?;
    timeouts(&fd);
    Ok(fd)
}

/// A socket of `ty` bound to `sa` (listening for streams).
pub fn bound(sa: &Sa, ty: SocketType) -> Sock {
    let fd = socket(sa, ty)?;
    rustix::net::bind(&fd, &sa.0)?;
    if ty == SocketType::STREAM {
        rustix::net::listen(&fd, 4)?;
    }
    Ok(fd)
}

/// A new socket of `ty` connected to `sa`.
pub fn connected(sa: &Sa, ty: SocketType) -> Sock {
    let fd = socket(sa, ty)?;
    rustix::net::connect(&fd, &sa.0)?;
    Ok(fd)
}

/// Sends `msg` on `fd`; then receives into `buf`: the bytes received, or the errno.
pub fn send_recv<'a>(fd: impl AsFd, msg: &[u8], buf: &'a mut [u8]) -> Result<&'a [u8], rustix::io::Errno> {
    rustix::net::send(&fd, msg, SendFlags::empty())?;
    let (n, _) = rustix::net::recv(&fd, &mut *buf, RecvFlags::empty())?;
    Ok(&buf[..n])
}

/// Accepts one connection, reads a message and writes it back; 0 or the errno.
pub fn serve_tcp_once(listener: impl AsFd) -> i64 {
    let serve = || -> rustix::io::Result<()> {
        let c = rustix::net::accept_with(&listener, SocketFlags::CLOEXEC)?;
        timeouts(&c);
        let mut buf = [0u8; 64];
        let n = rustix::io::read(&c, &mut buf)?;
        if n == 0 {
            return Err(rustix::io::Errno::PIPE);
        }
        nscore::raw::write_all(c.as_raw_fd(), &buf[..n]).map_err(|e| rustix::io::Errno::from_raw_os_error(e as i32))
    };
    crate::child::err_code(serve())
}

/// Receives one datagram and sends it back to its sender; 0 or the errno.
pub fn serve_udp_once(fd: impl AsFd) -> i64 {
    let serve = || -> rustix::io::Result<()> {
        let mut buf = [0u8; 64];
        let (n, _, from) = rustix::net::recvfrom(&fd, &mut buf, RecvFlags::empty())?;
        let from = from.ok_or(rustix::io::Errno::DESTADDRREQ)?;
        rustix::net::sendto(&fd, &buf[..n], SendFlags::empty(), &from)?;
        Ok(())
    };
    crate::child::err_code(serve())
}

/// Sends `msg` on connected socket `fd` and expects it back: 1 when echoed, 0 when
/// something else came back, minus the errno on error (of `fd` too). Closes `fd`.
pub fn echo(fd: Sock, msg: &[u8]) -> i64 {
    let mut buf = [0u8; 64];
    match fd.and_then(|fd| send_recv(&fd, msg, &mut buf)) {
        Ok(back) => (back == msg) as i64,
        Err(e) => -(e.raw_os_error() as i64),
    }
}

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    data: [u8; 24],
}

fn ifreq(name: &[u8]) -> IfReq {
    let mut r = IfReq {
        name: [0; 16],
        data: [0; 24],
    };
    r.name[..name.len()].copy_from_slice(name);
    r
}

/// An interface ioctl on `r`, through a new UDP socket. Hand-written: rustix's `netdevice`
/// has only name to index (and allocates the other way), nix has none of these requests.
fn ioctl(req: libc::c_ulong, r: &mut IfReq) -> Result<(), nscore::Errno> {
    let s = rustix::net::socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, None)
        .map_err(crate::child::errno_of)?;
    // SAFETY: `r` is a valid 40-byte struct ifreq, as the SIOC*IF* requests used here take;
    // `s` is the socket just made.
    if unsafe { libc::ioctl(s.as_raw_fd(), req as _, r as *mut IfReq) } == 0 {
        Ok(())
    } else {
        Err(nscore::Errno::last())
    }
}

/// Sets IPv4 address `ip` on interface `name` by `SIOCSIFADDR` (what `ifconfig` does): 0 or
/// the errno.
pub fn set_addr_ioctl(name: &[u8], ip: [u8; 4]) -> i64 {
    let mut r = ifreq(name);
    // struct sockaddr_in: family, port, address
    r.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    r.data[4..8].copy_from_slice(&ip);
    crate::child::err_of(ioctl(0x8916, &mut r))
}

/// The index of interface `name` in the caller's network namespace, or minus the errno.
pub fn ifindex(name: &[u8]) -> i64 {
    let mut r = ifreq(name);
    match ioctl(0x8933, &mut r) {
        Ok(()) => i32::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]) as i64,
        Err(e) => -(e as i64),
    }
}

/// The flags of interface `name` (`SIOCGIFFLAGS`), or minus the errno.
pub fn ifflags(name: &[u8]) -> i64 {
    let mut r = ifreq(name);
    match ioctl(0x8913, &mut r) {
        Ok(()) => i16::from_ne_bytes([r.data[0], r.data[1]]) as u16 as i64,
        Err(e) => -(e as i64),
    }
}

/// The name of the interface with `index` (`SIOCGIFNAME`) into `out`, or `None`.
pub fn ifname(index: i32, out: &mut [u8; 16]) -> Option<&[u8]> {
    let mut r = ifreq(b"");
    r.data[..4].copy_from_slice(&index.to_ne_bytes());
    if ioctl(0x8910, &mut r).is_err() {
        return None;
    }
    *out = r.name;
    let n = out.iter().position(|&c| c == 0).unwrap_or(16);
    Some(&out[..n])
}

/// Waits (bounded: 10 s, no timing asserted) until interface `name` is gone from the caller's
/// network namespace; returns whether it went.
pub fn wait_gone(name: &[u8]) -> bool {
    for _ in 0..1000 {
        if ifindex(name) < 0 {
            return true;
        }
        crate::child::sleep_ms(10);
    }
    false
}

/// Sets 5 s send and receive timeouts on socket `fd`, so no step waits forever.
pub fn timeouts(fd: impl AsFd) {
    use rustix::net::sockopt::{set_socket_timeout, Timeout};
    for which in [Timeout::Recv, Timeout::Send] {
        let _ = set_socket_timeout(&fd, which, Some(Duration::from_secs(5)));
    }
}
