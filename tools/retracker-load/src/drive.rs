//! The simulated clients: each owns a connection (HTTP) or a socket (UDP) and a disjoint set
//! of peers, and sends their requests, timing and checking every answer: over HTTP one after
//! another, over UDP a window of them at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fastrand::Rng;
use hdrhistogram::Histogram;

use crate::check;
use crate::connection::Connection;
use crate::udp_window::{UdpOptions, UdpWindow};
use crate::workload::{PeerState, RequestKind, Workload};

/// How long a connection may sit unused before it is replaced rather than reused.
const IDLE_REOPEN: Duration = Duration::from_secs(5);

/// What one phase of the run recorded.
pub struct Stats {
    /// Microseconds from (intended) send to the end of the answer.
    pub latency: Histogram<u64>,
    pub answered: u64,
    pub errors: BTreeMap<String, u64>,
    pub announces: u64,
    pub announce_body_bytes: u64,
    pub peers_received: u64,
    pub scrapes: u64,
    /// UDP requests sent again after a silence.
    pub resends: u64,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            answered: 0,
            errors: BTreeMap::new(),
            announces: 0,
            announce_body_bytes: 0,
            peers_received: 0,
            scrapes: 0,
            resends: 0,
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.latency.add(&other.latency).expect("histograms with the same bounds");
        self.answered += other.answered;
        for (error, count) in &other.errors {
            *self.errors.entry(error.clone()).or_default() += count;
        }
        self.announces += other.announces;
        self.announce_body_bytes += other.announce_body_bytes;
        self.peers_received += other.peers_received;
        self.scrapes += other.scrapes;
        self.resends += other.resends;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error(&mut self, what: String) {
        *self.errors.entry(what).or_default() += 1;
    }
}

/// When a phase ends and how hard it pushes.
#[derive(Clone)]
pub struct Phase {
    pub until: Instant,
    /// Requests left for the whole phase, shared by every client; `None` for no count.
    pub budget: Option<Arc<AtomicU64>>,
    /// Time between one client's requests; `None` to send the next as soon as one is answered.
    pub pace: Option<Duration>,
}

