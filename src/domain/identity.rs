//! Who may speak for a listed peer.
//!
//! A peer id is no secret: every dictionary answer shows it. So an announce that names a
//! listed peer id may change or stop that peer only if it comes from the address the peer is
//! listed at, or carries the `key` (BEP 3) the peer is bound to, from any address (a phone that
//! moves networks keeps its entry). Real clients (aria2, libtorrent, Transmission) send a key,
//! which no answer ever shows. The address counts whatever the key: aria2 draws a new key for
//! every UDP announce, and a tracker that held it to its first would refuse all the rest. So
//! a key guards a peer against other addresses, not against its own (a keyless peer has only
//! that guard, as on trackers that know no keys).
//!
//! The key is held as a 32-bit hash, 4 bytes a peer beside its id. The hash is fixed, not
//! seeded per process: it only decides equality and places nothing in a table, so there is
//! no bucket to aim at; the held value is never shown, so the only attack is to guess online,
//! one announce per guess, and 2^32 of them is no easier than guessing the key itself, which
//! in real clients is a random 32-bit number. And a value that means the same in every
//! process can be kept in a store that several trackers share.

use std::hash::BuildHasher;
use std::num::NonZeroU32;

/// The hash of a client's `key`; never zero, so that `Option<PeerKey>` takes 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerKey(NonZeroU32);

/// Any fixed value: see the file's opening comment for why not a random one.
const KEY_HASH_SEED: u64 = 0x7265_7472_6163_6b72;

impl PeerKey {
    /// The key as the client sent it, decoded to bytes; an empty one is no key.
    pub fn of(key: &[u8]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        let hash = foldhash::quality::FixedState::with_seed(KEY_HASH_SEED).hash_one(key);
        // Both halves count: truncating would throw away half of what the hash mixed.
        let folded = (hash ^ (hash >> 32)) as u32;
        Some(Self(NonZeroU32::new(folded).unwrap_or(NonZeroU32::MIN)))
    }

    /// The hash as a number, for a store that keeps it outside this process.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// An announce named a listed peer without what proves it is that peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotThatPeer;

/// Whether an announce with `key` from address `ip` may speak for a peer listed with
/// `held_key` at `held_ip`; if so, the key the peer is bound to from now on: from its own
/// address, the key it gives now (or the one it had, when it gives none).
pub fn speaks_for<Ip: PartialEq>(
    held_key: Option<PeerKey>,
    held_ip: Ip,
    key: Option<PeerKey>,
    ip: Ip,
) -> Result<Option<PeerKey>, NotThatPeer> {
    match held_key {
        _ if ip == held_ip => Ok(key.or(held_key)),
        Some(held) if key == Some(held) => Ok(Some(held)),
        _ => Err(NotThatPeer),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const HOME: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
    const AWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);

    fn key(text: &str) -> Option<PeerKey> {
        PeerKey::of(text.as_bytes())
    }

    #[test]
    fn a_keyed_peer_answers_to_its_key_from_anywhere_and_elsewhere_to_nothing_else() {
        let held = key("a1b2c3d4");
        assert_eq!(speaks_for(held, HOME, held, AWAY), Ok(held));
        assert_eq!(speaks_for(held, HOME, held, HOME), Ok(held));
        assert_eq!(speaks_for(held, HOME, key("A1B2C3D4"), AWAY), Err(NotThatPeer));
        assert_eq!(speaks_for(held, HOME, None, AWAY), Err(NotThatPeer));
    }

    #[test]
    fn from_its_own_address_a_keyed_peer_takes_the_key_it_gives_now() {
        let held = key("a1b2c3d4");
        assert_eq!(speaks_for(held, HOME, key("A1B2C3D4"), HOME), Ok(key("A1B2C3D4")));
        assert_eq!(speaks_for(held, HOME, None, HOME), Ok(held), "no key keeps the one held");
    }

    #[test]
    fn a_keyless_peer_answers_to_its_address_and_takes_the_first_key_it_gives() {
        assert_eq!(speaks_for(None, HOME, None, HOME), Ok(None));
        assert_eq!(speaks_for(None, HOME, key("f00d"), HOME), Ok(key("f00d")));
        assert_eq!(speaks_for(None, HOME, None, AWAY), Err(NotThatPeer));
        assert_eq!(speaks_for(None, HOME, key("f00d"), AWAY), Err(NotThatPeer));
    }

    #[test]
    fn keys_hash_apart_and_an_empty_key_is_none() {
        assert_eq!(key(""), None);
        let keys: Vec<_> = (0..10_000u32).map(|n| key(&format!("{n:08X}")).unwrap()).collect();
        let mut distinct: Vec<u32> = keys.iter().map(|key| key.0.get()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len(), "no two of 10,000 real-looking keys collide");
        assert_eq!(key("a1b2c3d4"), key("a1b2c3d4"), "the same key, the same hash");
    }

    #[test]
    fn a_held_key_costs_four_bytes() {
        assert_eq!(std::mem::size_of::<Option<PeerKey>>(), 4);
    }
}
