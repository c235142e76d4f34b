//! Reading many datagrams with one system call (`recvmmsg`): under load, a datagram's read
//! costs its copy, not a system call each.
//!
//! The message headers point into this value's buffers, so they are built on the stack for
//! each call and never kept: the receive loop holds this across awaits.

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
}
