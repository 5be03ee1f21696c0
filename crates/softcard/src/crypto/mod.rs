//! Cryptography behind one backend trait.
//!
//! Two backends implement [`CryptoBackend`]: [`BackendKind::AwsLc`] (aws-lc-rs, the cargo
//! feature `aws-lc`, on by default; the default backend when compiled in) and
//! [`BackendKind::RustCrypto`] (`rsa` 0.10 with blinding, `p256`, `p384`; pure Rust, always
//! compiled in, the default of a build without `aws-lc`). Key material is stored as
//! [`KeyMaterial`] (zeroized on drop) and turned once, when a card is loaded or a key
//! generated, into a ready [`PrivateKey`]: nothing on the signing path parses DER. Both
//! backends generate keys with RustCrypto (see the `awslc` module).
//!
//! Key material comes from card images and from key imports: every check of it is total
//! (no panic, no overflow on any input), and arithmetic here is checked or saturating.

#![warn(clippy::arithmetic_side_effects)]

#[cfg(feature = "aws-lc")]
mod awslc;
mod curve25519;
mod key;
mod pad;
mod rustcrypto;
pub mod sym;

use core::fmt;
use serde::{Deserialize, Serialize};

#[cfg(feature = "aws-lc")]
pub use awslc::AwsLc;
pub use key::{KeyMaterial, PrivateKey, trim_leading_zeros};
pub use rustcrypto::RustCrypto;

/// The randomness a card is handed: any cryptographically secure generator.
pub trait CardRng: rand_core::CryptoRng + Send {}
impl<T: rand_core::CryptoRng + Send> CardRng for T {}

/// A hash function, for DigestInfo prefixes, PSS and OAEP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HashAlg {
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-384 (48 bytes).
    Sha384,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl HashAlg {
    /// Digest length in bytes.
    #[allow(clippy::len_without_is_empty, reason = "a digest length, never empty")]
    pub const fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The hash of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            HashAlg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The DER DigestInfo prefix of PKCS#1 v1.5 signatures (RFC 8017 section 9.2, note 1).
    pub const fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// DigestInfo (prefix || digest) for a digest of this hash.
    pub fn digest_info(self, digest: &[u8]) -> Vec<u8> {
        let mut out = self.digest_info_prefix().to_vec();
        out.extend_from_slice(digest);
        out
    }
}

/// An asymmetric key algorithm a card can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSA, 1024-bit modulus.
    Rsa1024,
    /// RSA, 2048-bit modulus.
    Rsa2048,
    /// RSA, 3072-bit modulus.
    Rsa3072,
    /// RSA, 4096-bit modulus.
    Rsa4096,
    /// ECC on NIST P-256 (secp256r1).
    P256,
    /// ECC on NIST P-384 (secp384r1). Appended: card images index variants.
    P384,
    /// Ed25519 signatures (RFC 8032), as YubiKeys from firmware 5.7 have them.
    Ed25519,
    /// X25519 key agreement (RFC 7748), as YubiKeys from firmware 5.7 have it.
    X25519,
}

impl KeyAlgorithm {
    /// Every algorithm.
    pub const ALL: [KeyAlgorithm; 8] = [
        KeyAlgorithm::Rsa1024,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::X25519,
    ];

    /// Key size in bits (modulus or field size).
    pub const fn bits(self) -> usize {
        match self {
            KeyAlgorithm::Rsa1024 => 1024,
            KeyAlgorithm::Rsa2048 => 2048,
            KeyAlgorithm::Rsa3072 => 3072,
            KeyAlgorithm::Rsa4096 => 4096,
            KeyAlgorithm::P256 | KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => 256,
            KeyAlgorithm::P384 => 384,
        }
    }

    /// Whether this is an RSA algorithm.
    pub const fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Rsa1024
                | KeyAlgorithm::Rsa2048
                | KeyAlgorithm::Rsa3072
                | KeyAlgorithm::Rsa4096
        )
    }

    /// Whether this is ECDSA and ECDH on a NIST curve (P-256, P-384).
    pub const fn is_ec(self) -> bool {
        matches!(self, KeyAlgorithm::P256 | KeyAlgorithm::P384)
    }

    /// ECC: the length in bytes of a field element (a private scalar, a coordinate, an
    /// ECDH shared secret); `None` for RSA.
    pub const fn ec_field_len(self) -> Option<usize> {
        match self {
            KeyAlgorithm::P256 => Some(32),
            KeyAlgorithm::P384 => Some(48),
            _ => None,
        }
    }

    /// The RSA algorithm with this modulus size.
    pub const fn rsa_with_bits(bits: usize) -> Option<KeyAlgorithm> {
        match bits {
            1024 => Some(KeyAlgorithm::Rsa1024),
            2048 => Some(KeyAlgorithm::Rsa2048),
            3072 => Some(KeyAlgorithm::Rsa3072),
            4096 => Some(KeyAlgorithm::Rsa4096),
            _ => None,
        }
    }
}

