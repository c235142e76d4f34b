//! The HTTP/1.1 server loop: accepts connections and runs the warp routes on each.
//!
//! A small accept loop of our own instead of `warp::serve`, for two things warp does not do:
//! a header-read timeout, so a client that sends half a request cannot hold its connection
//! (and shutdown) forever, and a shutdown deadline for connections that will not finish.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_service::Service;
use warp::http::Request;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::client_ip;
use super::routes::ClientIp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// Take the client's address from `X-Real-IP` (set by a trusted reverse proxy).
    pub trust_x_real_ip: bool,
    /// A connection that has not sent a whole request head within this is closed.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight before it drops them.
    pub shutdown_grace: Duration,
}

/// Serves `routes` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish for up to `shutdown_grace`.
pub async fn serve<F>(
    listener: TcpListener,
    routes: F,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
{
    let service = warp::service(routes);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: send them at once.
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let trust = settings.trust_x_real_ip;
        let per_request = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let ip = client_ip::resolve(remote, request.headers().get("x-real-ip"), trust);
            request.extensions_mut().insert(ClientIp(ip));
            service.clone().call(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), per_request));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote, %error, "connection closed with an error");
            }
        });
    }

    drop(listener);
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace period over; dropping connections still open");
    }
}

/// Binds a listening socket. The unspecified IPv6 address is bound dual-stack, so one socket
/// serves IPv4 and IPv6 clients alike (IPv4 ones arrive as `::ffff:a.b.c.d`).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};

    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    // Lets a restarted tracker bind again while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}
