//! Network namespaces in depth (checklist N1–N7).
//!
//! Nothing is ever added to the host's network namespace: links, addresses and traffic live in
//! namespaces made for the test. Tests that need a "parent" side run it in a scratch child in
//! a new network namespace (plus a mapped user namespace when not root); veth pairs are made
//! there and one end is moved into another namespace the test made (`IFLA_NET_NS_FD`). When
//! the scratch child ends (pass, fail, or killed after the timeout), its namespaces and every
//! link in them go with it. rtnetlink messages are built by hand in stack buffers, so that the
//! child bodies stay async-signal-safe (no allocation).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::ffi::CString;

use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::live::Live;
use nstests::{cstr, effective_kinds, run_spawn, spawn_for, Mode, Probe};
use rstest::rstest;

/// rtnetlink by hand: messages built in a fixed buffer, sent and acknowledged.
mod nl {
    use super::timeouts;
    use nstests::child::*;

    pub const NLM_F_REQUEST: u16 = 1;
    pub const NLM_F_ACK: u16 = 4;
    pub const NLM_F_EXCL: u16 = 0x200;
    pub const NLM_F_CREATE: u16 = 0x400;
    pub const NLM_F_DUMP: u16 = 0x300;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    pub const RTM_NEWLINK: u16 = 16;
    pub const RTM_GETLINK: u16 = 18;
    pub const RTM_NEWADDR: u16 = 20;
    pub const RTM_GETADDR: u16 = 22;
    pub const RTM_NEWROUTE: u16 = 24;
    pub const RTM_GETROUTE: u16 = 26;
    pub const IFLA_IFNAME: u16 = 3;
    pub const IFLA_LINKINFO: u16 = 18;
    pub const IFLA_NET_NS_FD: u16 = 28;
    pub const IFLA_INFO_KIND: u16 = 1;
    pub const IFLA_INFO_DATA: u16 = 2;
    pub const VETH_INFO_PEER: u16 = 1;
    pub const IFA_ADDRESS: u16 = 1;
    pub const IFA_LOCAL: u16 = 2;
    pub const IFA_F_NODAD: u8 = 2;
    pub const IFF_UP: u32 = 1;

    /// One request under construction.
    pub struct Msg {
        buf: [u8; 512],
        len: usize,
        nests: [usize; 4],
        depth: usize,
    }

