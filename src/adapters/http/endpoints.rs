//! The tracker's two endpoints, `/announce` and `/scrape`, from query string to bencoded body.
//!
//! Every answer to a request the tracker understood is HTTP 200, failures included: clients
//! read the bencoded `failure reason` and show it to their user. So these return bodies only;
//! `dispatch` wraps them.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::query::{self, AnnounceQuery, RequestError};
use super::render::{self, PeerFormat};
use crate::ports::metrics::{FailureKind, FrontEnd, RequestOutcome, Route};
use crate::ports::{Metrics, TrackerService};

/// Limits on what a request may ask, named in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_query_length: usize,
    pub max_scrape_hashes: usize,
}

/// What the endpoints serve from, and the limits they hold requests to.
pub struct Endpoints {
    pub tracker: Arc<dyn TrackerService>,
    pub metrics: Arc<dyn Metrics>,
    pub limits: RequestLimits,
}

/// An announce as read from its request: what the answer needs, and nothing that borrows from
/// the request.
pub struct AnnounceCall {
    started: Instant,
    read: Result<(AnnounceQuery, IpAddr), RequestError>,
}

impl Endpoints {
    /// Reads an announce's query, from `client`, the address the server worked out for it.
    pub fn read_announce(&self, query: &str, client: Result<IpAddr, RequestError>) -> AnnounceCall {
        let started = Instant::now();
        let read = query::check_length(query, self.limits.max_query_length)
            .and_then(|()| query::parse_announce(query))
            .and_then(|parsed| Ok((parsed, client?)));
        AnnounceCall { started, read }
    }

    /// Answers an announce read by `read_announce`.
    pub async fn announce(&self, call: AnnounceCall) -> Vec<u8> {
        let (body, outcome) = self.announce_outcome(call.read).await;
        self.metrics.request(outcome, call.started.elapsed());
        body
    }

    pub async fn scrape(&self, query: &str) -> Vec<u8> {
        let started = Instant::now();
        let (body, outcome) = self.scrape_outcome(query).await;
        self.metrics.request(outcome, started.elapsed());
        body
    }

