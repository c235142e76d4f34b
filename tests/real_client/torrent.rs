//! The file the clients swap and its .torrent, made here so that the test depends on no
//! client's torrent maker.

use retracker::adapters::bencode::encode;
use sha1::{Digest, Sha1};

const PIECE_LENGTH: usize = 256 * 1024;
/// Not a whole number of pieces, so the short last piece is exchanged too.
pub const FILE_LENGTH: usize = 4 * 1024 * 1024 + 12_345;
pub const FILE_NAME: &str = "payload.bin";

pub fn random_content(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::new();
    (0..len).map(|_| rng.u8(..)).collect()
}

pub fn sha1(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// A single-file .torrent announcing only to `announce_url`, and its info hash. The info
/// dictionary depends on the content and `private` alone, so torrents that differ only in
/// their tracker share an info hash, and a swarm. A private torrent (BEP 27) keeps a client
/// from looking for peers anywhere but at its trackers.
pub fn torrent_file(
    announce_url: &str,
    name: &str,
    content: &[u8],
    private: bool,
) -> (Vec<u8>, [u8; 20]) {
    let mut pieces = Vec::new();
    for piece in content.chunks(PIECE_LENGTH) {
        pieces.extend_from_slice(&sha1(piece));
    }
    // Keys in sorted order, as bencode requires.
    let mut info = Vec::new();
    encode::dict_start(&mut info);
    encode::key_integer(&mut info, "length", content.len() as u64);
    encode::bytes(&mut info, b"name");
    encode::bytes(&mut info, name.as_bytes());
    encode::key_integer(&mut info, "piece length", PIECE_LENGTH as u64);
    encode::bytes(&mut info, b"pieces");
    encode::bytes(&mut info, &pieces);
    if private {
        encode::key_integer(&mut info, "private", 1);
    }
    encode::end(&mut info);

    let mut torrent = Vec::new();
    encode::dict_start(&mut torrent);
    encode::bytes(&mut torrent, b"announce");
    encode::bytes(&mut torrent, announce_url.as_bytes());
    encode::bytes(&mut torrent, b"info");
    torrent.extend_from_slice(&info);
    encode::end(&mut torrent);
    (torrent, sha1(&info))
}
