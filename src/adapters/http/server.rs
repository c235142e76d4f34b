//! The HTTP/1.1 server loop: accepts connections and answers their requests through `Dispatch`.
//!
//! A small accept loop of our own instead of `warp::serve`, for what warp does not do:
//! - a watchdog, so a client that sends half a request, or nothing, cannot hold its
//!   connection (and shutdown) forever;
//! - a cap on connections open at once, in all and from one address, and on the size of a
//!   request head;
//! - a shutdown that closes connections between requests at once, and gives up on those that
//!   will not finish after a deadline;
//! - a connection's first request answered straight from the socket when it can be
//!   (`first_read`), which is most of the cost for clients that connect once per announce.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;
use warp::http::{Request, Response};

use super::accept::Listener;
use super::address_cap::{AddressCap, AddressSlot};
use super::dispatch::Dispatch;
use super::first_read::{self, Next};
use super::log_throttle::LogThrottle;
use super::prefixed::Prefixed;
use super::watchdog::{self, Activity};
use crate::ports::Metrics;
use crate::ports::metrics::ConnectionRefusal;

/// How often a warning that can recur on every accept is logged at most: the tracker held at
/// its connection cap, an address refused at its own, an accept that failed.
const WARNING_EVERY: Duration = Duration::from_secs(60);
/// How long the loop waits after a failed accept (out of file descriptors, most likely)
/// before it tries again, rather than spin.
const ACCEPT_RETRY_AFTER: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSettings {
    /// A connection that sends no whole request head for this long, with no answer in the
    /// works, is closed: checked once a period, so it goes after one to two periods. This
    /// covers a client that sends nothing, a slow loris, and a keep-alive connection left idle.
    pub header_read_timeout: Duration,
    /// Connections served at once; past it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 /64); past it, a new one is closed
    /// as soon as it is accepted. `None`: no such cap.
    pub max_connections_per_ip: Option<NonZeroUsize>,
    /// Bytes of request line and headers accepted; a longer head is answered 431 and closed.
    pub max_header_bytes: usize,
    /// How long shutdown waits for requests in flight before it drops them.
    pub shutdown_grace: Duration,
}

/// The accept loop's warnings, each logged at most once per `WARNING_EVERY`.
struct Warnings {
    full: LogThrottle,
    address_cap: LogThrottle,
    accept_failed: LogThrottle,
}

