//! The GIDS card's state: persistent (one serde struct, saved in the card image) and
//! volatile (authentication and selections, cleared by a reset).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::command::{AlgorithmRef, SecOp};
use crate::{
    Pin, Secret, Status,
    crypto::{
        BackendKind, CryptoError, KeyMaterial, PrivateKey,
        sym::{SymAlg, SymKey},
    },
};

/// Most key files (RSA keys) a card holds: 30, as on a Windows TPM virtual smart card.
pub(super) const MAX_KEYS: usize = 30;
/// Most data objects the certificate EF (A010) holds besides `cardapps`, `cardcf` and
/// `cmapfile`: 90 certificates.
pub(super) const MAX_CERT_DOS: usize = 90;
/// Largest data object accepted (the minidriver's file size limit).
pub(super) const MAX_DO_LEN: usize = 65_000;

/// A BER-TLV EF (file type 39) holding data objects, with its access conditions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Ef {
    /// The FCP it was created with.
    pub fcp: Vec<u8>,
    /// Security condition byte for GET DATA.
    pub read: u8,
    /// Security condition byte for PUT DATA.
    pub write: u8,
    /// Whether ACTIVATE FILE was sent.
    pub active: bool,
    /// The data objects by tag.
    pub dos: BTreeMap<u32, Vec<u8>>,
}

/// A key file (file type 18) and its RSA key once generated or imported.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct KeyFile<K = PrivateKey> {
    /// The FCP it was created with.
    pub fcp: Vec<u8>,
    /// The algorithm references its control reference templates allow.
    pub algorithms: Vec<u8>,
    /// Whether ACTIVATE FILE was sent.
    pub active: bool,
    /// The key.
    pub key: Option<K>,
}

/// How card images (format v1) store the administrator key: its cipher, then the key
/// bytes with their length (which tell AES-128, -192 and -256 apart).
mod admin_key_v1 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

    use super::{Secret, SymAlg, SymKey};

    #[derive(Serialize, Deserialize)]
    enum Cipher {
        Tdes,
        Aes,
    }

    #[derive(Serialize, Deserialize)]
    struct AdminKey {
        cipher: Cipher,
        key: Secret,
    }

    pub(super) fn serialize<S: Serializer>(key: &Option<SymKey>, s: S) -> Result<S::Ok, S::Error> {
        key.as_ref()
            .map(|k| AdminKey {
                cipher: if k.algorithm().is_aes() {
                    Cipher::Aes
                } else {
                    Cipher::Tdes
                },
                key: Secret::from_slice(k.as_bytes()),
            })
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SymKey>, D::Error> {
        Option::<AdminKey>::deserialize(d)?
            .map(|a| {
                let aes = matches!(a.cipher, Cipher::Aes);
                SymAlg::with_key_len(aes, a.key.len())
                    .and_then(|alg| SymKey::from_bytes(alg, a.key.expose()).ok())
                    .ok_or_else(|| D::Error::custom("administrator key of a wrong length"))
            })
            .transpose()
    }
}

/// Everything the card keeps across power cycles. Its keys are [`PrivateKey`]s bound to a
/// backend; an image decodes into `State<KeyMaterial>`, which [`State::bind`] loads into
/// the backend a card runs on. Both encode alike.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct State<K = PrivateKey> {
    /// Whether the application left the initialization state (ACTIVATE of 3FFF). Until
    /// then every access condition is met, as gids-tool's initialization needs.
    pub operational: bool,
    /// The data object EFs by file identifier (A000, A010...).
    pub efs: BTreeMap<u16, Ef>,
    /// The key files by key reference (81...).
    pub keys: BTreeMap<u8, KeyFile<K>>,
    /// The user PIN (reference 80); absent on a blank card until it is set.
    pub pin: Option<Pin>,
    /// The administrator key (3DES or AES); absent on a blank card until it is set.
    #[serde(with = "admin_key_v1")]
    pub admin: Option<SymKey>,
    /// Whether the administrator key file (B080) was created.
    pub admin_file: bool,
}

