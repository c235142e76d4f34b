//! The ceiling: a bare hyper HTTP/1.1 server, on the same kind of tokio runtime as
//! retracker, answering every request with a fixed, valid answer of a typical size.
//! Whatever retracker does beyond this costs throughput; the report divides by this.

use std::convert::Infallible;

use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use retracker::adapters::bencode::encode as be;

/// The size of a fixed announce answer when no run has measured the tracker's: about a
/// compact answer of 37 peers.
pub const TYPICAL_ANSWER_BYTES: usize = 300;

/// The `interval` of the fixed answers: half an hour, as a real tracker's.
pub const TYPICAL_INTERVAL_SECS: u32 = 1800;

/// A valid compact announce answer of `size` bytes or a little less, stating `interval`
/// seconds. Its peers are 127.0.0.1 on distinct ports, so it also serves as a fake upstream
/// for retracker's forwarding.
pub fn announce_body(size: usize, interval: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(size + 16);
    be::dict_start(&mut body);
    be::key_integer(&mut body, "complete", 1);
    be::key_integer(&mut body, "incomplete", 1);
    be::key_integer(&mut body, "interval", interval.into());
    be::key_integer(&mut body, "min interval", 15);
    be::bytes(&mut body, b"peers");
    // Room left for the peer string, its length prefix ("NNN:") and the closing "e".
    let room = size.saturating_sub(body.len() + 1);
    let mut peers = room / 6 * 6;
    while peers > 0 && peers + peers.to_string().len() + 1 > room {
        peers -= 6;
    }
    let ports = (10_000u16..).take(peers / 6);
    let peers: Vec<u8> = ports
        .flat_map(|port| {
            let [high, low] = port.to_be_bytes();
            [127, 0, 0, 1, high, low]
        })
        .collect();
    be::bytes(&mut body, &peers);
    be::end(&mut body);
    body
}

/// A valid scrape answer for one (made-up) torrent.
pub fn scrape_body() -> Vec<u8> {
    let mut body = Vec::new();
    be::dict_start(&mut body);
    be::bytes(&mut body, b"files");
    be::dict_start(&mut body);
    be::bytes(&mut body, &[1u8; 20]);
    be::dict_start(&mut body);
    be::key_integer(&mut body, "complete", 1);
    be::key_integer(&mut body, "downloaded", 0);
    be::key_integer(&mut body, "incomplete", 1);
    be::end(&mut body);
    be::end(&mut body);
    be::end(&mut body);
    body
}

/// Serves the fixed answers on `listener` until the process is stopped.
pub async fn serve(listener: TcpListener, announce: Bytes, scrape: Bytes) {
    let http = http1::Builder::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (announce, scrape) = (announce.clone(), scrape.clone());
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let body =
                if request.uri().path() == "/scrape" { scrape.clone() } else { announce.clone() };
            async move { Ok::<_, Infallible>(Response::new(http_body_util::Full::new(body))) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;

    #[test]
    fn the_fixed_answers_are_valid_and_of_the_asked_size() {
        for size in [80, 120, 300, 1000] {
            let body = announce_body(size, TYPICAL_INTERVAL_SECS);
            assert!(body.len() <= size && body.len() + 6 > size, "{size}: {}", body.len());
            assert!(check::announce(&body, 200).is_ok());
        }
        for interval in [60, 3600] {
            let body = announce_body(TYPICAL_ANSWER_BYTES, interval);
            let stated = format!("8:intervali{interval}e");
            assert!(body.windows(stated.len()).any(|w| w == stated.as_bytes()), "{interval}");
        }
        assert_eq!(check::scrape(&scrape_body()), Ok(()));
    }
}
