//! The cap on connections open at once from one address, so that one client holding
//! connections cannot take every place under `max_connections` and lock everyone else out.
//!
//! The address is the socket's peer address: `X-Real-IP` is a header of a request not yet
//! read. An IPv4 address counts as itself (a v4-mapped IPv6 one too, as a dual-stack socket
//! hands IPv4 clients); an IPv6 address counts by its /64, because one host is usually given a
//! whole /64 and could otherwise open the cap's worth of connections from each of its addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::sync::Arc;

use parking_lot::Mutex;

/// Connections open from each address; an address with none has no entry.
pub struct AddressCap {
    limit: NonZeroUsize,
    /// Seeded hasher: the keys are addresses a client can pick, within its means.
    open: Mutex<HashMap<IpAddr, usize, foldhash::quality::RandomState>>,
}

/// One connection's place under the cap, given back when dropped.
pub struct AddressSlot {
    cap: Arc<AddressCap>,
    key: IpAddr,
}

impl AddressCap {
    pub fn new(limit: NonZeroUsize) -> Arc<Self> {
        Arc::new(Self { limit, open: Mutex::default() })
    }

    /// A place for one more connection from `ip`, or `None` if it has `limit` open already.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = counted_as(ip);
        let mut open = self.open.lock();
        let count = open.entry(key).or_insert(0);
        if *count >= self.limit.get() {
            return None;
        }
        *count += 1;
        Some(AddressSlot { cap: self.clone(), key })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.cap.open.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The key `ip` is counted under: itself for IPv4, its /64 for IPv6.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(limit: usize) -> Arc<AddressCap> {
        AddressCap::new(NonZeroUsize::new(limit).unwrap())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Connections counted under the key `ip` counts as.
    fn open_from(cap: &AddressCap, ip: IpAddr) -> usize {
        cap.open.lock().get(&counted_as(ip)).copied().unwrap_or(0)
    }

    #[test]
    fn an_address_gets_up_to_the_limit_and_others_are_not_affected() {
        let cap = cap(2);
        let held = [cap.admit(ip("192.0.2.1")), cap.admit(ip("192.0.2.1"))];
        assert!(held.iter().all(Option::is_some));
        assert!(cap.admit(ip("192.0.2.1")).is_none(), "a third from the same address");
        assert!(cap.admit(ip("192.0.2.2")).is_some(), "another address is not affected");
    }

    #[test]
    fn a_closed_connection_gives_its_place_back_and_empty_entries_go() {
        let cap = cap(1);
        let slot = cap.admit(ip("192.0.2.1")).unwrap();
        assert!(cap.admit(ip("192.0.2.1")).is_none());
        drop(slot);
        assert_eq!(open_from(&cap, ip("192.0.2.1")), 0);
        assert!(cap.open.lock().is_empty(), "no entry kept for an address with no connection");
        assert!(cap.admit(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn a_v4_mapped_address_counts_as_its_ipv4_address() {
        let cap = cap(1);
        let _slot = cap.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(cap.admit(ip("192.0.2.1")).is_none());
        assert!(cap.admit(ip("::ffff:192.0.2.2")).is_some(), "other IPv4 clients are apart");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let cap = cap(1);
        let _slot = cap.admit(ip("2001:db8:0:1::1")).unwrap();
        assert!(cap.admit(ip("2001:db8:0:1:ffff::2")).is_none(), "same /64");
        assert!(cap.admit(ip("2001:db8:0:2::1")).is_some(), "another /64");
        assert_eq!(open_from(&cap, ip("2001:db8:0:1::abc")), 1);
    }
}
