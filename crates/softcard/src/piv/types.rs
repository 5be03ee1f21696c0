//! The closed sets of the PIV application: key slots, algorithm identifiers, policies.

use serde::{Deserialize, Serialize};

use crate::{
    Status,
    crypto::{KeyAlgorithm, sym::SymAlg},
};

/// A key reference that holds an asymmetric key (SP 800-73-4 Part 1, section 5.1 and
/// Table 4b; F9 is the Yubico attestation slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Slot {
    /// 9A: PIV authentication.
    Authentication,
    /// 9C: digital signature.
    Signature,
    /// 9D: key management.
    KeyManagement,
    /// 9E: card authentication.
    CardAuthentication,
    /// 82..=95: retired key management keys; the number is the key reference.
    Retired(RetiredRef),
    /// F9: the attestation key (Yubico extension).
    Attestation,
}

/// A retired key reference, 0x82..=0x95 (checked on construction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RetiredRef(u8);

impl Slot {
    /// Every slot, in key reference order of the standard slots first.
    pub fn all() -> impl Iterator<Item = Slot> {
        [
            Slot::Authentication,
            Slot::Signature,
            Slot::KeyManagement,
            Slot::CardAuthentication,
        ]
        .into_iter()
        .chain((0x82..=0x95).map(|r| Slot::Retired(RetiredRef(r))))
        .chain([Slot::Attestation])
    }

    /// The slot with this key reference.
    pub fn from_ref(key_ref: u8) -> Option<Slot> {
        Some(match key_ref {
            0x9A => Slot::Authentication,
            0x9C => Slot::Signature,
            0x9D => Slot::KeyManagement,
            0x9E => Slot::CardAuthentication,
            0x82..=0x95 => Slot::Retired(RetiredRef(key_ref)),
            0xF9 => Slot::Attestation,
            _ => return None,
        })
    }

    /// The key reference.
    pub fn key_ref(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
            Slot::KeyManagement => 0x9D,
            Slot::CardAuthentication => 0x9E,
            Slot::Retired(RetiredRef(r)) => r,
            Slot::Attestation => 0xF9,
        }
    }

    /// The data object holding the slot's certificate (SP 800-73-4 Part 1, Table 3;
    /// 5FFF01 for the attestation certificate).
    pub fn cert_tag(self) -> u32 {
        match self {
            Slot::Authentication => 0x5F_C105,
            Slot::Signature => 0x5F_C10A,
            Slot::KeyManagement => 0x5F_C10B,
            Slot::CardAuthentication => 0x5F_C101,
            // 82 -> 5FC10D ... 95 -> 5FC120
            Slot::Retired(RetiredRef(r)) => 0x5F_C10D + u32::from(r - 0x82),
            Slot::Attestation => 0x5F_FF01,
        }
    }

    /// The PIN policy a key gets when none is given: PIN always for the signature key,
    /// never for card authentication, once per session otherwise.
    pub fn default_pin_policy(self) -> KeyPinPolicy {
        match self {
            Slot::Signature => KeyPinPolicy::Always,
            Slot::CardAuthentication | Slot::Attestation => KeyPinPolicy::Never,
            _ => KeyPinPolicy::Once,
        }
    }
}

/// Algorithm identifiers of asymmetric keys (SP 800-78-4 Table 6-2; 16 is Yubico's
/// RSA-4096). Which of them a card generates and imports is its
/// [`Identity`](super::Identity)'s choice.
pub fn key_alg_from_id(id: u8) -> Option<KeyAlgorithm> {
    KeyAlgorithm::ALL.into_iter().find(|alg| alg.piv_id() == id)
}

/// The algorithm identifier of an asymmetric key algorithm.
pub fn key_alg_id(alg: KeyAlgorithm) -> u8 {
    alg.piv_id()
}

