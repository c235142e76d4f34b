//! A connection's first request, answered from the socket without hyper when it is a plain
//! `GET` of `/announce` or `/scrape` that came whole in the first read.
//!
//! Many clients open a connection per announce. For them hyper's per-connection set-up (its
//! buffers, its state machine, a shutdown and a read that sees the close) costs as much as
//! the announce: here the head is parsed with httparse (hyper's own parser), the answer
//! written in one syscall, and the connection closed when the client asked for that. The
//! answer is byte for byte what hyper writes (tests below compare). Anything else, or
//! anything unusual (another method, HTTP/1.0, a body, `Expect`, an odd `Connection`, a
//! target hyper might read differently), is left to hyper with the bytes already read.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use warp::http::HeaderValue;

use super::dispatch::{Dispatch, TrackerWork, tracker_path};

/// Headers a first request may carry for this path; more, and hyper reads it.
const MAX_HEADERS: usize = 32;

/// A first request this path answers: what it asks, whether the client wants the connection
/// closed after it, and how many bytes it took.
pub struct FirstRequest {
    pub work: TrackerWork,
    pub close: bool,
    pub length: usize,
}

/// Reads `bytes`, a connection's first read, as a request this path answers, or `None` to
/// leave it to hyper. Heads longer than `max_header_bytes` are hyper's to refuse.
pub fn read<S>(
    bytes: &[u8],
    max_header_bytes: usize,
    dispatch: &Dispatch<S>,
    remote: SocketAddr,
) -> Option<FirstRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(bytes).ok()? else {
        return None;
    };
    if length > max_header_bytes || request.method? != "GET" || request.version? != 1 {
        return None;
    }
    let target = request.path?;
    if !target.starts_with('/') || !target.bytes().all(plain_target_byte) {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let announce = tracker_path(path)?;
    let mut close = false;
    let mut x_real_ip = None;
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            match header.value.trim_ascii() {
                value if value.eq_ignore_ascii_case(b"close") => close = true,
                value if value.eq_ignore_ascii_case(b"keep-alive") => {}
                _ => return None,
            }
        } else if name.eq_ignore_ascii_case("x-real-ip") {
            if x_real_ip.is_some() {
                return None;
            }
            x_real_ip = Some(HeaderValue::from_bytes(header.value).ok()?);
        } else if ["content-length", "transfer-encoding", "expect", "upgrade"]
            .iter()
            .any(|special| name.eq_ignore_ascii_case(special))
        {
            return None;
        }
    }
    // Bytes after a request that closes the connection are hyper's to ignore.
    if close && length != bytes.len() {
        return None;
    }
    let work = dispatch.tracker_work(announce, query, x_real_ip.as_ref(), remote);
    Some(FirstRequest { work, close, length })
}

/// Bytes of a request target that hyper's URI parser takes as they are, in path and query
/// alike: RFC 3986 unreserved and sub-delims, `%`, `:`, `@`, `/`, `?`. Others (a fragment,
/// quotes, non-ASCII) send the request to hyper, to be answered as before.
fn plain_target_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@/?".contains(&byte)
}

/// The whole answer to a first request: hyper's head for a 200 `text/plain` answer of
/// `body` (with `connection: close` when the client asked to close), then the body.
pub fn answer(body: &[u8], close: bool) -> Vec<u8> {
    let mut answer = Vec::with_capacity(128 + body.len());
    answer.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n");
    if close {
        answer.extend_from_slice(b"connection: close\r\n");
    }
    answer.extend_from_slice(b"content-length: ");
    answer.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    answer.extend_from_slice(b"\r\ndate: ");
    extend_with_date(&mut answer);
    answer.extend_from_slice(b"\r\n\r\n");
    answer.extend_from_slice(body);
    answer
}