    async fn announce_outcome(
        &self,
        read: Result<(AnnounceQuery, IpAddr), RequestError>,
    ) -> (Vec<u8>, RequestOutcome) {
        let mut outcome = RequestOutcome {
            front_end: FrontEnd::Http,
            route: Route::Announce,
            event: None,
            failure: None,
        };
        let (parsed, ip) = match read {
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
        match self.tracker.announce(parsed.request, ip).await {
            Ok(response) => {
                let peers = response.peers.len() + response.upstream.len();
                tracing::debug!(%ip, %info_hash, ?event, peers, "announce");
                (render::announce(&response, format), outcome)
            }
            Err(refusal) => failure(&refusal.to_string(), FailureKind::from(&refusal), outcome),
        }
    }

    async fn scrape_outcome(&self, query: &str) -> (Vec<u8>, RequestOutcome) {
        let outcome = RequestOutcome {
            front_end: FrontEnd::Http,
            route: Route::Scrape,
            event: None,
            failure: None,
        };
        let hashes = query::check_length(query, self.limits.max_query_length)
            .and_then(|()| query::parse_scrape(query, self.limits.max_scrape_hashes));
        let hashes = match hashes {
            Ok(hashes) => hashes,
            Err(error) => return failure(&error.to_string(), request_failure(&error), outcome),
        };
        tracing::debug!(torrents = hashes.len(), "scrape");
        match self.tracker.scrape(&hashes).await {
            Ok(counts) => (render::scrape(&counts), outcome),
            Err(refusal) => failure(&refusal.to_string(), FailureKind::from(&refusal), outcome),
        }
    }
}

fn request_failure(error: &RequestError) -> FailureKind {
    match error {
        RequestError::Missing(_) => FailureKind::MissingField,
        RequestError::WrongLength { .. } | RequestError::Invalid { .. } => {
            FailureKind::InvalidField
        }
        RequestError::TooLong { .. } => FailureKind::QueryTooLong,
        RequestError::TooManyHashes { .. } => FailureKind::TooManyHashes,
        RequestError::BadRealIp => FailureKind::BadRealIp,
    }
}

fn failure(reason: &str, kind: FailureKind, outcome: RequestOutcome) -> (Vec<u8>, RequestOutcome) {
    tracing::debug!(reason, route = ?outcome.route, "refused");
    (render::failure(reason), RequestOutcome { failure: Some(kind), ..outcome })
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
    const ANNOUNCE: &str = "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
                            &port=6881&uploaded=0&downloaded=0&left=0&event=started";

    async fn announce(
        endpoints: &Endpoints,
        query: &str,
        client: Result<IpAddr, RequestError>,
    ) -> Vec<u8> {
        endpoints.announce(endpoints.read_announce(query, client)).await
    }

    /// The endpoints over `service`, with metrics that accept anything.
    fn endpoints(service: MockTrackerService) -> Endpoints {
        Endpoints { tracker: Arc::new(service), metrics: Arc::new(NoMetrics), limits: LIMITS }
    }

    fn client() -> Result<IpAddr, RequestError> {
        Ok("192.0.2.4".parse().unwrap())
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
                    stats: SwarmStats { complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 },
                    peers: PeerList::default(),
                    upstream: Default::default(),
                })
            });
        let body = announce(&endpoints(service), ANNOUNCE, client()).await;
        assert_eq!(
            body,
            b"d8:completei1e10:downloadedi0e10:incompletei0e8:intervali30e12:min intervali15e5:peers0:e"
        );
    }

    #[tokio::test]
    async fn a_refusal_becomes_a_failure_reason() {
        let mut service = MockTrackerService::new();
        service.expect_announce().returning(|_, _| Err(Refusal::PortZero));
        let body = announce(&endpoints(service), ANNOUNCE, client()).await;
        assert_eq!(body, render::failure(&Refusal::PortZero.to_string()));
    }

    #[tokio::test]
    async fn a_bad_query_never_reaches_the_service() {
        let mut service = MockTrackerService::new();
        service.expect_announce().never();
        let body = announce(&endpoints(service), "info_hash=short", client()).await;
        assert_eq!(body, b"d14:failure reason42:invalid info_hash: must be 20 bytes, got 5e");
    }

    #[tokio::test]
    async fn no_query_at_all_is_a_failure() {
        let body = announce(&endpoints(MockTrackerService::new()), "", client()).await;
        assert_eq!(body, b"d14:failure reason17:missing info_hashe");
    }

    #[tokio::test]
    async fn an_overlong_query_is_refused() {
        let query = format!("{ANNOUNCE}&pad={}", "x".repeat(600));
        let body = announce(&endpoints(MockTrackerService::new()), &query, client()).await;
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("request too long"), "{text}");
    }

    #[tokio::test]
    async fn a_bad_client_address_is_a_failure() {
        let mut service = MockTrackerService::new();
        service.expect_announce().never();
        let body = announce(&endpoints(service), ANNOUNCE, Err(RequestError::BadRealIp)).await;
        assert_eq!(body, b"d14:failure reason48:invalid X-Real-IP header: expected an IP addresse");
    }

    #[tokio::test]
    async fn scrape_answers_per_hash() {
        let mut service = MockTrackerService::new();
        let hash = InfoHash([b'a'; 20]);
        service.expect_scrape().with(eq(vec![hash, hash])).times(1).returning(move |_| {
            Ok(ScrapeResponse {
                files: vec![(
                    hash,
                    SwarmStats { complete: 3, incomplete: 4, downloaded: 5, downloaders: 4 },
                )],
            })
        });
        let query = "info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=aaaaaaaaaaaaaaaaaaaa";
        let body = endpoints(service).scrape(query).await;
        let want = format!(
            "d5:filesd20:{}d8:completei3e10:downloadedi5e11:downloadersi4e10:incompletei4eeee",
            "a".repeat(20)
        );
        assert_eq!(body, want.as_bytes());
    }

    #[tokio::test]
    async fn scrape_limits_hashes() {
        let query = ["info_hash=aaaaaaaaaaaaaaaaaaaa"; 4].join("&");
        let body = endpoints(MockTrackerService::new()).scrape(&query).await;
        assert_eq!(body, render::failure("too many info_hash values: 4, the limit is 3"));
    }

    #[tokio::test]
    async fn each_request_is_measured_with_its_outcome() {
        let mut service = MockTrackerService::new();
        service.expect_announce().returning(|_, _| Err(Refusal::TorrentLimit(1)));
        let mut metrics = MockMetrics::new();
        let refused = RequestOutcome {
            front_end: FrontEnd::Http,
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
            front_end: FrontEnd::Http,
            route: Route::Scrape,
            event: None,
            failure: Some(FailureKind::MissingField),
        };
        metrics
            .expect_request()
            .withf(move |outcome, _| *outcome == unread)
            .times(1)
            .return_const(());
        let endpoints =
            Endpoints { tracker: Arc::new(service), metrics: Arc::new(metrics), limits: LIMITS };
        announce(&endpoints, ANNOUNCE, client()).await;
        endpoints.scrape("").await;
    }
}
