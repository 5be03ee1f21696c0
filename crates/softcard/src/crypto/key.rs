//! Stored key material and the ready-to-use private key built from it.

use core::{fmt, ops::Deref};
use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{BackendKind, CardRng, CryptoError, KeyAlgorithm, PrivateKeyOps};

/// Private key material as stored in a card image. Zeroized on drop; `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// RSA: all numbers big-endian without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
        /// Private exponent.
        d: Vec<u8>,
        /// First prime.
        p: Vec<u8>,
        /// Second prime.
        q: Vec<u8>,
    },
    /// P-256: the private scalar, 32 bytes big-endian.
    P256 {
        /// The scalar.
        d: Vec<u8>,
    },
}

impl KeyMaterial {
    /// The algorithm this material is for, judged by its sizes.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for an RSA modulus of an unsupported size.
    pub fn algorithm(&self) -> Result<KeyAlgorithm, CryptoError> {
        match self {
            KeyMaterial::Rsa { n, .. } => {
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                KeyAlgorithm::rsa_with_bits(bits).ok_or(CryptoError::InvalidKey)
            }
            KeyMaterial::P256 { .. } => Ok(KeyAlgorithm::P256),
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Rsa { n, .. } => {
                write!(f, "KeyMaterial::Rsa({} bits, [REDACTED])", n.len() * 8)
            }
            KeyMaterial::P256 { .. } => f.write_str("KeyMaterial::P256([REDACTED])"),
        }
    }
}

thread_local! {
    static LOAD_BACKEND: Cell<BackendKind> = const { Cell::new(BackendKind::RustCrypto) };
}

/// Runs `f` with `kind` as the backend that deserialized [`PrivateKey`]s are loaded into
/// (the default is [`BackendKind::RustCrypto`]). Used when a card image is read.
pub fn with_backend<R>(kind: BackendKind, f: impl FnOnce() -> R) -> R {
    let previous = LOAD_BACKEND.with(|c| c.replace(kind));
    let result = f();
    LOAD_BACKEND.with(|c| c.set(previous));
    result
}

/// A private key: its stored material and the backend's ready form of it.
///
/// Dereferences to [`PrivateKeyOps`] for the operations. Serializes as its material only.
pub struct PrivateKey {
    material: KeyMaterial,
    backend: BackendKind,
    ops: Box<dyn PrivateKeyOps>,
}

impl PrivateKey {
    /// Generates a key with the given backend.
    ///
    /// # Errors
    /// [`CryptoError::Unsupported`] if that backend is not compiled in; the backend's errors.
    pub fn generate(
        backend: BackendKind,
        alg: KeyAlgorithm,
        rng: &mut dyn CardRng,
    ) -> Result<Self, CryptoError> {
        let b = backend.backend().ok_or(CryptoError::Unsupported)?;
        let material = b.generate(alg, rng)?;
        Self::from_material(backend, material)
    }

    /// Loads stored material into the given backend.
    ///
    /// # Errors
    /// [`CryptoError::Unsupported`] if that backend is not compiled in;
    /// [`CryptoError::InvalidKey`] for inconsistent material.
    pub fn from_material(backend: BackendKind, material: KeyMaterial) -> Result<Self, CryptoError> {
        let b = backend.backend().ok_or(CryptoError::Unsupported)?;
        let ops = b.load(&material)?;
        Ok(PrivateKey {
            material,
            backend,
            ops,
        })
    }

    /// The stored material (for writing a card image).
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Which backend performs this key's operations.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The same key loaded into another backend.
    ///
    /// # Errors
    /// As [`PrivateKey::from_material`].
    pub fn with_backend(&self, backend: BackendKind) -> Result<Self, CryptoError> {
        Self::from_material(backend, self.material.clone())
    }
}

impl Deref for PrivateKey {
    type Target = dyn PrivateKeyOps;
    fn deref(&self) -> &Self::Target {
        &*self.ops
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.ops.algorithm())
            .field("backend", &self.backend)
            .field("material", &"[REDACTED]")
            .finish()
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.material == other.material
    }
}

impl Serialize for PrivateKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.material.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PrivateKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let material = KeyMaterial::deserialize(d)?;
        let backend = LOAD_BACKEND.with(Cell::get);
        PrivateKey::from_material(backend, material).map_err(serde::de::Error::custom)
    }
}