/// A public key as the card reports it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PublicKey {
    /// RSA modulus and public exponent, big-endian without leading zeros.
    Rsa {
        /// Modulus n.
        n: Vec<u8>,
        /// Public exponent e.
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 point `04 || X || Y` (65 bytes).
    P256 {
        /// The point.
        point: Vec<u8>,
    },
    /// An uncompressed SEC1 point `04 || X || Y` (97 bytes). Appended, as every new
    /// variant must be.
    P384 {
        /// The point.
        point: Vec<u8>,
    },
    /// An Ed25519 public key: the 32-byte compressed point (RFC 8032).
    Ed25519 {
        /// The point.
        point: Vec<u8>,
    },
    /// An X25519 public key: the 32-byte u-coordinate (RFC 7748).
    X25519 {
        /// The point.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// ECC on a NIST curve: the uncompressed SEC1 point; `None` for RSA, Ed25519, X25519.
    pub fn ec_point(&self) -> Option<&[u8]> {
        match self {
            PublicKey::Rsa { .. } | PublicKey::Ed25519 { .. } | PublicKey::X25519 { .. } => None,
            PublicKey::P256 { point } | PublicKey::P384 { point } => Some(point),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKey::Rsa { n, e } => {
                write!(f, "Rsa({} bits, e={:02x?})", n.len().saturating_mul(8), e)
            }
            PublicKey::P256 { point } => write!(f, "P256({:02x?}...)", point.get(..9)),
            PublicKey::P384 { point } => write!(f, "P384({:02x?}...)", point.get(..9)),
            PublicKey::Ed25519 { point } => write!(f, "Ed25519({:02x?}...)", point.get(..8)),
            PublicKey::X25519 { point } => write!(f, "X25519({:02x?}...)", point.get(..8)),
        }
    }
}

/// How an RSA cryptogram is unpadded after the private operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaDecryptPadding {
    /// PKCS#1 v1.5 encryption padding (block type 2).
    Pkcs1v15,
    /// OAEP with this hash for both the label hash and MGF1, empty label.
    Oaep(HashAlg),
}

/// What went wrong in a cryptographic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The operation does not apply to this key's algorithm (ECDSA with an RSA key...).
    WrongKeyType,
    /// Input of the wrong length or out of range (an RSA input not below the modulus...).
    InvalidInput,
    /// Decryption failed (bad padding); deliberately says nothing more.
    Decryption,
    /// Stored key material is inconsistent or malformed.
    InvalidKey,
    /// Key generation failed.
    KeyGeneration,
    /// The backend does not implement this operation.
    Unsupported,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CryptoError::WrongKeyType => "operation not valid for this key type",
            CryptoError::InvalidInput => "invalid input for this key",
            CryptoError::Decryption => "decryption error",
            CryptoError::InvalidKey => "invalid key material",
            CryptoError::KeyGeneration => "key generation failed",
            CryptoError::Unsupported => "operation not supported by this backend",
        })
    }
}

impl std::error::Error for CryptoError {}

impl From<CryptoError> for crate::Status {
    fn from(e: CryptoError) -> crate::Status {
        use crate::Status;
        match e {
            CryptoError::WrongKeyType => Status::ConditionsNotSatisfied,
            CryptoError::InvalidInput | CryptoError::Decryption => Status::WrongData,
            CryptoError::InvalidKey => Status::ReferenceDataNotUsable,
            CryptoError::KeyGeneration => Status::MemoryFailure,
            CryptoError::Unsupported => Status::FunctionNotSupported,
        }
    }
}

/// A cryptographic backend: generates key material and loads it into ready keys.
pub trait CryptoBackend: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Generates a new key (RSA with e = 65537).
    ///
    /// # Errors
    /// [`CryptoError::KeyGeneration`].
    fn generate(
        &self,
        alg: KeyAlgorithm,
        rng: &mut dyn CardRng,
    ) -> Result<KeyMaterial, CryptoError>;

    /// Turns stored key material into a key ready for private operations.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] if the material is inconsistent.
    fn load(&self, material: &KeyMaterial) -> Result<Box<dyn PrivateKeyOps>, CryptoError>;
}

