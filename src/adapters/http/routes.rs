//! The warp routes for what is not a tracker endpoint: `/healthz` (503 while the store does
//! not answer); `/metrics` when metrics are on; `/stats` and `/stats.json` when the status
//! page is on; warp answers 404 elsewhere. `/announce` and `/scrape` never get here (see
//! `dispatch`).

use std::sync::Arc;

use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::ports::{MetricsReport, StatusReport, TrackerService};

/// The optional pages the routes serve: each is 404 when it is none.
#[derive(Clone, Default)]
pub struct Pages {
    pub metrics: Option<Arc<dyn MetricsReport>>,
    pub status: Option<Arc<dyn StatusReport>>,
}

/// `/healthz` for `tracker`, and the `pages` there are.
pub fn routes(
    tracker: Arc<dyn TrackerService>,
    pages: Pages,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let health = warp::path!("healthz").and(warp::get()).map(move || {
        if tracker.is_available() {
            return text(b"ok\n".to_vec(), "text/plain");
        }
        let mut response = text(b"storage unavailable\n".to_vec(), "text/plain");
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    });
    let report = pages.metrics;
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
    let html = status_route(warp::path!("stats"), pages.status.clone(), |status| {
        (status.html(), "text/html; charset=utf-8")
    });
    let json = status_route(warp::path!("stats.json"), pages.status, |status| {
        (status.json(), "application/json")
    });
    health.or(metrics).unify().or(html).unify().or(json).unify()
}

/// `path`, answered with what `render` makes of `status`, or 404 without one. Rendering walks
/// the torrents now and then, so it runs on a blocking thread, away from announces.
fn status_route(
    path: impl Filter<Extract = (), Error = Rejection> + Clone,
    status: Option<Arc<dyn StatusReport>>,
    render: fn(&dyn StatusReport) -> (String, &'static str),
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    path.and(warp::get()).and_then(move || {
        let status = status.clone();
        async move {
            let Some(status) = status else {
                return Err(warp::reject::not_found());
            };
            match tokio::task::spawn_blocking(move || render(status.as_ref())).await {
                Ok((body, content_type)) => {
                    let mut response = text(body.into_bytes(), content_type);
                    // The page refreshes itself; a cached copy would show old figures.
                    response
                        .headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    Ok(response)
                }
                Err(_) => Err(warp::reject::not_found()),
            }
        }
    })
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

    struct FixedStatus;

    impl StatusReport for FixedStatus {
        fn html(&self) -> String {
            "<p>2 torrents</p>".into()
        }

        fn json(&self) -> String {
            "{\"torrents\":2}".into()
        }
    }

    #[tokio::test]
    async fn metrics_are_served_only_when_on() {
        let off = routes(tracker(true), Pages::default());
        assert_eq!(warp::test::request().path("/metrics").reply(&off).await.status(), 404);
        let on =
            routes(tracker(true), Pages { metrics: Some(Arc::new(FixedReport)), status: None });
        let reply = warp::test::request().path("/metrics").reply(&on).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()[CONTENT_TYPE], "text/plain; version=0.0.4");
        assert_eq!(reply.body().as_ref(), b"requests 3\n");
    }

    #[tokio::test]
    async fn the_status_page_is_served_only_when_on() {
        let off = routes(tracker(true), Pages::default());
        for path in ["/stats", "/stats.json"] {
            assert_eq!(warp::test::request().path(path).reply(&off).await.status(), 404);
        }
        let on =
            routes(tracker(true), Pages { metrics: None, status: Some(Arc::new(FixedStatus)) });
        let page = warp::test::request().path("/stats").reply(&on).await;
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(page.body().as_ref(), b"<p>2 torrents</p>");
        let json = warp::test::request().path("/stats.json").reply(&on).await;
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(json.body().as_ref(), b"{\"torrents\":2}");
    }

    #[tokio::test]
    async fn healthz_says_ok() {
        let reply = warp::test::request()
            .path("/healthz")
            .reply(&routes(tracker(true), Pages::default()))
            .await;
        assert_eq!((reply.status().as_u16(), reply.body().as_ref()), (200, &b"ok\n"[..]));
    }

    #[tokio::test]
    async fn healthz_is_503_while_the_store_does_not_answer() {
        let reply = warp::test::request()
            .path("/healthz")
            .reply(&routes(tracker(false), Pages::default()))
            .await;
        assert_eq!(reply.status().as_u16(), 503);
        assert_eq!(reply.body().as_ref(), b"storage unavailable\n");
    }

    #[tokio::test]
    async fn anything_else_is_404() {
        let routes = routes(tracker(true), Pages::default());
        let reply = warp::test::request().path("/favicon.ico").reply(&routes).await;
        assert_eq!(reply.status(), 404);
    }
}
