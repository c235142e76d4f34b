//! Reading and sending many datagrams with one system call each (`recvmmsg`, `sendmmsg`):
//! under load, a datagram costs its copy, not a system call of its own.
//!
//! The message headers point into these values' buffers, so they are built on the stack for
//! each call and never kept: the receive loop holds both across awaits.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams read at most with one call.
pub const BATCH: usize = 32;
/// Room for one datagram: more than the longest request served (a full scrape, or an
/// announce with BEP 41 options); a longer one is cut short, and says so.
pub const SLOT: usize = 8192;

pub struct Batch {
    buffers: Vec<u8>,
    lengths: [usize; BATCH],
    senders: [Option<SocketAddr>; BATCH],
    cut: [bool; BATCH],
}

impl Batch {
    pub fn new() -> Self {
        Self {
            buffers: vec![0; BATCH * SLOT],
            lengths: [0; BATCH],
            senders: [None; BATCH],
            cut: [false; BATCH],
        }
    }

    /// Reads the datagrams waiting on `fd` (non-blocking), up to `BATCH`; gives their count.
    pub fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: all-zero bytes are a valid value for these plain C structs.
        let mut addresses: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut vectors: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, slot) in self.buffers.chunks_exact_mut(SLOT).enumerate() {
            vectors[i].write(libc::iovec { iov_base: slot.as_mut_ptr().cast(), iov_len: SLOT });
            let header = &mut headers[i].msg_hdr;
            header.msg_name = (&raw mut addresses[i]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = vectors[i].as_mut_ptr();
            header.msg_iovlen = 1;
        }
        // SAFETY: every header points at live buffers of the sizes it states, for this call.
        let count = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                // An int in glibc, an unsigned one in musl.
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        let count = count as usize;
        for i in 0..count {
            self.lengths[i] = (headers[i].msg_len as usize).min(SLOT);
            self.cut[i] = headers[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.senders[i] = sender(&addresses[i]);
        }
        Ok(count)
    }

    /// Datagram `i` of the last read: its bytes and sender, or `None` if it was cut short or
    /// came from no address we can read.
    pub fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let from = self.senders[i].filter(|_| !self.cut[i])?;
        Some((&self.buffers[i * SLOT..i * SLOT + self.lengths[i]], from))
    }
}

/// Answers gathered while a batch is read, to go out together.
pub struct Outbox {
    bytes: Vec<u8>,
    /// Each answer's destination and its end in `bytes` (it starts where the one before ends).
    answers: Vec<(SocketAddr, usize)>,
    /// Answers already sent (or given up).
    sent: usize,
}

impl Outbox {
    pub fn new() -> Self {
        Self { bytes: Vec::with_capacity(BATCH * 512), answers: Vec::with_capacity(BATCH), sent: 0 }
    }

    pub fn push(&mut self, to: SocketAddr, answer: &[u8]) {
        self.bytes.extend_from_slice(answer);
        self.answers.push((to, self.bytes.len()));
    }

    /// Whether every answer pushed has gone; then it starts afresh.
    pub fn is_done(&mut self) -> bool {
        if self.sent < self.answers.len() {
            return false;
        }
        self.bytes.clear();
        self.answers.clear();
        self.sent = 0;
        true
    }

    /// Passes over the next answer, which the socket refused.
    pub fn skip(&mut self) {
        self.sent += 1;
    }

    /// Sends the answers not yet sent, `BATCH` at most, on `fd` (non-blocking); gives how
    /// many the socket took.
    pub fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        let count = (self.answers.len() - self.sent).min(BATCH);
        // SAFETY: all-zero bytes are a valid value for these plain C structs.
        let mut addresses: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut vectors: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..count {
            let (to, end) = self.answers[self.sent + i];
            let start = match self.sent + i {
                0 => 0,
                before => self.answers[before - 1].1,
            };
            let answer = &mut self.bytes[start..end];
            vectors[i]
                .write(libc::iovec { iov_base: answer.as_mut_ptr().cast(), iov_len: answer.len() });
            let header = &mut headers[i].msg_hdr;
            header.msg_name = (&raw mut addresses[i]).cast();
            header.msg_namelen = encode(to, &mut addresses[i]);
            header.msg_iov = vectors[i].as_mut_ptr();
            header.msg_iovlen = 1;
        }
        // SAFETY: every header points at live buffers of the sizes it states, for this call.
        let sent = unsafe {
            libc::sendmmsg(fd, headers.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT as _)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        self.sent += sent as usize;
        Ok(sent as usize)
    }
}

