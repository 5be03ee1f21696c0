//! The host's side of the Windows smart card minidriver file system on a GIDS card: what
//! a client writes and the card only stores.
//!
//! - certificates, stored compressed as `mscp/kscNN` / `mscp/kxcNN`
//!   ([`compress_certificate`], [`decompress_certificate`], [`certificate_file_name`]);
//! - container names the Base Smart Card CSP makes ([`automatic_container_name`]);
//! - `mscp/cmapfile` records ([`encode_container_record`], [`encode_cmapfile`]);
//! - the key map, which key file backs which container ([`KeymapRecord`],
//!   [`set_keymap_record`]).
//!
//! The card creates the file system and reads parts of it itself; those formats (the
//! master file, the EF and DO numbers, `cardcf`, reading `cmapfile` records) are in
//! [`softcard::gids::minidriver`], and every client of this crate writes the same bytes
//! through both.

use std::io::{Read, Write};

use softcard::crypto::CardRng;
use softcard::gids::minidriver::{CONTAINER_RECORD_LEN, ContainerMapRecord, FormatError};

/// DO of the key map, in EF A000 (`USER_CREATE_DELETE_EF`).
pub const KEYMAP_DO: u16 = 0xDF20;
/// Length of one key map record: the C structure `{ int state; u8 algid; u8 keytype;
/// u16 keyref; u16 0xFFFF; }` that the Windows minidriver and OpenSC write, padded to the
/// alignment of its `int` (two zero bytes at the end).
pub const KEYMAP_RECORD_LEN: usize = 12;
/// Key map `keytype` of an exchange key (`AT_KEYEXCHANGE`).
pub const KEYMAP_EXCHANGE: u8 = 0x9A;
/// Key map `keytype` of a signature key (`AT_SIGNATURE`).
pub const KEYMAP_SIGNATURE: u8 = 0x9C;
/// Longest container name, in UTF-16 code units (the record holds one more, the NUL).
pub const MAX_CONTAINER_NAME_LEN: usize = 39;

/// The minidriver name of a container's certificate file: `kscNN` (signature key) or
/// `kxcNN` (key exchange key), NN the container index in hex.
pub fn certificate_file_name(container_index: u8, key_exchange: bool) -> String {
    let prefix = if key_exchange { "kxc" } else { "ksc" };
    format!("{prefix}{container_index:02X}")
}

/// Encodes the 86-byte `CONTAINER_MAP_RECORD`: `wszGuid[40]` UTF-16LE NUL-padded,
/// `bFlags`, `bReserved`, `wSigKeySizeBits` LE, `wKeyExchangeKeySizeBits` LE (the inverse
/// of [`ContainerMapRecord::parse`]).
///
/// # Errors
/// [`FormatError::NameTooLong`] for a name over 39 UTF-16 code units.
pub fn encode_container_record(
    record: &ContainerMapRecord,
) -> Result<[u8; CONTAINER_RECORD_LEN], FormatError> {
    let units: Vec<u16> = record.name.encode_utf16().collect();
    if units.len() > MAX_CONTAINER_NAME_LEN {
        return Err(FormatError::NameTooLong);
    }
    let mut out = [0u8; CONTAINER_RECORD_LEN];
    for (slot, unit) in out.chunks_exact_mut(2).zip(units) {
        slot.copy_from_slice(&unit.to_le_bytes());
    }
    let tail = [
        record.flags,
        0,
        record.sig_key_bits.to_le_bytes()[0],
        record.sig_key_bits.to_le_bytes()[1],
        record.kx_key_bits.to_le_bytes()[0],
        record.kx_key_bits.to_le_bytes()[1],
    ];
    if let Some(dst) = out.get_mut(80..) {
        dst.copy_from_slice(&tail);
    }
    Ok(out)
}

/// Encodes a whole `cmapfile`.
///
/// # Errors
/// As [`encode_container_record`].
pub fn encode_cmapfile(records: &[ContainerMapRecord]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(records.len() * CONTAINER_RECORD_LEN);
    for r in records {
        out.extend_from_slice(&encode_container_record(r)?);
    }
    Ok(out)
}

