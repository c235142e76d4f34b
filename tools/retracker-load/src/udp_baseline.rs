//! The UDP ceiling: one socket in a receive loop, as retracker's UDP front end has, reading a
//! batch of datagrams with one `recvmmsg` and answering them with one `sendmmsg`, as it
//! does, each with a fixed valid answer: 16 bytes to a connect, one entry to a scrape, and an
//! announce answer of the size the tracker's had. Only the transaction id is copied in, since
//! the load generator checks it. Whatever retracker does beyond this (read the request, check
//! its connection id, serve the announce) costs throughput.

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::udp_batch::Datagrams;

use crate::udp_answer::{ANNOUNCE, ANNOUNCE_HEAD_LEN, CONNECT, HEADER_LEN, PEER_LEN, SCRAPE};

/// A request's action sits after its 8-byte connection id; its transaction id after that.
const ACTION_AT: usize = 8;
const TRANSACTION_AT: usize = 12;

/// The fixed answers, each with its transaction id still to fill in (bytes 4..8).
pub struct Answers {
    connect: Vec<u8>,
    announce: Vec<u8>,
    scrape: Vec<u8>,
}

impl Answers {
    /// An announce answer of `announce_bytes` or a little less (a whole number of peers, at
    /// least none), stating as many seeders as it lists peers.
    pub fn new(announce_bytes: usize) -> Self {
        let peers = announce_bytes.saturating_sub(ANNOUNCE_HEAD_LEN) / PEER_LEN;
        let mut announce = head(ANNOUNCE);
        announce.extend_from_slice(&1800u32.to_be_bytes()); // interval
        announce.extend_from_slice(&0u32.to_be_bytes()); // leechers
        announce.extend_from_slice(&(peers as u32).to_be_bytes()); // seeders
        for port in (10_000u16..).take(peers) {
            announce.extend_from_slice(&[127, 0, 0, 1]);
            announce.extend_from_slice(&port.to_be_bytes());
        }
        let mut connect = head(CONNECT);
        connect.extend_from_slice(&0x0123_4567_89ab_cdef_u64.to_be_bytes());
        let mut scrape = head(SCRAPE);
        scrape.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        Self { connect, announce, scrape }
    }

    /// The answer to `request`, or `None` for a datagram too short to be one, or of an
    /// action it has no answer for.
    fn to(&mut self, request: &[u8]) -> Option<&[u8]> {
        let action = request.get(ACTION_AT..ACTION_AT + 4)?;
        let transaction = request.get(TRANSACTION_AT..TRANSACTION_AT + 4)?;
        let answer = match u32::from_be_bytes(action.try_into().ok()?) {
            CONNECT => &mut self.connect,
            ANNOUNCE => &mut self.announce,
            SCRAPE => &mut self.scrape,
            _ => return None,
        };
        answer[4..HEADER_LEN].copy_from_slice(transaction);
        Some(answer)
    }
}

fn head(action: u32) -> Vec<u8> {
    let mut answer = action.to_be_bytes().to_vec();
    answer.extend_from_slice(&[0; 4]);
    answer
}

/// Datagrams read and answered at once: as many as retracker's receive loop reads.
const BATCH: usize = 32;

/// Room for a request: longer ones are no request this server answers.
const REQUEST_SLOT: usize = 2048;

/// Room for an answer: the largest announce answer a tracker sends fits.
const ANSWER_SLOT: usize = 8192;

/// Answers every datagram on `socket` until the process is stopped.
pub async fn serve(socket: UdpSocket, mut answers: Answers) {
    let fd = socket.as_raw_fd();
    let mut requests = Datagrams::new(BATCH, REQUEST_SLOT);
    let mut replies = Datagrams::new(BATCH, ANSWER_SLOT);
    loop {
        let count = match socket.try_io(Interest::READABLE, || requests.receive(fd)) {
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                let _ = socket.readable().await;
                continue;
            }
            // An earlier send's ICMP answer; the socket itself is fine.
            Err(_) => continue,
        };
        replies.clear();
        for i in 0..count {
            let (request, cut) = requests.get(i);
            if let Some(answer) = answers.to(request).filter(|_| !cut) {
                replies.push_reply(answer, &requests, i);
            }
        }
        let mut sent = 0;
        while sent < replies.len() {
            match socket.try_io(Interest::WRITABLE, || replies.send(fd, sent)) {
                Ok(count) => sent += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    let _ = socket.writable().await;
                }
                // An answer the socket refuses is dropped; its client sends again.
                Err(_) => sent += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp_answer;

    fn request(action: u32, transaction: u32) -> Vec<u8> {
        [&7u64.to_be_bytes()[..], &action.to_be_bytes(), &transaction.to_be_bytes()].concat()
    }

    #[test]
    fn each_answer_passes_the_checks_with_the_asked_transaction_id() {
        let mut answers = Answers::new(320);
        let connect = answers.to(&request(CONNECT, 5)).unwrap();
        assert_eq!(udp_answer::transaction_id(connect), Some(5));
        assert!(udp_answer::connect(connect).is_ok());
        let announce = answers.to(&request(ANNOUNCE, 6)).unwrap().to_vec();
        assert_eq!((announce.len(), udp_answer::transaction_id(&announce)), (320, Some(6)));
        assert_eq!(udp_answer::announce(&announce, 50), Ok(50));
        let scrape = answers.to(&request(SCRAPE, 7)).unwrap();
        assert_eq!(udp_answer::transaction_id(scrape), Some(7));
        assert_eq!(udp_answer::scrape(scrape, 1), Ok(()));
    }

    #[test]
    fn odd_sizes_round_down_and_odd_requests_get_nothing() {
        let mut answers = Answers::new(100);
        assert_eq!(answers.to(&request(ANNOUNCE, 1)).unwrap().len(), 98);
        assert_eq!(Answers::new(3).to(&request(ANNOUNCE, 1)).unwrap().len(), 20);
        assert!(answers.to(&request(9, 1)).is_none());
        assert!(answers.to(&request(ANNOUNCE, 1)[..15]).is_none());
    }
}
