//! System V and POSIX IPC calls for child bodies (raw system calls, no allocation).
//!
//! Hand-written: rustix has neither System V IPC nor message queues, nix has no System V
//! IPC, and its `mq_open` is glibc's, which wants a leading `/` that the raw call here does
//! not.

use crate::child::errno;

/// `shmget(2)`.
pub fn shmget(key: libc::key_t, size: usize, flags: libc::c_int) -> libc::c_int {
    // SAFETY: integer arguments only.
    unsafe { libc::shmget(key, size, flags) }
}

/// `shmat(2)` read-write; null on failure.
pub fn shmat(id: libc::c_int) -> *mut u8 {
    // SAFETY: attaches at an address the kernel picks; checked for failure below.
    let p = unsafe { libc::shmat(id, std::ptr::null(), 0) };
    if p as isize == -1 {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Attaches segment `id` and returns its first byte, or minus the errno.
pub fn shmat_peek(id: libc::c_int) -> i64 {
    let m = shmat(id);
    if m.is_null() {
        return -errno();
    }
    // SAFETY: `m` is an attached segment of at least one byte.
    (unsafe { *m }) as i64
}

/// `msgget(2)`.
pub fn msgget(key: libc::key_t, flags: libc::c_int) -> libc::c_int {
    // SAFETY: integer arguments only.
    unsafe { libc::msgget(key, flags) }
}

#[repr(C)]
struct Msg {
    mtype: libc::c_long,
    mtext: [u8; 8],
}

/// Sends one 1-byte message `b` (type 1) without waiting; 0 or -1.
pub fn msgsnd(id: libc::c_int, b: u8) -> libc::c_int {
    let m = Msg {
        mtype: 1,
        mtext: [b, 0, 0, 0, 0, 0, 0, 0],
    };
    // SAFETY: `m` is a valid message buffer of at least 1 + sizeof(long) bytes.
    unsafe { libc::msgsnd(id, (&m as *const Msg).cast(), 1, libc::IPC_NOWAIT) }
}

/// The number of messages on queue `id` (`IPC_STAT`), or -1.
pub fn msg_qnum(id: libc::c_int) -> i64 {
    // SAFETY: msqid_ds is plain data; all-zero is valid.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a valid out-buffer for IPC_STAT.
    if unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } != 0 {
        return -1;
    }
    ds.msg_qnum as i64
}

/// `semget(2)`.
pub fn semget(key: libc::key_t, n: libc::c_int, flags: libc::c_int) -> libc::c_int {
    // SAFETY: integer arguments only.
    unsafe { libc::semget(key, n, flags) }
}

/// Sets semaphore 0 of `id` to `value` (`SETVAL`).
pub fn semsetval(id: libc::c_int, value: libc::c_int) -> libc::c_int {
    // SAFETY: SETVAL takes an int-sized `union semun`, passed by value as an int.
    unsafe { libc::semctl(id, 0, libc::SETVAL, value) }
}

/// Tries to take semaphore 0 of `id` (`-1`, `IPC_NOWAIT`); 0 or the errno.
pub fn semtrylock(id: libc::c_int) -> i64 {
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: -1,
        sem_flg: libc::IPC_NOWAIT as libc::c_short,
    };
    // SAFETY: `op` is one valid sembuf.
    if unsafe { libc::semop(id, &mut op, 1) } == 0 {
        0
    } else {
        errno()
    }
}

/// `mq_open(3)` by the raw system call: `name` has no leading `/`. Returns an fd or -1.
/// Queues are made as small as possible (1 message of 8 bytes), so that they barely count
/// against the user's `RLIMIT_MSGQUEUE`, shared with every other test.
pub fn mq_open(name: &std::ffi::CStr, flags: libc::c_int) -> libc::c_int {
    // SAFETY: mq_attr is plain data; all-zero is valid.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = 8;
    // SAFETY: `name` is NUL-terminated; `attr` is a valid mq_attr.
    unsafe {
        libc::syscall(
            libc::SYS_mq_open,
            name.as_ptr(),
            flags,
            0o600 as libc::c_uint,
            &attr as *const libc::mq_attr,
        ) as libc::c_int
    }
}

/// [`crate::child::mount_fs`] of `fstype` on `target`; 0 or the errno.
pub fn mount(fstype: &std::ffi::CStr, target: &std::ffi::CStr) -> i64 {
    crate::child::err_of(crate::child::mount_fs(fstype, target))
}
