//! One HTTP request to its answer: `GET /announce` and `GET /scrape` go straight to the
//! endpoints, everything else through the warp routes.
//!
//! The two tracker endpoints are nearly every request a tracker gets. Through warp's filter
//! chain (a route object per request, the query copied into a `String`, the client address
//! carried in an extension map, boxed bodies) they cost about 3,000 instructions more each,
//! as much as the repository's part of an announce (docs/benchmarks.md), so they are matched
//! here on the request head hyper has already parsed.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use tower_service::Service;
use warp::http::header::{ALLOW, CONTENT_TYPE, HeaderName, HeaderValue};
use warp::http::{Method, Request, Response, StatusCode};

use super::client_ip;
use super::endpoints::{AnnounceCall, Endpoints};
use super::routes::{Pages, routes};

const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Answers requests: the tracker endpoints itself, the rest through `others` (the warp routes).
pub struct Dispatch<S> {
    endpoints: Endpoints,
    others: S,
    /// Take the client's address from `X-Real-IP` (set by a trusted reverse proxy).
    trust_x_real_ip: bool,
}

/// An answer: a bencoded body of ours, or whatever the warp routes sent.
pub type Answer<R> = Response<Either<Full<Bytes>, R>>;

/// The front end the server runs: `endpoints`, and the warp routes (with the `pages` there
/// are) for everything else.
pub fn front_end(
    endpoints: Endpoints,
    pages: Pages,
    trust_x_real_ip: bool,
) -> Dispatch<
    impl Service<Request<Incoming>, Response = warp::reply::Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static,
> {
    let others = warp::service(routes(endpoints.tracker.clone(), pages));
    Dispatch::new(endpoints, others, trust_x_real_ip)
}

impl<S> Dispatch<S> {
    pub fn new(endpoints: Endpoints, others: S, trust_x_real_ip: bool) -> Self {
        Self { endpoints, others, trust_x_real_ip }
    }

    /// What `request`, which came over a connection from `remote`, asks for: read at once,
    /// before the answer is worked out.
    pub fn work<B>(&self, request: Request<B>, remote: SocketAddr) -> Work<B> {
        let Some(announce) = tracker_path(request.uri().path()) else {
            return Work::Other(request);
        };
        if request.method() != Method::GET {
            return Work::NotAllowed;
        }
        let query = request.uri().query().unwrap_or_default();
        let x_real_ip = request.headers().get(X_REAL_IP);
        Work::Tracker(self.tracker_work(announce, query, x_real_ip, remote))
    }

    /// A `GET` of an endpoint (`announce` or scrape), with its `query`, read at once.
    pub fn tracker_work(
        &self,
        announce: bool,
        query: &str,
        x_real_ip: Option<&HeaderValue>,
        remote: SocketAddr,
    ) -> TrackerWork {
        if announce {
            let client = client_ip::resolve(remote, x_real_ip, self.trust_x_real_ip);
            TrackerWork::Announce(self.endpoints.read_announce(query, client))
        } else {
            TrackerWork::Scrape { query: query.into() }
        }
    }

    /// The bencoded body that answers `work`.
    pub async fn tracker_body(&self, work: TrackerWork) -> Vec<u8> {
        match work {
            TrackerWork::Announce(call) => self.endpoints.announce(call).await,
            TrackerWork::Scrape { query } => self.endpoints.scrape(&query).await,
        }
    }

    /// Answers what `work` asks for.
    pub async fn answer<B, R>(&self, work: Work<B>) -> Answer<R>
    where
        S: Service<Request<B>, Response = Response<R>, Error = Infallible> + Clone,
    {
        match work {
            Work::Tracker(work) => bencoded(self.tracker_body(work).await),
            Work::NotAllowed => method_not_allowed(),
            Work::Other(request) => {
                let Ok(answer) = self.others.clone().call(request).await;
                answer.map(Either::Right)
            }
        }
    }
}

/// Whether `path` is an endpoint's: `Some(true)` for announce, `Some(false)` for scrape. A
/// trailing slash is allowed, as warp's routes allowed it before.
pub fn tracker_path(path: &str) -> Option<bool> {
    match path.strip_suffix('/').unwrap_or(path) {
        "/announce" => Some(true),
        "/scrape" => Some(false),
        _ => None,
    }
}

/// A request as the endpoints need it, owning nothing of the request: an announce is read at
/// once and a scrape's query copied out, so that the request, whose head points into hyper's
/// read buffer, is dropped before the answer is worked out. hyper reads ahead while an answer
/// is pending (to notice a client hanging up), and a buffer still shared then meant a fresh
/// 8 KiB one for every request.
pub enum Work<B> {
    Tracker(TrackerWork),
    NotAllowed,
    Other(Request<B>),
}