/// Private-key operations of a loaded key. Operations that do not apply to the key's
/// algorithm return [`CryptoError::WrongKeyType`].
/// Private-key operations of a loaded key. Each operation defaults to
/// [`CryptoError::WrongKeyType`]: a key implements those of its algorithm.
pub trait PrivateKeyOps: Send + Sync {
    /// The key's algorithm.
    fn algorithm(&self) -> KeyAlgorithm;

    /// The public half.
    fn public(&self) -> &PublicKey;

    /// RSA: the raw private operation `input^d mod n` (blinded). `input` is exactly the
    /// modulus length and below the modulus; the result is left-padded to that length.
    fn rsa_raw(&self, input: &[u8], rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        let _ = (input, rng);
        Err(CryptoError::WrongKeyType)
    }

    /// RSA: a PKCS#1 v1.5 signature over an encoded DigestInfo (or any block that fits,
    /// as the TLS 1.1 MD5+SHA-1 concatenation does).
    fn rsa_sign_pkcs1v15(
        &self,
        digest_info: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        let _ = (digest_info, rng);
        Err(CryptoError::WrongKeyType)
    }

    /// RSA: an RSASSA-PSS signature of a digest, salt length = digest length, MGF1 with the
    /// same hash.
    fn rsa_sign_pss(
        &self,
        hash: HashAlg,
        digest: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        let _ = (hash, digest, rng);
        Err(CryptoError::WrongKeyType)
    }

    /// RSA: decrypts and unpads a cryptogram of exactly the modulus length.
    fn rsa_decrypt(
        &self,
        padding: RsaDecryptPadding,
        cryptogram: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let _ = (padding, cryptogram, rng);
        Err(CryptoError::WrongKeyType)
    }

    /// ECC: an ECDSA signature of a digest of any non-zero length (its leftmost field-size
    /// bits, or a shorter digest taken as the same integer, as FIPS 186-5 says),
    /// DER-encoded `SEQUENCE { r, s }`.
    fn ecdsa_sign(&self, digest: &[u8], rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        let _ = (digest, rng);
        Err(CryptoError::WrongKeyType)
    }

    /// ECC: the ECDH shared secret (the X coordinate) with a peer's uncompressed point;
    /// X25519: the shared secret with a peer's 32-byte public key.
    fn ecdh(&self, peer_point: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let _ = peer_point;
        Err(CryptoError::WrongKeyType)
    }

    /// Ed25519: the 64-byte signature of a whole message (RFC 8032, pure EdDSA).
    fn ed25519_sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let _ = message;
        Err(CryptoError::WrongKeyType)
    }
}

/// The backends, a closed set.
///
/// The default is the fastest one compiled in: [`BackendKind::AwsLc`] with the cargo feature
/// `aws-lc` (on by default), else [`BackendKind::RustCrypto`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackendKind {
    /// RustCrypto: `rsa` 0.10 (constant-time, blinded), `p256` and `p384`. Pure Rust,
    /// always compiled in.
    RustCrypto,
    /// aws-lc-rs (cargo feature `aws-lc`, a default feature): OpenSSL-class RSA speed.
    AwsLc,
}

impl Default for BackendKind {
    fn default() -> Self {
        if cfg!(feature = "aws-lc") {
            BackendKind::AwsLc
        } else {
            BackendKind::RustCrypto
        }
    }
}

impl core::str::FromStr for BackendKind {
    type Err = String;

    /// Parses a backend's [`name`](BackendKind::name): `rustcrypto` or `aws-lc`. A backend
    /// not compiled into this build is an error too.
    fn from_str(name: &str) -> Result<Self, String> {
        let kind = [BackendKind::RustCrypto, BackendKind::AwsLc]
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown backend {name:?} (expected rustcrypto or aws-lc)"))?;
        if kind.backend().is_none() {
            return Err(format!(
                "backend {name} is not compiled into this build (cargo feature aws-lc)"
            ));
        }
        Ok(kind)
    }
}

impl BackendKind {
    /// The backend, if compiled in.
    pub fn backend(self) -> Option<&'static dyn CryptoBackend> {
        match self {
            BackendKind::RustCrypto => Some(&RustCrypto),
            #[cfg(feature = "aws-lc")]
            BackendKind::AwsLc => Some(&AwsLc),
            #[cfg(not(feature = "aws-lc"))]
            BackendKind::AwsLc => None,
        }
    }

    /// Every backend compiled into this build.
    pub fn available() -> Vec<BackendKind> {
        [BackendKind::RustCrypto, BackendKind::AwsLc]
            .into_iter()
            .filter(|k| k.backend().is_some())
            .collect()
    }

    /// The name used on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::RustCrypto => "rustcrypto",
            BackendKind::AwsLc => "aws-lc",
        }
    }
}
