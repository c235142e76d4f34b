//! What the simulated clients ask: which torrents exist, which peer is in which swarm, and
//! the next announce or scrape each peer sends, written as HTTP or as BEP 15 datagrams.
//!
//! Popularity is Zipf-like (torrent of rank r gets weight 1/r^skew), as on real trackers
//! where a few torrents hold most peers. Every torrent gets one peer first so all of them
//! are live; the rest are spread by popularity.

use fastrand::Rng;

use crate::udp_answer;

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub torrents: u32,
    pub peers: u32,
    pub skew: f64,
    /// Share of peers that hold the whole file when they first appear.
    pub seeder_share: f64,
    /// Chance that an announce of an online peer is its last (`event=stopped`).
    pub churn: f64,
    /// Share of requests that are scrapes instead of announces.
    pub scrape_share: f64,
    pub numwant: u32,
    pub seed: u64,
}

/// The fixed part of the simulation, shared read-only by every connection.
pub struct Workload {
    pub shape: Shape,
    torrent_of_peer: Vec<u32>,
    /// Each torrent's info hash, as a datagram carries it.
    hashes: Vec<[u8; 20]>,
    /// `%xx%xx…` for each torrent's info hash, ready to paste into a query.
    encoded_hashes: Vec<[u8; 60]>,
    /// The rest of every request after the query: version and headers.
    head_tail: Vec<u8>,
}

/// Where one peer is in its life: offline, downloading with bytes left, or seeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Offline { seeder: bool },
    Leeching { left: u64 },
    Seeding,
}

/// The bytes a torrent's payload has in this simulation; `left` counts down from it.
const TORRENT_SIZE: u64 = 700 * 1024 * 1024;

/// What a built request was, so its answer can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Announce { numwant: u32 },
    Scrape,
}

impl Workload {
    pub fn new(shape: Shape, host: String) -> Self {
        assert!(shape.torrents > 0 && shape.peers >= shape.torrents);
        let mut rng = Rng::with_seed(shape.seed);
        let popularity = cumulative_popularity(shape.torrents, shape.skew);
        let torrent_of_peer = (0..shape.peers)
            .map(|peer| if peer < shape.torrents { peer } else { pick(&popularity, &mut rng) })
            .collect();
        let hashes: Vec<_> =
            (0..shape.torrents).map(|torrent| info_hash(torrent, shape.seed)).collect();
        let encoded_hashes = hashes.iter().map(percent_encode).collect();
        let head_tail =
            format!(" HTTP/1.1\r\nHost: {host}\r\nUser-Agent: retracker-load/1\r\n\r\n")
                .into_bytes();
        Self { shape, torrent_of_peer, hashes, encoded_hashes, head_tail }
    }

    pub fn torrent_of(&self, peer: u32) -> u32 {
        self.torrent_of_peer[peer as usize]
    }

    /// How a peer starts: offline, a seeder with the share given in the shape.
    pub fn initial_state(&self, rng: &mut Rng) -> PeerState {
        PeerState::Offline { seeder: rng.f64() < self.shape.seeder_share }
    }

    /// What `peer` asks next; moves the peer on.
    pub fn next_step(&self, state: &mut PeerState, rng: &mut Rng) -> Step {
        let online = !matches!(state, PeerState::Offline { .. });
        if online && rng.f64() < self.shape.scrape_share {
            return Step::Scrape;
        }
        let (event, left) = advance(state, self.shape.churn, rng);
        Step::Announce { event, left }
    }

    /// Writes the HTTP request for `peer`'s `step` into `out`.
    pub fn write_http(&self, peer: u32, step: Step, out: &mut Vec<u8>) -> RequestKind {
        out.clear();
        match step {
            Step::Scrape => {
                self.write_scrape(peer, out);
                RequestKind::Scrape
            }
            Step::Announce { event, left } => {
                self.write_announce(peer, event, left, out);
                RequestKind::Announce { numwant: self.shape.numwant }
            }
        }
    }

    /// Writes the BEP 15 datagram for `peer`'s `step` into `out`, under `connection_id` and
    /// with `transaction_id`.
    pub fn write_udp(
        &self,
        peer: u32,
        step: Step,
        connection_id: u64,
        transaction_id: u32,
        out: &mut Vec<u8>,
    ) -> RequestKind {
        out.clear();
        out.extend_from_slice(&connection_id.to_be_bytes());
        let hash = &self.hashes[self.torrent_of(peer) as usize];
        let Step::Announce { event, left } = step else {
            out.extend_from_slice(&udp_answer::SCRAPE.to_be_bytes());
            out.extend_from_slice(&transaction_id.to_be_bytes());
            out.extend_from_slice(hash);
            return RequestKind::Scrape;
        };
        // BEP 15 numbers events its own way.
        let event: u32 = match event {
            None => 0,
            Some("completed") => 1,
            Some("started") => 2,
            _ => 3,
        };
        out.extend_from_slice(&udp_answer::ANNOUNCE.to_be_bytes());
        out.extend_from_slice(&transaction_id.to_be_bytes());
        out.extend_from_slice(hash);
        out.extend_from_slice(&peer_id(peer));
        out.extend_from_slice(&(TORRENT_SIZE - left).to_be_bytes()); // downloaded
        out.extend_from_slice(&left.to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes()); // uploaded
        out.extend_from_slice(&event.to_be_bytes());
        out.extend_from_slice(&[0; 4]); // IP: the sender's
        out.extend_from_slice(&peer.to_be_bytes()); // key
        out.extend_from_slice(&self.shape.numwant.to_be_bytes());
        out.extend_from_slice(&peer_port(peer).to_be_bytes());
        RequestKind::Announce { numwant: self.shape.numwant }
    }

