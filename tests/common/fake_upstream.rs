//! Fake upstream trackers on 127.0.0.1, each answering in one scripted way and recording
//! every request it got. Raw TCP, so they can misbehave in ways a real server library
//! would not allow.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub enum Behaviour {
    /// A compact answer with these IPv4 peers and `interval`.
    Compact {
        peers: Vec<SocketAddrV4>,
        interval: u32,
    },
    /// A dictionary-form answer (with peer ids).
    Dictionary {
        peers: Vec<SocketAddr>,
    },
    /// A compact answer with these peers in `peers6`.
    Compact6 {
        peers: Vec<SocketAddrV6>,
    },
    /// Waits this long, then answers like `Compact`.
    Slow {
        delay: Duration,
        peers: Vec<SocketAddrV4>,
    },
    Garbage,
    Status500,
    /// Reads the request and closes the connection without a word.
    Close,
    /// Sends the headers and half the body, then nothing more.
    HangMidBody,
    /// Streams a gigabyte with no Content-Length, so only counting the bytes stops it.
    Huge,
    /// Redirects to itself, for ever.
    RedirectLoop,
    /// A bencoded `failure reason`.
    Failure,
    /// An empty answer with this HTTP status, whatever it is.
    Status(u16),
    /// Redirects every request to `location`.
    RedirectTo {
        location: String,
    },
    /// Redirects `/announce` to `/moved` on itself, which answers like `Compact`.
    MovedHere {
        peers: Vec<SocketAddrV4>,
    },
}

/// What a fake got: the request target (path and query) and the Host header.
#[derive(Debug, Clone)]
pub struct Received {
    pub target: String,
    pub host: String,
}

impl Received {
    /// The raw value of a query parameter, still percent-encoded.
    pub fn param(&self, key: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| v.to_string())
        })
    }
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeUpstream {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, log) = (behaviour.clone(), log.clone());
                tokio::spawn(async move { serve(stream, behaviour, log, addr).await });
            }
        });
        Self { addr, received, task }
    }

    pub fn announce_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Received>>>,
    me: SocketAddr,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 || head.len() > 16_384 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let target = head.split(' ').nth(1).unwrap_or_default().to_string();
    let host = head
        .lines()
        .find_map(|line| line.strip_prefix("host: ").or_else(|| line.strip_prefix("Host: ")))
        .unwrap_or_default()
        .to_string();
    log.lock().unwrap().push(Received { target: target.clone(), host });

    let ok = |body: Vec<u8>| {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend(body);
        answer
    };
    let reply = match behaviour {
        Behaviour::Compact { peers, interval } => ok(compact(&peers, interval)),
        Behaviour::Slow { delay, peers } => {
            tokio::time::sleep(delay).await;
            ok(compact(&peers, 600))
        }
        Behaviour::Dictionary { peers } => {
            let mut body = b"d8:intervali600e5:peersl".to_vec();
            for (n, peer) in peers.iter().enumerate() {
                let ip = peer.ip().to_string();
                body.extend(
                    format!(
                        "d2:ip{}:{ip}7:peer id20:-FAKE00-{n:012}4:porti{}ee",
                        ip.len(),
                        peer.port()
                    )
                    .bytes(),
                );
            }
            body.extend(b"ee");
            ok(body)
        }
        Behaviour::Compact6 { peers } => {
            let mut body =
                format!("d8:intervali600e5:peers0:6:peers6{}:", peers.len() * 18).into_bytes();
            for peer in &peers {
                body.extend(peer.ip().octets());
                body.extend(peer.port().to_be_bytes());
            }
            body.push(b'e');
            ok(body)
        }
        Behaviour::Garbage => ok(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        Behaviour::Failure => ok(b"d14:failure reason19:unregistered torrente".to_vec()),
        Behaviour::Status500 => {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec()
        }
        Behaviour::Close => return,
        Behaviour::HangMidBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nd8:interval")
                .await;
            std::future::pending::<()>().await;
            return;
        }
        Behaviour::Huge => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").await;
            let chunk = vec![b'x'; 64 * 1024];
            // Streams until the client hangs up, which it must do long before a gigabyte.
            for _ in 0..16_384 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            return;
        }
        Behaviour::Status(code) => {
            format!("HTTP/1.1 {code} Odd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes()
        }
        Behaviour::RedirectTo { location } => redirect(&location),
        Behaviour::MovedHere { peers } => match target.split_once('?') {
            Some(("/announce", query)) => redirect(&format!("http://{me}/moved?{query}")),
            _ => ok(compact(&peers, 600)),
        },
        Behaviour::RedirectLoop => redirect(&format!("http://{me}/announce?again")),
    };
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

fn redirect(location: &str) -> Vec<u8> {
    format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

fn compact(peers: &[SocketAddrV4], interval: u32) -> Vec<u8> {
    let mut body = format!("d8:intervali{interval}e5:peers{}:", peers.len() * 6).into_bytes();
    for peer in peers {
        body.extend(peer.ip().octets());
        body.extend(peer.port().to_be_bytes());
    }
    body.push(b'e');
    body
}
