//! A small DER writer and reader (X.690), enough for requests, CMS and certificates.
//!
//! The writer builds values bottom-up as byte vectors; `SET OF` values are sorted as DER
//! requires. The reader walks definite-length TLVs with every length checked against the
//! input and never panics; BER indefinite lengths and multi-byte tags are refused.

use crate::EnrollError;

/// Universal and context tags used by this crate.
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const IA5_STRING: u8 = 0x16;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[n]` constructed (EXPLICIT, or IMPLICIT of a constructed type).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive (IMPLICIT of a primitive type).
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// One value: tag, definite length, content.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed value whose content is the concatenation of `parts`.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// `SEQUENCE { parts... }`.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// `SET OF` with its elements in DER order (sorted by their encodings), under `tag`.
pub(crate) fn set_of_tagged(tag: u8, mut items: Vec<Vec<u8>>) -> Vec<u8> {
    items.sort();
    tlv(tag, &items.concat())
}

/// `SET OF` (universal tag) in DER order.
pub(crate) fn set_of(items: Vec<Vec<u8>>) -> Vec<u8> {
    set_of_tagged(tag::SET, items)
}

/// An INTEGER from an unsigned big-endian magnitude.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = strip_leading_zeros(magnitude);
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(tag::INTEGER, &content)
}

/// An INTEGER from a small number.
pub(crate) fn small_uint(value: u32) -> Vec<u8> {
    uint(&value.to_be_bytes())
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::BIT_STRING, &[&[0u8][..], bytes].concat())
}

/// `NULL`.
pub(crate) fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

/// A BMPString (UTF-16 big-endian), as Microsoft's name-value pairs and template names use.
pub(crate) fn bmp_string(s: &str) -> Vec<u8> {
    let content: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    tlv(tag::BMP_STRING, &content)
}

/// An OBJECT IDENTIFIER from its arcs. The first two arcs must form a valid pair
/// (`0..=2`, then `0..=39` unless the first is 2); the constants of this crate do.
pub(crate) fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (u64::from(*a) * 40 + u64::from(*b), rest),
        [a] => (u64::from(*a) * 40, &[][..]),
        [] => (0, &[][..]),
    };
    push_base128(&mut content, first);
    for &arc in rest {
        push_base128(&mut content, u64::from(arc));
    }
    tlv(tag::OID, &content)
}

/// The arcs of an OID's content octets; `None` if they are not a well-formed OID.
pub(crate) fn oid_arcs(content: &[u8]) -> Option<Vec<u32>> {
    let mut arcs = Vec::new();
    let mut arc: u64 = 0;
    for b in content {
        arc = arc.checked_mul(128)? | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (arc / 40).min(2);
                arcs.push(u32::try_from(first).ok()?);
                arcs.push(u32::try_from(arc - first * 40).ok()?);
            } else {
                arcs.push(u32::try_from(arc).ok()?);
            }
            arc = 0;
        }
    }
    (content.last().is_some_and(|b| b & 0x80 == 0)).then_some(arcs)
}

fn push_base128(out: &mut Vec<u8>, mut value: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    loop {
        groups[n] = (value & 0x7f) as u8;
        n += 1;
        value >>= 7;
        if value == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i == 0 { 0 } else { 0x80 });
    }
}

/// `bytes` without leading zero bytes.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[skip..]
}

/// One decoded value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole encoding: identifier, length and content.
    pub raw: &'a [u8],
}

/// Reads consecutive DER values from a byte slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    /// Whether every value has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next value, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next value, whatever its tag.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] on a truncated value, an indefinite length or a
    /// multi-byte tag.
    pub fn any(&mut self, what: &'static str) -> Result<Tlv<'a>, EnrollError> {
        let bad = || EnrollError::Malformed(what);
        let (&tag, after_tag) = self.rest.split_first().ok_or_else(bad)?;
        if tag & 0x1f == 0x1f {
            return Err(bad());
        }
        let (&first, after_len) = after_tag.split_first().ok_or_else(bad)?;
        let (len, header_rest) = if first < 0x80 {
            (usize::from(first), after_len)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after_len.len() < n {
                return Err(bad());
            }
            let (len_bytes, rest) = after_len.split_at(n);
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        };
        if header_rest.len() < len {
            return Err(bad());
        }
        let header = self.rest.len() - header_rest.len();
        let (raw, rest) = self.rest.split_at(header + len);
        self.rest = rest;
        Ok(Tlv {
            tag,
            content: &raw[header..],
            raw,
        })
    }

    /// The next value, which must carry `tag`.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] if it is missing, malformed or of another tag.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, EnrollError> {
        let value = self.any(what)?;
        if value.tag == tag {
            Ok(value)
        } else {
            Err(EnrollError::Malformed(what))
        }
    }

    /// The next value if it carries `tag`; nothing is consumed otherwise.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] if a value with that tag is malformed.
    pub fn optional(
        &mut self,
        tag: u8,
        what: &'static str,
    ) -> Result<Option<Tlv<'a>>, EnrollError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag, what).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[0; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(uint(&[0, 0, 0x7f]), [0x02, 1, 0x7f]);
        assert_eq!(uint(&[0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(uint(&[]), [0x02, 1, 0]);
        assert_eq!(small_uint(65537), [0x02, 3, 1, 0, 1]);
    }

    #[test]
    fn oids_encode_in_base_128() {
        let sha256 = [2, 16, 840, 1, 101, 3, 4, 2, 1];
        assert_eq!(oid(&sha256), [6, 9, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1]);
        assert_eq!(
            oid(&[1, 2, 840, 113549]),
            [6, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
    }

    #[test]
    fn set_of_sorts_its_elements() {
        assert_eq!(
            set_of(vec![vec![2, 1, 9], vec![2, 1, 1]]),
            [0x31, 6, 2, 1, 1, 2, 1, 9]
        );
    }

    #[test]
    fn reader_rejects_truncated_and_indefinite_values() {
        assert!(Reader::new(&[0x30, 0x05, 1, 2]).any("x").is_err());
        assert!(Reader::new(&[0x30, 0x80, 0, 0]).any("x").is_err());
        assert!(Reader::new(&[0x30]).any("x").is_err());
        let big = tlv(0x04, &[7; 300]);
        let mut r = Reader::new(&big);
        assert_eq!(r.expect(0x04, "x").unwrap().content.len(), 300);
        assert!(r.is_empty());
    }
}
