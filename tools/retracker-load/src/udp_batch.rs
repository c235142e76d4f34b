//! Many datagrams through one system call each way (`sendmmsg`, `recvmmsg`), for the UDP
//! clients and the UDP ceiling alike: the load generator must cost less a request than the
//! servers it measures, and the ceiling must read and write as retracker does.
//!
//! The message headers point into this value's buffers, so they are built on the stack for
//! each call and never kept.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

/// Datagrams moved at most by one call: enough that a call costs little a datagram.
pub const MOST: usize = 64;

/// A set of datagrams, each in a slot of its own, with the address it came from or goes to
/// (none, for a connected socket's peer).
pub struct Datagrams {
    slot: usize,
    bytes: Vec<u8>,
    lengths: Vec<usize>,
    /// Whether datagram `i` arrived longer than its slot, and was cut.
    cut: Vec<bool>,
    addresses: Vec<libc::sockaddr_storage>,
    address_lengths: Vec<libc::socklen_t>,
    count: usize,
}

impl Datagrams {
    /// Room for `capacity` datagrams (at most `MOST`) of `slot` bytes each.
    pub fn new(capacity: usize, slot: usize) -> Self {
        let capacity = capacity.clamp(1, MOST);
        // SAFETY: all-zero bytes are a valid value for this plain C struct.
        let empty: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        Self {
            slot,
            bytes: vec![0; capacity * slot],
            lengths: vec![0; capacity],
            cut: vec![false; capacity],
            addresses: vec![empty; capacity],
            address_lengths: vec![0; capacity],
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_full(&self) -> bool {
        self.count == self.lengths.len()
    }

    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Datagram `i`'s bytes, and whether they were cut short.
    pub fn get(&self, i: usize) -> (&[u8], bool) {
        let start = i * self.slot;
        (&self.bytes[start..start + self.lengths[i]], self.cut[i])
    }

    /// Adds a datagram for a connected socket's peer; gives false when it does not fit.
    pub fn push(&mut self, datagram: &[u8]) -> bool {
        self.push_to(datagram, None)
    }

    /// Adds an answer to datagram `i` of `received`, to go back where that one came from.
    pub fn push_reply(&mut self, datagram: &[u8], received: &Datagrams, i: usize) -> bool {
        self.push_to(datagram, Some((&received.addresses[i], received.address_lengths[i])))
    }

    fn push_to(
        &mut self,
        datagram: &[u8],
        to: Option<(&libc::sockaddr_storage, libc::socklen_t)>,
    ) -> bool {
        if self.is_full() || datagram.len() > self.slot {
            return false;
        }
        let i = self.count;
        let start = i * self.slot;
        self.bytes[start..start + datagram.len()].copy_from_slice(datagram);
        self.lengths[i] = datagram.len();
        self.cut[i] = false;
        self.address_lengths[i] = match to {
            Some((address, length)) => {
                self.addresses[i] = *address;
                length
            }
            None => 0,
        };
        self.count += 1;
        true
    }

    /// Replaces the contents with the datagrams waiting on `fd` (non-blocking), as many as
    /// fit; gives their count.
    pub fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        let capacity = self.lengths.len();
        let mut vectors = [MaybeUninit::<libc::iovec>::uninit(); MOST];
        // SAFETY: all-zero bytes are a valid value for this plain C struct.
        let mut headers: [libc::mmsghdr; MOST] = unsafe { std::mem::zeroed() };
        for i in 0..capacity {
            let slot = &mut self.bytes[i * self.slot..(i + 1) * self.slot];
            vectors[i]
                .write(libc::iovec { iov_base: slot.as_mut_ptr().cast(), iov_len: slot.len() });
            let header = &mut headers[i].msg_hdr;
            header.msg_name = (&raw mut self.addresses[i]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = vectors[i].as_mut_ptr();
            header.msg_iovlen = 1;
        }
        // SAFETY: every header points at live buffers of the sizes it states, for this call.
        let count = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                capacity as libc::c_uint,
                // An int in glibc, an unsigned one in musl.
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        self.count = count as usize;
        for (i, header) in headers.iter().enumerate().take(self.count) {
            self.lengths[i] = (header.msg_len as usize).min(self.slot);
            self.cut[i] = header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.address_lengths[i] = header.msg_hdr.msg_namelen;
        }
        Ok(self.count)
    }

    /// Sends the datagrams from the `from`th on, over `fd` (non-blocking); gives how many the
    /// socket took.
    pub fn send(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let count = self.count.saturating_sub(from);
        if count == 0 {
            return Ok(0);
        }
        let mut vectors = [MaybeUninit::<libc::iovec>::uninit(); MOST];
        // SAFETY: all-zero bytes are a valid value for this plain C struct.
        let mut headers: [libc::mmsghdr; MOST] = unsafe { std::mem::zeroed() };
        for (n, i) in (from..self.count).enumerate() {
            let start = i * self.slot;
            let datagram = &mut self.bytes[start..start + self.lengths[i]];
            vectors[n].write(libc::iovec {
                iov_base: datagram.as_mut_ptr().cast(),
                iov_len: datagram.len(),
            });
            let header = &mut headers[n].msg_hdr;
            if self.address_lengths[i] > 0 {
                header.msg_name = (&raw mut self.addresses[i]).cast();
                header.msg_namelen = self.address_lengths[i];
            }
            header.msg_iov = vectors[n].as_mut_ptr();
            header.msg_iovlen = 1;
        }
        // SAFETY: every header points at live buffers of the sizes it states, for this call.
        let sent = unsafe {
            libc::sendmmsg(fd, headers.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT as _)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn datagrams_go_out_together_and_come_back_to_their_senders() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(server.local_addr().unwrap()).unwrap();
        let mut out = Datagrams::new(4, 16);
        assert!(out.push(b"one") && out.push(b"two") && out.push(b"three"));
        assert!(!out.push(&[0; 17]), "longer than a slot");
        assert_eq!(out.send(client.as_raw_fd(), 0).unwrap(), 3);
        // Loopback delivers at once; the blocking receive makes sure the first has come.
        let mut first = [0; 16];
        let (len, from) = server.peek_from(&mut first).unwrap();
        assert_eq!((&first[..len], from), (&b"one"[..], client.local_addr().unwrap()));
        let mut received = Datagrams::new(8, 4);
        assert_eq!(received.receive(server.as_raw_fd()).unwrap(), 3);
        assert_eq!(received.get(0), (&b"one"[..], false));
        assert_eq!(received.get(2), (&b"thre"[..], true), "cut to its slot");
        let mut replies = Datagrams::new(8, 16);
        assert!(replies.push_reply(b"ack", &received, 1));
        assert_eq!(replies.send(server.as_raw_fd(), 0).unwrap(), 1);
        let mut answer = [0; 16];
        assert_eq!(client.recv(&mut answer).unwrap(), 3);
        assert_eq!(&answer[..3], b"ack");
        let error = received.receive(server.as_raw_fd()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(received.len(), 0);
    }
}
