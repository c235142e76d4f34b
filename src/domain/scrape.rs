//! The scrape rule (BEP 48): counts for each torrent asked about.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use super::ids::InfoHash;
use super::swarm::SwarmStats;

/// Counts per requested torrent, in the order first asked; an unknown torrent counts zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeResponse {
    pub files: Vec<(InfoHash, SwarmStats)>,
}

/// The distinct hashes of a scrape, in the order first asked. Clients do repeat themselves,
/// and each torrent should appear once in the answer.
pub fn distinct(hashes: &[InfoHash]) -> Vec<InfoHash> {
    let mut seen = HashSet::with_capacity_and_hasher(hashes.len(), RandomState::default());
    hashes.iter().copied().filter(|hash| seen.insert(*hash)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_order_and_drops_repeats() {
        let (a, b) = (InfoHash([1; 20]), InfoHash([2; 20]));
        assert_eq!(distinct(&[b, a, b, a]), vec![b, a]);
        assert!(distinct(&[]).is_empty());
    }
}