/// A container name as the Base Smart Card CSP makes one when the caller asks for none
/// (an "automatic" container): a GUID in registry format, `{XXXXXXXX-XXXX-XXXX-XXXX-
/// XXXXXXXXXXXX}`, upper-case hex, 38 characters (a random version-4 GUID).
pub fn automatic_container_name(rng: &mut dyn CardRng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let hex = |r: core::ops::Range<usize>| -> String {
        b.get(r)
            .unwrap_or_default()
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect()
    };
    format!(
        "{{{}-{}-{}-{}-{}}}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// Compresses a certificate the minidriver way: `01 00 || length u16 LE || zlib(cert)`.
///
/// # Errors
/// [`FormatError::Compression`] for a certificate over 65535 bytes.
pub fn compress_certificate(der: &[u8]) -> Result<Vec<u8>, FormatError> {
    let len = u16::try_from(der.len()).map_err(|_| FormatError::Compression)?;
    let mut out = vec![1, 0];
    out.extend_from_slice(&len.to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
    z.write_all(der).map_err(|_| FormatError::Compression)?;
    z.finish().map_err(|_| FormatError::Compression)
}

/// Inflates a stored certificate (the inverse of [`compress_certificate`]).
///
/// # Errors
/// [`FormatError::Truncated`] for fewer than 4 bytes, [`FormatError::UnknownVersion`] if it
/// does not start with `01 00`, [`FormatError::Compression`] if the zlib data is bad or its
/// length differs from the header.
pub fn decompress_certificate(stored: &[u8]) -> Result<Vec<u8>, FormatError> {
    let (header, body) = stored
        .split_first_chunk::<4>()
        .ok_or(FormatError::Truncated)?;
    let [v0, v1, l0, l1] = *header;
    if [v0, v1] != [1, 0] {
        return Err(FormatError::UnknownVersion);
    }
    let len = usize::from(u16::from_le_bytes([l0, l1]));
    let mut out = Vec::with_capacity(len);
    flate2::read::ZlibDecoder::new(body)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| FormatError::Compression)?;
    if out.len() != len {
        return Err(FormatError::Compression);
    }
    Ok(out)
}

/// One record of the key map (DO DF20 in EF A000, after its version byte 01): which key
/// file (`B0xx`) backs container N, with what algorithm and key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeymapRecord {
    /// 1 for a container with a key, 0 for a free one.
    pub state: u32,
    /// GIDS algorithm reference (06..09 RSA-1024..4096).
    pub algid: u8,
    /// [`KEYMAP_EXCHANGE`] or [`KEYMAP_SIGNATURE`].
    pub keytype: u8,
    /// Key file reference, `B000 | kid`; FFFF for a free record.
    pub keyref: u16,
}

impl KeymapRecord {
    /// The record as it is stored: little-endian fields, FFFF, two padding bytes.
    pub fn encode(&self) -> [u8; KEYMAP_RECORD_LEN] {
        let [s0, s1, s2, s3] = self.state.to_le_bytes();
        let [r0, r1] = self.keyref.to_le_bytes();
        [
            s0,
            s1,
            s2,
            s3,
            self.algid,
            self.keytype,
            r0,
            r1,
            0xFF,
            0xFF,
            0,
            0,
        ]
    }
}

/// Writes `record` as record `index` of the key map `keymap` (version byte 01 first),
/// growing the map with zeroed records as needed.
pub fn set_keymap_record(keymap: &mut Vec<u8>, index: usize, record: &KeymapRecord) {
    if keymap.is_empty() {
        keymap.push(1);
    }
    let at = 1 + index * KEYMAP_RECORD_LEN;
    if keymap.len() < at + KEYMAP_RECORD_LEN {
        keymap.resize(at + KEYMAP_RECORD_LEN, 0);
    }
    keymap.splice(at..at + KEYMAP_RECORD_LEN, record.encode());
}

#[cfg(test)]
mod tests {
    use super::*;
    use softcard::gids::minidriver::CONTAINER_VALID;

    #[test]
    fn helpers_round_trip() {
        let rec = ContainerMapRecord {
            name: "{0123}".into(),
            flags: CONTAINER_VALID,
            sig_key_bits: 0,
            kx_key_bits: 2048,
        };
        let bytes = encode_container_record(&rec).unwrap();
        assert_eq!(&bytes[..4], &[b'{', 0, b'0', 0]);
        assert_eq!(&bytes[80..], &[1, 0, 0, 0, 0x00, 0x08]);
        assert_eq!(ContainerMapRecord::parse(&bytes).unwrap(), rec);
        let long = ContainerMapRecord {
            name: "x".repeat(40),
            ..rec
        };
        assert_eq!(
            encode_container_record(&long),
            Err(FormatError::NameTooLong)
        );
        let name = automatic_container_name(&mut softcard::seeded_rng(1));
        assert_eq!(name.len(), 38);
        assert!(
            name.starts_with('{') && name.ends_with('}') && name.as_bytes()[15] == b'4',
            "{name}"
        );
        let stored = compress_certificate(b"certificate").unwrap();
        assert_eq!(&stored[..4], &[1, 0, 11, 0]);
        assert_eq!(decompress_certificate(&stored).unwrap(), b"certificate");
        assert_eq!(
            decompress_certificate(&[2, 0, 0, 0]),
            Err(FormatError::UnknownVersion)
        );
        assert_eq!(certificate_file_name(0, true), "kxc00");
        // Key map records are OpenSC's and Windows' padded C structure: 12 bytes each.
        let mut keymap = Vec::new();
        let record = KeymapRecord {
            state: 1,
            algid: 7,
            keytype: KEYMAP_EXCHANGE,
            keyref: 0xB082,
        };
        set_keymap_record(&mut keymap, 1, &record);
        assert_eq!(keymap.len(), 1 + 2 * KEYMAP_RECORD_LEN);
        assert_eq!(keymap[0], 1);
        assert_eq!(&keymap[1..13], &[0; 12]);
        assert_eq!(
            &keymap[13..],
            &[1, 0, 0, 0, 7, 0x9A, 0x82, 0xB0, 0xFF, 0xFF, 0, 0]
        );
    }
}
