//! The two 20-byte identifiers of the protocol: a torrent's info hash and a client's peer id.
//!
//! Both arrive as raw bytes chosen by the client, so they are plain byte arrays here; nothing
//! assumes they are text.

use std::fmt;

/// Length in bytes of an info hash and of a peer id (a SHA-1 digest's size).
pub const ID_LEN: usize = 20;

/// A byte string that was not exactly [`ID_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongLength(pub usize);

macro_rules! twenty_byte_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    fn displays_as_lowercase_hex() {
        let mut bytes = [0u8; 20];
        bytes[0] = 0x0f;
        bytes[19] = 0xa0;
        let text = InfoHash(bytes).to_string();
        assert_eq!(text, format!("0f{}a0", "00".repeat(18)));
    }
}
