//! Accepting connections without registering them with the runtime's poller.
//!
//! tokio's `accept` registers every new socket with epoll (an `epoll_ctl` to add it, and one
//! to remove it as it drops). A connection whose request has already come, answered and
//! closed at once (`first_request`), never waits for readiness, so those two syscalls (a
//! fifth of the ones such a connection costs) buy nothing: the server registers a socket
//! only when it has to wait on it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A listening socket whose readiness the runtime watches.
pub struct Listener(AsyncFd<TcpListener>);

impl Listener {
    /// Takes over `listener` (deregistered from tokio, still non-blocking).
    pub fn new(listener: tokio::net::TcpListener) -> io::Result<Self> {
        let listener = listener.into_std()?;
        // SAFETY: the listener owns its descriptor, and `AsyncFd` owns the listener until it
        // drops: the descriptor stays open, and the same, as long as it is registered.
        let watched = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) };
        watched.map(Self).map_err(|error| error.into_parts().1)
    }

    /// The next connection: a non-blocking socket, not registered with the runtime, and the
    /// client's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let mut ready = self.0.readable().await?;
            // `WouldBlock` clears the readiness, and the loop waits for the next.
            if let Ok(accepted) = ready.try_io(|listener| accept_nonblocking(listener.get_ref())) {
                return accepted;
            }
        }
    }
}

fn accept_nonblocking(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    // SAFETY: accept4 writes at most `length` bytes of address into the storage socket2
    // hands in, and sets `length` to what it wrote; a non-negative result is a new file
    // descriptor that nothing else owns, so `TcpStream` may take it.
    let (stream, address) = unsafe {
        socket2::SockAddr::try_init(|storage, length| {
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            match libc::accept4(listener.as_raw_fd(), storage.cast(), length, flags) {
                -1 => Err(io::Error::last_os_error()),
                fd => Ok(TcpStream::from_raw_fd(fd)),
            }
        })
    }?;
    let remote = address
        .as_socket()
        .ok_or_else(|| io::Error::other("accepted a connection with no IP address"))?;
    Ok((stream, remote))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[tokio::test]
    async fn accepts_a_nonblocking_socket_and_the_clients_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = Listener::new(listener).unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (accepted, remote) = listener.accept().await.unwrap();
        assert_eq!(remote, client.local_addr().unwrap());
        let mut nothing_yet = [0u8; 4];
        let error = (&accepted).read(&mut nothing_yet).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "non-blocking");
        client.write_all(b"ping").unwrap();
        accepted.set_nonblocking(false).unwrap();
        (&accepted).read_exact(&mut nothing_yet).unwrap();
        assert_eq!(&nothing_yet, b"ping");
    }
}
