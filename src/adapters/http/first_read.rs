//! A connection's first read, and where it leaves the connection: answered and done, with an
//! answer still to write, handed to hyper, or still waiting for a request.
//!
//! The read and the write are plain non-blocking calls, given as closures, so that they work
//! on a socket the runtime does not watch yet (`accept`): a connection whose request came
//! whole, and whose answer went out in one write, ends without ever being registered.

use std::io;
use std::net::SocketAddr;

use super::dispatch::Dispatch;
use super::first_request::{self, FirstRequest};
use super::watchdog::Activity;

/// Bytes of a connection's first read, taken on the stack: an announce is a few hundred.
const FIRST_READ_BYTES: usize = 4096;

/// Where a connection stands after its first read.
pub enum Next {
    /// Nothing more to do: answered to a client that asked to close, closed, or failed.
    Done,
    /// Nothing had come yet.
    Wait,
    /// An answer with `pending` bytes still unwritten; then, unless the client asked to
    /// close, the bytes that came after its request go to hyper.
    Write { pending: Vec<u8>, then: Option<Vec<u8>> },
    /// Bytes for hyper to read as if it had read them.
    Hyper(Vec<u8>),
}

/// Reads once with `read` (a non-blocking read into the buffer given) and answers a request
/// `first_request` takes, writing with `write` (a non-blocking write) once.
pub async fn serve<S>(
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    write: impl FnOnce(&[u8]) -> io::Result<usize>,
    dispatch: &Dispatch<S>,
    activity: &Activity,
    max_header_bytes: usize,
    remote: SocketAddr,
) -> Next {
    let (FirstRequest { work, close, .. }, rest) =
        match read_once(read, dispatch, max_header_bytes, remote) {
            Ok(Read::Request(request, rest)) => (request, rest),
            Ok(Read::Hyper(bytes)) => return Next::Hyper(bytes),
            Ok(Read::Closed) => return Next::Done,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
            Err(_) => return Next::Done,
        };
    activity.begin();
    let body = dispatch.tracker_body(work).await;
    activity.end();
    let answer = first_request::answer(&body, close);
    let written = match write(&answer) {
        Ok(written) => written,
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
        Err(_) => return Next::Done,
    };
    let then = (!close).then_some(rest);
    match (written == answer.len(), then) {
        (true, None) => Next::Done,
        (true, Some(rest)) => Next::Hyper(rest),
        (false, then) => Next::Write { pending: answer[written..].to_vec(), then },
    }
}

/// What one read brought.
enum Read {
    /// A request `first_request` answers, and the bytes after it.
    Request(FirstRequest, Vec<u8>),
    /// Bytes for hyper.
    Hyper(Vec<u8>),
    Closed,
}

fn read_once<S>(
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    dispatch: &Dispatch<S>,
    max_header_bytes: usize,
    remote: SocketAddr,
) -> io::Result<Read> {
    let mut buffer = [0u8; FIRST_READ_BYTES];
    let length = read(&mut buffer)?;
    if length == 0 {
        return Ok(Read::Closed);
    }
    let bytes = &buffer[..length];
    Ok(match first_request::read(bytes, max_header_bytes, dispatch, remote) {
        Some(request) => {
            let rest = bytes[request.length..].to_vec();
            Read::Request(request, rest)
        }
        None => Read::Hyper(bytes.to_vec()),
    })
}