/// Serves `dispatch` on `listener` until `shutdown` resolves. Then connections with no request
/// in flight close at once, and those with one get up to `shutdown_grace` to answer it.
pub async fn serve<S, R>(
    listener: TcpListener,
    dispatch: Dispatch<S>,
    settings: ServerSettings,
    metrics: Arc<dyn Metrics>,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<R>, Error = Infallible>,
    S: Clone + Send + Sync + 'static,
    S::Future: Send,
    R: hyper::body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = match Listener::new(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "the listening socket cannot be watched; not serving HTTP");
            return;
        }
    };
    let dispatch = Arc::new(dispatch);
    let mut http = http1::Builder::new();
    http.max_header_size(settings.max_header_bytes)
        // The read buffer need not outgrow the largest head we accept (hyper's floor is 8 KiB).
        .max_buf_size(settings.max_header_bytes.max(8192));
    let http = Arc::new(http);
    // Every connection task holds a receiver: `closed` resolves once all have ended.
    let (stopping, stop_watch) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let address_cap = settings.max_connections_per_ip.map(AddressCap::new);
    let mut warnings = Warnings {
        full: LogThrottle::new(WARNING_EVERY),
        address_cap: LogThrottle::new(WARNING_EVERY),
        accept_failed: LogThrottle::new(WARNING_EVERY),
    };
    tokio::pin!(shutdown);

    loop {
        // A slot first, then a connection: at the cap nothing is accepted, and clients queue
        // in the kernel's listen backlog rather than being turned away. Every slot frees within
        // two `header_read_timeout`s of its connection going quiet, so the wait is bounded.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if warnings.full.occurred(Instant::now()).is_some() {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if let Some(not_logged) = warnings.accept_failed.occurred(Instant::now()) {
                        tracing::warn!(
                            %error,
                            failures_not_logged = not_logged,
                            "accepting a connection failed; if the open file limit was \
                             reached, raise it or lower MAX_CONNECTIONS (docs/limits.md)"
                        );
                    }
                    tokio::time::sleep(ACCEPT_RETRY_AFTER).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let address_slot = match &address_cap {
            None => None,
            Some(cap) => match cap.admit(remote.ip()) {
                Some(address_slot) => Some(address_slot),
                None => {
                    // Dropped unread: the client sees the connection closed at once.
                    drop(stream);
                    metrics.connection_refused(ConnectionRefusal::AddressCap);
                    if let Some(not_logged) = warnings.address_cap.occurred(Instant::now()) {
                        tracing::warn!(
                            address = %remote.ip(),
                            max_connections_per_ip = settings.max_connections_per_ip,
                            refusals_not_logged = not_logged,
                            "an address has as many connections open as it may; its new ones \
                             are closed at once"
                        );
                    }
                    continue;
                }
            },
        };
        let held = Held { slot, address_slot, stop_watch: stop_watch.clone() };
        let connection = Connection {
            http: http.clone(),
            dispatch: dispatch.clone(),
            quiet_after: settings.header_read_timeout,
            max_header_bytes: settings.max_header_bytes,
        };
        connection.spawn(stream, remote, held, metrics.clone());
    }

    drop(listener);
    drop(stop_watch);
    let _ = stopping.send(true);
    if tokio::time::timeout(settings.shutdown_grace, stopping.closed()).await.is_err() {
        tracing::warn!("shutdown grace period over; dropping connections still open");
    }
}

/// What a connection holds until it ends: its places under the caps, and a receiver of the
/// shutdown signal (whose drop tells shutdown it has ended).
struct Held {
    slot: OwnedSemaphorePermit,
    address_slot: Option<AddressSlot>,
    stop_watch: watch::Receiver<bool>,
}

/// Resolves once shutdown has begun.
async fn stopping(stop_watch: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens once the loop has ended.
    let _ = stop_watch.wait_for(|stopping| *stopping).await;
}

/// What a connection is served with.
struct Connection<S> {
    http: Arc<http1::Builder>,
    dispatch: Arc<Dispatch<S>>,
    quiet_after: Duration,
    max_header_bytes: usize,
}

