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
//!
//! Images hold PINs and private keys: the bytes [`encode`] returns are wiped when dropped,
//! and so are the applet states of a decoded [`ImageBody`].

#![warn(clippy::arithmetic_side_effects)]

use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::options::Profile;

/// The first eight bytes of every card image.
pub const MAGIC: &[u8; 8] = b"SOFTCARD";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 1;
/// The oldest format version this build reads. Version 0 was never written.
pub const OLDEST_FORMAT_VERSION: u16 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 20;
/// Largest body accepted (64 MiB): bounds memory when reading a foreign file. [`encode`]
/// refuses larger bodies, so no image is written that could not be read back; a card keeps
/// its images far smaller ([`crate::card::MAX_IMAGE_LEN`]).
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

/// One applet's persistent state. The state is wiped when the record is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppletRecord {
    /// The applet's AID.
    pub aid: Vec<u8>,
    /// Its state, postcard-encoded by the applet.
    pub state: Vec<u8>,
}

impl Drop for AppletRecord {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl fmt::Debug for AppletRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppletRecord")
            .field("aid", &self.aid)
            .field(
                "state",
                &format_args!("[{} bytes, REDACTED]", self.state.len()),
            )
            .finish()
    }
}

/// What [`ImageBody`] serializes as, borrowed. Postcard writes a struct and a tuple as
/// their fields in order, and a byte string as a `Vec<u8>` (varint length, then the bytes),
/// so both give the same bytes; the byte strings are written whole, not byte by byte.
#[derive(Serialize)]
struct BodyView<'a> {
    profile: Profile,
    serial: u32,
    #[serde(serialize_with = "records_as_bytes")]
    applets: &'a [(&'a [u8], &'a [u8])],
}

/// Serializes the records with their byte strings written whole.
fn records_as_bytes<S: serde::Serializer>(
    records: &&[(&[u8], &[u8])],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeSeq, SerializeTuple};
    struct Bytes<'a>(&'a [u8]);
    impl Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    struct Record<'a>(&'a [u8], &'a [u8]);
    impl Serialize for Record<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut t = s.serialize_tuple(2)?;
            t.serialize_element(&Bytes(self.0))?;
            t.serialize_element(&Bytes(self.1))?;
            t.end()
        }
    }
    let mut seq = s.serialize_seq(Some(records.len()))?;
    for (aid, state) in records.iter() {
        seq.serialize_element(&Record(aid, state))?;
    }
    seq.end()
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
    /// A version older than any this build reads (version 0 was never written): not an
    /// image any softcard wrote, or one too old.
    UnknownVersion {
        /// Version in the file.
        found: u16,
        /// Oldest version this build reads.
        oldest: u16,
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
            ImageError::UnknownVersion { found, oldest } => write!(
                f,
                "card image format version {found} is unknown: older than any this softcard reads ({oldest} to {FORMAT_VERSION})"
            ),
            ImageError::TooLarge(n) => write!(
                f,
                "card image body of {n} bytes is too large (at most {MAX_BODY_LEN})"
            ),
        }
    }
}

impl std::error::Error for ImageError {}

/// Encodes a body into image bytes (wiped when dropped).
///
/// # Errors
/// [`ImageError::TooLarge`] for a body larger than [`MAX_BODY_LEN`] ([`decode`] would
/// refuse it); [`ImageError::Corrupt`] if serialization fails (it does not for well-formed
/// bodies).
pub fn encode(body: &ImageBody) -> Result<Zeroizing<Vec<u8>>, ImageError> {
    let records: Vec<(&[u8], &[u8])> = body
        .applets
        .iter()
        .map(|r| (r.aid.as_slice(), r.state.as_slice()))
        .collect();
    encode_records(body.profile, body.serial, &records)
}

/// [`encode`] for a body given as borrowed `(aid, state)` records: the card's path, which
/// copies each state once, into the image.
pub(crate) fn encode_records(
    profile: Profile,
    serial: u32,
    applets: &[(&[u8], &[u8])],
) -> Result<Zeroizing<Vec<u8>>, ImageError> {
    let view = BodyView {
        profile,
        serial,
        applets,
    };
    let corrupt = |e: postcard::Error| ImageError::Corrupt(e.to_string());
    let len = serialized_size(&view).map_err(corrupt)?;
    let len32 = u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_BODY_LEN)
        .ok_or(ImageError::TooLarge(len))?;
    let total = HEADER_LEN
        .checked_add(len)
        .ok_or(ImageError::TooLarge(len))?;
    // Allocated once at its final size: no copy of the secrets is left behind by growth.
    let mut out = Zeroizing::new(vec![0u8; total]);
    let (header, payload) = out
        .split_first_chunk_mut::<HEADER_LEN>()
        .ok_or(ImageError::TooLarge(len))?;
    let written = postcard::to_slice(&view, payload).map_err(corrupt)?.len();
    if written != len {
        return Err(ImageError::Corrupt(
            "body size changed while encoding".into(),
        ));
    }
    *header = make_header(len32, crc32fast::hash(payload));
    Ok(out)
}

/// The header of a body of `len` bytes with checksum `crc`.
fn make_header(len: u32, crc: u32) -> [u8; HEADER_LEN] {
    let (version, len, crc) = (
        FORMAT_VERSION.to_be_bytes(),
        len.to_be_bytes(),
        crc.to_be_bytes(),
    );
    let fields = MAGIC
        .iter()
        .chain(&version)
        .chain(&[0, 0])
        .chain(&len)
        .chain(&crc);
    let mut header = [0u8; HEADER_LEN];
    header.iter_mut().zip(fields).for_each(|(h, f)| *h = *f);
    header
}

/// The length of `value`'s postcard encoding, without encoding it.
fn serialized_size<T: Serialize + ?Sized>(value: &T) -> Result<usize, postcard::Error> {
    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
}

/// Serializes with postcard into a buffer allocated once at the exact size, so that growth
/// leaves no copy of secrets in freed memory.
///
/// # Errors
/// The postcard error.
pub(crate) fn serialize_exact<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<u8>, postcard::Error> {
    let len = serialized_size(value)?;
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = postcard::to_slice(value, &mut buf)?.len();
    buf.truncate(written);
    Ok(core::mem::take(&mut *buf))
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
        if let Some(src) = rest.get(at..).and_then(|r| r.get(..4)) {
            b.copy_from_slice(src);
        }
        b
    };
    let [v0, v1, r0, r1] = field(0);
    let version = u16::from_be_bytes([v0, v1]);
    if version > FORMAT_VERSION {
        return Err(ImageError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version < OLDEST_FORMAT_VERSION {
        return Err(ImageError::UnknownVersion {
            found: version,
            oldest: OLDEST_FORMAT_VERSION,
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
    if let Some(missing @ 1..) = len.checked_sub(payload.len()) {
        return Err(ImageError::Truncated {
            expected: bytes.len().saturating_add(missing),
            actual: bytes.len(),
        });
    }
    if let Some(extra @ 1..) = payload.len().checked_sub(len) {
        return Err(ImageError::TrailingBytes(extra));
    }
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(ImageError::ChecksumMismatch { stored, computed });
    }
    postcard::from_bytes(payload).map_err(|e| ImageError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests;