/// Appends the `Date` value (RFC 9110 IMF-fixdate), formatted once a second per thread as
/// hyper does.
fn extend_with_date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    CACHED.with_borrow_mut(|(cached_second, text)| {
        if *cached_second != second {
            *cached_second = second;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;

    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use warp::http::Request;

    use super::*;
    use crate::adapters::http::endpoints::{Endpoints, RequestLimits};
    use crate::adapters::http::front_end;
    use crate::adapters::http::routes::Pages;
    use crate::domain::announce::Refusal;
    use crate::domain::scrape::ScrapeResponse;
    use crate::ports::TrackerService;
    use crate::ports::metrics::NoMetrics;
    use crate::ports::tracker_service::MockTrackerService;

    const ANNOUNCE: &str = "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
                            &port=6881&uploaded=0&downloaded=0&left=0&compact=1";

    fn remote() -> SocketAddr {
        "192.0.2.4:50000".parse().unwrap()
    }

    fn dispatch() -> Arc<
        Dispatch<
            impl tower_service::Service<
                Request<Incoming>,
                Response = warp::reply::Response,
                Error = Infallible,
                Future: Send,
            > + Clone
            + Send
            + Sync
            + 'static,
        >,
    > {
        let mut service = MockTrackerService::new();
        service.expect_announce().returning(|_, _| Err(Refusal::PortZero));
        service.expect_scrape().returning(|_| Ok(ScrapeResponse { files: Vec::new() }));
        let tracker: Arc<dyn TrackerService> = Arc::new(service);
        let endpoints = Endpoints {
            tracker: tracker.clone(),
            metrics: Arc::new(NoMetrics),
            limits: RequestLimits { max_query_length: 512, max_scrape_hashes: 3 },
        };
        Arc::new(front_end(endpoints, Pages::default(), true))
    }

    /// What hyper, serving `dispatch` as the server does, writes back for `request`.
    async fn hyper_answer(request: &[u8]) -> Vec<u8> {
        let dispatch = dispatch();
        let (server, mut client) = tokio::io::duplex(64 * 1024);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let dispatch = dispatch.clone();
            async move {
                let work = dispatch.work(request, remote());
                Ok::<_, Infallible>(dispatch.answer(work).await)
            }
        });
        let connection =
            http1::Builder::new().half_close(true).serve_connection(TokioIo::new(server), service);
        let served = tokio::spawn(connection);
        client.write_all(request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        served.await.unwrap().unwrap();
        answer
    }

    /// What this path writes back for `request`, or `None` if it leaves it to hyper.
    async fn our_answer(request: &[u8]) -> Option<Vec<u8>> {
        let dispatch = dispatch();
        let first = read(request, 8192, &dispatch, remote())?;
        assert_eq!(first.length, request.len());
        let body = dispatch.tracker_body(first.work).await;
        Some(answer(&body, first.close))
    }

    /// `answer` with its date, which may tick between two answers, blanked.
    fn undated(mut answer: Vec<u8>) -> Vec<u8> {
        let at = answer.windows(8).position(|w| w == b"\r\ndate: ").expect("a date") + 8;
        answer[at..at + 29].fill(b'#');
        answer
    }

    fn request(target: &str, headers: &str) -> Vec<u8> {
        format!("GET {target} HTTP/1.1\r\nHost: tracker\r\n{headers}\r\n").into_bytes()
    }

    #[tokio::test]
    async fn answers_byte_for_byte_as_hyper_does() {
        let cases = [
            request(ANNOUNCE, ""),
            request(ANNOUNCE, "Connection: close\r\n"),
            request(ANNOUNCE, "connection: Keep-Alive\r\n"),
            request(ANNOUNCE, "X-Real-IP: not an address\r\nUser-Agent: test/1.0\r\n"),
            request(&ANNOUNCE.replace("/announce?", "/announce/?"), "Connection: close\r\n"),
            request("/announce", ""),
            request("/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa", ""),
            request("/scrape", "Connection: close\r\n"),
        ];
        for request in cases {
            let ours = our_answer(&request).await.expect("answered without hyper");
            let hypers = hyper_answer(&request).await;
            assert_eq!(
                String::from_utf8_lossy(&undated(ours)),
                String::from_utf8_lossy(&undated(hypers)),
                "{}",
                String::from_utf8_lossy(&request)
            );
        }
    }

    #[tokio::test]
    async fn leaves_everything_unusual_to_hyper() {
        let long_header = format!("X-Pad: {}\r\n", "p".repeat(9000));
        let cases = [
            format!("POST {ANNOUNCE} HTTP/1.1\r\n\r\n").into_bytes(),
            format!("GET {ANNOUNCE} HTTP/1.0\r\n\r\n").into_bytes(),
            format!("GET {ANNOUNCE} HTTP/1.1\r\nHost: tra").into_bytes(),
            request("/healthz", ""),
            request("/announcex", ""),
            request("/announce#fragment", ""),
            request("/announce?info_hash=\"quoted\"", ""),
            request("http://tracker/announce", ""),
            request(ANNOUNCE, "Content-Length: 0\r\n"),
            request(ANNOUNCE, "Transfer-Encoding: chunked\r\n"),
            request(ANNOUNCE, "Expect: 100-continue\r\n"),
            request(ANNOUNCE, "Connection: upgrade\r\n"),
            request(ANNOUNCE, "Connection: keep-alive, close\r\n"),
            request(ANNOUNCE, "X-Real-IP: 192.0.2.1\r\nX-Real-IP: 192.0.2.2\r\n"),
            request(ANNOUNCE, &long_header),
            [request(ANNOUNCE, "Connection: close\r\n"), request(ANNOUNCE, "")].concat(),
            b"\xff\xfe garbage\r\n\r\n".to_vec(),
        ];
        let dispatch = dispatch();
        for request in cases {
            let first = read(&request, 8192, &dispatch, remote());
            assert!(first.is_none(), "{}", String::from_utf8_lossy(&request));
        }
    }

    #[tokio::test]
    async fn bytes_after_a_keep_alive_request_are_left_for_hyper() {
        let first = request(ANNOUNCE, "");
        let both = [first.clone(), request("/scrape", "")].concat();
        let read = read(&both, 8192, &dispatch(), remote()).expect("answered without hyper");
        assert_eq!((read.length, read.close), (first.len(), false));
    }
}
