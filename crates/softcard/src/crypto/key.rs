//! Stored key material and the ready-to-use private key built from it.

use core::{fmt, ops::Deref};

use serde::{Deserialize, Serialize, Serializer};
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
    /// P-384: the private scalar, 48 bytes big-endian. Appended: card images index the
    /// variants, so earlier images keep their meaning.
    P384 {
        /// The scalar.
        d: Vec<u8>,
    },
    /// Ed25519: the 32-byte private key (the seed of RFC 8032 section 5.1.5).
    Ed25519 {
        /// The seed.
        seed: Vec<u8>,
    },
    /// X25519: the 32-byte private scalar (RFC 7748; clamped when used).
    X25519 {
        /// The scalar.
        k: Vec<u8>,
    },
}

/// Largest RSA public exponent accepted, 2^33 - 1 (as `rsa` 0.10).
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

impl KeyMaterial {
    /// The algorithm this material is for, judged by its sizes (the RSA modulus's
    /// significant bits; leading zero bytes do not count).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for an empty or zero RSA modulus or one of an unsupported
    /// size.
    pub fn algorithm(&self) -> Result<KeyAlgorithm, CryptoError> {
        match self {
            KeyMaterial::Rsa { n, .. } => {
                KeyAlgorithm::rsa_with_bits(bit_len(n)).ok_or(CryptoError::InvalidKey)
            }
            KeyMaterial::P256 { .. } => Ok(KeyAlgorithm::P256),
            KeyMaterial::P384 { .. } => Ok(KeyAlgorithm::P384),
            KeyMaterial::Ed25519 { .. } => Ok(KeyAlgorithm::Ed25519),
            KeyMaterial::X25519 { .. } => Ok(KeyAlgorithm::X25519),
        }
    }

    /// Checks the material before any backend sees it, and returns its algorithm. Cheap
    /// checks only, all of them total (no panic on any input):
    ///
    /// - RSA: a modulus of a supported size (1024, 2048, 3072 or 4096 bits) and odd; a
    ///   public exponent odd, at least 3 and at most 2^33 - 1; a private exponent in
    ///   `1..n`; primes p and q, each odd, above 1 and no longer than half the modulus,
    ///   whose product is n. (The backend then checks that d inverts e.)
    /// - P-256 and P-384: a scalar of the field size (32 or 48 bytes), in `1..n` (the order
    ///   n of the curve's base point).
    /// - Ed25519 and X25519: 32 bytes (every 32-byte string is a key).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] naming no detail.
    pub fn validate(&self) -> Result<KeyAlgorithm, CryptoError> {
        let alg = self.algorithm()?;
        match self {
            KeyMaterial::Rsa { n, e, d, p, q } => {
                let n_bits = alg.bits();
                let half = n_bits.div_ceil(2);
                let e_value = small_value(e).ok_or(CryptoError::InvalidKey)?;
                let ok = is_odd(n)
                    && is_odd(e)
                    && (3..=MAX_RSA_EXPONENT).contains(&e_value)
                    && !is_zero(d)
                    && less(d, n)
                    && [p, q]
                        .iter()
                        .all(|x| is_odd(x) && bit_len(x) > 1 && bit_len(x) <= half)
                    && product_is(p, q, n, n_bits)?;
                if ok {
                    Ok(alg)
                } else {
                    Err(CryptoError::InvalidKey)
                }
            }
            KeyMaterial::P256 { d } => ec_scalar(d, &P256_ORDER, alg),
            KeyMaterial::P384 { d } => ec_scalar(d, &P384_ORDER, alg),
            KeyMaterial::Ed25519 { seed: k } | KeyMaterial::X25519 { k } => {
                if k.len() == 32 {
                    Ok(alg)
                } else {
                    Err(CryptoError::InvalidKey)
                }
            }
        }
    }
}

