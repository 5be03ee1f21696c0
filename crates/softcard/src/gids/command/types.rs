//! The typed parameters of GIDS commands: files, key and PIN references, algorithm
//! references and the GENERAL AUTHENTICATE steps.

use crate::{Status, crypto::KeyAlgorithm};

/// The key reference of the administrator key (its key file is B080); key files are 81 and
/// up.
pub(super) const ADMIN_KEY_REF: u8 = 0x80;

/// The user PIN (key reference 80), the only PIN of a GIDS card: VERIFY, CHANGE REFERENCE
/// DATA and RESET RETRY COUNTER name no other (the PUK, 81, is not found).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) struct UserPin;

impl UserPin {
    /// P2 must name the user PIN, else 6A88.
    pub(super) fn parse(p2: u8) -> Result<UserPin, Status> {
        match p2 {
            0x80 => Ok(UserPin),
            _ => Err(Status::ReferencedDataNotFound),
        }
    }
}

/// A file SELECT or DELETE FILE names by identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum FileId {
    /// 3FFF: the application DF.
    Application,
    /// A0xx: a data object EF.
    Ef(u16),
    /// B080: the administrator key file.
    AdminKey,
    /// B0xx: a key file, by key reference.
    Key(u8),
}

impl FileId {
    /// The file with this identifier; 6A82 for one outside the GIDS file system.
    pub(super) fn parse(fid: u16) -> Result<FileId, Status> {
        Ok(match fid.to_be_bytes() {
            [0x3F, 0xFF] => FileId::Application,
            [0xA0, _] => FileId::Ef(fid),
            [0xB0, ADMIN_KEY_REF] => FileId::AdminKey,
            [0xB0, kid] => FileId::Key(kid),
            _ => return Err(Status::FileNotFound),
        })
    }
}

/// The EF a GET DATA or PUT DATA names in P1-P2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum DataFile {
    /// 0000: the current EF.
    Current,
    /// Any other identifier.
    Fid(u16),
}

/// What a GET DATA of an EF asks for (`5C tag`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum DoSelector {
    /// `5C 00`: every data object.
    All,
    /// One data object, by tag (one to three bytes).
    One(u32),
}

/// The PIN status data objects of GET DATA 3FFF (`5C 7F71` or its alias `5C 7F72`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum PinStatusDo {
    /// 7F71.
    Pin,
    /// 7F72, an alias of 7F71.
    Alias,
}

impl PinStatusDo {
    /// The tag the answer carries.
    pub(in crate::gids) const fn tag(self) -> u32 {
        match self {
            PinStatusDo::Pin => 0x7F71,
            PinStatusDo::Alias => 0x7F72,
        }
    }
}

/// A GIDS algorithm reference (tag 80 of MSE SET and GENERATE): the high nibble names the
/// padding scheme, the low nibble the RSA key size (6..9: 1024..4096).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(in crate::gids) struct AlgorithmRef(pub u8);

/// The padding scheme of an algorithm reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum Scheme {
    /// 0x: none, the input is the whole block.
    Raw,
    /// 1x: raw signature.
    RawSign,
    /// 4x: PKCS#1 v1.5 encryption padding.
    Pkcs1Decipher,
    /// 5x: PKCS#1 v1.5 signature padding over a DigestInfo.
    Pkcs1Sign,
    /// 8x: OAEP with SHA-1.
    OaepSha1,
    /// Any other.
    Other,
}

impl AlgorithmRef {
    /// The RSA algorithm the low nibble names.
    ///
    /// # Errors
    /// [`Status::FunctionNotSupported`] (6A81) for ECC and unknown references.
    pub(in crate::gids) fn rsa(self) -> Result<KeyAlgorithm, Status> {
        match self.0 & 0x0F {
            0x06 => Ok(KeyAlgorithm::Rsa1024),
            0x07 => Ok(KeyAlgorithm::Rsa2048),
            0x08 => Ok(KeyAlgorithm::Rsa3072),
            0x09 => Ok(KeyAlgorithm::Rsa4096),
            _ => Err(Status::FunctionNotSupported),
        }
    }

    /// Whether both references name the same key size (low nibble).
    pub(in crate::gids) fn same_key_size(self, other: AlgorithmRef) -> bool {
        self.0 & 0x0F == other.0 & 0x0F
    }

    /// The padding scheme the high nibble names.
    pub(in crate::gids) fn scheme(self) -> Scheme {
        match self.0 & 0xF0 {
            0x00 => Scheme::Raw,
            0x10 => Scheme::RawSign,
            0x40 => Scheme::Pkcs1Decipher,
            0x50 => Scheme::Pkcs1Sign,
            0x80 => Scheme::OaepSha1,
            _ => Scheme::Other,
        }
    }
}

/// The key an MSE SET for authentication names (tag 83).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::gids) enum AuthKey {
    /// 80: the administrator key.
    Admin,
    /// Any other reference: there is none (6A88, once the selection is forgotten).
    Unknown,
}

/// One step of the administrator key's authentication (GENERAL AUTHENTICATE template 7C).
#[derive(Debug, PartialEq, Eq)]
pub(in crate::gids) enum AuthStep<'a> {
    /// `81 00`: the card's challenge for an external authentication.
    ExternalChallenge,
    /// `81 R1` (16 bytes): the host's challenge of a mutual authentication.
    MutualChallenge(&'a [u8; 16]),
    /// `81` of another length: 6A80, once the pending authentication is forgotten.
    BadChallenge,
    /// `82 response`: the answer to the card's challenge.
    Response(&'a [u8]),
}
