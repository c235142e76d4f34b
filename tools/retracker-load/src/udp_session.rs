//! One simulated BEP 15 client: its own socket, its connection id, and each request sent and
//! its answer awaited, sent again after a silence as real clients do.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::udp_answer::{self, Problem};

/// BEP 15 lets a client use a connection id for a minute; renewing it a little earlier keeps
/// a slow answer from arriving past that.
const CONNECTION_ID_LIFE: Duration = Duration::from_secs(50);

/// The largest answer read: a tracker's answers are far shorter.
const MAX_ANSWER: usize = 2048;

/// How a request waits for its answer.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Silence after which a request is sent again.
    pub timeout: Duration,
    /// Sends of one request in all, before it counts as unanswered.
    pub tries: u32,
}

#[derive(Debug)]
pub enum UdpError {
    Io(io::Error),
    /// Every try met silence.
    Unanswered {
        tries: u32,
    },
    /// An answer to a transaction this client did not ask about (or no longer waits for).
    ForeignTransaction {
        got: Option<u32>,
        expected: u32,
    },
    Connect(Problem),
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "{error}"),
            Self::Unanswered { tries } => write!(f, "no answer to {tries} tries"),
            Self::ForeignTransaction { got: Some(got), expected } => {
                write!(f, "answer to transaction {got} while waiting for {expected}")
            }
            Self::ForeignTransaction { got: None, expected } => {
                write!(f, "answer without a transaction id while waiting for {expected}")
            }
            Self::Connect(problem) => write!(f, "connect: {problem}"),
        }
    }
}

impl From<io::Error> for UdpError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

pub struct UdpSession {
    socket: UdpSocket,
    /// The connection id and when it was issued.
    connection: Option<(u64, Instant)>,
    next_transaction: u32,
    /// The transaction last sent more than once: a late copy of its answer may still come,
    /// and is no error.
    resent: Option<u32>,
    answer: Vec<u8>,
}

impl UdpSession {
    /// A socket of its own, connected to `target`, so only the target's datagrams reach it.
    pub async fn open(target: SocketAddr, first_transaction: u32) -> io::Result<Self> {
        let local: SocketAddr = if target.is_ipv4() {
            (std::net::Ipv4Addr::LOCALHOST, 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        Ok(Self {
            socket,
            connection: None,
            next_transaction: first_transaction,
            resent: None,
            answer: vec![0; MAX_ANSWER],
        })
    }

    /// A transaction id not used lately by this client.
    pub fn transaction(&mut self) -> u32 {
        self.next_transaction = self.next_transaction.wrapping_add(1);
        self.next_transaction
    }

    /// The connection id to send under: the one held while it is fresh, else a new one from
    /// a connect. `resends` counts the tries past the first.
    pub async fn connection_id(
        &mut self,
        patience: Patience,
        resends: &mut u64,
    ) -> Result<u64, UdpError> {
        if let Some((id, issued)) = self.connection {
            if issued.elapsed() < CONNECTION_ID_LIFE {
                return Ok(id);
            }
        }
        let transaction = self.transaction();
        let mut connect = [0u8; 16];
        connect[..8].copy_from_slice(&0x0417_2710_1980u64.to_be_bytes());
        connect[8..12].copy_from_slice(&udp_answer::CONNECT.to_be_bytes());
        connect[12..].copy_from_slice(&transaction.to_be_bytes());
        let issued = Instant::now();
        let answer = self.exchange(&connect, transaction, patience, resends).await?;
        let id = udp_answer::connect(answer).map_err(UdpError::Connect)?;
        self.connection = Some((id, issued));
        Ok(id)
    }

    /// Sends `request` (whose transaction id is `transaction`) and gives the answer that
    /// carries the same id; sends it again after each silence, up to the tries allowed.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        transaction: u32,
        patience: Patience,
        resends: &mut u64,
    ) -> Result<&[u8], UdpError> {
        for attempt in 0..patience.tries.max(1) {
            if attempt > 0 {
                *resends += 1;
                self.resent = Some(transaction);
            }
            self.socket.send(request).await?;
            let deadline = tokio::time::Instant::now() + patience.timeout;
            loop {
                let receive = self.socket.recv(&mut self.answer);
                let Ok(received) = tokio::time::timeout_at(deadline, receive).await else {
                    break;
                };
                let len = received?;
                let got = udp_answer::transaction_id(&self.answer[..len]);
                if got == Some(transaction) {
                    return Ok(&self.answer[..len]);
                }
                if got.is_none() || got != self.resent {
                    return Err(UdpError::ForeignTransaction { got, expected: transaction });
                }
                // A late copy of an answer to a request sent twice: wait on.
            }
        }
        // The silence may be the server's refusal of a stale connection id (BEP 15 servers
        // drop such requests unanswered): the next request connects afresh.
        self.connection = None;
        Err(UdpError::Unanswered { tries: patience.tries.max(1) })
    }
}