/// Writes `to` into `storage` as the C socket address it is; gives its length.
fn encode(to: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    let storage = (storage as *mut libc::sockaddr_storage).cast::<u8>();
    match to {
        SocketAddr::V4(v4) => {
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { storage.cast::<libc::sockaddr_in>().write(address) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let address = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: v6.ip().octets() },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
            unsafe { storage.cast::<libc::sockaddr_in6>().write(address) };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn sender(address: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 =
                unsafe { &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe {
                &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    use super::*;

    fn pair(local: &str) -> (UdpSocket, UdpSocket) {
        let (receiver, sender) = (UdpSocket::bind(local).unwrap(), UdpSocket::bind(local).unwrap());
        sender.connect(receiver.local_addr().unwrap()).unwrap();
        (receiver, sender)
    }

    #[test]
    fn reads_every_waiting_datagram_with_its_sender_and_drops_one_cut_short() {
        let (receiver, sender) = pair("127.0.0.1:0");
        let mut batch = Batch::new();
        let nothing = batch.receive(receiver.as_raw_fd()).unwrap_err();
        assert_eq!(nothing.kind(), io::ErrorKind::WouldBlock);
        // Loopback delivers within the send, so all three wait when the read comes.
        sender.send(b"first").unwrap();
        sender.send(&[7; SLOT + 1]).unwrap();
        sender.send(&[9; SLOT]).unwrap();
        assert_eq!(batch.receive(receiver.as_raw_fd()).unwrap(), 3);
        let from = sender.local_addr().unwrap();
        assert_eq!(batch.datagram(0), Some((&b"first"[..], from)));
        assert_eq!(batch.datagram(1), None, "longer than a slot");
        assert_eq!(batch.datagram(2), Some((&[9; SLOT][..], from)), "a slot's worth is whole");
    }

    #[test]
    fn reads_no_more_than_a_batch_and_ipv6_senders() {
        let (receiver, sender) = pair("[::1]:0");
        for i in 0..BATCH + 1 {
            sender.send(&[i as u8]).unwrap();
        }
        let mut batch = Batch::new();
        assert_eq!(batch.receive(receiver.as_raw_fd()).unwrap(), BATCH);
        let from = sender.local_addr().unwrap();
        assert_eq!(batch.datagram(BATCH - 1), Some((&[BATCH as u8 - 1][..], from)));
        assert_eq!(batch.receive(receiver.as_raw_fd()).unwrap(), 1, "the one left");
        assert_eq!(batch.datagram(0), Some((&[BATCH as u8][..], from)));
    }

    #[test]
    fn an_outbox_sends_each_answer_to_its_address_in_one_call() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (first, second) =
            (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut outbox = Outbox::new();
        assert!(outbox.is_done(), "nothing to send");
        outbox.push(first.local_addr().unwrap(), b"one");
        outbox.push(second.local_addr().unwrap(), b"two");
        outbox.push(first.local_addr().unwrap(), b"three");
        assert!(!outbox.is_done());
        assert_eq!(outbox.send(sender.as_raw_fd()).unwrap(), 3);
        assert!(outbox.is_done());
        let mut buffer = [0; 16];
        for (socket, expected) in [(&first, &b"one"[..]), (&first, b"three"), (&second, b"two")] {
            let (len, from) = socket.recv_from(&mut buffer).unwrap();
            assert_eq!((&buffer[..len], from), (expected, sender.local_addr().unwrap()));
        }
    }

    #[test]
    fn an_outbox_sends_a_batch_a_call_and_ipv6_addresses() {
        let (receiver, sender) = pair("[::1]:0");
        let mut outbox = Outbox::new();
        for i in 0..BATCH + 1 {
            outbox.push(receiver.local_addr().unwrap(), &[i as u8]);
        }
        assert_eq!(outbox.send(sender.as_raw_fd()).unwrap(), BATCH);
        outbox.skip();
        assert!(outbox.is_done(), "the last one passed over");
        let mut batch = Batch::new();
        assert_eq!(batch.receive(receiver.as_raw_fd()).unwrap(), BATCH);
        let from = sender.local_addr().unwrap();
        assert_eq!(batch.datagram(BATCH - 1), Some((&[BATCH as u8 - 1][..], from)));
    }
}
