//! The Windows smart card minidriver file system as a GIDS card stores it in data objects:
//! the master file, `cardid`, `cardapps`, `cardcf`, `mscp/cmapfile` and the compressed
//! certificates `mscp/kscNN` / `mscp/kxcNN`.
//!
//! The card itself only stores data objects; clients (the Windows GIDS minidriver, OpenSC's
//! gids driver, softcard's enrollment client) write these files. Here are the formats the
//! card needs itself: where the files live, the master file and `cardcf` it creates, the
//! `cmapfile` records it reads to describe itself. What only clients write (compressed
//! certificates, container names, encoded `cmapfile` records, the key map) is in the
//! enrollment client, `softcard-enroll`'s `minidriver` module.

use core::fmt;

/// EF of the master file and the key map (everyone reads, the user creates and deletes).
pub const USER_CREATE_DELETE_EF: u16 = 0xA000;
/// EF of `cardapps`, `cardcf`, `mscp/cmapfile` and the certificates (everyone reads, the
/// user writes).
pub const EVERYONE_READ_USER_WRITE_EF: u16 = 0xA010;
/// EF of `cardid` (everyone reads, the administrator writes).
pub const EVERYONE_READ_ADMIN_WRITE_EF: u16 = 0xA012;
/// DO of the master file, in EF A000.
pub const MASTER_FILE_DO: u16 = 0xDF1F;
/// DO of `cardid`, in EF A012.
pub const CARDID_DO: u16 = 0xDF20;
/// DO of `cardapps`, in EF A010.
pub const CARDAPPS_DO: u16 = 0xDF21;
/// DO of `cardcf`, in EF A010.
pub const CARDCF_DO: u16 = 0xDF22;
/// DO of `mscp/cmapfile`, in EF A010.
pub const CMAPFILE_DO: u16 = 0xDF23;
/// The `cardapps` file: one application, "mscp", padded to eight bytes.
pub const CARDAPPS: [u8; 8] = *b"mscp\0\0\0\0";

/// Length of one master file record.
pub const MASTER_RECORD_LEN: usize = 28;
/// Length of one `CONTAINER_MAP_RECORD`.
pub const CONTAINER_RECORD_LEN: usize = 86;
/// `bFlags`: the container holds a key.
pub const CONTAINER_VALID: u8 = 1;
/// `bFlags`: the default container.
pub const CONTAINER_DEFAULT: u8 = 2;

/// Why minidriver file bytes could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes end inside a record or header.
    Truncated,
    /// An unknown version or compression byte.
    UnknownVersion,
    /// A name too long for its field.
    NameTooLong,
    /// A certificate longer than 65535 bytes, or zlib data that does not inflate (from the
    /// enrollment client's certificate compression).
    Compression,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormatError::Truncated => "minidriver file truncated",
            FormatError::UnknownVersion => "unknown minidriver file version",
            FormatError::NameTooLong => "name too long for the minidriver record",
            FormatError::Compression => "certificate compression failed",
        })
    }
}

impl std::error::Error for FormatError {}

/// One master file record: where a minidriver file lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterFileEntry {
    /// Directory ("" for the root, "mscp"), at most 8 characters.
    pub directory: String,
    /// File name ("" for a directory entry), at most 8 characters.
    pub name: String,
    /// The DO holding the file.
    pub data_object: u16,
    /// The EF holding that DO.
    pub ef: u16,
}

impl MasterFileEntry {
    /// An entry.
    pub fn new(directory: &str, name: &str, ef: u16, data_object: u16) -> Self {
        MasterFileEntry {
            directory: directory.into(),
            name: name.into(),
            data_object,
            ef,
        }
    }
}

/// The master file of a freshly initialized card: `mscp`, `cardid`, `cardapps`, `cardcf`
/// and `mscp/cmapfile`.
pub fn initial_master_file() -> Vec<MasterFileEntry> {
    vec![
        MasterFileEntry::new("mscp", "", USER_CREATE_DELETE_EF, 0),
        MasterFileEntry::new("", "cardid", EVERYONE_READ_ADMIN_WRITE_EF, CARDID_DO),
        MasterFileEntry::new("", "cardapps", EVERYONE_READ_USER_WRITE_EF, CARDAPPS_DO),
        MasterFileEntry::new("", "cardcf", EVERYONE_READ_USER_WRITE_EF, CARDCF_DO),
        MasterFileEntry::new("mscp", "cmapfile", EVERYONE_READ_USER_WRITE_EF, CMAPFILE_DO),
    ]
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), FormatError> {
    let bytes = name.as_bytes();
    if bytes.len() > 8 {
        return Err(FormatError::NameTooLong);
    }
    out.extend_from_slice(bytes);
    out.resize(out.len() + 9 - bytes.len(), 0);
    Ok(())
}

fn get_name(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or_default()).into_owned()
}