    fn write_announce(&self, peer: u32, event: Option<&str>, left: u64, out: &mut Vec<u8>) {
        // Built with itoa rather than `write!`: the load generator must cost less per
        // request than the server it measures, on the same two cores.
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(b"GET /announce?info_hash=");
        out.extend_from_slice(&self.encoded_hashes[self.torrent_of(peer) as usize]);
        out.extend_from_slice(b"&peer_id=");
        out.extend_from_slice(&peer_id(peer));
        out.extend_from_slice(b"&port=");
        out.extend_from_slice(number.format(peer_port(peer)).as_bytes());
        out.extend_from_slice(b"&uploaded=0&downloaded=");
        out.extend_from_slice(number.format(TORRENT_SIZE - left).as_bytes());
        out.extend_from_slice(b"&left=");
        out.extend_from_slice(number.format(left).as_bytes());
        out.extend_from_slice(b"&corrupt=0&key=");
        out.extend_from_slice(number.format(peer).as_bytes());
        out.extend_from_slice(b"&numwant=");
        out.extend_from_slice(number.format(self.shape.numwant).as_bytes());
        out.extend_from_slice(b"&compact=1&no_peer_id=1");
        if let Some(event) = event {
            out.extend_from_slice(b"&event=");
            out.extend_from_slice(event.as_bytes());
        }
        self.finish_head(out);
    }

    fn write_scrape(&self, peer: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET /scrape?info_hash=");
        out.extend_from_slice(&self.encoded_hashes[self.torrent_of(peer) as usize]);
        self.finish_head(out);
    }

    fn finish_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head_tail);
    }
}

/// A peer's next request, before it is written for one protocol or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Announce { event: Option<&'static str>, left: u64 },
    Scrape,
}

/// 20 bytes: "-RL0001-" and the peer's number in 12 digits.
fn peer_id(peer: u32) -> [u8; 20] {
    let mut id = *b"-RL0001-000000000000";
    let mut number = peer;
    for digit in id[8..].iter_mut().rev() {
        *digit = b'0' + (number % 10) as u8;
        number /= 10;
    }
    id
}

fn peer_port(peer: u32) -> u16 {
    (1024 + peer % 64000) as u16
}

/// The event a peer sends and the `left` it reports, and its state afterwards.
fn advance(state: &mut PeerState, churn: f64, rng: &mut Rng) -> (Option<&'static str>, u64) {
    match *state {
        PeerState::Offline { seeder: true } => {
            *state = PeerState::Seeding;
            (Some("started"), 0)
        }
        PeerState::Offline { seeder: false } => {
            let left = TORRENT_SIZE - rng.u64(0..TORRENT_SIZE / 2);
            *state = PeerState::Leeching { left };
            (Some("started"), left)
        }
        _ if rng.f64() < churn => {
            let left = match *state {
                PeerState::Leeching { left } => left,
                _ => 0,
            };
            *state = PeerState::Offline { seeder: left == 0 };
            (Some("stopped"), left)
        }
        PeerState::Leeching { left } => {
            let left = left.saturating_sub(rng.u64(0..TORRENT_SIZE / 4));
            if left == 0 {
                *state = PeerState::Seeding;
                (Some("completed"), 0)
            } else {
                *state = PeerState::Leeching { left };
                (None, left)
            }
        }
        PeerState::Seeding => (None, 0),
    }
}

/// Running sums of 1/r^skew over ranks 1..=n, for sampling by binary search.
fn cumulative_popularity(torrents: u32, skew: f64) -> Vec<f64> {
    let mut total = 0.0;
    (1..=torrents)
        .map(|rank| {
            total += 1.0 / f64::from(rank).powf(skew);
            total
        })
        .collect()
}

fn pick(cumulative: &[f64], rng: &mut Rng) -> u32 {
    let target = rng.f64() * cumulative[cumulative.len() - 1];
    let index = cumulative.partition_point(|&sum| sum < target);
    index.min(cumulative.len() - 1) as u32
}

