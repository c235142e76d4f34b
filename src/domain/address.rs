//! Which addresses a peer may be listed at: only ones another peer could connect to.
//!
//! A tracker hands addresses to strangers, so an unusable one is worse than useless: every
//! downloader handed it wastes a connection attempt. Private, link-local and loopback
//! addresses stay allowed on purpose: retracker serves LANs, where those are the normal case.

use std::net::IpAddr;

/// False for addresses no peer can connect to: unspecified (`0.0.0.0`, `::`), the rest of
/// `0.0.0.0/8` ("this network"), multicast (`224.0.0.0/4`, `ff00::/8`), and the reserved
/// `240.0.0.0/4`, which holds the broadcast address `255.255.255.255`. An IPv4-mapped IPv6
/// address is judged as the IPv4 address it carries.
pub fn is_listable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        // Everything from 224 up is multicast or reserved.
        IpAddr::V4(ip) => (1..224).contains(&ip.octets()[0]),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listable(text: &str) -> bool {
        is_listable(text.parse().unwrap())
    }

    #[test]
    fn unreachable_addresses_are_not_listable() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "ff02::1",
            "ff0e::1:3",
            "::ffff:0.0.0.0",
            "::ffff:224.0.0.1",
        ] {
            assert!(!listable(address), "{address} should not be listable");
        }
    }

    #[test]
    fn lan_and_public_addresses_are_listable() {
        for address in [
            "1.0.0.1",
            "10.0.0.5",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.10.20",
            "172.16.0.1",
            "192.168.1.15",
            "198.51.100.20",
            "223.255.255.254",
            "::1",
            "fe80::1",
            "fd00::7",
            "2001:db8::1",
            "::ffff:192.0.2.7",
        ] {
            assert!(listable(address), "{address} should be listable");
        }
    }
}
