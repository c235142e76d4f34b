//! What a peer set keeps of one peer besides its id: 11 bytes for an IPv4 peer.
//!
//! The fields are byte arrays, so the record has alignment 1 and no padding: with a `u16` port,
//! a `u32` time and a byte each for the role and the completion flag it took 12 bytes. The role
//! and the flag share one byte. x86-64 and AArch64 read unaligned words at no extra cost.

use super::peer::{Endpoint, Role};
use super::time::Timestamp;

/// Set in `flags` once the peer's `completed` event was counted: a download counts once.
const COMPLETED: u8 = 1 << 2;
/// The role's bits in `flags`.
const ROLE: u8 = 0b11;

#[derive(Debug, Clone, Copy)]
pub struct Entry<Ip> {
    ip: Ip,
    port: [u8; 2],
    last_seen: [u8; 4],
    /// The role in the low two bits, `COMPLETED` above them.
    flags: u8,
}

impl<Ip: Copy> Entry<Ip> {
    pub fn new(endpoint: Endpoint<Ip>, last_seen: Timestamp, role: Role, completed: bool) -> Self {
        let role = match role {
            Role::Seeder => 0,
            Role::PartialSeed => 1,
            Role::Leecher => 2,
        };
        Self {
            ip: endpoint.ip,
            port: endpoint.port.to_ne_bytes(),
            last_seen: last_seen.secs().to_ne_bytes(),
            flags: role | if completed { COMPLETED } else { 0 },
        }
    }

    pub fn ip(&self) -> Ip {
        self.ip
    }

    pub fn endpoint(&self) -> Endpoint<Ip> {
        Endpoint { ip: self.ip, port: u16::from_ne_bytes(self.port) }
    }

    pub fn last_seen(&self) -> Timestamp {
        Timestamp::from_secs(u32::from_ne_bytes(self.last_seen))
    }

    pub fn role(&self) -> Role {
        match self.flags & ROLE {
            0 => Role::Seeder,
            1 => Role::PartialSeed,
            _ => Role::Leecher,
        }
    }

    /// Its `completed` event was already counted.
    pub fn completed(&self) -> bool {
        self.flags & COMPLETED != 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn an_ipv4_entry_takes_eleven_bytes_and_an_ipv6_one_twenty_three() {
        assert_eq!(std::mem::size_of::<Entry<Ipv4Addr>>(), 11);
        assert_eq!(std::mem::size_of::<Entry<Ipv6Addr>>(), 23);
    }

    #[test]
    fn every_field_reads_back_as_written() {
        let endpoint = Endpoint { ip: Ipv4Addr::new(192, 0, 2, 77), port: 51413 };
        for role in [Role::Seeder, Role::PartialSeed, Role::Leecher] {
            for completed in [false, true] {
                let seen = Timestamp::from_secs(4_000_000_123);
                let entry = Entry::new(endpoint, seen, role, completed);
                assert_eq!(entry.endpoint(), endpoint);
                assert_eq!(entry.ip(), endpoint.ip);
                assert_eq!(entry.last_seen(), seen);
                assert_eq!((entry.role(), entry.completed()), (role, completed));
            }
        }
    }
}
