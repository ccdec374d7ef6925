//! rtnetlink by hand, for child bodies: messages built in a fixed buffer, sent and
//! acknowledged (raw calls, no allocation).

use std::os::fd::OwnedFd;

use crate::so::{self, timeouts};
use crate::Probe;

/// A request.
pub const NLM_F_REQUEST: u16 = 1;
/// Ask for an acknowledgement.
pub const NLM_F_ACK: u16 = 4;
/// Fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object.
pub const NLM_F_CREATE: u16 = 0x400;
/// Dump every object of the kind.
pub const NLM_F_DUMP: u16 = 0x300;
/// An error (or acknowledgement) reply.
pub const NLMSG_ERROR: u16 = 2;
/// The end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// Create a link; a link in a dump.
pub const RTM_NEWLINK: u16 = 16;
/// Get (dump) links.
pub const RTM_GETLINK: u16 = 18;
/// Add an address; an address in a dump.
pub const RTM_NEWADDR: u16 = 20;
/// Get (dump) addresses.
pub const RTM_GETADDR: u16 = 22;
/// A route in a dump.
pub const RTM_NEWROUTE: u16 = 24;
/// Get (dump) routes.
pub const RTM_GETROUTE: u16 = 26;
/// Link attribute: the name.
pub const IFLA_IFNAME: u16 = 3;
/// Link attribute: kind-specific information.
pub const IFLA_LINKINFO: u16 = 18;
/// Link attribute: the network namespace (an nsfd) to move it to.
pub const IFLA_NET_NS_FD: u16 = 28;
/// Link information: the kind (`veth`).
pub const IFLA_INFO_KIND: u16 = 1;
/// Link information: the kind's data.
pub const IFLA_INFO_DATA: u16 = 2;
/// veth data: the peer.
pub const VETH_INFO_PEER: u16 = 1;
/// Address attribute: the address.
pub const IFA_ADDRESS: u16 = 1;
/// Address attribute: the local address.
pub const IFA_LOCAL: u16 = 2;
/// Address flag: no duplicate address detection.
pub const IFA_F_NODAD: u8 = 2;
/// Link flag: up.
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

/// A NETLINK_ROUTE socket with 5 s timeouts.
pub fn socket() -> crate::so::Sock {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)?;
    timeouts(&fd);
    Ok(fd)
}

/// One `recv(2)` into `buf`: the bytes received (an empty reply is an error), or the errno.
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, i64> {
    match rustix::net::recv(fd, &mut *buf, rustix::net::RecvFlags::empty()) {
        Ok((0, _)) => Err(libc::ENODATA as i64),
        Ok((n, _)) => Ok(n),
        Err(e) => Err(e.raw_os_error() as i64),
    }
}

/// Sends `msg` to the kernel: 0 or the errno.
fn send(fd: &OwnedFd, msg: &[u8]) -> i64 {
    crate::child::err_code(rustix::net::send(fd, msg, rustix::net::SendFlags::empty()))
}

/// Sends `msg` on a new netlink socket and walks the messages of the replies into `buf`:
/// calls `each(type, len, rest)` for every message (`rest` starts at its header and runs to the
/// end of what was received) until it returns a result. The errno when the exchange fails.
fn exchange(msg: &[u8], buf: &mut [u8], mut each: impl FnMut(u16, usize, &[u8]) -> Option<i64>) -> i64 {
    let fd = match socket() {
        Ok(fd) => fd,
        Err(e) => return e.raw_os_error() as i64,
    };
    let r = send(&fd, msg);
    if r != 0 {
        return r;
    }
    loop {
        let n = match recv(&fd, buf) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let mut off = 0usize;
        while off + 16 <= n {
            let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if let Some(r) = each(ty, len, &buf[off..n]) {
                return r;
            }
            if len < 16 {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}

/// Sends `msg` and waits for its acknowledgement: 0 or the errno.
pub fn request(msg: &mut Msg) -> i64 {
    let mut buf = [0u8; 4096];
    exchange(msg.finish(), &mut buf, |ty, _, m| {
        (ty == NLMSG_ERROR && m.len() >= 20).then(|| -(i32::from_ne_bytes([m[16], m[17], m[18], m[19]]) as i64))
    })
}

/// Dumps `ty` (RTM_GETLINK/ADDR/ROUTE) for all families and calls `f(type, payload)` for
/// every reply message; returns 0 or the errno.
pub fn dump(ty: u16, mut f: impl FnMut(u16, &[u8])) -> i64 {
    let mut m = Msg::new(ty, NLM_F_DUMP);
    if ty == RTM_GETLINK {
        m.ifinfo(0, 0, 0);
    } else {
        // ifaddrmsg (8 bytes) or rtmsg (12 bytes), family AF_UNSPEC.
        m.bytes(&[0u8; 12]);
    }
    let mut buf = [0u8; 32768];
    exchange(m.finish(), &mut buf, |mty, len, rest| {
        if mty == NLMSG_DONE {
            Some(0)
        } else if mty == NLMSG_ERROR || len < 16 || len > rest.len() {
            Some(-1)
        } else {
            f(mty, &rest[16..len]);
            None
        }
    })
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

/// Gives link `name` addresses `v4` (/24) and `v6` (/64, no duplicate address detection) and
/// brings it up: 0 or the first errno.
pub fn configure(name: &[u8], v4: [u8; 4], v6: [u8; 16]) -> i64 {
    let index = so::ifindex(name);
    if index < 0 {
        return -index;
    }
    let r = add_addr(index as u32, &v4, 24);
    if r != 0 {
        return r;
    }
    let r = add_addr(index as u32, &v6, 64);
    if r != 0 {
        return r;
    }
    link_up(name)
}

/// Lists every link by a dump as `key=name` lines on `p`; returns how many, or -1.
pub fn report_links(p: &Probe, key: &[u8]) -> i64 {
    let mut count = 0;
    let r = dump(RTM_GETLINK, |ty, payload| {
        if ty == RTM_NEWLINK && payload.len() >= 16 {
            if let Some(name) = find_attr(&payload[16..], IFLA_IFNAME) {
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

/// Counts the replies of type `reply` in a dump of `ty`, or -1.
pub fn count(ty: u16, reply: u16) -> i64 {
    let mut count = 0;
    if dump(ty, |t, _| count += (t == reply) as i64) != 0 {
        -1
    } else {
        count
    }
}
