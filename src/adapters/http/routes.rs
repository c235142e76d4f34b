//! The warp routes: `GET /announce` and `GET /scrape`, each answered with bencode.
//!
//! Every answer to a request the tracker understood is HTTP 200, failures included: clients
//! read the bencoded `failure reason` and show it to their user. Unknown paths are 404.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::query::{self, RequestError};
use super::render::{self, PeerFormat};
use crate::domain::announce::Refusal;
use crate::ports::metrics::{FailureKind, RequestOutcome, Route};
use crate::ports::{Metrics, MetricsReport, TrackerService};

/// Limits on what a request may ask, named in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_query_length: usize,
    pub max_scrape_hashes: usize,
}

/// The client's address as the server worked it out for this request (see `client_ip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub Result<IpAddr, RequestError>);

/// What the routes serve from.
#[derive(Clone)]
pub struct Backends {
    pub tracker: Arc<dyn TrackerService>,
    pub metrics: Arc<dyn Metrics>,
    /// `/metrics` is served only when this is set.
    pub report: Option<Arc<dyn MetricsReport>>,
}

/// `/announce`, `/scrape`, `/healthz`, and `/metrics` when metrics are on; 404 elsewhere.
pub fn routes(
    backends: Backends,
    limits: RequestLimits,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // One reference count per request rather than one per backend.
    let backends = Arc::new(backends);
    let with_backends = warp::any().map(move || backends.clone());
    let announce = warp::path!("announce")
        .and(warp::get())
        .and(raw_query())
        .and(warp::ext::optional::<ClientIp>())
        .and(with_backends.clone())
        .then(move |query: String, client: Option<ClientIp>, backends: Arc<Backends>| async move {
            let started = Instant::now();
            let (response, outcome) =
                announce(backends.tracker.as_ref(), limits, &query, client).await;
            backends.metrics.request(outcome, started.elapsed());
            response
        });
    let scrape =
        warp::path!("scrape").and(warp::get()).and(raw_query()).and(with_backends.clone()).map(
            move |query: String, backends: Arc<Backends>| {
                let started = Instant::now();
                let (response, outcome) = scrape(backends.tracker.as_ref(), limits, &query);
                backends.metrics.request(outcome, started.elapsed());
                response
            },
        );
    let health = warp::path!("healthz")
        .and(warp::get())
        .map(|| text(StatusCode::OK, b"ok\n".to_vec(), "text/plain"));
    let metrics = warp::path!("metrics").and(warp::get()).and(with_backends).and_then(
        |backends: Arc<Backends>| async move {
            match &backends.report {
                Some(report) => {
                    let (body, content_type) = report.render();
                    Ok(text(StatusCode::OK, body.into_bytes(), content_type))
                }
                None => Err(warp::reject::not_found()),
            }
        },
    );
    announce.or(scrape).unify().or(health).unify().or(metrics).unify()
}

/// The raw query string, or an empty one when the URL has no `?`, so that a bare
/// `/announce` gets a failure reason rather than a rejection.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

async fn announce(
    tracker: &dyn TrackerService,
    limits: RequestLimits,
    query: &str,
    client: Option<ClientIp>,
) -> (Response, RequestOutcome) {
    let mut outcome = RequestOutcome { route: Route::Announce, event: None, failure: None };
    let parsed = query::check_length(query, limits.max_query_length)
        .and_then(|()| query::parse_announce(query))
        .and_then(|parsed| Ok((parsed, client_ip(client)?)));
    let (parsed, ip) = match parsed {
        Ok(ok) => ok,
        Err(error) => return failure(&error.to_string(), request_failure(&error), outcome),
    };
    let format = if parsed.compact {
        PeerFormat::Compact
    } else {
        PeerFormat::Dictionary { with_peer_id: !parsed.no_peer_id }
    };
    let info_hash = parsed.request.info_hash;
    let event = parsed.request.event;
    outcome.event = Some(event);
    match tracker.announce(parsed.request, ip).await {
        Ok(response) => {
            tracing::debug!(%ip, %info_hash, ?event, peers = response.peers.len(), "announce");
            (bencoded(render::announce(&response, format)), outcome)
        }
        Err(refusal) => failure(&refusal.to_string(), refusal_failure(&refusal), outcome),
    }
}

fn scrape(
    tracker: &dyn TrackerService,
    limits: RequestLimits,
    query: &str,
) -> (Response, RequestOutcome) {
    let outcome = RequestOutcome { route: Route::Scrape, event: None, failure: None };
    let hashes = query::check_length(query, limits.max_query_length)
        .and_then(|()| query::parse_scrape(query, limits.max_scrape_hashes));
    match hashes {
        Ok(hashes) => {
            tracing::debug!(torrents = hashes.len(), "scrape");
            (bencoded(render::scrape(&tracker.scrape(&hashes))), outcome)
        }
        Err(error) => failure(&error.to_string(), request_failure(&error), outcome),
    }
}