impl State<KeyMaterial> {
    /// Loads every key into `backend`.
    ///
    /// # Errors
    /// The backend's error for a key it cannot load.
    pub(super) fn bind(self, backend: BackendKind) -> Result<State, CryptoError> {
        let mut keys = BTreeMap::new();
        for (kid, f) in self.keys {
            let file = KeyFile {
                key: f
                    .key
                    .map(|m| PrivateKey::from_material(backend, m))
                    .transpose()?,
                fcp: f.fcp,
                algorithms: f.algorithms,
                active: f.active,
            };
            keys.insert(kid, file);
        }
        Ok(State {
            keys,
            operational: self.operational,
            efs: self.efs,
            pin: self.pin,
            admin: self.admin,
            admin_file: self.admin_file,
        })
    }
}

/// A pending GENERAL AUTHENTICATE challenge (zeroized when dropped).
#[derive(Default)]
pub(super) enum Challenge {
    /// None.
    #[default]
    None,
    /// The card gave this challenge for an external authentication.
    External(Zeroizing<Vec<u8>>),
    /// Mutual authentication: the host's R1 and the card's R2.
    Mutual {
        host: Zeroizing<[u8; 16]>,
        card: Zeroizing<[u8; 16]>,
    },
}

/// The file a CREATE, SELECT or ACTIVATE made current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Current {
    /// The application DF (3FFF).
    Application,
    /// A data object EF.
    Ef(u16),
    /// A key file by reference.
    Key(u8),
    /// The administrator key file.
    AdminKey,
}

/// The security environment set by MSE for PSO.
#[derive(Clone, Copy, Debug)]
pub(super) struct SecurityEnv {
    /// Sign or decipher.
    pub op: SecOp,
    /// The algorithm reference sent (high nibble: padding scheme).
    pub algorithm: AlgorithmRef,
    /// The key reference.
    pub key: u8,
}

/// What a reset forgets.
#[derive(Default)]
pub(super) struct Volatile {
    /// The user PIN was verified.
    pub pin_verified: bool,
    /// The administrator authenticated (mutual or external).
    pub admin_authenticated: bool,
    /// MSE selected the administrator key.
    pub admin_selected: bool,
    /// A GENERAL AUTHENTICATE in progress.
    pub challenge: Challenge,
    /// The security environment for PSO.
    pub env: Option<SecurityEnv>,
    /// The current file.
    pub current: Option<Current>,
}

impl Volatile {
    /// Forgets every authentication (log out).
    pub(super) fn logout(&mut self) {
        self.pin_verified = false;
        self.admin_authenticated = false;
        self.challenge = Challenge::None;
    }
}

/// The security condition bytes of GIDS (ISO 7816-4 compact format, as GIDS uses it): 00
/// always, FF never; high nibble 9x the PIN, Ax the administrator key, and the bits 1x / 2x
/// alone mean "the PIN may satisfy it" / "the administrator key may satisfy it".
pub(super) fn condition_met(condition: u8, pin: bool, admin: bool) -> bool {
    match condition {
        0x00 => true,
        0xFF => false,
        c => match c & 0xF0 {
            0x90 => pin,
            0xA0 => admin,
            n => (n & 0x10 != 0 && pin) || (n & 0x20 != 0 && admin),
        },
    }
}

impl State {
    /// Whether a condition is met now (every condition is met before the application is
    /// activated).
    pub(super) fn allows(&self, condition: u8, v: &Volatile) -> bool {
        !self.operational || condition_met(condition, v.pin_verified, v.admin_authenticated)
    }

    /// Checks the user PIN (or, where allowed, the administrator) for an operation.
    ///
    /// # Errors
    /// [`Status::SecurityStatusNotSatisfied`] (6982).
    pub(super) fn require(&self, condition: u8, v: &Volatile) -> Result<(), Status> {
        if self.allows(condition, v) {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    /// The EF, or 6A82.
    pub(super) fn ef(&self, fid: u16) -> Result<&Ef, Status> {
        self.efs.get(&fid).ok_or(Status::FileNotFound)
    }
}

/// Condition for using, generating, importing and deleting keys: the user PIN.
pub(super) const USER: u8 = 0x90;
/// Condition for creating EFs and the administrator key once the card is operational.
pub(super) const ADMIN: u8 = 0xA0;
/// Condition for creating key files: the PIN or the administrator.
pub(super) const USER_OR_ADMIN: u8 = 0x30;