/// A torrent's info hash: 20 bytes spread from its number (splitmix64), so they look random.
pub fn info_hash(torrent: u32, seed: u64) -> [u8; 20] {
    let mut state = seed ^ (u64::from(torrent) << 1);
    let mut hash = [0u8; 20];
    for chunk in hash.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_be_bytes()[..chunk.len()]);
    }
    hash
}

fn percent_encode(bytes: &[u8; 20]) -> [u8; 60] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = [0u8; 60];
    for (byte, slot) in bytes.iter().zip(out.chunks_mut(3)) {
        slot.copy_from_slice(&[b'%', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            torrents: 100,
            peers: 1000,
            skew: 1.0,
            seeder_share: 0.5,
            churn: 0.0,
            scrape_share: 0.0,
            numwant: 50,
            seed: 7,
        }
    }

    #[test]
    fn every_torrent_has_a_peer_and_the_first_ranks_have_most() {
        let workload = Workload::new(shape(), "h".into());
        let mut counts = vec![0u32; 100];
        for peer in 0..1000 {
            counts[workload.torrent_of(peer) as usize] += 1;
        }
        assert!(counts.iter().all(|&count| count >= 1));
        assert!(counts[0] > 10 * counts[99], "rank 1 {} vs rank 100 {}", counts[0], counts[99]);
    }

    #[test]
    fn a_leecher_starts_then_completes_and_a_stopped_peer_starts_again() {
        let mut rng = Rng::with_seed(1);
        let mut state = PeerState::Offline { seeder: false };
        assert_eq!(advance(&mut state, 0.0, &mut rng).0, Some("started"));
        let mut events = Vec::new();
        while state != PeerState::Seeding {
            events.push(advance(&mut state, 0.0, &mut rng).0);
        }
        assert_eq!(events.last(), Some(&Some("completed")));
        assert_eq!(advance(&mut state, 1.0, &mut rng), (Some("stopped"), 0));
        assert_eq!(state, PeerState::Offline { seeder: true });
        assert_eq!(advance(&mut state, 1.0, &mut rng), (Some("started"), 0));
    }

    #[test]
    fn an_announce_request_carries_the_peer_and_its_torrent() {
        let workload = Workload::new(shape(), "127.0.0.1:1".into());
        let mut rng = Rng::with_seed(1);
        let mut state = PeerState::Offline { seeder: true };
        let mut out = Vec::new();
        let step = workload.next_step(&mut state, &mut rng);
        let kind = workload.write_http(5, step, &mut out);
        assert_eq!(kind, RequestKind::Announce { numwant: 50 });
        let text = String::from_utf8(out).unwrap();
        let hash = percent_encode(&info_hash(5, 7));
        assert!(text.starts_with("GET /announce?info_hash="), "{text}");
        assert!(text.contains(std::str::from_utf8(&hash).unwrap()));
        assert!(text.contains("&peer_id=-RL0001-000000000005&port=1029&"), "{text}");
        assert!(text.contains("&left=0&") && text.contains("&event=started"), "{text}");
        assert!(
            text.ends_with(
                " HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: retracker-load/1\r\n\r\n"
            )
        );
    }

    #[test]
    fn a_udp_announce_carries_its_fields_at_bep_15_offsets() {
        let workload = Workload::new(shape(), "127.0.0.1:1".into());
        let step = Step::Announce { event: Some("started"), left: 0 };
        let mut out = Vec::new();
        let kind = workload.write_udp(5, step, 0x0102_0304_0506_0708, 9, &mut out);
        assert_eq!(kind, RequestKind::Announce { numwant: 50 });
        assert_eq!(out.len(), 98);
        assert_eq!(out[0..8], 0x0102_0304_0506_0708u64.to_be_bytes()); // connection id
        assert_eq!(out[8..16], [0, 0, 0, 1, 0, 0, 0, 9]); // action 1, transaction 9
        assert_eq!(out[16..36], info_hash(5, 7)); // info_hash
        assert_eq!(&out[36..56], b"-RL0001-000000000005"); // peer_id
        assert_eq!(out[56..64], TORRENT_SIZE.to_be_bytes()); // downloaded
        assert_eq!(out[64..72], [0; 8]); // left
        assert_eq!(out[80..84], 2u32.to_be_bytes()); // event: started is 2
        assert_eq!(out[84..88], [0; 4]); // IP
        assert_eq!(out[88..92], 5u32.to_be_bytes()); // key
        assert_eq!(out[92..96], 50u32.to_be_bytes()); // num_want
        assert_eq!(out[96..98], 1029u16.to_be_bytes()); // port
    }

    #[test]
    fn a_udp_scrape_names_the_peers_torrent() {
        let workload = Workload::new(shape(), "127.0.0.1:1".into());
        let mut out = Vec::new();
        assert_eq!(workload.write_udp(5, Step::Scrape, 1, 2, &mut out), RequestKind::Scrape);
        assert_eq!(out[..16], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2]);
        assert_eq!(out[16..], info_hash(5, 7));
    }
}
