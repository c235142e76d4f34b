//! The UDP addresses a process has bound, read from Linux's /proc: the process's descriptors
//! name socket inodes, and /proc/net/udp and udp6 give each inode's local address. No `ss`
//! needed, and nothing the machine might lack.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Every local address of a UDP socket `pid` holds open.
pub fn udp_local_addrs(pid: u32) -> Vec<SocketAddr> {
    let inodes = socket_inodes(pid);
    let mut addrs = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        // After the header: sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.contains(fields[9]) {
                addrs.push(parse_local_address(fields[1]));
            }
        }
    }
    addrs
}

/// The inodes of the sockets among `pid`'s descriptors (links that read `socket:[INODE]`).
fn socket_inodes(pid: u32) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect()
}

/// `HEXIP:HEXPORT` as the kernel writes it: the address in 32-bit words, each in the
/// machine's byte order (little-endian here), the port as a plain hex number.
fn parse_local_address(field: &str) -> SocketAddr {
    let (ip, port) = field.split_once(':').expect("IP:PORT");
    let port = u16::from_str_radix(port, 16).expect("hex port");
    let mut bytes = Vec::new();
    for word in ip.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).unwrap(), 16).expect("hex");
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap())),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap())),
        n => panic!("a {n}-byte address in /proc/net/udp"),
    };
    SocketAddr::new(ip, port)
}

#[test]
fn kernel_addresses_read_as_written() {
    assert_eq!(parse_local_address("0100007F:1AE1"), "127.0.0.1:6881".parse().unwrap());
    assert_eq!(
        parse_local_address("00000000000000000000000001000000:0035"),
        "[::1]:53".parse().unwrap()
    );
}
