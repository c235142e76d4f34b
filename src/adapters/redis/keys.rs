//! The names of a torrent's keys.
//!
//! Every key of a torrent carries its info hash in hex inside braces, a Redis Cluster hash
//! tag: all of them hash to one slot, so one script may touch them all on a cluster. Hex,
//! because raw hash bytes may hold a `}` that would end the tag early.

use crate::domain::ids::InfoHash;

/// The four keys the announce script takes, in its KEYS order: the seeders, the partial
/// seeds, the leechers, the records.
pub fn torrent_keys(info_hash: &InfoHash) -> [String; 4] {
    let tag = hex(info_hash);
    ["seed", "part", "leech", "peer"].map(|part| format!("rt:{{{tag}}}:{part}"))
}

fn hex(info_hash: &InfoHash) -> String {
    let mut text = String::with_capacity(40);
    for byte in info_hash.as_bytes() {
        text.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        text.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_torrent_shares_one_hash_tag_even_for_brace_bytes() {
        let mut bytes = [0u8; 20];
        bytes[0] = b'}';
        bytes[19] = 0xab;
        let keys = torrent_keys(&InfoHash(bytes));
        let tag = "{7d000000000000000000000000000000000000ab}";
        for key in &keys {
            assert!(key.starts_with(&format!("rt:{tag}:")), "{key}");
        }
        assert_eq!(keys[0], format!("rt:{tag}:seed"));
        assert_eq!(keys[3], format!("rt:{tag}:peer"));
    }
}