/// The PIV identifiers of the asymmetric key algorithms (SP 800-78-4 Table 6-2): PIV's
/// table, kept with the PIV application rather than with the crypto backends.
impl KeyAlgorithm {
    /// The algorithm identifier PIV uses for it (0x16 is Yubico's RSA-4096; E0 and E1 are
    /// Yubico's Ed25519 and X25519).
    pub const fn piv_id(self) -> u8 {
        match self {
            KeyAlgorithm::Rsa1024 => 0x06,
            KeyAlgorithm::Rsa2048 => 0x07,
            KeyAlgorithm::Rsa3072 => 0x05,
            KeyAlgorithm::Rsa4096 => 0x16,
            KeyAlgorithm::P256 => 0x11,
            KeyAlgorithm::P384 => 0x14,
            KeyAlgorithm::Ed25519 => 0xE0,
            KeyAlgorithm::X25519 => 0xE1,
        }
    }
}

/// The PIV identifiers of the management key's algorithms (SP 800-78-4 Table 6-2): PIV's
/// table, kept with the PIV application rather than with the ciphers.
impl SymAlg {
    /// The PIV algorithm identifier: 03, 08, 0A, 0C.
    pub const fn piv_id(self) -> u8 {
        match self {
            SymAlg::Tdes => 0x03,
            SymAlg::Aes128 => 0x08,
            SymAlg::Aes192 => 0x0A,
            SymAlg::Aes256 => 0x0C,
        }
    }

    /// The algorithm with this PIV identifier (0x00 is the legacy 3DES identifier).
    pub const fn from_piv_id(id: u8) -> Option<SymAlg> {
        match id {
            0x00 | 0x03 => Some(SymAlg::Tdes),
            0x08 => Some(SymAlg::Aes128),
            0x0A => Some(SymAlg::Aes192),
            0x0C => Some(SymAlg::Aes256),
            _ => None,
        }
    }
}

/// When a key needs the PIN (Yubico policy byte, tag AA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyPinPolicy {
    /// 01: never.
    Never,
    /// 02: once per session.
    Once,
    /// 03: right before every use.
    Always,
}

impl KeyPinPolicy {
    /// The policy for a byte; 00 means "the slot's default" and gives `None`.
    pub fn from_byte(b: u8) -> Result<Option<Self>, Status> {
        match b {
            0x00 => Ok(None),
            0x01 => Ok(Some(KeyPinPolicy::Never)),
            0x02 => Ok(Some(KeyPinPolicy::Once)),
            0x03 => Ok(Some(KeyPinPolicy::Always)),
            _ => Err(Status::WrongData),
        }
    }

    /// The policy byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyPinPolicy::Never => 0x01,
            KeyPinPolicy::Once => 0x02,
            KeyPinPolicy::Always => 0x03,
        }
    }
}

/// When a key needs a touch (Yubico policy byte, tag AB). softcard records and reports
/// the policy but never waits for a touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TouchPolicy {
    /// 01: never.
    Never,
    /// 02: always.
    Always,
    /// 03: cached for 15 seconds.
    Cached,
}

impl TouchPolicy {
    /// The policy for a byte; 00 (default) is "never".
    pub fn from_byte(b: u8) -> Result<Self, Status> {
        match b {
            0x00 | 0x01 => Ok(TouchPolicy::Never),
            0x02 => Ok(TouchPolicy::Always),
            0x03 => Ok(TouchPolicy::Cached),
            _ => Err(Status::WrongData),
        }
    }

    /// The policy byte.
    pub fn byte(self) -> u8 {
        match self {
            TouchPolicy::Never => 0x01,
            TouchPolicy::Always => 0x02,
            TouchPolicy::Cached => 0x03,
        }
    }
}

/// Where a key came from (GET METADATA tag 03).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// 01: generated on the card.
    Generated,
    /// 02: imported.
    Imported,
}

impl Origin {
    /// The origin byte.
    pub fn byte(self) -> u8 {
        match self {
            Origin::Generated => 0x01,
            Origin::Imported => 0x02,
        }
    }
}
