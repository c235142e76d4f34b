//! The names of a torrent's keys.
//!
//! Every key of a torrent carries its info hash in hex inside braces, a Redis Cluster hash
//! tag: all of them hash to one slot, so one script may touch them all on a cluster. Hex,
//! because raw hash bytes may hold a `}` that would end the tag early.

use crate::domain::ids::InfoHash;

/// The four keys the announce script takes, in its KEYS order: the seeders, the partial
/// seeds, the leechers, the records.
pub fn torrent_keys(info_hash: &InfoHash) -> [String; 4] {
    // An info hash displays as lowercase hex.
    PARTS.map(|part| format!("rt:{{{info_hash}}}:{part}"))
}

const PARTS: [&str; 4] = ["seed", "part", "leech", "peer"];

/// Writes the four keys onto `command`, in KEYS order, with nothing allocated on the way:
/// what `torrent_keys` names, on every announce's path.
pub fn write_torrent_keys(command: &mut redis::Cmd, info_hash: &InfoHash) {
    // "rt:{" 40 hex digits "}:" then the longest part, "leech".
    let mut key = [0u8; 4 + 40 + 2 + 5];
    key[..4].copy_from_slice(b"rt:{");
    hex::encode_to_slice(info_hash.as_bytes(), &mut key[4..44]).expect("40 digits for 20 bytes");
    key[44..46].copy_from_slice(b"}:");
    for part in PARTS {
        key[46..46 + part.len()].copy_from_slice(part.as_bytes());
        command.arg(&key[..46 + part.len()]);
    }
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

        let mut command = redis::Cmd::new();
        write_torrent_keys(&mut command, &InfoHash(bytes));
        let written: Vec<String> = command
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                _ => panic!("only plain arguments are written"),
            })
            .collect();
        assert_eq!(written, keys, "both ways of naming the keys agree");
    }
}