impl Phase {
    fn take_one(&self) -> bool {
        if Instant::now() >= self.until {
            return false;
        }
        match &self.budget {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// The protocol the clients speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// BEP 3 over HTTP/1.1, on keep-alive connections.
    Http,
    /// BEP 15 over UDP: a connect, then announces and scrapes under its connection id, a
    /// window of them outstanding on each socket.
    Udp,
}

/// How a client reaches its server, opened at its first request.
enum Transport {
    Http(Option<Connection>),
    Udp(Option<Box<UdpWindow>>, UdpOptions),
}

pub struct Client {
    target: SocketAddr,
    /// Where this client's paced slots fall within each pace period, as a share of it, so
    /// that clients take turns instead of all sending on the same timer tick.
    slot_offset: f64,
    transport: Transport,
    peers: Vec<u32>,
    states: Vec<PeerState>,
    rng: Rng,
    request: Vec<u8>,
}

impl Client {
    /// Client `index` of `count` owns every peer whose number is `index` modulo `count`; over
    /// UDP it sends as `udp` says.
    pub fn new(
        workload: &Workload,
        target: SocketAddr,
        index: u32,
        count: u32,
        protocol: Protocol,
        udp: UdpOptions,
    ) -> Self {
        let mut rng = Rng::with_seed(workload.shape.seed ^ u64::from(index).rotate_left(32));
        let peers: Vec<u32> = (index..workload.shape.peers).step_by(count as usize).collect();
        let states = peers.iter().map(|_| workload.initial_state(&mut rng)).collect();
        let slot_offset = f64::from(index) / f64::from(count);
        let transport = match protocol {
            Protocol::Http => Transport::Http(None),
            Protocol::Udp => Transport::Udp(None, udp),
        };
        Self {
            target,
            slot_offset,
            transport,
            peers,
            states,
            rng,
            request: Vec::with_capacity(512),
        }
    }

    /// Announces each of this client's peers once, so they are all live.
    pub async fn preload(&mut self, workload: &Workload, stats: &mut Stats) {
        if matches!(self.transport, Transport::Udp(..)) {
            let peers = self.peers.len();
            let mut slots = 0..peers;
            let next = move |_: &mut Rng, _: &UdpWindow| match slots.next() {
                Some(slot) => Next::Now { slot, since: Instant::now() },
                None => Next::Done,
            };
            return self.run_udp(workload, stats, next).await;
        }
        for slot in 0..self.peers.len() {
            self.send(workload, slot, None, stats).await;
        }
    }

    /// Sends requests from random peers of this client's until the phase ends.
    pub async fn run(&mut self, workload: &Workload, phase: &Phase, stats: &mut Stats) {
        if self.peers.is_empty() {
            return;
        }
        let start = Instant::now() + phase.pace.unwrap_or_default().mul_f64(self.slot_offset);
        let mut sent: u32 = 0;
        if matches!(self.transport, Transport::Udp(..)) {
            let peers = self.peers.len();
            let mut waited = false;
            let next = move |rng: &mut Rng, window: &UdpWindow| {
                // Paced, as below: from the missed slot when behind, else from when the
                // wait for it ended.
                let scheduled = phase.pace.map(|pace| start + pace * sent);
                let now = Instant::now();
                if let Some(at) = scheduled.filter(|at| *at > now) {
                    waited = true;
                    return Next::At(at);
                }
                if !phase.take_one() {
                    return Next::Done;
                }
                sent = sent.wrapping_add(1);
                let since =
                    if std::mem::take(&mut waited) { now } else { scheduled.unwrap_or(now) };
                // One request at a time a peer; the window is never wider than the peers.
                loop {
                    let slot = rng.usize(..peers);
                    if !window.is_busy(slot) {
                        return Next::Now { slot, since };
                    }
                }
            };
            return self.run_udp(workload, stats, next).await;
        }
        while phase.take_one() {
            // Paced: keep to a schedule. A client that has fallen behind (slow answers) times
            // from the missed slot, so a stall counts against every request it delayed (no
            // coordinated omission); one that waited for its slot times from when the timer,
            // which ticks in whole milliseconds, let it go.
            let scheduled = phase.pace.map(|pace| start + pace * sent);
            let scheduled = match scheduled {
                Some(at) if at > Instant::now() => {
                    tokio::time::sleep_until(at.into()).await;
                    None
                }
                behind => behind,
            };
            sent = sent.wrapping_add(1);
            let slot = self.rng.usize(..self.peers.len());
            self.send(workload, slot, scheduled, stats).await;
        }
    }

    async fn send(
        &mut self,
        workload: &Workload,
        slot: usize,
        scheduled: Option<Instant>,
        stats: &mut Stats,
    ) {
        let peer = self.peers[slot];
        let step = workload.next_step(&mut self.states[slot], &mut self.rng);
        let (target, request) = (self.target, &mut self.request);
        let exchanged = match &mut self.transport {
            Transport::Http(connection) => {
                let kind = workload.write_http(peer, step, request);
                send_http(connection, target, request, kind, scheduled, stats).await
            }
            // UDP requests go through `run_udp`.
            Transport::Udp(..) => None,
        };
        let Some((sent_at, outcome)) = exchanged else { return };
        let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
        stats.latency.saturating_record(micros);
        match outcome {
            Ok(()) => stats.answered += 1,
            Err(what) => stats.error(what),
        }
    }
}

/// What a UDP client sends next.
enum Next {
    /// A request for peer `slot`, which counts as sent `since`.
    Now {
        slot: usize,
        since: Instant,
    },
    /// Nothing before then.
    At(Instant),
    Done,
}

impl Client {
    /// Keeps the socket's window full with what `next` gives, until it gives `Done` and
    /// every request has its answer or has been given up.
    async fn run_udp(
        &mut self,
        workload: &Workload,
        stats: &mut Stats,
        mut next: impl FnMut(&mut Rng, &UdpWindow) -> Next,
    ) {
        let Self { target, transport, peers, states, rng, .. } = self;
        let Transport::Udp(window, options) = transport else { return };
        let window = match window {
            Some(open) => open,
            None => match UdpWindow::open(*target, *options, peers.len(), rng.u32(..)).await {
                Ok(open) => window.insert(Box::new(open)),
                Err(error) => {
                    stats.error(format!("socket: {error}"));
                    return;
                }
            },
        };
        let mut done = false;
        loop {
            let mut wake = None;
            // A stale connection id is renewed with nothing outstanding under it.
            while !done
                && window.has_room()
                && (window.connection_id().is_some() || window.in_flight() == 0)
            {
                let (slot, since) = match next(rng, window) {
                    Next::Now { slot, since } => (slot, since),
                    Next::At(at) => {
                        wake = Some(at);
                        break;
                    }
                    Next::Done => {
                        done = true;
                        break;
                    }
                };
                if window.connection_id().is_none() {
                    // The connect's wait counts in the request's latency, as a real client
                    // waits for both.
                    if let Err(error) = window.connect(stats).await {
                        let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
                        stats.latency.saturating_record(micros.max(1));
                        stats.error(error.to_string());
                        continue;
                    }
                }
                let (peer, step) = (peers[slot], workload.next_step(&mut states[slot], rng));
                window.push(slot, since, |id, transaction, out| {
                    workload.write_udp(peer, step, id, transaction, out)
                });
            }
            if done && window.in_flight() == 0 {
                return;
            }
            window.exchange(wake, stats).await;
        }
    }
}

/// Sends `request` (of `kind`) over HTTP; gives when it counts as sent and how it went, or
/// `None` when no connection could be opened.
async fn send_http(
    connection: &mut Option<Connection>,
    target: SocketAddr,
    request: &[u8],
    kind: RequestKind,
    scheduled: Option<Instant>,
    stats: &mut Stats,
) -> Option<(Instant, Result<(), String>)> {
    // Between phases (and rounds) connections sit idle, and servers close idle ones:
    // retracker 10 to 20 s after a connection's last request (`HEADER_READ_TIMEOUT`). A
    // request written into a connection the server is closing would fail, so a connection
    // idle this long is replaced first, as HTTP clients do.
    if connection.as_ref().is_some_and(|connection| connection.idle() > IDLE_REOPEN) {
        *connection = None;
    }
    let open = match connection {
        Some(open) => open,
        None => match Connection::open(target).await {
            Ok(open) => connection.insert(open),
            Err(error) => {
                stats.error(format!("connect: {error}"));
                // Don't spin on a server that is not there.
                tokio::time::sleep(Duration::from_millis(10)).await;
                return None;
            }
        },
    };
    let sent_at = scheduled.unwrap_or_else(Instant::now);
    let outcome = match open.exchange(request).await {
        Ok(response) if response.status != 200 => {
            Err(check::Problem::Status(response.status).to_string())
        }
        Ok(response) => judge(kind, response.body, stats).map_err(|problem| problem.to_string()),
        Err(error) => {
            *connection = None;
            Err(error.to_string())
        }
    };
    Some((sent_at, outcome))
}

fn judge(kind: RequestKind, body: &[u8], stats: &mut Stats) -> Result<(), check::Problem> {
    match kind {
        RequestKind::Announce { numwant } => {
            let peers = check::announce(body, numwant)?;
            stats.announces += 1;
            stats.announce_body_bytes += body.len() as u64;
            stats.peers_received += peers as u64;
        }
        RequestKind::Scrape => {
            check::scrape(body)?;
            stats.scrapes += 1;
        }
    }
    Ok(())
}

/// Runs `clients` on the current runtime, each in its own task, and gives them back with
/// what they recorded.
pub async fn run_all<F, Fut>(
    clients: Vec<Client>,
    workload: &Arc<Workload>,
    job: F,
) -> (Vec<Client>, Stats)
where
    F: Fn(Client, Arc<Workload>) -> Fut,
    Fut: Future<Output = (Client, Stats)> + Send + 'static,
{
    let tasks: Vec<_> =
        clients.into_iter().map(|client| tokio::spawn(job(client, workload.clone()))).collect();
    let mut total = Stats::new();
    let mut clients = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (client, stats) = task.await.expect("a client task panicked");
        total.merge(&stats);
        clients.push(client);
    }
    (clients, total)
}
