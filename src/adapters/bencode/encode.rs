//! Writes bencode straight into a byte buffer.
//!
//! Tracker answers have a fixed shape, so the callers write keys in sorted order themselves;
//! this is only the primitives, kept allocation-free for the hot path.

/// `i<n>e`
pub fn integer(out: &mut Vec<u8>, n: u64) {
    out.push(b'i');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'e');
}

/// `<len>:<bytes>`
pub fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    byte_string_header(out, value.len());
    out.extend_from_slice(value);
}

/// `<len>:`, for a string the caller writes next in pieces.
pub fn byte_string_header(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.push(b':');
}

/// A dictionary key followed by an integer value.
pub fn key_integer(out: &mut Vec<u8>, key: &str, n: u64) {
    bytes(out, key.as_bytes());
    integer(out, n);
}

/// An integer under a key given already encoded and followed by its `i`, e.g.
/// `b"8:intervali"`: for keys that never change, so the hot path need not write their lengths.
/// Inlined so that each key's length is known where it is copied (no `memcpy` call).
#[inline]
pub fn encoded_key_integer(out: &mut Vec<u8>, key_and_i: &[u8], n: u64) {
    out.extend_from_slice(key_and_i);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'e');
}

pub fn dict_start(out: &mut Vec<u8>) {
    out.push(b'd');
}

pub fn list_start(out: &mut Vec<u8>) {
    out.push(b'l');
}

/// Ends a dictionary or a list.
pub fn end(out: &mut Vec<u8>) {
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_byte_exact() {
        let mut out = Vec::new();
        dict_start(&mut out);
        key_integer(&mut out, "interval", 1800);
        encoded_key_integer(&mut out, b"4:porti", 6881);
        bytes(&mut out, b"k");
        list_start(&mut out);
        integer(&mut out, 0);
        bytes(&mut out, b"");
        bytes(&mut out, &[0xff, b':']);
        end(&mut out);
        end(&mut out);
        assert_eq!(out, b"d8:intervali1800e4:porti6881e1:kli0e0:2:\xff:ee");
    }

    #[test]
    fn largest_integer() {
        let mut out = Vec::new();
        integer(&mut out, u64::MAX);
        assert_eq!(out, b"i18446744073709551615e");
    }
}