    impl Msg {
        /// A request of type `ty` with `flags` (plus `NLM_F_REQUEST`, and `NLM_F_ACK` unless
        /// it is a dump).
        pub fn new(ty: u16, flags: u16) -> Msg {
            let mut m = Msg {
                buf: [0; 512],
                len: 16,
                nests: [0; 4],
                depth: 0,
            };
            let ack = if flags & NLM_F_DUMP == NLM_F_DUMP { 0 } else { NLM_F_ACK };
            m.buf[4..6].copy_from_slice(&ty.to_ne_bytes());
            m.buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | ack).to_ne_bytes());
            m.buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
            m
        }

        /// Appends raw bytes, padded to 4.
        pub fn bytes(&mut self, b: &[u8]) -> &mut Msg {
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len = (self.len + b.len() + 3) & !3;
            self
        }

        /// Appends a `struct ifinfomsg`.
        pub fn ifinfo(&mut self, index: i32, flags: u32, change: u32) -> &mut Msg {
            let mut h = [0u8; 16];
            h[4..8].copy_from_slice(&index.to_ne_bytes());
            h[8..12].copy_from_slice(&flags.to_ne_bytes());
            h[12..16].copy_from_slice(&change.to_ne_bytes());
            self.bytes(&h)
        }

        /// Appends a `struct ifaddrmsg`.
        pub fn ifaddr(&mut self, family: u8, prefix: u8, flags: u8, index: u32) -> &mut Msg {
            let mut h = [family, prefix, flags, 0, 0, 0, 0, 0];
            h[4..8].copy_from_slice(&index.to_ne_bytes());
            self.bytes(&h)
        }

        /// Appends an attribute.
        pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
            let len = (4 + data.len()) as u16;
            let mut h = [0u8; 4];
            h[..2].copy_from_slice(&len.to_ne_bytes());
            h[2..].copy_from_slice(&ty.to_ne_bytes());
            self.buf[self.len..self.len + 4].copy_from_slice(&h);
            self.len += 4;
            self.bytes(data)
        }

        /// Appends a NUL-terminated string attribute.
        pub fn attr_str(&mut self, ty: u16, s: &[u8]) -> &mut Msg {
            let mut b = [0u8; 32];
            b[..s.len()].copy_from_slice(s);
            self.attr(ty, &b[..s.len() + 1])
        }

        /// Appends a u32 attribute.
        pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
            self.attr(ty, &v.to_ne_bytes())
        }

        /// Opens a nested attribute.
        pub fn begin(&mut self, ty: u16) -> &mut Msg {
            self.nests[self.depth] = self.len;
            self.depth += 1;
            self.attr(ty, &[])
        }

        /// Closes the innermost nested attribute.
        pub fn end(&mut self) -> &mut Msg {
            self.depth -= 1;
            let at = self.nests[self.depth];
            let len = (self.len - at) as u16;
            self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
            self
        }

        /// The finished message.
        pub fn finish(&mut self) -> &[u8] {
            let len = self.len as u32;
            self.buf[..4].copy_from_slice(&len.to_ne_bytes());
            &self.buf[..self.len]
        }
    }

    /// A NETLINK_ROUTE socket with a 5 s receive timeout, or -1.
    pub fn socket() -> libc::c_int {
        // SAFETY: plain socket call.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd >= 0 {
            timeouts(fd);
        }
        fd
    }

    /// Sends `msg` and waits for its acknowledgement: 0 or the errno.
    pub fn request(msg: &mut Msg) -> i64 {
        let fd = socket();
        if fd < 0 {
            return errno();
        }
        let r = send(fd, msg.finish());
        if r != 0 {
            close(fd);
            return r;
        }
        let mut buf = [0u8; 4096];
        let result;
        'outer: loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                result = errno();
                break;
            }
            let mut off = 0usize;
            while off + 16 <= n as usize {
                let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
                let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                if ty == NLMSG_ERROR && off + 20 <= n as usize {
                    let e = i32::from_ne_bytes([buf[off + 16], buf[off + 17], buf[off + 18], buf[off + 19]]);
                    result = -e as i64;
                    break 'outer;
                }
                if len < 16 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
        close(fd);
        result
    }

    fn send(fd: libc::c_int, msg: &[u8]) -> i64 {
        // SAFETY: `msg` is valid for its length; the kernel is the default destination.
        if unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
            errno()
        } else {
            0
        }
    }

    /// Dumps `ty` (RTM_GETLINK/ADDR/ROUTE) for all families and calls `f(type, payload)` for
    /// every reply message; returns 0 or the errno.
    pub fn dump(ty: u16, mut f: impl FnMut(u16, &[u8])) -> i64 {
        let fd = socket();
        if fd < 0 {
            return errno();
        }
        let mut m = Msg::new(ty, NLM_F_DUMP);
        if ty == RTM_GETLINK {
            m.ifinfo(0, 0, 0);
        } else {
            // ifaddrmsg (8 bytes) or rtmsg (12 bytes), family AF_UNSPEC.
            m.bytes(&[0u8; 12]);
        }
        let r = send(fd, m.finish());
        if r != 0 {
            close(fd);
            return r;
        }
        let mut buf = [0u8; 32768];
        let result = 'outer: loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                break errno();
            }
            let n = n as usize;
            let mut off = 0usize;
            while off + 16 <= n {
                let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
                let mty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                if mty == NLMSG_DONE {
                    break 'outer 0;
                }
                if mty == NLMSG_ERROR || len < 16 || off + len > n {
                    break 'outer -1;
                }
                f(mty, &buf[off + 16..off + len]);
                off += (len + 3) & !3;
            }
        };
        close(fd);
        result
    }

    /// The value of attribute `ty` among the attributes in `attrs`.
    pub fn find_attr(mut attrs: &[u8], ty: u16) -> Option<&[u8]> {
        while attrs.len() >= 4 {
            let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
            let t = u16::from_ne_bytes([attrs[2], attrs[3]]);
            if len < 4 || len > attrs.len() {
                return None;
            }
            if t == ty {
                return Some(&attrs[4..len]);
            }
            let next = ((len + 3) & !3).min(attrs.len());
            attrs = &attrs[next..];
        }
        None
    }

    /// Creates a veth pair `name`/`peer`; the peer goes into the network namespace of `netns_fd`
    /// when it is not negative. 0 or the errno.
    pub fn add_veth(name: &[u8], peer: &[u8], netns_fd: libc::c_int) -> i64 {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, 0, 0).attr_str(IFLA_IFNAME, name);
        m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, b"veth");
        m.begin(IFLA_INFO_DATA).begin(VETH_INFO_PEER);
        m.ifinfo(0, 0, 0).attr_str(IFLA_IFNAME, peer);
        if netns_fd >= 0 {
            m.attr_u32(IFLA_NET_NS_FD, netns_fd as u32);
        }
        m.end().end().end();
        request(&mut m)
    }

    /// Brings link `name` up. 0 or the errno.
    pub fn link_up(name: &[u8]) -> i64 {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(0, IFF_UP, IFF_UP).attr_str(IFLA_IFNAME, name);
        request(&mut m)
    }

    /// Moves link `name` into the network namespace of `netns_fd`. 0 or the errno.
    pub fn move_link(name: &[u8], netns_fd: libc::c_int) -> i64 {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, name)
            .attr_u32(IFLA_NET_NS_FD, netns_fd as u32);
        request(&mut m)
    }

    /// Adds address `addr` (4 or 16 bytes) with `prefix` to the link with `index`. 0 or the
    /// errno. IPv6 addresses skip duplicate address detection.
    pub fn add_addr(index: u32, addr: &[u8], prefix: u8) -> i64 {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        if addr.len() == 4 {
            m.ifaddr(libc::AF_INET as u8, prefix, 0, index)
                .attr(IFA_LOCAL, addr)
                .attr(IFA_ADDRESS, addr);
        } else {
            m.ifaddr(libc::AF_INET6 as u8, prefix, IFA_F_NODAD, index)
                .attr(IFA_ADDRESS, addr);
        }
        request(&mut m)
    }
}

