//! What a PIV applet says it is: the generic card of the `piv` profile, or a YubiKey 5 with
//! firmware 5.7 (`yubikey`). The identity follows from the card's profile, which the image
//! records: it is not part of the applet's own state.
//!
//! Where the YubiKey sources disagree, a YubiKey 5.7 is the reference; each item names the
//! source followed.

use super::command::PivCommand;
use crate::{
    Profile,
    crypto::{KeyAlgorithm, sym::SymAlg},
    options::{DEFAULT_PIN, DEFAULT_PUK, YUBIKEY_DEFAULT_PIN},
};

/// The kinds of PIV card (a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The `piv` profile: SP 800-73-4 with the Yubico extensions of firmware 5.4.3.
    Generic,
    /// The `yubikey` profile: a YubiKey 5 with firmware 5.7.
    YubiKey,
}

/// Key-pair algorithms GENERATE and IMPORT KEY take on the generic card: RSA-1024/2048/
/// 3072/4096, P-256, P-384.
const GENERIC_KEY_ALGORITHMS: &[KeyAlgorithm] = &[
    KeyAlgorithm::Rsa1024,
    KeyAlgorithm::Rsa2048,
    KeyAlgorithm::Rsa3072,
    KeyAlgorithm::Rsa4096,
    KeyAlgorithm::P256,
    KeyAlgorithm::P384,
];

impl Identity {
    /// The identity of a card of `profile`.
    pub fn of(profile: Profile) -> Identity {
        match profile {
            Profile::Yubikey => Identity::YubiKey,
            Profile::Piv | Profile::WindowsVsc => Identity::Generic,
        }
    }

    /// The profile whose defaults this card has.
    pub fn profile(self) -> Profile {
        match self {
            Identity::Generic => Profile::Piv,
            Identity::YubiKey => Profile::Yubikey,
        }
    }

    /// What GET VERSION answers. The generic card: 5.4.3, whose feature set (AES
    /// management keys, GET METADATA, attestation, PIN and touch policies) it has. The
    /// YubiKey: 5.7.1, the first firmware 5.7 release (yubikit gates RSA-3072/4096,
    /// Ed25519, X25519, MOVE KEY and DELETE KEY on 5.7.0).
    pub const fn version(self) -> [u8; 3] {
        match self {
            Identity::Generic => [5, 4, 3],
            Identity::YubiKey => [5, 7, 1],
        }
    }

    /// Whether the card has this command: MOVE KEY and DELETE KEY came with firmware 5.7
    /// (yubikit `move_key`, `delete_key`), so the generic card (5.4.3) answers 6D00.
    pub(super) fn has(self, cmd: &PivCommand<'_>) -> bool {
        match cmd {
            PivCommand::MoveKey { .. } => self == Identity::YubiKey,
            _ => true,
        }
    }

    /// The key-pair algorithms GENERATE and IMPORT KEY take.
    pub fn key_algorithms(self) -> &'static [KeyAlgorithm] {
        match self {
            Identity::Generic => GENERIC_KEY_ALGORITHMS,
            Identity::YubiKey => &KeyAlgorithm::ALL,
        }
    }

    /// The PIN that RESET and SET PIN RETRIES restore.
    pub fn default_pin(self) -> &'static [u8] {
        match self {
            Identity::Generic => DEFAULT_PIN,
            Identity::YubiKey => YUBIKEY_DEFAULT_PIN,
        }
    }

    /// The PUK that RESET and SET PIN RETRIES restore.
    pub fn default_puk(self) -> &'static [u8] {
        DEFAULT_PUK
    }

    /// The algorithm of the default management key: 3DES, or AES-192 on a YubiKey 5.7
    /// (yubikit's `test_management_key_metadata` expects AES-192 from 5.7.0 on, and after
    /// a RESET).
    pub fn default_mgmt_alg(self) -> SymAlg {
        if self.profile().default_admin_key_aes() {
            SymAlg::Aes192
        } else {
            SymAlg::Tdes
        }
    }
}
