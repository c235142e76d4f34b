//! The two 20-byte identifiers of the protocol: a torrent's info hash and a client's peer id.
//!
//! Both arrive as raw bytes chosen by the client, so they are plain byte arrays here; nothing
//! assumes they are text.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Length in bytes of an info hash and of a peer id (a SHA-1 digest's size).
pub const ID_LEN: usize = 20;

/// A byte string that was not exactly [`ID_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongLength(pub usize);

macro_rules! twenty_byte_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(pub [u8; ID_LEN]);

        impl $name {
            /// Takes exactly twenty bytes; any other length is an error that says how many came.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, WrongLength> {
                <[u8; ID_LEN]>::try_from(bytes).map(Self).map_err(|_| WrongLength(bytes.len()))
            }

            pub fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }
        }

        // Fed to the hasher as three words rather than as a length and a slice of bytes, which
        // costs a byte loop: every announce hashes ids three times or more.
        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                let word = |at: usize| {
                    u64::from_ne_bytes(self.0[at..at + 8].try_into().expect("8 bytes"))
                };
                let tail = u32::from_ne_bytes(self.0[16..].try_into().expect("4 bytes"));
                state.write_u64(word(0));
                state.write_u64(word(8));
                state.write_u32(tail);
            }
        }

        // Hex, because the bytes are rarely printable and logs must stay one line.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

twenty_byte_id!(
    /// Identifies a torrent: the SHA-1 of its bencoded `info` dictionary.
    InfoHash
);
twenty_byte_id!(
    /// Identifies one running client within a swarm; chosen by the client itself.
    PeerId
);

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn accepts_exactly_twenty_bytes() {
        let hash = InfoHash::from_bytes(&[0xab; 20]).unwrap();
        assert_eq!(hash.as_bytes(), &[0xab; 20]);
    }

    #[test]
    fn reports_the_length_it_got() {
        assert_eq!(InfoHash::from_bytes(&[0; 19]), Err(WrongLength(19)));
        assert_eq!(PeerId::from_bytes(&[0; 21]), Err(WrongLength(21)));
        assert_eq!(PeerId::from_bytes(&[]), Err(WrongLength(0)));
    }

    #[test]
    fn every_byte_counts_in_the_hash() {
        // Hashing only part of an id would let a client pick ids that all collide.
        let hasher = foldhash::fast::FixedState::with_seed(7);
        let base = PeerId([0x5a; 20]);
        assert_eq!(hasher.hash_one(base), hasher.hash_one(PeerId([0x5a; 20])));
        for at in 0..ID_LEN {
            let mut other = base;
            other.0[at] ^= 1;
            assert_ne!(hasher.hash_one(base), hasher.hash_one(other), "byte {at} was not hashed");
        }
    }

    #[test]
    fn displays_as_lowercase_hex() {
        let mut bytes = [0u8; 20];
        bytes[0] = 0x0f;
        bytes[19] = 0xa0;
        let text = InfoHash(bytes).to_string();
        assert_eq!(text, format!("0f{}a0", "00".repeat(18)));
    }
}