/// Sockets and interfaces for child bodies (raw calls, no allocation).
mod so {
    use super::timeouts;
    use nstests::child::*;

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
            close(fd);
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
            close(fd);
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
        close(c);
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
        close(fd);
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
        close(s);
        ok
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
}

/// Lists every link by an rtnetlink dump as `key=name` lines; returns the count or -1.
fn report_links(p: &Probe, key: &[u8]) -> i64 {
    let mut count = 0;
    let r = nl::dump(nl::RTM_GETLINK, |ty, payload| {
        if ty == nl::RTM_NEWLINK && payload.len() >= 16 {
            if let Some(name) = nl::find_attr(&payload[16..], nl::IFLA_IFNAME) {
                let n = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                p.line(key, &name[..n]);
                count += 1;
            }
        }
    });
    if r != 0 {
        -1
    } else {
        count
    }
}

/// Counts the replies of an rtnetlink dump of `ty` of kind `reply`, or -1.
fn count_dump(ty: u16, reply: u16) -> i64 {
    let mut count = 0;
    if nl::dump(ty, |t, _| count += (t == reply) as i64) != 0 {
        -1
    } else {
        count
    }
}

/// The lines `key=...` of a report, sorted.
fn values(text: &str, key: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn path_c(p: &std::path::Path) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).expect("path")
}

