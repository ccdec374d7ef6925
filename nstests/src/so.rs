//! Sockets and interfaces for child bodies (raw calls, no allocation).

use crate::child::*;

/// A socket address on the stack.
pub struct Sa {
    st: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl Sa {
    fn zero() -> Sa {
        Sa {
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            st: unsafe { std::mem::zeroed() },
            len: 0,
        }
    }

    /// An IPv4 address and port.
    pub fn v4(ip: [u8; 4], port: u16) -> Sa {
        let mut s = Sa::zero();
        // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
        let a = unsafe { &mut *(&mut s.st as *mut _ as *mut libc::sockaddr_in) };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_port = port.to_be();
        a.sin_addr.s_addr = u32::from_ne_bytes(ip);
        s.len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        s
    }

    /// An IPv6 address and port.
    pub fn v6(ip: [u8; 16], port: u16) -> Sa {
        let mut s = Sa::zero();
        // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
        let a = unsafe { &mut *(&mut s.st as *mut _ as *mut libc::sockaddr_in6) };
        a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        a.sin6_port = port.to_be();
        a.sin6_addr.s6_addr = ip;
        s.len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        s
    }

    /// An AF_UNIX address: a path, or an abstract name when `abstract_` (no leading NUL
    /// in `name`).
    pub fn unix(name: &[u8], abstract_: bool) -> Sa {
        let mut s = Sa::zero();
        // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_un.
        let a = unsafe { &mut *(&mut s.st as *mut _ as *mut libc::sockaddr_un) };
        a.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let off = abstract_ as usize;
        for (i, &b) in name.iter().enumerate().take(a.sun_path.len() - 2) {
            a.sun_path[off + i] = b as libc::c_char;
        }
        let base = std::mem::size_of::<libc::sa_family_t>();
        s.len = (base + off + name.len() + (!abstract_) as usize) as libc::socklen_t;
        s
    }

    fn family(&self) -> libc::c_int {
        self.st.ss_family as libc::c_int
    }

    fn ptr(&self) -> *const libc::sockaddr {
        &self.st as *const _ as *const libc::sockaddr
    }
}

/// A socket of `ty` for `sa`'s family with 5 s timeouts, or -1.
pub fn socket(sa: &Sa, ty: libc::c_int) -> libc::c_int {
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(sa.family(), ty | libc::SOCK_CLOEXEC, 0) };
    if fd >= 0 {
        timeouts(fd);
    }
    fd
}

/// A socket of `ty` bound to `sa` (listening for streams): the fd, or minus the errno.
pub fn bound(sa: &Sa, ty: libc::c_int) -> libc::c_int {
    let fd = socket(sa, ty);
    if fd < 0 {
        return -(errno() as libc::c_int);
    }
    // SAFETY: `sa` holds a valid address of `sa.len` bytes.
    let ok = unsafe { libc::bind(fd, sa.ptr(), sa.len) } == 0
        // SAFETY: plain listen call.
        && (ty != libc::SOCK_STREAM || unsafe { libc::listen(fd, 4) } == 0);
    if ok {
        fd
    } else {
        let e = errno() as libc::c_int;
        // SAFETY: `fd` was made by this function and is not used again.
        unsafe { crate::child::close(fd) };
        -e
    }
}

/// Connects a new socket of `ty` to `sa`: the fd, or minus the errno.
pub fn connected(sa: &Sa, ty: libc::c_int) -> libc::c_int {
    let fd = socket(sa, ty);
    if fd < 0 {
        return -(errno() as libc::c_int);
    }
    // SAFETY: `sa` holds a valid address of `sa.len` bytes.
    if unsafe { libc::connect(fd, sa.ptr(), sa.len) } == 0 {
        fd
    } else {
        let e = errno() as libc::c_int;
        // SAFETY: `fd` was made by this function and is not used again.
        unsafe { crate::child::close(fd) };
        -e
    }
}

