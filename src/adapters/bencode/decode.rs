//! Reads bencode from untrusted peers (upstream trackers), borrowing from the input.
//!
//! Hostile input must cost us nothing but an error: nesting is capped (a deep `llll…` would
//! otherwise overflow the stack), string lengths are checked against the bytes actually
//! there before anything is sliced, and nothing is allocated in proportion to a length
//! the input merely claims.

use std::fmt;

/// Nesting deeper than any tracker answer needs (they use three levels).
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Integer(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    /// Pairs in the order they came; trackers do not all sort their keys.
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The value under `key`, if this is a dictionary that has it.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Dict(pairs) => pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    UnexpectedEnd,
    Unexpected { at: usize, byte: u8 },
    BadInteger { at: usize },
    TooDeep,
    TrailingBytes { at: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => write!(f, "bencode ends too early"),
            Self::Unexpected { at, byte } => write!(f, "unexpected byte 0x{byte:02x} at {at}"),
            Self::BadInteger { at } => write!(f, "malformed integer at {at}"),
            Self::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            Self::TrailingBytes { at } => write!(f, "unexpected bytes after the value, at {at}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes exactly one value that spans the whole input.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let mut reader = Reader { input, at: 0 };
    let value = reader.value(0)?;
    if reader.at != input.len() {
        return Err(DecodeError::TrailingBytes { at: reader.at });
    }
    Ok(value)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input.get(self.at).copied().ok_or(DecodeError::UnexpectedEnd)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        match self.peek()? {
            b'i' => {
                self.at += 1;
                let n = self.integer_until(b'e')?;
                Ok(Value::Integer(n))
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => {
                self.at += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.at += 1;
                let mut pairs = Vec::new();
                while self.peek()? != b'e' {
                    let key = self.bytes()?;
                    pairs.push((key, self.value(depth + 1)?));
                }
                self.at += 1;
                Ok(Value::Dict(pairs))
            }
            byte => Err(DecodeError::Unexpected { at: self.at, byte }),
        }
    }

    /// `<len>:<bytes>`, checking `len` against what is left before slicing.
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.at;
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(DecodeError::Unexpected { at: start, byte: first });
        }
        let len = self.integer_until(b':')?;
        let len = usize::try_from(len).map_err(|_| DecodeError::BadInteger { at: start })?;
        let rest = &self.input[self.at..];
        if len > rest.len() {
            return Err(DecodeError::UnexpectedEnd);
        }
        self.at += len;
        Ok(&rest[..len])
    }

    /// A decimal integer running up to `end`, which is consumed. No `+`, no leading zeros,
    /// no `-0`, as the format says.
    fn integer_until(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.at;
        let rest = &self.input[start..];
        let negative = rest.first() == Some(&b'-');
        let digits_from = usize::from(negative);
        // One pass that sums while it looks for `end`; summed below zero so that i64::MIN,
        // whose magnitude has no positive i64, fits.
        let mut below_zero: Option<i64> = Some(0);
        let mut len = digits_from;
        loop {
            match rest.get(len) {
                Some(&byte) if byte == end => break,
                Some(&byte) if byte.is_ascii_digit() => {
                    below_zero = below_zero
                        .and_then(|sum| sum.checked_mul(10))
                        .and_then(|sum| sum.checked_sub(i64::from(byte - b'0')));
                    len += 1;
                }
                // Not an integer; but with no `end` anywhere, the input was cut short.
                Some(_) if memchr::memchr(end, &rest[len..]).is_some() => {
                    return Err(DecodeError::BadInteger { at: start });
                }
                _ => return Err(DecodeError::UnexpectedEnd),
            }
        }
        let digits = &rest[digits_from..len];
        let well_formed = !digits.is_empty()
            && (digits == b"0" || digits[0] != b'0')
            && !(negative && digits == b"0");
        let n = if negative { below_zero } else { below_zero.and_then(i64::checked_neg) };
        let n = n.filter(|_| well_formed).ok_or(DecodeError::BadInteger { at: start })?;
        self.at = start + len + 1;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tracker_answer() {
        let body = b"d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";
        let value = decode(body).unwrap();
        assert_eq!(value.get(b"interval").and_then(Value::as_integer), Some(1800));
        assert_eq!(
            value.get(b"peers").and_then(Value::as_bytes),
            Some(&b"\x7f\x00\x00\x01\x1a\xe1"[..])
        );
        assert_eq!(value.get(b"missing"), None);
    }

    #[test]
    fn reads_lists_dicts_and_negative_numbers() {
        let value = decode(b"ld1:ai-5eel0:ee").unwrap();
        let items = value.as_list().unwrap();
        assert_eq!(items[0].get(b"a").and_then(Value::as_integer), Some(-5));
        assert_eq!(items[1], Value::List(vec![Value::Bytes(b"")]));
    }

    #[test]
    fn integers_reach_both_ends_of_i64_and_no_further() {
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Integer(i64::MAX)));
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Integer(i64::MIN)));
        assert_eq!(decode(b"i9223372036854775808e"), Err(DecodeError::BadInteger { at: 1 }));
        assert_eq!(decode(b"i-9223372036854775809e"), Err(DecodeError::BadInteger { at: 1 }));
        assert_eq!(decode(b"i0e"), Ok(Value::Integer(0)));
        assert_eq!(decode(b"i-12e"), Ok(Value::Integer(-12)));
        assert_eq!(decode(b"i1x2e"), Err(DecodeError::BadInteger { at: 1 }));
    }

    #[test]
    fn refuses_malformed_input() {
        let cases: [(&[u8], DecodeError); 10] = [
            (b"", DecodeError::UnexpectedEnd),
            (b"i12", DecodeError::UnexpectedEnd),
            (b"ie", DecodeError::BadInteger { at: 1 }),
            (b"i-0e", DecodeError::BadInteger { at: 1 }),
            (b"i03e", DecodeError::BadInteger { at: 1 }),
            (b"i99999999999999999999e", DecodeError::BadInteger { at: 1 }),
            (b"5:abc", DecodeError::UnexpectedEnd),
            (b"99999999999999999999999:x", DecodeError::BadInteger { at: 0 }),
            (b"x", DecodeError::Unexpected { at: 0, byte: b'x' }),
            (b"i1ei2e", DecodeError::TrailingBytes { at: 3 }),
        ];
        for (input, error) in cases {
            assert_eq!(decode(input), Err(error), "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn a_dict_key_must_be_a_string() {
        assert_eq!(decode(b"di1ei2ee"), Err(DecodeError::Unexpected { at: 1, byte: b'i' }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
        let fine = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
        assert!(decode(&fine).is_ok());
    }
}
