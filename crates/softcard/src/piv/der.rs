//! A small DER writer (ITU-T X.690) for the attestation certificates: just the types
//! X.509 needs. Every function returns one complete encoding.

use crate::tlv;

/// SEQUENCE of already encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv::encode(0x30, &parts.concat())
}

/// SET of already encoded parts (given in DER order).
pub fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv::encode(0x31, &parts.concat())
}

/// A non-negative INTEGER from big-endian bytes.
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv::encode(0x02, &content)
}

/// An OBJECT IDENTIFIER from its arcs (the first two combine into one byte).
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, &[][..]),
    };
    for arc in core::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push((v & 0x7F) as u8 | 0x80);
            v >>= 7;
        }
        content.extend(groups.iter().rev());
    }
    tlv::encode(0x06, &content)
}

/// BIT STRING with no unused bits.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0];
    content.extend_from_slice(bytes);
    tlv::encode(0x03, &content)
}

/// OCTET STRING.
pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv::encode(0x04, bytes)
}

/// UTF8String.
pub fn utf8(s: &str) -> Vec<u8> {
    tlv::encode(0x0C, s.as_bytes())
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

/// BOOLEAN.
pub fn boolean(v: bool) -> Vec<u8> {
    vec![0x01, 0x01, if v { 0xFF } else { 0x00 }]
}

/// UTCTime from its text ("YYMMDDhhmmssZ").
pub fn utc_time(text: &str) -> Vec<u8> {
    tlv::encode(0x17, text.as_bytes())
}

/// GeneralizedTime from its text ("YYYYMMDDhhmmssZ").
pub fn generalized_time(text: &str) -> Vec<u8> {
    tlv::encode(0x18, text.as_bytes())
}

/// A constructed context-specific tag `[n]` around one encoding.
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv::encode(0xA0 | u32::from(n), inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(
            oid(&[1, 2, 840, 10045, 4, 3, 2]),
            hex::decode("06082a8648ce3d040302").unwrap()
        );
        assert_eq!(
            oid(&[1, 3, 6, 1, 4, 1, 41482, 3, 3]),
            hex::decode("060a2b0601040182c40a0303").unwrap()
        );
        assert_eq!(uint(&[0, 0, 0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[]), vec![2, 1, 0]);
        assert_eq!(uint(&[0x7F]), vec![2, 1, 0x7F]);
        assert_eq!(
            seq(&[&null(), &boolean(true)]),
            vec![0x30, 5, 5, 0, 1, 1, 0xFF]
        );
    }
}
