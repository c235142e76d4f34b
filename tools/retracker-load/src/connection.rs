//! One keep-alive HTTP/1.1 connection: write a request, read exactly one response.
//!
//! No pipelining, as BitTorrent clients do not pipeline announces.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Response heads longer than this are not from a tracker.
const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug)]
pub enum ExchangeError {
    Io(io::Error),
    Closed,
    BadHead(String),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "{error}"),
            Self::Closed => write!(f, "the server closed the connection"),
            Self::BadHead(why) => write!(f, "bad response head: {why}"),
        }
    }
}

impl From<io::Error> for ExchangeError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    last_used: Instant,
}

impl Connection {
    pub async fn open(target: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buffer: Vec::with_capacity(4096), last_used: Instant::now() })
    }

    /// How long since the last exchange (or the connect).
    pub fn idle(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// Sends `request` (a whole request head) and reads the response to it.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Response<'_>, ExchangeError> {
        self.last_used = Instant::now();
        self.stream.write_all(request).await?;
        self.buffer.clear();
        let (status, head_len, body_len) = loop {
            self.fill().await?;
            if let Some(head) = parse_head(&self.buffer)? {
                break head;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(ExchangeError::BadHead("longer than 8 KiB".into()));
            }
        };
        if body_len > MAX_BODY {
            return Err(ExchangeError::BadHead(format!("a {body_len}-byte body")));
        }
        let total = head_len + body_len;
        while self.buffer.len() < total {
            self.fill().await?;
        }
        if self.buffer.len() > total {
            return Err(ExchangeError::BadHead("bytes after the response".into()));
        }
        Ok(Response { status, body: &self.buffer[head_len..total] })
    }

    async fn fill(&mut self) -> Result<(), ExchangeError> {
        if self.buffer.capacity() - self.buffer.len() < 1024 {
            self.buffer.reserve(4096);
        }
        if self.stream.read_buf(&mut self.buffer).await? == 0 {
            return Err(ExchangeError::Closed);
        }
        Ok(())
    }
}

/// Status, head length and body length, once the head is complete.
fn parse_head(bytes: &[u8]) -> Result<Option<(u16, usize, usize)>, ExchangeError> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(ExchangeError::BadHead(error.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let length = response
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse().ok())
        .ok_or_else(|| ExchangeError::BadHead("no Content-Length".into()))?;
    Ok(Some((status, head_len, length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_only_once_complete() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert!(parse_head(&response[..20]).unwrap().is_none());
        assert_eq!(parse_head(response).unwrap(), Some((200, 38, 5)));
    }

    #[test]
    fn a_head_without_length_is_refused() {
        let response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(matches!(parse_head(response), Err(ExchangeError::BadHead(_))));
    }

    #[tokio::test]
    async fn exchanges_follow_each_other_on_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 64];
            for body in ["one", "three"] {
                let n = stream.read(&mut request).await.unwrap();
                assert!(request[..n].ends_with(b"\r\n\r\n"));
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                stream.write_all(head.as_bytes()).await.unwrap();
                // The body in a second write, so the client must wait for it.
                tokio::task::yield_now().await;
                stream.write_all(body.as_bytes()).await.unwrap();
            }
        });
        let mut connection = Connection::open(target).await.unwrap();
        for expected in ["one", "three"] {
            let response = connection.exchange(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            assert_eq!((response.status, response.body), (200, expected.as_bytes()));
        }
        assert!(connection.exchange(b"GET / HTTP/1.1\r\n\r\n").await.is_err());
        server.await.unwrap();
    }
}
