//! Connection ids: a BEP 15 client's proof that it receives at the address it sends from.
//!
//! Stateless: an id is a keyed hash of the client's IP address and a time window, with a
//! secret drawn from the OS at start-up, so nothing is stored per client and a flood of
//! connects costs no memory. Only someone who got our answer at that address knows the id.
//! The hash is SipHash-2-4, a pseudo-random function under its key: ids cannot be forged or
//! predicted from others without the key. The port is left out, as a NAT may move it.
//!
//! The id of the current window and of the one before are accepted, so an id lives between
//! one and two windows: at least the two minutes BEP 15 lets a client keep it.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

use crate::domain::time::Timestamp;

/// How long a window lasts, in seconds.
pub const WINDOW_SECS: u32 = 120;

/// Issues and checks connection ids under one secret.
pub struct ConnectionIds {
    key: [u8; 16],
}

impl ConnectionIds {
    /// Ids under a secret from the operating system's random source.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0; 16];
        getrandom::fill(&mut key)?;
        Ok(Self { key })
    }

    /// Ids under a known secret, for tests.
    pub fn with_key(key: [u8; 16]) -> Self {
        Self { key }
    }

    /// The id to hand to a client at `ip` now.
    pub fn issue(&self, ip: IpAddr, now: Timestamp) -> u64 {
        self.hash(ip, now.secs() / WINDOW_SECS)
    }

    /// Whether `id` was issued to `ip` in this window or the one before.
    pub fn is_valid(&self, id: u64, ip: IpAddr, now: Timestamp) -> bool {
        let window = now.secs() / WINDOW_SECS;
        // A u64 comparison takes the same time whatever the values, so it leaks nothing.
        id == self.hash(ip, window) || (window > 0 && id == self.hash(ip, window - 1))
    }

    fn hash(&self, ip: IpAddr, window: u32) -> u64 {
        // An IPv4 client is the same client over an IPv4 socket or a dual-stack one.
        let ip = match ip.to_canonical() {
            IpAddr::V4(ip) => ip.to_ipv6_mapped(),
            IpAddr::V6(ip) => ip,
        };
        let mut hasher = SipHasher24::new_with_key(&self.key);
        hasher.write(&window.to_be_bytes());
        hasher.write(&ip.octets());
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 8));

    fn at(secs: u32) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn an_id_is_good_for_at_least_two_minutes_and_at_most_four() {
        let ids = ConnectionIds::with_key([7; 16]);
        let issued_at = 1_000_000 * WINDOW_SECS - 1; // the last second of a window
        let id = ids.issue(HOME, at(issued_at));
        assert!(ids.is_valid(id, HOME, at(issued_at)));
        assert!(ids.is_valid(id, HOME, at(issued_at + 120)));
        assert!(!ids.is_valid(id, HOME, at(issued_at + 121)));
        let early = ids.issue(HOME, at(issued_at + 1)); // the first second of the next
        assert!(ids.is_valid(early, HOME, at(issued_at + 1 + 239)));
        assert!(!ids.is_valid(early, HOME, at(issued_at + 1 + 240)));
    }

    #[test]
    fn an_id_is_bound_to_its_address() {
        let ids = ConnectionIds::with_key([7; 16]);
        let id = ids.issue(HOME, at(5_000));
        assert!(!ids.is_valid(id, AWAY, at(5_000)));
        assert!(!ids.is_valid(id ^ 1, HOME, at(5_000)));
    }

    #[test]
    fn a_mapped_ipv4_address_is_the_same_client() {
        let ids = ConnectionIds::with_key([7; 16]);
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert!(ids.is_valid(ids.issue(mapped, at(5_000)), HOME, at(5_000)));
    }

    #[test]
    fn another_secret_gives_other_ids() {
        let (one, other) = (ConnectionIds::new().unwrap(), ConnectionIds::new().unwrap());
        let id = one.issue(HOME, at(5_000));
        assert!(!other.is_valid(id, HOME, at(5_000)));
        assert_ne!(id, ConnectionIds::with_key([7; 16]).issue(HOME, at(5_000)));
    }

    #[test]
    fn the_first_window_has_no_previous_one() {
        let ids = ConnectionIds::with_key([7; 16]);
        assert!(ids.is_valid(ids.issue(HOME, at(0)), HOME, at(WINDOW_SECS - 1)));
    }
}