impl<S, R> Connection<S>
where
    S: Service<Request<Incoming>, Response = Response<R>, Error = Infallible>,
    S: Clone + Send + Sync + 'static,
    S::Future: Send,
    R: hyper::body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Serves `stream` in a task of its own until it closes, goes quiet, or shutdown comes.
    fn spawn(
        self,
        accepted: std::net::TcpStream,
        remote: SocketAddr,
        held: Held,
        metrics: Arc<dyn Metrics>,
    ) {
        let shared = Arc::new((self.dispatch, Activity::default()));
        let per_request = {
            let shared = shared.clone();
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let shared = shared.clone();
                shared.1.begin();
                let work = shared.0.work(request, remote);
                async move {
                    let (dispatch, activity) = &*shared;
                    let answer = dispatch.answer(work).await;
                    activity.end();
                    Ok::<_, Infallible>(answer)
                }
            })
        };
        let http = self.http;
        let quiet_after = self.quiet_after;
        let max_header_bytes = self.max_header_bytes;
        metrics.connection_opened();
        tokio::spawn(async move {
            let Held { slot, address_slot, mut stop_watch } = held;
            let (dispatch, activity) = &*shared;
            // One watchdog for every wait below, so sending the first byte buys no time. It
            // arms its timer when first polled: `biased` selects poll it only when the socket
            // has made them wait, so a connection answered at once never arms one.
            let quiet = watchdog::quiet(activity, quiet_after);
            tokio::pin!(quiet);
            // The request has usually come with the connection: answered at once, and closed
            // if the client asked, the socket never meets the runtime's poller.
            let mut next = first_read::serve(
                |buffer| (&accepted).read(buffer),
                |answer| (&accepted).write(answer),
                dispatch,
                activity,
                max_header_bytes,
                remote,
            )
            .await;
            let mut stream = match next {
                Next::Done => {
                    drop(accepted);
                    None
                }
                _ => TcpStream::from_std(accepted).ok(),
            };
            // Until the client sends something, the connection holds no buffer: hyper gives
            // one 16 KiB as it starts serving, and the first read is on the stack.
            while let (Next::Wait, Some(waiting)) = (&next, &stream) {
                let readable = tokio::select! {
                    biased;
                    readable = waiting.readable() => readable.is_ok(),
                    () = &mut quiet => {
                        tracing::debug!(%remote, "closed a connection that sent nothing");
                        false
                    }
                    () = stopping(&mut stop_watch) => false,
                };
                next = if readable {
                    first_read::serve(
                        |buffer| waiting.try_read(buffer),
                        |answer| waiting.try_write(answer),
                        dispatch,
                        activity,
                        max_header_bytes,
                        remote,
                    )
                    .await
                } else {
                    Next::Done
                };
            }
            let for_hyper = match (next, &mut stream) {
                (Next::Hyper(read), _) => Some(read),
                (Next::Write { pending, then }, Some(stream)) => {
                    let written = tokio::select! {
                        biased;
                        written = stream.write_all(&pending) => written.is_ok(),
                        () = &mut quiet => false,
                    };
                    then.filter(|_| written)
                }
                _ => None,
            };
            if let (Some(read), Some(stream)) = (for_hyper, stream) {
                // Answers are small and written whole: send them at once. (An answer written
                // alone, as the first one, goes at once anyway: this saves a connection
                // answered by `first_request` a syscall.)
                let _ = stream.set_nodelay(true);
                let stream = TokioIo::new(Prefixed::new(read, stream));
                let connection = http.serve_connection(stream, per_request);
                tokio::pin!(connection);
                tokio::select! {
                    closed = connection.as_mut() => if let Err(error) = closed {
                        tracing::debug!(%remote, %error, "connection closed with an error");
                    },
                    () = &mut quiet => {
                        tracing::debug!(%remote, "closed a connection gone quiet");
                    }
                    () = stopping(&mut stop_watch) => {
                        // Between requests nothing is lost by closing now; a request in
                        // flight is answered first, and then the connection closes.
                        if activity.in_progress() {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                }
            }
            metrics.connection_closed();
            drop((slot, address_slot, stop_watch));
        });
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
    defer_accept(&socket)?;
    TcpListener::from_std(socket.into())
}

/// Has the kernel hand over a connection once its first data has come, not at the end of the
/// handshake (`TCP_DEFER_ACCEPT`): a connection per announce then costs one wake-up, with the
/// request there to read, and 1.5x the requests per CPU second (docs/versus.md). A client
/// that sends nothing is handed over anyway after `DEFER_ACCEPT_SECS` (when it acknowledges
/// the kernel's resent handshake), and the watchdog closes it as before; until then it holds
/// no task, slot or buffer of the tracker's, only the kernel's handshake entry, which the
/// listen backlog bounds.
#[cfg(target_os = "linux")]
fn defer_accept(socket: &socket2::Socket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;

    const DEFER_ACCEPT_SECS: libc::c_int = 1;
    // SAFETY: the option value is a live `c_int` of the length given, read by the kernel
    // during the call only, and the descriptor is the socket's own.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&DEFER_ACCEPT_SECS as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn defer_accept(_socket: &socket2::Socket) -> std::io::Result<()> {
    Ok(())
}
