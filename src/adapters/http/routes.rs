//! The warp routes for what is not a tracker endpoint: `/healthz`, and `/metrics` when
//! metrics are on; warp answers 404 elsewhere. `/announce` and `/scrape` never get here (see
//! `dispatch`).

use std::sync::Arc;

use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::ports::MetricsReport;

/// `/healthz`, and `/metrics` when there is a `report` to serve.
pub fn routes(
    report: Option<Arc<dyn MetricsReport>>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let health =
        warp::path!("healthz").and(warp::get()).map(|| text(b"ok\n".to_vec(), "text/plain"));
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

    struct FixedReport;

    impl MetricsReport for FixedReport {
        fn render(&self) -> (String, &'static str) {
            ("requests 3\n".into(), "text/plain; version=0.0.4")
        }
    }

    #[tokio::test]
    async fn metrics_are_served_only_when_on() {
        let off = routes(None);
        assert_eq!(warp::test::request().path("/metrics").reply(&off).await.status(), 404);
        let on = routes(Some(Arc::new(FixedReport)));
        let reply = warp::test::request().path("/metrics").reply(&on).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()[CONTENT_TYPE], "text/plain; version=0.0.4");
        assert_eq!(reply.body().as_ref(), b"requests 3\n");
    }

    #[tokio::test]
    async fn healthz_says_ok() {
        let reply = warp::test::request().path("/healthz").reply(&routes(None)).await;
        assert_eq!((reply.status().as_u16(), reply.body().as_ref()), (200, &b"ok\n"[..]));
    }

    #[tokio::test]
    async fn anything_else_is_404() {
        let reply = warp::test::request().path("/favicon.ico").reply(&routes(None)).await;
        assert_eq!(reply.status(), 404);
    }
}