/// N1: a new network namespace has exactly one interface, `lo`, DOWN, with no addresses and
/// no routes; none of its parent's interfaces are visible: not by an rtnetlink dump, not in
/// `/sys/class/net` of a sysfs mounted inside (in a new mount namespace, on a temporary
/// directory), not by an index scan (`SIOCGIFNAME`, what `if_nameindex` walks). The parent is
/// a scratch network namespace of the test's own (never the host's, which may hold only `lo`
/// in a container or in the wall) with a veth pair, one end up with addresses, so that it has
/// links, addresses and routes beyond `lo`; the `none` control, a child in that namespace,
/// sees them all.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n1_new_netns_has_only_lo_down_no_addresses_no_routes(#[case] mode: Mode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = path_c(dir.path());
    let sysfs = cstr("sysfs");
    let out = run_spawn(nstests::scratch(Kind::Net | Kind::Mnt), |p| {
        // the parent's network: lo, a veth pair, addresses (and so routes) on one end
        p.line_num(b"add_veth", nl::add_veth(b"n1a", b"n1b", -1));
        p.line_num(b"config", configure(b"n1a", IP_A, IP6_A));
        p.line_num(b"parent_links", report_links(p, b"parent_link"));
        let child = fork_with(kinds_for(mode, Kind::Net.into(), Kind::Mnt.into()), || {
            if !enter(mode, Kind::Net.into(), p) {
                return 90;
            }
            p.line_num(b"links", report_links(p, b"link"));
            p.line_num(b"lo_flags", so::ifflags(b"lo"));
            p.line_num(b"addrs", count_dump(nl::RTM_GETADDR, nl::RTM_NEWADDR));
            p.line_num(b"routes", count_dump(nl::RTM_GETROUTE, nl::RTM_NEWROUTE));
            let mut name = [0u8; 16];
            for index in 1..256 {
                if let Some(n) = so::ifname(index, &mut name) {
                    p.line(b"by_index", n);
                }
            }
            match mount_fs(&sysfs, &target) {
                Ok(()) => {
                    let mut path = [0u8; 256];
                    let class = path_in(&mut path, &[target.to_bytes(), b"/class/net"]);
                    p.line_num(b"sysfs", list_dir(p, b"sys", class));
                }
                Err(e) => p.line_num(b"sysfs_errno", e as i64),
            }
            0
        });
        p.line_num(b"child_exit", raw::reap(child).unwrap_or(-1) as i64);
        0
    })
    .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add_veth", "config", "child_exit"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    let parent = values(&t, "parent_link");
    assert_eq!(parent, ["lo", "n1a", "n1b"], "the scratch parent's links\n{t}");
    if mode.isolates() {
        assert_eq!(values(&t, "link"), ["lo"], "{t}");
        assert_eq!(out.num("lo_flags") & 1, 0, "lo is DOWN\n{t}");
        assert_eq!(out.num("addrs"), 0, "{t}");
        assert_eq!(out.num("routes"), 0, "{t}");
        assert_eq!(values(&t, "by_index"), ["lo"], "{t}");
        assert_eq!(values(&t, "sys"), ["lo"], "{t}");
    } else {
        assert_eq!(values(&t, "link"), parent, "control sees the parent's links\n{t}");
        assert_eq!(values(&t, "by_index"), parent, "control\n{t}");
        assert_eq!(values(&t, "sys"), parent, "control\n{t}");
        assert!(out.num("addrs") > 0, "control sees the parent's addresses\n{t}");
        assert!(out.num("routes") > 0, "control sees the parent's routes\n{t}");
    }
}

