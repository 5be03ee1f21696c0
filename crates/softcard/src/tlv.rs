//! BER-TLV (ISO 7816-4 section 5.2 and ITU-T X.690) as smart cards use it: tags of one to
//! three bytes, definite lengths of one to four bytes.
//!
//! Parsing borrows; encoding appends to a `Vec<u8>`. Malformed input is an error, never a
//! panic, and no length is trusted past the bytes actually present.

use crate::Status;

/// One TLV object, borrowing its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, its bytes read big-endian (`0x7F49`, `0x5C`, `0x5FC102`...).
    pub tag: u32,
    /// The value field.
    pub value: &'a [u8],
}

/// Why a TLV could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvError {
    /// The input ended inside a tag, a length or a value.
    Truncated,
    /// A tag longer than three bytes.
    TagTooLong,
    /// The indefinite length (0x80) or a length of more than four bytes.
    BadLength,
}

impl From<TlvError> for Status {
    fn from(_: TlvError) -> Status {
        Status::WrongData
    }
}

impl core::fmt::Display for TlvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TlvError::Truncated => "TLV truncated",
            TlvError::TagTooLong => "TLV tag longer than three bytes",
            TlvError::BadLength => "TLV length indefinite or too long",
        })
    }
}

impl std::error::Error for TlvError {}

/// Reads one TLV from the front of `input`; returns it and the bytes after it.
///
/// # Errors
/// A [`TlvError`] naming what is malformed.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let (&first, mut rest) = input.split_first().ok_or(TlvError::Truncated)?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        let mut count = 0;
        loop {
            let (&b, r) = rest.split_first().ok_or(TlvError::Truncated)?;
            rest = r;
            count += 1;
            if count > 2 {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&len0, r) = rest.split_first().ok_or(TlvError::Truncated)?;
    rest = r;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7F);
        if n == 0 || n > 4 {
            return Err(TlvError::BadLength);
        }
        let (bytes, r) = rest.split_at_checked(n).ok_or(TlvError::Truncated)?;
        rest = r;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (value, rest) = rest.split_at_checked(len).ok_or(TlvError::Truncated)?;
    Ok((Tlv { tag, value }, rest))
}

/// Iterates over the TLVs laid end to end in `input`.
///
/// Yields an error once and then stops if the input is malformed.
pub fn iter(input: &[u8]) -> Iter<'_> {
    Iter { rest: input }
}

/// Iterator returned by [`iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_one(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The value of the first top-level TLV with `tag`, or `Ok(None)`.
///
/// # Errors
/// A [`TlvError`] if the input is malformed before the tag is found.
pub fn find(input: &[u8], tag: u32) -> Result<Option<&[u8]>, TlvError> {
    for item in iter(input) {
        let tlv = item?;
        if tlv.tag == tag {
            return Ok(Some(tlv.value));
        }
    }
    Ok(None)
}

/// Parses `input` as exactly one TLV with `tag` and nothing after it.
///
/// # Errors
/// [`Status::WrongData`] if it is not.
pub fn expect_single(input: &[u8], tag: u32) -> Result<&[u8], Status> {
    let (tlv, rest) = parse_one(input)?;
    if tlv.tag != tag || !rest.is_empty() {
        return Err(Status::WrongData);
    }
    Ok(tlv.value)
}

/// Appends the bytes of `tag` (one to three bytes, leading zero bytes omitted).
pub fn write_tag(out: &mut Vec<u8>, tag: u32) {
    let bytes = tag.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    out.extend_from_slice(bytes.get(skip..).unwrap_or(&bytes));
}

/// Appends a definite length in the shortest form.
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x83);
            out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        }
    }
}

/// Appends one TLV.
pub fn write(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    write_tag(out, tag);
    write_len(out, value.len());
    out.extend_from_slice(value);
}

/// One TLV as a new vector.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    write(&mut out, tag, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_tags_and_long_lengths() {
        let value = vec![0xAB; 300];
        let enc = encode(0x7F49, &value);
        assert_eq!(&enc[..5], &[0x7F, 0x49, 0x82, 0x01, 0x2C]);
        let (tlv, rest) = parse_one(&enc).unwrap();
        assert_eq!((tlv.tag, tlv.value.len(), rest.len()), (0x7F49, 300, 0));
        assert_eq!(encode(0x5F2F, &[1]), vec![0x5F, 0x2F, 1, 1]);
        assert_eq!(encode(0x53, &[0; 0x80])[..3], [0x53, 0x81, 0x80]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(parse_one(&[]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x5F]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x53, 0x05, 1]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&[0x53, 0x80]), Err(TlvError::BadLength));
        assert_eq!(
            parse_one(&[0x53, 0x85, 0, 0, 0, 0, 1]),
            Err(TlvError::BadLength)
        );
        assert_eq!(
            parse_one(&[0x5F, 0xC1, 0x81, 0x02, 0]),
            Err(TlvError::TagTooLong)
        );
        assert_eq!(
            parse_one(&[0x53, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(TlvError::Truncated)
        );
    }

    #[test]
    fn find_and_iterate() {
        let mut buf = Vec::new();
        write(&mut buf, 0x80, &[1]);
        write(&mut buf, 0x81, &[2, 3]);
        assert_eq!(find(&buf, 0x81).unwrap(), Some(&[2, 3][..]));
        assert_eq!(find(&buf, 0x82).unwrap(), None);
        assert_eq!(iter(&buf).count(), 2);
        assert_eq!(expect_single(&encode(0x7C, &buf), 0x7C).unwrap(), &buf[..]);
        assert_eq!(expect_single(&buf, 0x80), Err(Status::WrongData));
    }
}
