//! The card image: a header (magic, format version, length, CRC-32) and a postcard body.
//!
//! ```text
//! offset size  field
//! 0      8     magic "SOFTCARD"
//! 8      2     format version, big-endian (1)
//! 10     2     reserved, zero
//! 12     4     body length, big-endian
//! 16     4     CRC-32 (IEEE) of the body, big-endian
//! 20     n     body: postcard encoding of ImageBody
//! ```
//! See docs/card-image-format.md for the body.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::profile::Profile;

/// The first eight bytes of every card image.
pub const MAGIC: &[u8; 8] = b"SOFTCARD";
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 20;
/// Largest body accepted (64 MiB): bounds memory when reading a foreign file.
pub const MAX_BODY_LEN: usize = 64 << 20;

/// What a card image holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBody {
    /// Which card this is.
    pub profile: Profile,
    /// The card's serial number.
    pub serial: u32,
    /// One record per applet, in the card's order.
    pub applets: Vec<AppletRecord>,
}

/// One applet's persistent state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppletRecord {
    /// The applet's AID.
    pub aid: Vec<u8>,
    /// Its state, postcard-encoded by the applet.
    pub state: Vec<u8>,
}

/// Why a card image could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// Shorter than its header says.
    Truncated {
        /// Bytes the header and body need.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// Not a softcard image (wrong magic).
    NotAnImage,
    /// Written by a newer softcard.
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// Bytes after the body.
    TrailingBytes(usize),
    /// The body's checksum does not match: the file is corrupted.
    ChecksumMismatch {
        /// Checksum in the header.
        stored: u32,
        /// Checksum of the body read.
        computed: u32,
    },
    /// The body (or an applet's state) does not decode.
    Corrupt(String),
    /// The body is larger than [`MAX_BODY_LEN`].
    TooLarge(usize),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Truncated { expected, actual } => {
                write!(
                    f,
                    "card image truncated: {actual} bytes, expected {expected}"
                )
            }
            ImageError::NotAnImage => f.write_str("not a softcard card image (bad magic)"),
            ImageError::UnsupportedVersion { found, supported } => write!(
                f,
                "card image format version {found} is newer than this softcard supports ({supported})"
            ),
            ImageError::TrailingBytes(n) => {
                write!(f, "card image has {n} unexpected trailing bytes")
            }
            ImageError::ChecksumMismatch { stored, computed } => write!(
                f,
                "card image corrupted: checksum {computed:08x} does not match stored {stored:08x}"
            ),
            ImageError::Corrupt(why) => write!(f, "card image corrupted: {why}"),
            ImageError::TooLarge(n) => write!(f, "card image body of {n} bytes is too large"),
        }
    }
}

impl std::error::Error for ImageError {}

/// Encodes a body into image bytes.
///
/// # Errors
/// [`ImageError::Corrupt`] if serialization fails (it does not for well-formed bodies).
pub fn encode(body: &ImageBody) -> Result<Vec<u8>, ImageError> {
    let payload = postcard::to_allocvec(body).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Checks the header and checksum and decodes the body.
///
/// # Errors
/// An [`ImageError`] naming the first problem found.
pub fn decode(bytes: &[u8]) -> Result<ImageBody, ImageError> {
    let (header, payload) = bytes.split_first_chunk::<HEADER_LEN>().ok_or_else(|| {
        if bytes.len() >= MAGIC.len() && !bytes.starts_with(MAGIC) {
            ImageError::NotAnImage
        } else {
            ImageError::Truncated {
                expected: HEADER_LEN,
                actual: bytes.len(),
            }
        }
    })?;
    let (magic, rest) = header
        .split_first_chunk::<8>()
        .ok_or(ImageError::NotAnImage)?;
    if magic != MAGIC {
        return Err(ImageError::NotAnImage);
    }
    let field = |at: usize| -> [u8; 4] {
        let mut b = [0u8; 4];
        if let Some(src) = rest.get(at..at + 4) {
            b.copy_from_slice(src);
        }
        b
    };
    let [v0, v1, r0, r1] = field(0);
    let version = u16::from_be_bytes([v0, v1]);
    if version > FORMAT_VERSION || version == 0 {
        return Err(ImageError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if [r0, r1] != [0, 0] {
        return Err(ImageError::Corrupt(
            "reserved header bytes are not zero".into(),
        ));
    }
    let len = u32::from_be_bytes(field(4)) as usize;
    let stored = u32::from_be_bytes(field(8));
    if len > MAX_BODY_LEN {
        return Err(ImageError::TooLarge(len));
    }
    if payload.len() < len {
        return Err(ImageError::Truncated {
            expected: HEADER_LEN + len,
            actual: bytes.len(),
        });
    }
    if payload.len() > len {
        return Err(ImageError::TrailingBytes(payload.len() - len));
    }
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(ImageError::ChecksumMismatch { stored, computed });
    }
    postcard::from_bytes(payload).map_err(|e| ImageError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        encode(&ImageBody {
            profile: Profile::Piv,
            serial: 42,
            applets: vec![AppletRecord {
                aid: vec![0xA0, 0, 0, 3, 8],
                state: vec![1, 2, 3, 4],
            }],
        })
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        assert_eq!(decode(&bytes).unwrap().serial, 42);
    }

    #[test]
    fn every_flip_and_truncation_is_rejected() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode(&b).is_err(), "flip at {i} bit {bit} accepted");
            }
        }
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncation to {n} accepted");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let bytes = sample();
        assert_eq!(
            decode(b"PK\x03\x04 this is a zip file"),
            Err(ImageError::NotAnImage)
        );
        let mut newer = bytes.clone();
        newer[9] = 2;
        assert_eq!(
            decode(&newer),
            Err(ImageError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(ImageError::Truncated { .. })
        ));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decode(&flipped),
            Err(ImageError::ChecksumMismatch { .. })
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(ImageError::TrailingBytes(1)));
    }
}
