//! One socket of simulated BEP 15 clients: a window of requests outstanding at once, sent
//! with one `sendmmsg` and answered through one `recvmmsg`, each answer matched to its
//! request by transaction id and checked, each request sent again after a silence.
//!
//! The clients can share a socket because a tracker ties a connection id to the client's
//! address, not its port, and takes a peer's identity from the announce's fields. One request
//! at a time per socket would make the load generator pay two system calls and a wake-up a
//! request: more than a batching server spends, so it could never keep one busy.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::drive::Stats;
use crate::udp_answer::{self, Problem};
use crate::udp_batch::Datagrams;
use crate::workload::RequestKind;

/// BEP 15 lets a client use a connection id for a minute; renewing it a little earlier keeps
/// a slow answer from arriving past that.
const CONNECTION_ID_LIFE: Duration = Duration::from_secs(50);

/// The largest answer read: a tracker's answers are far shorter.
const MAX_ANSWER: usize = 2048;

/// The largest request sent: an announce is 98 bytes.
const MAX_REQUEST: usize = 128;

/// Requests outstanding on one socket at most: a request's place in the window is the low
/// byte of its transaction id.
pub const MAX_WINDOW: usize = 256;

/// How a request waits for its answer.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Silence after which a request is sent again.
    pub timeout: Duration,
    /// Sends of one request in all, before it counts as unanswered.
    pub tries: u32,
}

/// How the clients of one socket send.
#[derive(Debug, Clone, Copy)]
pub struct UdpOptions {
    pub patience: Patience,
    /// Requests outstanding at once, 1 to `MAX_WINDOW`.
    pub window: usize,
}

#[derive(Debug)]
pub enum UdpError {
    /// Every try met silence.
    Unanswered {
        tries: u32,
    },
    /// An answer to a transaction no request on this socket awaits (or a copy of one
    /// answered already), taken as the wrong answer to the request waiting longest.
    ForeignTransaction {
        got: Option<u32>,
        expected: u32,
    },
    /// An answer longer than any a tracker sends.
    Oversized,
    /// An answer that fails the checks.
    Wrong(Problem),
    Connect(Problem),
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unanswered { tries } => write!(f, "no answer to {tries} tries"),
            Self::ForeignTransaction { got: Some(got), expected } => {
                write!(f, "answer to transaction {got} while waiting for {expected}")
            }
            Self::ForeignTransaction { got: None, expected } => {
                write!(f, "answer without a transaction id while waiting for {expected}")
            }
            Self::Oversized => write!(f, "an answer longer than {MAX_ANSWER} bytes"),
            Self::Wrong(problem) => write!(f, "{problem}"),
            Self::Connect(problem) => write!(f, "connect: {problem}"),
        }
    }
}

/// What a request in the window asked.
#[derive(Clone, Copy)]
enum Asked {
    Connect,
    Request(RequestKind),
}

/// A place in the window.
struct Entry {
    /// The request waiting here, if any.
    asked: Option<Asked>,
    transaction: u32,
    /// The peer it is for, in the caller's numbering.
    slot: usize,
    /// When it counts as sent, for its latency.
    since: Instant,
    /// When it was last sent, for its resend.
    sent: Instant,
    tries: u32,
    request: Vec<u8>,
    /// A transaction answered or given up here after being sent more than once: a late copy
    /// of its answer may still come, and is no error.
    late: Option<u32>,
}

pub struct UdpWindow {
    socket: UdpSocket,
    patience: Patience,
    /// The connection id and when it was issued.
    connection: Option<(u64, Instant)>,
    /// Counts requests; shifted above the window's byte, it makes each transaction id new.
    serial: u32,
    entries: Vec<Entry>,
    /// Places free to take, as a stack.
    free: Vec<usize>,
    /// Which of the caller's peers have a request outstanding: one at a time each, as a real
    /// client sends.
    busy: Vec<bool>,
    outbox: Datagrams,
    inbox: Datagrams,
}