/// Accepts one connection, reads a message and writes it back; 0 or the errno.
pub fn serve_tcp_once(listener: libc::c_int) -> i64 {
    // SAFETY: null address out-parameters are allowed.
    let c = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
    if c < 0 {
        return errno();
    }
    timeouts(c);
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is valid for its length.
    let n = unsafe { libc::read(c, buf.as_mut_ptr().cast(), buf.len()) };
    let r = if n <= 0 || nscore::raw::write_all(c, &buf[..n as usize]).is_err() {
        errno()
    } else {
        0
    };
    // SAFETY: `c` was made by this function and is not used again.
    unsafe { crate::child::close(c) };
    r
}

/// Receives one datagram and sends it back to its sender; 0 or the errno.
pub fn serve_udp_once(fd: libc::c_int) -> i64 {
    let mut buf = [0u8; 64];
    let mut from = Sa::zero();
    from.len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` and `from` are valid out-buffers of the given sizes.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            &mut from.st as *mut _ as *mut libc::sockaddr,
            &mut from.len,
        )
    };
    if n < 0 {
        return errno();
    }
    // SAFETY: `buf[..n]` and `from` are valid.
    let m = unsafe { libc::sendto(fd, buf.as_ptr().cast(), n as usize, 0, from.ptr(), from.len) };
    if m < 0 {
        errno()
    } else {
        0
    }
}

/// Sends `msg` on connected socket `fd` and expects it back: 1 when echoed, 0 when
/// something else came back, minus the errno on error. Closes `fd`.
pub fn echo(fd: libc::c_int, msg: &[u8]) -> i64 {
    if fd < 0 {
        return fd as i64;
    }
    // SAFETY: `msg` is valid for its length.
    let r = if unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        -errno()
    } else {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            -errno()
        } else {
            (&buf[..n as usize] == msg) as i64
        }
    };
    // SAFETY: `fd` was made by this function and is not used again.
    unsafe { crate::child::close(fd) };
    r
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

fn ioctl(req: libc::c_ulong, r: &mut IfReq) -> bool {
    // SAFETY: plain socket call.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return false;
    }
    // SAFETY: `r` is a valid 40-byte struct ifreq.
    let ok = unsafe { libc::ioctl(s, req as _, r as *mut IfReq) } == 0;
    // SAFETY: `s` was made by this function and is not used again.
    unsafe { crate::child::close(s) };
    ok
}

/// Sets IPv4 address `ip` on interface `name` by `SIOCSIFADDR` (what `ifconfig` does): 0 or
/// the errno.
pub fn set_addr_ioctl(name: &[u8], ip: [u8; 4]) -> i64 {
    let mut r = ifreq(name);
    // struct sockaddr_in: family, port, address
    r.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    r.data[4..8].copy_from_slice(&ip);
    if ioctl(0x8916, &mut r) {
        0
    } else {
        errno()
    }
}

/// The index of interface `name` in the caller's network namespace, or minus the errno.
pub fn ifindex(name: &[u8]) -> i64 {
    let mut r = ifreq(name);
    if ioctl(0x8933, &mut r) {
        i32::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]) as i64
    } else {
        -errno()
    }
}

/// The flags of interface `name` (`SIOCGIFFLAGS`), or minus the errno.
pub fn ifflags(name: &[u8]) -> i64 {
    let mut r = ifreq(name);
    if ioctl(0x8913, &mut r) {
        i16::from_ne_bytes([r.data[0], r.data[1]]) as u16 as i64
    } else {
        -errno()
    }
}

/// The name of the interface with `index` (`SIOCGIFNAME`) into `out`, or `None`.
pub fn ifname(index: i32, out: &mut [u8; 16]) -> Option<&[u8]> {
    let mut r = ifreq(b"");
    r.data[..4].copy_from_slice(&index.to_ne_bytes());
    if !ioctl(0x8910, &mut r) {
        return None;
    }
    *out = r.name;
    let n = out.iter().position(|&c| c == 0).unwrap_or(16);
    Some(&out[..n])
}

/// Sets 5 s send and receive timeouts on socket `fd`, so no step waits forever.
pub fn timeouts(fd: libc::c_int) {
    let tv = libc::timeval { tv_sec: 5, tv_usec: 0 };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: `tv` is a valid timeval of the given size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
    }
}