/// N2: with `lo` up, TCP and UDP on 127.0.0.1 work inside; two namespaces bind the same port
/// at the same time without EADDRINUSE; the host's listener is unreachable from inside. The
/// test process's own loopback listeners (on ports the kernel picked) are the control: the
/// `none` child gets EADDRINUSE on their port and reaches them.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
#[case::pool(Mode::Pool)]
fn n2_loopback_tcp_udp_and_same_port_in_two_namespaces(#[case] mode: Mode) {
    // A TCP and a UDP socket of the host's loopback on one port P, and a second listener Q.
    let (tcp, udp, port) = (0..50)
        .find_map(|_| {
            let t = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            let port = t.local_addr().ok()?.port();
            let u = std::net::UdpSocket::bind(("127.0.0.1", port)).ok()?;
            Some((t, u, port))
        })
        .expect("a free loopback port");
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let other_port = other.local_addr().unwrap().port();
    let kinds: KindSet = Kind::Net.into();
    let body = move |p: &Probe, tag: u8| -> i32 {
        let mut key = [0u8; 32];
        key[..2].copy_from_slice(&[tag, b'_']);
        let mut put = |what: &[u8], v: i64| {
            key[2..2 + what.len()].copy_from_slice(what);
            p.line_num(&key[..2 + what.len()], v);
        };
        if mode.isolates() {
            put(b"lo_up", raw::loopback_up().map_or_else(|e| e as i64, |_| 0));
        }
        let lo = [127, 0, 0, 1];
        let t = so::bound(&so::Sa::v4(lo, port), libc::SOCK_STREAM);
        let u = so::bound(&so::Sa::v4(lo, port), libc::SOCK_DGRAM);
        put(b"tcp_bind", (t.min(0)) as i64);
        put(b"udp_bind", (u.min(0)) as i64);
        if t >= 0 {
            let c = so::connected(&so::Sa::v4(lo, port), libc::SOCK_STREAM);
            if c >= 0 {
                // SAFETY: `c` is a connected socket; the message fits its buffer.
                unsafe { libc::send(c, b"tcp".as_ptr().cast(), 3, 0) };
                let served = so::serve_tcp_once(t);
                let mut buf = [0u8; 8];
                // SAFETY: `buf` is valid for its length.
                let n = unsafe { libc::recv(c, buf.as_mut_ptr().cast(), 8, 0) };
                put(b"tcp_echo", (served == 0 && n == 3 && &buf[..3] == b"tcp") as i64);
                close(c);
            } else {
                put(b"tcp_echo", c as i64);
            }
        }
        if u >= 0 {
            let c = so::connected(&so::Sa::v4(lo, port), libc::SOCK_DGRAM);
            if c >= 0 {
                // SAFETY: `c` is a connected socket.
                unsafe { libc::send(c, b"udp".as_ptr().cast(), 3, 0) };
                let served = so::serve_udp_once(u);
                let mut buf = [0u8; 8];
                // SAFETY: `buf` is valid for its length.
                let n = unsafe { libc::recv(c, buf.as_mut_ptr().cast(), 8, 0) };
                put(b"udp_echo", (served == 0 && n == 3 && &buf[..3] == b"udp") as i64);
                close(c);
            }
        }
        // The host's other listener.
        let c = so::connected(&so::Sa::v4(lo, other_port), libc::SOCK_STREAM);
        put(b"host_conn", (c.min(0)) as i64);
        0
    };
    // A first namespace binds the port and holds it while a second one does the same.
    let unshare_kinds = effective_kinds(mode, kinds);
    let mut first = Live::start(spawn_for(mode, kinds), move |p, gate| {
        if mode == Mode::Unshare && raw::unshare(unshare_kinds).is_err() {
            p.put(b"ready\n");
            return 90;
        }
        if mode.isolates() && raw::loopback_up().is_err() {
            p.put(b"ready\n");
            return 91;
        }
        let t = so::bound(&so::Sa::v4([127, 0, 0, 1], port), libc::SOCK_STREAM);
        p.put(b"ready\n");
        gate.wait();
        if t >= 0 {
            0
        } else {
            -t
        }
    })
    .expect("spawn first");
    let ready = first.until("ready");
    assert!(ready.contains("ready\n"), "first child not ready: {ready}");
    let out = nstests::run_in(mode, kinds, |p| body(p, b's')).expect("spawn second");
    let first_status = first.finish().status;
    out.assert_ok();
    let t = out.text();
    if mode.isolates() {
        assert!(first_status.success(), "first namespace bound the port: {first_status}");
        assert_eq!(out.num("s_lo_up"), 0, "{t}");
        assert_eq!(out.num("s_tcp_bind"), 0, "same port in a second namespace\n{t}");
        assert_eq!(out.num("s_udp_bind"), 0, "{t}");
        assert_eq!(out.num("s_tcp_echo"), 1, "{t}");
        assert_eq!(out.num("s_udp_echo"), 1, "{t}");
        assert_eq!(
            out.num("s_host_conn"),
            -(libc::ECONNREFUSED as i64),
            "the host's listener is unreachable\n{t}"
        );
    } else {
        assert_eq!(
            first_status.code(),
            Some(libc::EADDRINUSE),
            "control: the host holds the port"
        );
        assert_eq!(out.num("s_tcp_bind"), -(libc::EADDRINUSE as i64), "control\n{t}");
        assert_eq!(out.num("s_udp_bind"), -(libc::EADDRINUSE as i64), "control\n{t}");
        assert_eq!(out.num("s_host_conn"), 0, "control reaches the host's listener\n{t}");
    }
    drop((tcp, udp, other));
}

