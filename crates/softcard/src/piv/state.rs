//! The applet's state: what the card image keeps, and what a reset clears.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::types::{KeyPinPolicy, Origin, Slot, TouchPolicy};
use crate::{
    Pin, Secret,
    crypto::{
        BackendKind, CryptoError, KeyMaterial, PrivateKey,
        sym::{SymAlg, SymKey},
    },
};

/// Everything the card image keeps (postcard-encoded). Its keys are [`PrivateKey`]s bound to
/// a backend; an image decodes into `Persistent<KeyMaterial>`, which
/// [`Persistent::bind`] loads into the backend a card runs on. Both encode alike.
#[derive(Debug, Serialize, Deserialize)]
pub struct Persistent<K = PrivateKey> {
    /// The PIV card application PIN (key reference 80).
    pub pin: Pin,
    /// The PIN unblocking key (key reference 81).
    pub puk: Pin,
    /// Whether the PIN still has its default value.
    pub pin_default: bool,
    /// Whether the PUK still has its default value.
    pub puk_default: bool,
    /// The card management key (9B).
    pub mgmt: MgmtKey,
    /// Asymmetric keys by slot.
    pub keys: BTreeMap<Slot, KeyRecord<K>>,
    /// Data objects by tag: the value inside tag 53 (or 7E for discovery).
    pub objects: BTreeMap<u32, Vec<u8>>,
    /// The serial number GET SERIAL reports.
    pub serial: u32,
}

/// The card management key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "MgmtKeyV1", try_from = "MgmtKeyV1")]
pub struct MgmtKey {
    /// The key, with its algorithm.
    pub key: SymKey,
    /// Its touch policy (reported, never enforced).
    pub touch: TouchPolicy,
    /// Whether it is the well-known default key.
    pub default: bool,
}

/// How card images (format v1) store the management key: the algorithm, then the key bytes
/// with their length.
#[derive(Serialize, Deserialize)]
struct MgmtKeyV1 {
    alg: SymAlg,
    key: Secret,
    touch: TouchPolicy,
    default: bool,
}

impl From<MgmtKey> for MgmtKeyV1 {
    fn from(m: MgmtKey) -> Self {
        MgmtKeyV1 {
            alg: m.key.algorithm(),
            key: Secret::from_slice(m.key.as_bytes()),
            touch: m.touch,
            default: m.default,
        }
    }
}

impl TryFrom<MgmtKeyV1> for MgmtKey {
    type Error = CryptoError;

    fn try_from(m: MgmtKeyV1) -> Result<Self, CryptoError> {
        Ok(MgmtKey {
            key: SymKey::from_bytes(m.alg, m.key.expose())?,
            touch: m.touch,
            default: m.default,
        })
    }
}

/// A key in a slot, with its policies.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyRecord<K = PrivateKey> {
    /// The key.
    pub key: K,
    /// When it needs the PIN.
    pub pin_policy: KeyPinPolicy,
    /// When it needs a touch.
    pub touch_policy: TouchPolicy,
    /// Generated or imported.
    pub origin: Origin,
}

impl Persistent<KeyMaterial> {
    /// Loads every key into `backend`.
    ///
    /// # Errors
    /// The backend's error for a key it cannot load.
    pub fn bind(self, backend: BackendKind) -> Result<Persistent, CryptoError> {
        let mut keys = BTreeMap::new();
        for (slot, r) in self.keys {
            let record = KeyRecord {
                key: PrivateKey::from_material(backend, r.key)?,
                pin_policy: r.pin_policy,
                touch_policy: r.touch_policy,
                origin: r.origin,
            };
            keys.insert(slot, record);
        }
        Ok(Persistent {
            keys,
            pin: self.pin,
            puk: self.puk,
            pin_default: self.pin_default,
            puk_default: self.puk_default,
            mgmt: self.mgmt,
            objects: self.objects,
            serial: self.serial,
        })
    }
}

/// The security state a reset clears.
#[derive(Debug, Default)]
pub struct Volatile {
    /// The PIN was verified in this session.
    pub pin_verified: bool,
    /// The PIN was verified and no private-key operation has happened since (PIN always).
    pub pin_fresh: bool,
    /// The management key was authenticated in this session.
    pub mgmt_authenticated: bool,
    /// An unfinished management-key authentication.
    pub pending: Option<Pending>,
}

impl Volatile {
    /// Forgets every authentication.
    pub fn clear(&mut self) {
        *self = Volatile::default();
    }
}

/// The first half of a management-key authentication.
#[derive(Debug)]
pub enum Pending {
    /// Mutual authentication: the witness the card sent encrypted, in clear.
    Witness(Zeroizing<Vec<u8>>),
    /// Single authentication: the challenge the card sent, in clear.
    Challenge(Zeroizing<Vec<u8>>),
}