impl UdpWindow {
    /// A socket connected to `target`, so only the target's datagrams reach it, sending as
    /// `options` say for `peers` peers (the window no wider than they are).
    pub async fn open(
        target: SocketAddr,
        options: UdpOptions,
        peers: usize,
        first_serial: u32,
    ) -> io::Result<Self> {
        let local: SocketAddr = if target.is_ipv4() {
            (std::net::Ipv4Addr::LOCALHOST, 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        let window = options.window.min(peers).clamp(1, MAX_WINDOW);
        let now = Instant::now();
        let entries = (0..window)
            .map(|_| Entry {
                asked: None,
                transaction: 0,
                slot: 0,
                since: now,
                sent: now,
                tries: 0,
                request: Vec::with_capacity(MAX_REQUEST),
                late: None,
            })
            .collect();
        Ok(Self {
            socket,
            patience: options.patience,
            connection: None,
            serial: first_serial,
            entries,
            free: (0..window).rev().collect(),
            busy: vec![false; peers],
            outbox: Datagrams::new(window, MAX_REQUEST),
            inbox: Datagrams::new(window, MAX_ANSWER),
        })
    }

    /// Whether another request fits in the window, and in this batch, now.
    pub fn has_room(&self) -> bool {
        !self.free.is_empty() && !self.outbox.is_full()
    }

    pub fn in_flight(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Whether peer `slot` waits for an answer.
    pub fn is_busy(&self, slot: usize) -> bool {
        self.busy[slot]
    }

    /// The connection id to send under, while it is fresh.
    pub fn connection_id(&self) -> Option<u64> {
        self.connection.filter(|(_, issued)| issued.elapsed() < CONNECTION_ID_LIFE).map(|c| c.0)
    }

    /// Gets a new connection id with nothing else outstanding (the caller drains first).
    pub async fn connect(&mut self, stats: &mut Stats) -> Result<(), UdpError> {
        let place = self.take_place(0, Instant::now());
        let entry = &mut self.entries[place];
        entry.asked = Some(Asked::Connect);
        entry.request.clear();
        entry.request.extend_from_slice(&0x0417_2710_1980u64.to_be_bytes());
        entry.request.extend_from_slice(&udp_answer::CONNECT.to_be_bytes());
        entry.request.extend_from_slice(&entry.transaction.to_be_bytes());
        // Nothing else is outstanding, so the outbox has room.
        self.queue(place);
        loop {
            if let Some(outcome) = self.exchange(None, stats).await {
                return outcome;
            }
        }
    }

    /// Puts a request for peer `slot` in the window, written by `write` under the connection
    /// id and a transaction id; it goes out with the next `exchange`. `since` is when it
    /// counts as sent.
    pub fn push(
        &mut self,
        slot: usize,
        since: Instant,
        write: impl FnOnce(u64, u32, &mut Vec<u8>) -> RequestKind,
    ) {
        let id = self.connection.map_or(0, |(id, _)| id);
        let place = self.take_place(slot, since);
        let entry = &mut self.entries[place];
        let kind = write(id, entry.transaction, &mut entry.request);
        entry.asked = Some(Asked::Request(kind));
        self.busy[slot] = true;
        // The caller checked `has_room`.
        self.queue(place);
    }

    /// A free place with a new transaction id, for peer `slot`; the caller says what it asks.
    fn take_place(&mut self, slot: usize, since: Instant) -> usize {
        let place = self.free.pop().expect("the caller checked for room");
        self.serial = self.serial.wrapping_add(1);
        let entry = &mut self.entries[place];
        *entry = Entry {
            asked: None,
            transaction: (self.serial << 8) | place as u32,
            slot,
            since,
            sent: since,
            tries: 0,
            request: std::mem::take(&mut entry.request),
            late: entry.late,
        };
        place
    }

    /// Puts the request at `place` in the outbox, unless it is full (a window wider than a
    /// batch, with many requests due again at once): then it waits for the next exchange.
    fn queue(&mut self, place: usize) -> bool {
        let entry = &mut self.entries[place];
        let queued = self.outbox.push(&entry.request);
        if queued {
            entry.tries += 1;
            entry.sent = Instant::now();
        }
        queued
    }

    /// Sends what waits to go, then reads the answers there are, or waits for one until the
    /// next resend is due or `wake`; records each request's outcome in `stats`, and gives a
    /// connect's once it has one.
    pub async fn exchange(
        &mut self,
        wake: Option<Instant>,
        stats: &mut Stats,
    ) -> Option<Result<(), UdpError>> {
        let fd = self.socket.as_raw_fd();
        if let Err(error) = self.flush(fd).await {
            stats.error(format!("send: {error}"));
        }
        let mut outcome = None;
        loop {
            match self.socket.try_io(Interest::READABLE, || self.inbox.receive(fd)) {
                Ok(count) => {
                    for i in 0..count {
                        self.answered(i, stats, &mut outcome);
                    }
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                // An earlier send's ICMP answer (nobody listens there): silence, in effect.
                Err(_) => {}
            }
            let due = self.next_resend();
            let until = match (due, wake) {
                (Some(due), Some(wake)) => due.min(wake),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => break,
            };
            if until <= Instant::now() {
                break;
            }
            let readable = self.socket.readable();
            if tokio::time::timeout_at(until.into(), readable).await.is_err() {
                break;
            }
        }
        self.resend_or_give_up(stats, &mut outcome);
        outcome
    }

    async fn flush(&mut self, fd: RawFd) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.outbox.len() {
            match self.socket.try_io(Interest::WRITABLE, || self.outbox.send(fd, sent)) {
                Ok(count) => sent += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.writable().await?;
                }
                Err(error) => {
                    // The requests not taken count as lost: their resends follow.
                    self.outbox.clear();
                    return Err(error);
                }
            }
        }
        self.outbox.clear();
        Ok(())
    }

    fn next_resend(&self) -> Option<Instant> {
        let waiting = self.entries.iter().filter(|entry| entry.asked.is_some());
        waiting.map(|entry| entry.sent + self.patience.timeout).min()
    }

    /// Matches answer `i` of the last read to its request, and checks it.
    fn answered(
        &mut self,
        i: usize,
        stats: &mut Stats,
        outcome: &mut Option<Result<(), UdpError>>,
    ) {
        let (answer, cut) = self.inbox.get(i);
        let got = udp_answer::transaction_id(answer);
        let place = got.map(|id| (id & 0xff) as usize).filter(|&place| place < self.entries.len());
        let mine = place.filter(|&place| {
            self.entries[place].asked.is_some() && Some(self.entries[place].transaction) == got
        });
        let Some(place) = mine else {
            if place.is_some_and(|place| self.entries[place].late == got) {
                return; // A late copy of an answer to a request sent twice.
            }
            // A foreign answer: the request waiting longest is the one it most likely
            // stands for, and fails, so a wrong server fails the run as soon as it answers.
            let waiting = (0..self.entries.len()).filter(|&p| self.entries[p].asked.is_some());
            if let Some(oldest) = waiting.min_by_key(|&p| self.entries[p].sent) {
                let expected = self.entries[oldest].transaction;
                let error = UdpError::ForeignTransaction { got, expected };
                *outcome = self.finish(oldest, Err(error), stats).or(outcome.take());
            } else {
                stats.error(format!("an answer to transaction {got:?}, which nothing awaits"));
            }
            return;
        };
        let result = if cut {
            Err(UdpError::Oversized)
        } else {
            match self.entries[place].asked.expect("a waiting entry") {
                Asked::Connect => match udp_answer::connect(answer) {
                    Ok(id) => {
                        self.connection = Some((id, self.entries[place].since));
                        Ok(())
                    }
                    Err(problem) => Err(UdpError::Connect(problem)),
                },
                Asked::Request(kind) => judge(kind, answer, stats).map_err(UdpError::Wrong),
            }
        };
        *outcome = self.finish(place, result, stats).or(outcome.take());
    }

    /// Sends again each request whose silence has lasted the timeout, or gives it up after
    /// its last try.
    fn resend_or_give_up(&mut self, stats: &mut Stats, outcome: &mut Option<Result<(), UdpError>>) {
        let now = Instant::now();
        for place in 0..self.entries.len() {
            let entry = &self.entries[place];
            if entry.asked.is_none() || now < entry.sent + self.patience.timeout {
                continue;
            }
            if entry.tries < self.patience.tries.max(1) {
                if self.queue(place) {
                    stats.resends += 1;
                }
                continue;
            }
            let tries = entry.tries;
            // The silence may be the server's refusal of a stale connection id (BEP 15
            // servers drop such requests unanswered): the next request connects afresh.
            self.connection = None;
            let error = UdpError::Unanswered { tries };
            *outcome = self.finish(place, Err(error), stats).or(outcome.take());
        }
    }

    /// Frees `place`, recording how its request went; gives a connect's outcome back instead.
    fn finish(
        &mut self,
        place: usize,
        result: Result<(), UdpError>,
        stats: &mut Stats,
    ) -> Option<Result<(), UdpError>> {
        let entry = &mut self.entries[place];
        let asked = entry.asked.take();
        entry.late = (entry.tries > 1).then_some(entry.transaction).or(entry.late);
        self.free.push(place);
        let Some(Asked::Request(_)) = asked else { return Some(result) };
        self.busy[entry.slot] = false;
        let micros = u64::try_from(entry.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.latency.saturating_record(micros.max(1));
        match result {
            Ok(()) => stats.answered += 1,
            Err(error) => stats.error(error.to_string()),
        }
        None
    }
}

/// Checks an answer to a request of `kind` and counts what it carried.
fn judge(kind: RequestKind, answer: &[u8], stats: &mut Stats) -> Result<(), Problem> {
    match kind {
        RequestKind::Announce { numwant } => {
            let peers = udp_answer::announce(answer, numwant)?;
            stats.announces += 1;
            stats.announce_body_bytes += answer.len() as u64;
            stats.peers_received += peers as u64;
        }
        RequestKind::Scrape => {
            udp_answer::scrape(answer, 1)?;
            stats.scrapes += 1;
        }
    }
    Ok(())
}