const IP_A: [u8; 4] = [10, 231, 0, 1];
const IP_B: [u8; 4] = [10, 231, 0, 2];
const IP6_A: [u8; 16] = [0xfd, 0, 0x0e, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const IP6_B: [u8; 16] = [0xfd, 0, 0x0e, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Gives link `name` the test addresses `v4`/`v6` and brings it up; 0 or the first errno.
fn configure(name: &[u8], v4: [u8; 4], v6: [u8; 16]) -> i64 {
    let index = so::ifindex(name);
    if index < 0 {
        return -index;
    }
    let r = nl::add_addr(index as u32, &v4, 24);
    if r != 0 {
        return r;
    }
    let r = nl::add_addr(index as u32, &v6, 64);
    if r != 0 {
        return r;
    }
    nl::link_up(name)
}

/// N3: two namespaces joined by a veth pair (made inside the first, the peer created straight
/// into the second with `IFLA_NET_NS_FD`) exchange TCP and UDP over IPv4 and IPv6; a third
/// namespace sees neither end (control: the first sees its own end, the second the peer).
#[test]
fn n3_veth_between_two_namespaces() {
    let out = run_spawn(nstests::scratch(Kind::Net.into()), |p| {
        let mut b_ready = pipe();
        let b_go = pipe();
        let mut b_serving = pipe();
        // B: the second namespace: configures its end and serves four echoes.
        let b = fork_with(Kind::Net.into(), || {
            signal(b_ready[1]);
            if !wait(b_go[0]) {
                return 3;
            }
            p.line_num(b"b_sees_peer", (so::ifindex(b"n3b") > 0) as i64);
            p.line_num(b"b_sees_a_end", (so::ifindex(b"n3a") > 0) as i64);
            let r = configure(b"n3b", IP_B, IP6_B);
            p.line_num(b"b_config", r);
            let t4 = so::bound(&so::Sa::v4(IP_B, 7000), libc::SOCK_STREAM);
            let t6 = so::bound(&so::Sa::v6(IP6_B, 7000), libc::SOCK_STREAM);
            let u4 = so::bound(&so::Sa::v4(IP_B, 7001), libc::SOCK_DGRAM);
            let u6 = so::bound(&so::Sa::v6(IP6_B, 7001), libc::SOCK_DGRAM);
            p.line_num(b"b_bind", [t4, t6, u4, u6].iter().filter(|&&f| f < 0).count() as i64);
            signal(b_serving[1]);
            if r != 0 || t4 < 0 || t6 < 0 || u4 < 0 || u6 < 0 {
                return 4;
            }
            p.line_num(b"b_tcp4", so::serve_tcp_once(t4));
            p.line_num(b"b_tcp6", so::serve_tcp_once(t6));
            p.line_num(b"b_udp4", so::serve_udp_once(u4));
            p.line_num(b"b_udp6", so::serve_udp_once(u6));
            0
        });
        if b < 0 || !wait_ready(&mut b_ready) {
            return 2;
        }
        let mut path = [0u8; 64];
        let bfd = raw::open(proc_path(&mut path, b as i64, b"/ns/net")).unwrap_or(-1);
        p.line_num(b"add_veth", nl::add_veth(b"n3a", b"n3b", bfd));
        close(bfd);
        p.line_num(b"a_sees_own", (so::ifindex(b"n3a") > 0) as i64);
        p.line_num(b"a_sees_peer", (so::ifindex(b"n3b") > 0) as i64);
        p.line_num(b"a_config", configure(b"n3a", IP_A, IP6_A));
        signal(b_go[1]);
        if !wait_ready(&mut b_serving) {
            return 5;
        }
        // C: a third namespace sees neither end.
        let c = fork_with(Kind::Net.into(), || {
            p.line_num(b"c_links", report_links(p, b"c_link"));
            p.line_num(b"c_a", so::ifindex(b"n3a"));
            p.line_num(b"c_b", so::ifindex(b"n3b"));
            0
        });
        p.line_num(b"c_exit", raw::reap(c).unwrap_or(-1) as i64);
        let st = libc::SOCK_STREAM;
        let dg = libc::SOCK_DGRAM;
        p.line_num(b"tcp4", so::echo(so::connected(&so::Sa::v4(IP_B, 7000), st), b"t4"));
        p.line_num(b"tcp6", so::echo(so::connected(&so::Sa::v6(IP6_B, 7000), st), b"t6"));
        p.line_num(b"udp4", so::echo(so::connected(&so::Sa::v4(IP_B, 7001), dg), b"u4"));
        p.line_num(b"udp6", so::echo(so::connected(&so::Sa::v6(IP6_B, 7001), dg), b"u6"));
        p.line_num(b"b_exit", raw::reap(b).unwrap_or(-1) as i64);
        0
    })
    .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add_veth", "a_config", "b_config", "b_bind", "c_exit", "b_exit"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    for key in ["a_sees_own", "b_sees_peer", "tcp4", "tcp6", "udp4", "udp6"] {
        assert_eq!(out.num(key), 1, "{key}\n{t}");
    }
    assert_eq!(out.num("a_sees_peer"), 0, "{t}");
    assert_eq!(out.num("b_sees_a_end"), 0, "{t}");
    assert_eq!(values(&t, "c_link"), ["lo"], "{t}");
    assert_eq!(out.num("c_a"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("c_b"), -(libc::ENODEV as i64), "{t}");
}

/// N4: per-namespace sysctls `net.ipv4.ip_forward` and
/// `net.ipv4.ip_unprivileged_port_start` set inside are seen inside, not outside; the `none`
/// control (in a scratch network namespace, never the host's) sees them shared. The host's
/// values are read before and after.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n4_net_sysctls_per_namespace(#[case] mode: Mode) {
    // Values different from the scratch namespace's defaults (ip_forward 0, port start 1024).
    const SYSCTLS: [(&str, &[u8]); 2] = [
        ("/proc/sys/net/ipv4/ip_forward", b"1"),
        ("/proc/sys/net/ipv4/ip_unprivileged_port_start", b"777"),
    ];
    nstests::sysctl::check_per_namespace(
        nstests::scratch(Kind::Net.into()),
        mode,
        Kind::Net.into(),
        &SYSCTLS,
        |_| true,
        |_, _| {},
    );
}

/// N5: abstract AF_UNIX sockets belong to the network namespace: a listener bound in the
/// parent's namespace is unreachable (ECONNREFUSED) from a child in a new one; a pathname
/// socket (in a temporary directory) is reachable from both. The `none` control reaches both.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n5_abstract_unix_sockets_per_namespace_pathname_not(#[case] mode: Mode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("n5.sock");
    use std::os::unix::ffi::OsStrExt;
    let path_b = sock_path.as_os_str().as_bytes().to_vec();
    let abs = nstests::unique("nstests-n5-").into_bytes();
    let out = run_spawn(nstests::scratch(Kind::Net.into()), |p| {
        let la = so::bound(&so::Sa::unix(&abs, true), libc::SOCK_STREAM);
        let lp = so::bound(&so::Sa::unix(&path_b, false), libc::SOCK_STREAM);
        p.line_num(b"bind_abstract", la.min(0) as i64);
        p.line_num(b"bind_path", lp.min(0) as i64);
        let gc = fork_with(kinds_for(mode, Kind::Net.into(), KindSet::new()), || {
            if !enter(mode, Kind::Net.into(), p) {
                return 4;
            }
            let a = so::connected(&so::Sa::unix(&abs, true), libc::SOCK_STREAM);
            p.line_num(b"abstract", a.min(0) as i64);
            let b = so::connected(&so::Sa::unix(&path_b, false), libc::SOCK_STREAM);
            p.line_num(b"path", b.min(0) as i64);
            0
        });
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    })
    .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["bind_abstract", "bind_path", "gc_exit", "path"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    let want = if mode.isolates() {
        -(libc::ECONNREFUSED as i64)
    } else {
        0
    };
    assert_eq!(out.num("abstract"), want, "mode {mode}\n{t}");
}

/// Waits (bounded, no timing asserted) until link `name` is gone from the caller's network
/// namespace; returns whether it went.
fn wait_gone(name: &[u8]) -> bool {
    for _ in 0..1000 {
        if so::ifindex(name) < 0 {
            return true;
        }
        sleep_ms(10);
    }
    false
}

/// N6: lifetime seen from outside, by the veth end that stays in the observer's namespace:
/// when the peer's namespace ends, both ends die; while an nsfd or a socket made in that
/// namespace is held, it lives on (the end survives the last process) until released.
#[test]
fn n6_veth_end_shows_namespace_lifetime() {
    let own = cstr("/proc/self/ns/net");
    let out = run_spawn(nstests::scratch(Kind::Net.into()), |p| {
        let own_fd = raw::open(&own).unwrap_or(-1);
        // Three rounds: held by nothing, by an nsfd, by a socket.
        for (round, name, peer) in [
            (b'n', b"n6n".as_slice(), b"n6np".as_slice()),
            (b'f', b"n6f", b"n6fp"),
            (b's', b"n6s", b"n6sp"),
        ] {
            let mut key = [0u8; 32];
            key[..2].copy_from_slice(&[round, b'_']);
            let mut put = |what: &[u8], v: i64| {
                key[2..2 + what.len()].copy_from_slice(what);
                p.line_num(&key[..2 + what.len()], v);
            };
            let mut ready = pipe();
            let go = pipe();
            let b = fork_with(Kind::Net.into(), || {
                signal(ready[1]);
                wait(go[0]);
                0
            });
            if b < 0 || !wait_ready(&mut ready) {
                return 2;
            }
            let mut path = [0u8; 64];
            let bfd = raw::open(proc_path(&mut path, b as i64, b"/ns/net")).unwrap_or(-1);
            put(b"add", nl::add_veth(name, peer, bfd));
            let mut sock = -1;
            if round == b's' {
                // A socket made inside B (join, socket, back).
                if raw::setns(bfd, Kind::Net.into()).is_ok() {
                    // SAFETY: plain socket call.
                    sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
                    put(b"back", raw::setns(own_fd, Kind::Net.into()).map_or(-1, |_| 0));
                }
                put(b"sock", (sock >= 0) as i64);
            }
            if round != b'f' {
                close(bfd);
            }
            signal(go[1]);
            put(b"exit", raw::reap(b).unwrap_or(-1) as i64);
            if round == b'n' {
                put(b"gone", wait_gone(name) as i64);
            } else {
                sleep_ms(200);
                put(b"survives", (so::ifindex(name) > 0) as i64);
                close(if round == b'f' { bfd } else { sock });
                put(b"gone_after_release", wait_gone(name) as i64);
            }
        }
        0
    })
    .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["n_add", "f_add", "s_add", "n_exit", "f_exit", "s_exit", "s_back"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    assert_eq!(out.num("s_sock"), 1, "{t}");
    assert_eq!(out.num("n_gone"), 1, "the end dies with the peer's namespace\n{t}");
    assert_eq!(out.num("f_survives"), 1, "an nsfd keeps the namespace\n{t}");
    assert_eq!(out.num("s_survives"), 1, "a socket keeps the namespace\n{t}");
    assert_eq!(out.num("f_gone_after_release"), 1, "{t}");
    assert_eq!(out.num("s_gone_after_release"), 1, "{t}");
}

/// N7: a device moves into another namespace and back (`IFLA_NET_NS_FD`); while it is away
/// the first namespace has no device of that name, and setting an address on its index from
/// there fails with ENODEV (control: the same call works once it is back).
#[test]
fn n7_move_device_in_and_back_address_only_where_it_is() {
    let own = cstr("/proc/self/ns/net");
    let out = run_spawn(nstests::scratch(Kind::Net.into()), |p| {
        let own_fd = raw::open(&own).unwrap_or(-1);
        p.line_num(b"add", nl::add_veth(b"n7a", b"n7b", -1));
        let index = so::ifindex(b"n7a");
        p.line_num(b"index_pos", (index > 0) as i64);
        let mut ready = pipe();
        let mut moved = pipe();
        let go = pipe();
        let b = fork_with(Kind::Net.into(), || {
            signal(ready[1]);
            if !wait(go[0]) {
                return 3;
            }
            p.line_num(b"b_sees", (so::ifindex(b"n7a") > 0) as i64);
            p.line_num(b"b_move_back", nl::move_link(b"n7a", own_fd));
            p.line_num(b"b_sees_after", so::ifindex(b"n7a"));
            signal(moved[1]);
            0
        });
        if b < 0 || !wait_ready(&mut ready) {
            return 2;
        }
        let mut path = [0u8; 64];
        let bfd = raw::open(proc_path(&mut path, b as i64, b"/ns/net")).unwrap_or(-1);
        p.line_num(b"move", nl::move_link(b"n7a", bfd));
        close(bfd);
        p.line_num(b"a_sees_away", so::ifindex(b"n7a"));
        let addr = [10, 231, 7, 1];
        p.line_num(b"addr_away", nl::add_addr(index as u32, &addr, 24));
        signal(go[1]);
        wait_ready(&mut moved);
        p.line_num(b"b_exit", raw::reap(b).unwrap_or(-1) as i64);
        let back = so::ifindex(b"n7a");
        p.line_num(b"a_sees_back", (back > 0) as i64);
        p.line_num(b"addr_back", nl::add_addr(back as u32, &addr, 24));
        0
    })
    .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add", "move", "b_move_back", "b_exit", "addr_back"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    for key in ["index_pos", "b_sees", "a_sees_back"] {
        assert_eq!(out.num(key), 1, "{key}\n{t}");
    }
    assert_eq!(out.num("a_sees_away"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("b_sees_after"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("addr_away"), libc::ENODEV as i64, "{t}");
}

/// Sets 5 s send and receive timeouts on socket `fd`, so no step waits forever.
fn timeouts(fd: libc::c_int) {
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

/// Sleeps `ms` milliseconds (`nanosleep(2)`).
fn sleep_ms(ms: i64) {
    let ts = libc::timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    };
    // SAFETY: `ts` is valid; the remainder is not wanted.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}