fn client_ip(client: Option<ClientIp>) -> Result<IpAddr, RequestError> {
    // The server always sets it; without it there is no address to hand out.
    client.map_or(Err(RequestError::Missing("client address")), |ClientIp(ip)| ip)
}

fn request_failure(error: &RequestError) -> FailureKind {
    match error {
        RequestError::Missing(_) => FailureKind::MissingField,
        RequestError::WrongLength { .. }
        | RequestError::Invalid { .. }
        | RequestError::UnknownEvent(_) => FailureKind::InvalidField,
        RequestError::TooLong { .. } => FailureKind::QueryTooLong,
        RequestError::TooManyHashes { .. } => FailureKind::TooManyHashes,
        RequestError::BadRealIp => FailureKind::BadRealIp,
    }
}

fn refusal_failure(refusal: &Refusal) -> FailureKind {
    match refusal {
        Refusal::PortZero => FailureKind::PortZero,
        Refusal::TorrentLimit(_) => FailureKind::TorrentLimit,
        // The address came from `ip=` or `X-Real-IP`: a bad field, as far as counting goes.
        Refusal::UnusableAddress(_) => FailureKind::InvalidField,
    }
}

fn failure(reason: &str, kind: FailureKind, outcome: RequestOutcome) -> (Response, RequestOutcome) {
    tracing::debug!(reason, route = ?outcome.route, "refused");
    (bencoded(render::failure(reason)), RequestOutcome { failure: Some(kind), ..outcome })
}

fn bencoded(body: Vec<u8>) -> Response {
    text(StatusCode::OK, body, "text/plain")
}

