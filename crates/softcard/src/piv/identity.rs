//! What a PIV applet says it is: the generic card of the `piv` profile, or a YubiKey 5 with
//! firmware 5.7 (`yubikey`) or 5.4.3 (`yubikey-5.4`). The identity follows from the card's
//! profile, which the image records: it is not part of the applet's own state.
//!
//! Where the YubiKey sources disagree, a YubiKey 5.7 is the reference; each item names the
//! source followed.

use super::command::PivCommand;
use crate::{
    Profile,
    crypto::{KeyAlgorithm, sym::SymAlg},
    options::DEFAULT_PUK,
};

/// The kinds of PIV card (a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The `piv` profile: SP 800-73-4 with the Yubico extensions of firmware 5.4.3.
    Generic,
    /// The `yubikey` profile: a YubiKey 5 with firmware 5.7.
    YubiKey,
    /// The `yubikey-5.4` profile: a YubiKey 5 with firmware 5.4.3 (3DES default management
    /// key; no Ed25519, X25519, RSA-3072/4096, MOVE KEY).
    YubiKey54,
}

impl Identity {
    /// The identity of a card of `profile`.
    pub fn of(profile: Profile) -> Identity {
        match profile {
            Profile::Yubikey => Identity::YubiKey,
            Profile::Yubikey54 => Identity::YubiKey54,
            Profile::Piv | Profile::WindowsVsc => Identity::Generic,
        }
    }

    /// The profile whose defaults this card has.
    pub fn profile(self) -> Profile {
        match self {
            Identity::Generic => Profile::Piv,
            Identity::YubiKey => Profile::Yubikey,
            Identity::YubiKey54 => Profile::Yubikey54,
        }
    }

    /// Whether the card answers as a YubiKey does where the generic card says more (the
    /// short SELECT template).
    pub const fn is_yubikey(self) -> bool {
        matches!(self, Identity::YubiKey | Identity::YubiKey54)
    }

    /// What GET VERSION answers. The generic card: 5.4.3, whose feature set (AES
    /// management keys, GET METADATA, attestation, PIN and touch policies) it has. The
    /// YubiKey: 5.7.1, the first firmware 5.7 release (yubikit gates RSA-3072/4096,
    /// Ed25519, X25519, MOVE KEY and DELETE KEY on 5.7.0).
    pub const fn version(self) -> [u8; 3] {
        match self {
            Identity::Generic | Identity::YubiKey54 => [5, 4, 3],
            Identity::YubiKey => [5, 7, 1],
        }
    }

    /// Whether the card has this command: MOVE KEY and DELETE KEY came with firmware 5.7
    /// (yubikit `move_key`, `delete_key`), so the cards at 5.4.3 answer 6D00.
    pub(super) fn has(self, cmd: &PivCommand<'_>) -> bool {
        match cmd {
            PivCommand::MoveKey { .. } => self == Identity::YubiKey,
            _ => true,
        }
    }

    /// Whether GENERATE and IMPORT KEY take keys of `alg`: RSA-1024/2048, P-256 and P-384
    /// on every card; RSA-3072/4096 on the generic card and the YubiKey 5.7; Ed25519 and
    /// X25519 on the YubiKey 5.7 only (yubikit `check_key_support` gates those on 5.7.0).
    pub fn offers(self, alg: KeyAlgorithm) -> bool {
        match alg {
            KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => self == Identity::YubiKey,
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => self != Identity::YubiKey54,
            KeyAlgorithm::Rsa1024
            | KeyAlgorithm::Rsa2048
            | KeyAlgorithm::P256
            | KeyAlgorithm::P384 => true,
        }
    }

    /// The PIN that RESET and SET PIN RETRIES restore.
    pub fn default_pin(self) -> &'static [u8] {
        self.profile().default_pin()
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
