//! Forwarding records of the torrents this instance forwards for, kept in its own memory.
//!
//! Records hold upstream answers and back-offs: sharing them through Redis would cost a
//! forwarding announce a second round trip, and a restart loses only cached answers. So each
//! instance forwards for its own clients, and an upstream hears from every instance that
//! serves a torrent (docs/redis.md says what that costs).

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::domain::forwarding::UpstreamRecords;
use crate::domain::ids::InfoHash;
use crate::domain::time::Timestamp;

#[derive(Default)]
pub struct LocalRecords {
    // Seeded: info hashes are client-chosen bytes.
    torrents: Mutex<HashMap<InfoHash, UpstreamRecords, foldhash::quality::RandomState>>,
}

impl LocalRecords {
    /// Runs `apply` on the torrent's records, made empty if there were none.
    pub fn with<T>(
        &self,
        info_hash: &InfoHash,
        apply: impl FnOnce(&mut UpstreamRecords) -> T,
    ) -> T {
        apply(self.torrents.lock().entry(*info_hash).or_default())
    }

    /// Runs `apply` on the torrent's records if there are any.
    pub fn with_held<T>(
        &self,
        info_hash: &InfoHash,
        apply: impl FnOnce(&mut UpstreamRecords) -> T,
    ) -> Option<T> {
        self.torrents.lock().get_mut(info_hash).map(apply)
    }

    /// Ages every record by `cutoff` and drops the torrents left with none; returns how many
    /// went.
    pub fn expire(&self, cutoff: Timestamp) -> usize {
        let mut torrents = self.torrents.lock();
        let before = torrents.len();
        torrents.retain(|_, records| {
            records.expire(cutoff);
            !records.is_empty()
        });
        before - torrents.len()
    }
}