fn text(status: StatusCode, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mockall::predicate::eq;

    use super::*;
    use crate::domain::announce::{AnnounceResponse, Refusal};
    use crate::domain::ids::InfoHash;
    use crate::domain::peer::{Event, PeerList};
    use crate::domain::scrape::ScrapeResponse;
    use crate::domain::swarm::SwarmStats;
    use crate::ports::metrics::{MockMetrics, NoMetrics};
    use crate::ports::tracker_service::MockTrackerService;

    const LIMITS: RequestLimits = RequestLimits { max_query_length: 512, max_scrape_hashes: 3 };
    const ANNOUNCE: &str = "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
                            &port=6881&uploaded=0&downloaded=0&left=0&event=started";

    /// The service under test, with metrics that accept anything.
    fn backends(service: MockTrackerService) -> Backends {
        Backends { tracker: Arc::new(service), metrics: Arc::new(NoMetrics), report: None }
    }

    fn client() -> ClientIp {
        ClientIp(Ok("192.0.2.4".parse().unwrap()))
    }

    async fn get(service: MockTrackerService, path: &str) -> (u16, Vec<u8>) {
        let filter = routes(backends(service), LIMITS);
        let reply = warp::test::request().path(path).extension(client()).reply(&filter).await;
        (reply.status().as_u16(), reply.body().to_vec())
    }

    #[tokio::test]
    async fn announce_passes_the_request_and_address_to_the_service() {
        let mut service = MockTrackerService::new();
        service
            .expect_announce()
            .withf(|request, ip| {
                request.info_hash == InfoHash([b'a'; 20])
                    && request.event == Event::Started
                    && *ip == "192.0.2.4".parse::<IpAddr>().unwrap()
            })
            .times(1)
            .returning(|_, _| {
                Ok(AnnounceResponse {
                    interval: Duration::from_secs(30),
                    min_interval: Duration::from_secs(15),
                    stats: SwarmStats { complete: 1, incomplete: 0, downloaded: 0 },
                    peers: PeerList::default(),
                })
            });
        let (status, body) = get(service, ANNOUNCE).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            b"d8:completei1e10:downloadedi0e10:incompletei0e8:intervali30e12:min intervali15e5:peers0:e"
        );
    }

    #[tokio::test]
    async fn a_refusal_becomes_a_failure_reason() {
        let mut service = MockTrackerService::new();
        service.expect_announce().returning(|_, _| Err(Refusal::PortZero));
        let (status, body) = get(service, ANNOUNCE).await;
        assert_eq!(status, 200);
        assert_eq!(body, render::failure(&Refusal::PortZero.to_string()));
    }

    #[tokio::test]
    async fn a_bad_query_never_reaches_the_service() {
        let mut service = MockTrackerService::new();
        service.expect_announce().never();
        let (status, body) = get(service, "/announce?info_hash=short").await;
        assert_eq!(status, 200);
        assert_eq!(body, b"d14:failure reason42:invalid info_hash: must be 20 bytes, got 5e");
    }

    #[tokio::test]
    async fn no_query_at_all_is_a_failure_not_a_rejection() {
        let (status, body) = get(MockTrackerService::new(), "/announce").await;
        assert_eq!((status, body), (200, b"d14:failure reason17:missing info_hashe".to_vec()));
    }

    #[tokio::test]
    async fn an_overlong_query_is_refused() {
        let path = format!("{ANNOUNCE}&pad={}", "x".repeat(600));
        let (_, body) = get(MockTrackerService::new(), &path).await;
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("request too long"), "{text}");
    }

    #[tokio::test]
    async fn a_bad_client_address_is_a_failure() {
        let mut service = MockTrackerService::new();
        service.expect_announce().never();
        let filter = routes(backends(service), LIMITS);
        let reply = warp::test::request()
            .path(ANNOUNCE)
            .extension(ClientIp(Err(RequestError::BadRealIp)))
            .reply(&filter)
            .await;
        assert_eq!(
            reply.body().as_ref(),
            b"d14:failure reason48:invalid X-Real-IP header: expected an IP addresse"
        );
    }

    #[tokio::test]
    async fn scrape_answers_per_hash() {
        let mut service = MockTrackerService::new();
        let hash = InfoHash([b'a'; 20]);
        service.expect_scrape().with(eq(vec![hash, hash])).times(1).returning(move |_| {
            ScrapeResponse {
                files: vec![(hash, SwarmStats { complete: 3, incomplete: 4, downloaded: 5 })],
            }
        });
        let path = "/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=aaaaaaaaaaaaaaaaaaaa";
        let (status, body) = get(service, path).await;
        assert_eq!(status, 200);
        let want = format!(
            "d5:filesd20:{}d8:completei3e10:downloadedi5e10:incompletei4eeee",
            "a".repeat(20)
        );
        assert_eq!(body, want.as_bytes());
    }

    #[tokio::test]
    async fn scrape_limits_hashes() {
        let path = format!("/scrape?{}", ["info_hash=aaaaaaaaaaaaaaaaaaaa"; 4].join("&"));
        let (_, body) = get(MockTrackerService::new(), &path).await;
        assert_eq!(body, render::failure("too many info_hash values: 4, the limit is 3"));
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_posts_are_not_served() {
        let (status, _) = get(MockTrackerService::new(), "/favicon.ico").await;
        assert_eq!(status, 404);
        let filter = routes(backends(MockTrackerService::new()), LIMITS);
        let reply = warp::test::request().method("POST").path(ANNOUNCE).reply(&filter).await;
        assert_eq!(reply.status().as_u16(), 405);
    }

    #[tokio::test]
    async fn answers_are_text_plain() {
        let filter = routes(backends(MockTrackerService::new()), LIMITS);
        let reply = warp::test::request().path("/scrape").reply(&filter).await;
        assert_eq!(reply.headers()[CONTENT_TYPE], "text/plain");
    }

    #[tokio::test]
    async fn each_request_is_measured_with_its_outcome() {
        let mut service = MockTrackerService::new();
        service.expect_announce().returning(|_, _| Err(Refusal::TorrentLimit(1)));
        let mut metrics = MockMetrics::new();
        let refused = RequestOutcome {
            route: Route::Announce,
            event: Some(Event::Started),
            failure: Some(FailureKind::TorrentLimit),
        };
        metrics
            .expect_request()
            .withf(move |outcome, _| *outcome == refused)
            .times(1)
            .return_const(());
        let unread = RequestOutcome {
            route: Route::Scrape,
            event: None,
            failure: Some(FailureKind::MissingField),
        };
        metrics
            .expect_request()
            .withf(move |outcome, _| *outcome == unread)
            .times(1)
            .return_const(());
        let backends =
            Backends { tracker: Arc::new(service), metrics: Arc::new(metrics), report: None };
        let filter = routes(backends, LIMITS);
        for path in [ANNOUNCE, "/scrape"] {
            warp::test::request().path(path).extension(client()).reply(&filter).await;
        }
    }

    struct FixedReport;

    impl MetricsReport for FixedReport {
        fn render(&self) -> (String, &'static str) {
            ("requests 3\n".into(), "text/plain; version=0.0.4")
        }
    }

    #[tokio::test]
    async fn metrics_are_served_only_when_on() {
        let off = routes(backends(MockTrackerService::new()), LIMITS);
        assert_eq!(warp::test::request().path("/metrics").reply(&off).await.status(), 404);
        let on =
            Backends { report: Some(Arc::new(FixedReport)), ..backends(MockTrackerService::new()) };
        let reply = warp::test::request().path("/metrics").reply(&routes(on, LIMITS)).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()[CONTENT_TYPE], "text/plain; version=0.0.4");
        assert_eq!(reply.body().as_ref(), b"requests 3\n");
    }

    #[tokio::test]
    async fn healthz_says_ok() {
        let filter = routes(backends(MockTrackerService::new()), LIMITS);
        let reply = warp::test::request().path("/healthz").reply(&filter).await;
        assert_eq!((reply.status().as_u16(), reply.body().as_ref()), (200, &b"ok\n"[..]));
    }
}