/// A `GET` of one of the endpoints, read.
pub enum TrackerWork {
    Announce(AnnounceCall),
    Scrape { query: Box<str> },
}

fn bencoded<R>(body: Vec<u8>) -> Answer<R> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    // Clients do not care; people reading an answer with curl or a browser do.
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn method_not_allowed<R>() -> Answer<R> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::{BodyExt, Empty};

    use super::*;
    use crate::adapters::http::RequestLimits;
    use crate::domain::announce::Refusal;
    use crate::domain::scrape::ScrapeResponse;
    use crate::ports::TrackerService;
    use crate::ports::metrics::NoMetrics;
    use crate::ports::tracker_service::MockTrackerService;

    const ANNOUNCE: &str = "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
                            &port=6881&uploaded=0&downloaded=0&left=0";

    fn remote() -> SocketAddr {
        "192.0.2.4:50000".parse().unwrap()
    }

    /// Sends one request through a dispatch over `service`; returns status, content type, body.
    async fn send(
        service: MockTrackerService,
        trust_x_real_ip: bool,
        request: Request<Empty<Bytes>>,
    ) -> (u16, Option<String>, Vec<u8>) {
        let tracker: Arc<dyn TrackerService> = Arc::new(service);
        let endpoints = Endpoints {
            tracker: tracker.clone(),
            metrics: Arc::new(NoMetrics),
            limits: RequestLimits { max_query_length: 512, max_scrape_hashes: 3 },
        };
        let routes = warp::service(routes(tracker, Pages::default()));
        let dispatch = Dispatch::new(endpoints, routes, trust_x_real_ip);
        let answer = dispatch.answer(dispatch.work(request, remote())).await;
        let content_type =
            answer.headers().get(CONTENT_TYPE).map(|value| value.to_str().unwrap().to_owned());
        let status = answer.status().as_u16();
        let body = answer.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, content_type, body)
    }

    fn get(uri: &str) -> Request<Empty<Bytes>> {
        Request::get(uri).body(Empty::new()).unwrap()
    }

    #[tokio::test]
    async fn announce_gets_the_connections_address() {
        let mut service = MockTrackerService::new();
        service
            .expect_announce()
            .withf(|_, ip| *ip == remote().ip())
            .times(1)
            .returning(|_, _| Err(Refusal::PortZero));
        let (status, content_type, body) = send(service, false, get(ANNOUNCE)).await;
        assert_eq!((status, content_type.as_deref()), (200, Some("text/plain")));
        assert_eq!(body, crate::adapters::http::render::failure(&Refusal::PortZero.to_string()));
    }

    #[tokio::test]
    async fn x_real_ip_is_used_only_when_trusted() {
        for (trusted, want) in [(false, remote().ip()), (true, "203.0.113.9".parse().unwrap())] {
            let mut service = MockTrackerService::new();
            service
                .expect_announce()
                .withf(move |_, ip| *ip == want)
                .times(1)
                .returning(|_, _| Err(Refusal::PortZero));
            let request = Request::get(ANNOUNCE)
                .header("X-Real-IP", "203.0.113.9")
                .body(Empty::new())
                .unwrap();
            send(service, trusted, request).await;
        }
    }

    #[tokio::test]
    async fn scrape_is_served_and_a_bare_announce_is_a_failure_not_a_404() {
        let mut service = MockTrackerService::new();
        service.expect_scrape().times(1).returning(|_| Ok(ScrapeResponse { files: Vec::new() }));
        let (status, _, body) =
            send(service, false, get("/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa")).await;
        assert_eq!((status, body), (200, b"d5:filesdee".to_vec()));
        for bare in ["/announce", "/announce/"] {
            let (status, _, body) = send(MockTrackerService::new(), false, get(bare)).await;
            assert_eq!((status, body), (200, b"d14:failure reason17:missing info_hashe".to_vec()));
        }
    }

    #[tokio::test]
    async fn other_methods_on_the_endpoints_are_405() {
        for method in [Method::POST, Method::HEAD, Method::PUT] {
            let request = Request::builder().method(method).uri(ANNOUNCE).body(Empty::new());
            let (status, _, _) = send(MockTrackerService::new(), false, request.unwrap()).await;
            assert_eq!(status, 405);
        }
    }

    #[tokio::test]
    async fn everything_else_goes_to_the_warp_routes() {
        let mut service = MockTrackerService::new();
        service.expect_is_available().return_const(true);
        let (status, _, body) = send(service, false, get("/healthz")).await;
        assert_eq!((status, body), (200, b"ok\n".to_vec()));
        for path in ["/favicon.ico", "/announcex", "/scrapes", "/", "/announce//"] {
            let (status, _, _) = send(MockTrackerService::new(), false, get(path)).await;
            assert_eq!(status, 404, "{path}");
        }
    }
}