/// The order of the P-256 base point (SEC 2 section 2.4.2), big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order of the P-384 base point (SEC 2 section 2.5.1), big-endian.
const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// Checks an EC private scalar: exactly the order's length, and in `1..order`.
fn ec_scalar(d: &[u8], order: &[u8], alg: KeyAlgorithm) -> Result<KeyAlgorithm, CryptoError> {
    if d.len() == order.len() && !is_zero(d) && less(d, order) {
        Ok(alg)
    } else {
        Err(CryptoError::InvalidKey)
    }
}

/// The bytes of a big-endian number without its leading zeros (empty for zero): an unsigned
/// magnitude in its shortest form, as card data objects and key material carry it.
pub fn trim_leading_zeros(x: &[u8]) -> &[u8] {
    let start = x.iter().position(|b| *b != 0).unwrap_or(x.len());
    x.get(start..).unwrap_or_default()
}

/// The number of significant bits of a big-endian number (0 for zero or no bytes).
fn bit_len(x: &[u8]) -> usize {
    let s = trim_leading_zeros(x);
    let lead = s
        .first()
        .map_or(0, |b| (u8::BITS.saturating_sub(b.leading_zeros())) as usize);
    s.len()
        .saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(lead)
}

/// Whether a < b (big-endian numbers).
fn less(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (trim_leading_zeros(a), trim_leading_zeros(b));
    (a.len(), a) < (b.len(), b)
}

fn is_zero(x: &[u8]) -> bool {
    x.iter().all(|b| *b == 0)
}

fn is_odd(x: &[u8]) -> bool {
    x.last().is_some_and(|b| b & 1 == 1)
}

/// The value of a big-endian number of at most 8 significant bytes.
fn small_value(x: &[u8]) -> Option<u64> {
    let s = trim_leading_zeros(x);
    let mut buf = [0u8; 8];
    let at = buf.len().checked_sub(s.len())?;
    buf.get_mut(at..)?.copy_from_slice(s);
    Some(u64::from_be_bytes(buf))
}

/// Whether p * q = n, for p and q of at most half of n's `n_bits` (rounded up).
fn product_is(p: &[u8], q: &[u8], n: &[u8], n_bits: usize) -> Result<bool, CryptoError> {
    // Wide enough for the whole product (at most n_bits + 1 bits): no wrapping.
    let width = u32::try_from(n_bits.saturating_add(64).next_multiple_of(64))
        .map_err(|_| CryptoError::InvalidKey)?;
    let uint = |x: &[u8]| {
        rsa::BoxedUint::from_be_slice(trim_leading_zeros(x), width)
            .map_err(|_| CryptoError::InvalidKey)
    };
    Ok(uint(p)?.wrapping_mul(&uint(q)?) == uint(n)?)
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Rsa { n, .. } => {
                write!(f, "KeyMaterial::Rsa({} bits, [REDACTED])", bit_len(n))
            }
            KeyMaterial::P256 { .. } => f.write_str("KeyMaterial::P256([REDACTED])"),
            KeyMaterial::P384 { .. } => f.write_str("KeyMaterial::P384([REDACTED])"),
            KeyMaterial::Ed25519 { .. } => f.write_str("KeyMaterial::Ed25519([REDACTED])"),
            KeyMaterial::X25519 { .. } => f.write_str("KeyMaterial::X25519([REDACTED])"),
        }
    }
}

/// A private key: its stored material and the backend's ready form of it.
///
/// Dereferences to [`PrivateKeyOps`] for the operations. Serializes as its material only;
/// it does not deserialize: persistent states are read with [`KeyMaterial`]s, and loading a
/// state binds each material to the backend passed in ([`PrivateKey::from_material`]).
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
    /// [`CryptoError::InvalidKey`] for malformed or inconsistent material (see
    /// [`KeyMaterial::validate`]): never a panic.
    pub fn from_material(backend: BackendKind, material: KeyMaterial) -> Result<Self, CryptoError> {
        let b = backend.backend().ok_or(CryptoError::Unsupported)?;
        let alg = material.validate()?;
        let ops = b.load(&material)?;
        if ops.algorithm() != alg {
            return Err(CryptoError::InvalidKey);
        }
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