/// Encodes a master file: version byte 01, then 28-byte records
/// `{directory[9], name[9], pad[2], DO u32 LE, EF u32 LE}`.
///
/// # Errors
/// [`FormatError::NameTooLong`] for a directory or name over 8 bytes.
pub fn encode_master_file(entries: &[MasterFileEntry]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(1 + entries.len() * MASTER_RECORD_LEN);
    out.push(1);
    for e in entries {
        put_name(&mut out, &e.directory)?;
        put_name(&mut out, &e.name)?;
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&u32::from(e.data_object).to_le_bytes());
        out.extend_from_slice(&u32::from(e.ef).to_le_bytes());
    }
    Ok(out)
}

/// Parses a master file (trailing bytes shorter than a record are ignored, as clients do).
///
/// # Errors
/// [`FormatError::Truncated`] for empty input, [`FormatError::UnknownVersion`] if the
/// version byte is not 01.
pub fn parse_master_file(bytes: &[u8]) -> Result<Vec<MasterFileEntry>, FormatError> {
    let (&version, records) = bytes.split_first().ok_or(FormatError::Truncated)?;
    if version != 1 {
        return Err(FormatError::UnknownVersion);
    }
    Ok(records
        .chunks_exact(MASTER_RECORD_LEN)
        .map(|r| {
            let u32_at = |at: usize| {
                r.get(at..at + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_le_bytes)
            };
            MasterFileEntry {
                directory: get_name(r.get(..9).unwrap_or_default()),
                name: get_name(r.get(9..18).unwrap_or_default()),
                data_object: u32_at(20) as u16,
                ef: u32_at(24) as u16,
            }
        })
        .collect())
}

/// One `CONTAINER_MAP_RECORD` of `mscp/cmapfile`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerMapRecord {
    /// The container name (`wszGuid`), at most 39 UTF-16 code units.
    pub name: String,
    /// `bFlags`: [`CONTAINER_VALID`], [`CONTAINER_DEFAULT`].
    pub flags: u8,
    /// `wSigKeySizeBits`: the AT_SIGNATURE key's size, 0 if none.
    pub sig_key_bits: u16,
    /// `wKeyExchangeKeySizeBits`: the AT_KEYEXCHANGE key's size, 0 if none.
    pub kx_key_bits: u16,
}

impl ContainerMapRecord {
    /// Parses one 86-byte record: `wszGuid[40]` UTF-16LE NUL-padded, `bFlags`,
    /// `bReserved`, `wSigKeySizeBits` LE, `wKeyExchangeKeySizeBits` LE.
    ///
    /// # Errors
    /// [`FormatError::Truncated`] if fewer than 86 bytes are given.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let rec = bytes
            .get(..CONTAINER_RECORD_LEN)
            .ok_or(FormatError::Truncated)?;
        let (name_bytes, tail) = rec.split_at_checked(80).ok_or(FormatError::Truncated)?;
        let units: Vec<u16> = name_bytes
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .take_while(|u| *u != 0)
            .collect();
        let byte = |i: usize| tail.get(i).copied().unwrap_or(0);
        Ok(ContainerMapRecord {
            name: String::from_utf16_lossy(&units),
            flags: byte(0),
            sig_key_bits: u16::from_le_bytes([byte(2), byte(3)]),
            kx_key_bits: u16::from_le_bytes([byte(4), byte(5)]),
        })
    }

    /// Whether the record describes a container holding a key.
    pub fn is_valid(&self) -> bool {
        self.flags & CONTAINER_VALID != 0
    }
}

/// Parses a whole `cmapfile` (trailing bytes shorter than a record are ignored).
pub fn parse_cmapfile(bytes: &[u8]) -> Vec<ContainerMapRecord> {
    bytes
        .chunks_exact(CONTAINER_RECORD_LEN)
        .filter_map(|r| ContainerMapRecord::parse(r).ok())
        .collect()
}

/// The `cardcf` cache file: the minidriver bumps a freshness counter whenever it changes
/// PINs, containers or files, so that other processes drop their caches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CardCf {
    /// `bVersion`.
    pub version: u8,
    /// `bPinsFreshness`.
    pub pins: u8,
    /// `wContainersFreshness`.
    pub containers: u16,
    /// `wFilesFreshness`.
    pub files: u16,
}

impl CardCf {
    /// The six bytes: version, PIN freshness, containers u16 LE, files u16 LE.
    pub fn encode(&self) -> [u8; 6] {
        let [c0, c1] = self.containers.to_le_bytes();
        let [f0, f1] = self.files.to_le_bytes();
        [self.version, self.pins, c0, c1, f0, f1]
    }

    /// Parses the first six bytes.
    ///
    /// # Errors
    /// [`FormatError::Truncated`] for fewer than six bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let (b, _) = bytes
            .split_first_chunk::<6>()
            .ok_or(FormatError::Truncated)?;
        let [version, pins, c0, c1, f0, f1] = *b;
        Ok(CardCf {
            version,
            pins,
            containers: u16::from_le_bytes([c0, c1]),
            files: u16::from_le_bytes([f0, f1]),
        })
    }
}
