//! The warp routes for what is not a tracker endpoint: `/healthz` (503 while the store does
//! not answer), and `/metrics` when metrics are on; warp answers 404 elsewhere. `/announce` and `/scrape` never get here (see
//! `dispatch`).

use std::sync::Arc;

use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::ports::{MetricsReport, TrackerService};

/// `/healthz` for `tracker`, and `/metrics` when there is a `report` to serve.
pub fn routes(
    tracker: Arc<dyn TrackerService>,
    report: Option<Arc<dyn MetricsReport>>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let health = warp::path!("healthz").and(warp::get()).map(move || {
        if tracker.is_available() {
            return text(b"ok\n".to_vec(), "text/plain");
        }
        let mut response = text(b"storage unavailable\n".to_vec(), "text/plain");
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    });
    let metrics = warp::path!("metrics").and(warp::get()).and_then(move || {
        let report = report.clone();
        async move {
            match report {
                Some(report) => {
                    let (body, content_type) = report.render();
                    Ok(text(body.into_bytes(), content_type))
                }
                None => Err(warp::reject::not_found()),
            }
        }
    });
    health.or(metrics).unify()
}

fn text(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::tracker_service::MockTrackerService;

    /// A tracker whose store answers, or not.
    fn tracker(available: bool) -> Arc<dyn TrackerService> {
        let mut tracker = MockTrackerService::new();
        tracker.expect_is_available().return_const(available);
        Arc::new(tracker)
    }

    struct FixedReport;

    impl MetricsReport for FixedReport {
        fn render(&self) -> (String, &'static str) {
            ("requests 3\n".into(), "text/plain; version=0.0.4")
        }
    }

    #[tokio::test]
    async fn metrics_are_served_only_when_on() {
        let off = routes(tracker(true), None);
        assert_eq!(warp::test::request().path("/metrics").reply(&off).await.status(), 404);
        let on = routes(tracker(true), Some(Arc::new(FixedReport)));
        let reply = warp::test::request().path("/metrics").reply(&on).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()[CONTENT_TYPE], "text/plain; version=0.0.4");
        assert_eq!(reply.body().as_ref(), b"requests 3\n");
    }

    #[tokio::test]
    async fn healthz_says_ok() {
        let reply =
            warp::test::request().path("/healthz").reply(&routes(tracker(true), None)).await;
        assert_eq!((reply.status().as_u16(), reply.body().as_ref()), (200, &b"ok\n"[..]));
    }

    #[tokio::test]
    async fn healthz_is_503_while_the_store_does_not_answer() {
        let reply =
            warp::test::request().path("/healthz").reply(&routes(tracker(false), None)).await;
        assert_eq!(reply.status().as_u16(), 503);
        assert_eq!(reply.body().as_ref(), b"storage unavailable\n");
    }

    #[tokio::test]
    async fn anything_else_is_404() {
        let reply =
            warp::test::request().path("/favicon.ico").reply(&routes(tracker(true), None)).await;
        assert_eq!(reply.status(), 404);
    }
}
