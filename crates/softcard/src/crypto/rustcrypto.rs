//! The RustCrypto backend: `rsa` 0.10 (blinded, constant-time), `p256` and `p384`.
//!
//! Keys are built once from their material: the RSA key with its CRT values precomputed,
//! the P-256 or P-384 signing key with its public point. The private operations then only do
//! arithmetic: no DER is parsed and the PKCS#1 v1.5 encoding is written straight into
//! the block that goes through the blinded private operation.

use p256::ecdsa::signature::hazmat::RandomizedPrehashSigner;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, Generate, Pss};
use zeroize::{Zeroize, Zeroizing};

use super::pad::{oaep_unpad, pkcs1v15_sign_block, pkcs1v15_unpad};
use super::{
    BackendKind, CardRng, CryptoBackend, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial,
    PrivateKeyOps, PublicKey, RsaDecryptPadding,
};

/// The pure-Rust backend (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

impl CryptoBackend for RustCrypto {
    fn kind(&self) -> BackendKind {
        BackendKind::RustCrypto
    }

    fn generate(
        &self,
        alg: KeyAlgorithm,
        rng: &mut dyn CardRng,
    ) -> Result<KeyMaterial, CryptoError> {
        match alg {
            KeyAlgorithm::P256 => {
                let secret = p256::SecretKey::generate_from_rng(rng);
                let mut bytes = secret.to_bytes();
                let d = bytes.to_vec();
                bytes.zeroize();
                return Ok(KeyMaterial::P256 { d });
            }
            KeyAlgorithm::P384 => {
                let secret = p384::SecretKey::generate_from_rng(rng);
                let mut bytes = secret.to_bytes();
                let d = bytes.to_vec();
                bytes.zeroize();
                return Ok(KeyMaterial::P384 { d });
            }
            KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => {
                return super::curve25519::generate(alg, rng);
            }
            KeyAlgorithm::Rsa1024
            | KeyAlgorithm::Rsa2048
            | KeyAlgorithm::Rsa3072
            | KeyAlgorithm::Rsa4096 => {}
        }
        let key = rsa::PrivateKey::new(rng, alg.bits()).map_err(|_| CryptoError::KeyGeneration)?;
        let [p, q] = key.primes() else {
            return Err(CryptoError::KeyGeneration);
        };
        Ok(KeyMaterial::Rsa {
            n: trimmed(key.n()),
            e: trimmed(key.e()),
            d: trimmed(key.d()),
            p: trimmed(p),
            q: trimmed(q),
        })
    }

    fn load(&self, material: &KeyMaterial) -> Result<Box<dyn PrivateKeyOps>, CryptoError> {
        Ok(match material {
            KeyMaterial::Rsa { .. } => Box::new(RsaKey::load(material)?),
            KeyMaterial::P256 { d } => Box::new(EcKey::load(KeyAlgorithm::P256, d)?),
            KeyMaterial::P384 { d } => Box::new(EcKey::load(KeyAlgorithm::P384, d)?),
            KeyMaterial::Ed25519 { .. } | KeyMaterial::X25519 { .. } => {
                super::curve25519::load(material)?
            }
        })
    }
}

/// The big-endian bytes of `x` without leading zeros (at least one byte).
fn trimmed(x: &BoxedUint) -> Vec<u8> {
    let mut bytes = x.to_be_bytes();
    let out = match super::trim_leading_zeros(&bytes) {
        [] => vec![0],
        s => s.to_vec(),
    };
    bytes.zeroize();
    out
}

/// A big-endian number as a `BoxedUint` of just enough whole limbs.
fn uint(bytes: &[u8]) -> Result<BoxedUint, CryptoError> {
    let bits = bytes
        .len()
        .max(1)
        .checked_mul(8)
        .and_then(|b| u32::try_from(b).ok())
        .ok_or(CryptoError::InvalidKey)?;
    BoxedUint::from_be_slice(bytes, bits.next_multiple_of(64)).map_err(|_| CryptoError::InvalidKey)
}

/// An RSA key loaded into `rsa` 0.10, with its CRT values and public half ready.
pub(super) struct RsaKey {
    key: rsa::PrivateKey,
    alg: KeyAlgorithm,
    public: PublicKey,
    /// Modulus length in bytes.
    k: usize,
}

impl RsaKey {
    /// Builds the key from RSA material, checking that its numbers belong together.
    pub(super) fn load(material: &KeyMaterial) -> Result<Self, CryptoError> {
        let KeyMaterial::Rsa { n, e, d, p, q } = material else {
            return Err(CryptoError::WrongKeyType);
        };
        let alg = material.algorithm()?;
        let primes = vec![uint(p)?, uint(q)?];
        let key = rsa::PrivateKey::from_components(uint(n)?, uint(e)?, uint(d)?, primes)
            .map_err(|_| CryptoError::InvalidKey)?;
        if key.size().checked_mul(8) != Some(alg.bits()) {
            return Err(CryptoError::InvalidKey);
        }
        let public = PublicKey::Rsa {
            n: trimmed(key.n()),
            e: trimmed(key.e()),
        };
        let k = key.size();
        Ok(RsaKey {
            key,
            alg,
            public,
            k,
        })
    }

    /// The `rsa` key.
    #[cfg_attr(not(feature = "aws-lc"), allow(dead_code))]
    pub(super) fn key(&self) -> &rsa::PrivateKey {
        &self.key
    }

    /// `input^d mod n`, blinded and checked against the public operation.
    fn raw(&self, input: &[u8], rng: &mut dyn CardRng) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if input.len() != self.k {
            return Err(CryptoError::InvalidInput);
        }
        let c = BoxedUint::from_be_slice(input, self.key.n_bits_precision())
            .map_err(|_| CryptoError::InvalidInput)?;
        if c >= *self.key.n().as_ref() {
            return Err(CryptoError::InvalidInput);
        }
        let m = Zeroizing::new(
            rsa::hazmat::rsa_decrypt_and_check(&self.key, Some(rng), &c)
                .map_err(|_| CryptoError::InvalidInput)?,
        );
        let bytes = Zeroizing::new(m.to_be_bytes());
        let start = bytes
            .len()
            .checked_sub(self.k)
            .ok_or(CryptoError::InvalidInput)?;
        let out = bytes.get(start..).ok_or(CryptoError::InvalidInput)?;
        Ok(Zeroizing::new(out.to_vec()))
    }
}

impl PrivateKeyOps for RsaKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    fn public(&self) -> &PublicKey {
        &self.public
    }

    fn rsa_raw(&self, input: &[u8], rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        self.raw(input, rng).map(|out| out.to_vec())
    }

    fn rsa_sign_pkcs1v15(
        &self,
        digest_info: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        let em = pkcs1v15_sign_block(digest_info, self.k)?;
        self.raw(&em, rng).map(|out| out.to_vec())
    }

    fn rsa_sign_pss(
        &self,
        hash: HashAlg,
        digest: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        if digest.len() != hash.len() {
            return Err(CryptoError::InvalidInput);
        }
        let signed = match hash {
            HashAlg::Sha1 => self
                .key
                .sign_with_rng(rng, Pss::<sha1::Sha1>::new(), digest),
            HashAlg::Sha256 => self
                .key
                .sign_with_rng(rng, Pss::<sha2::Sha256>::new(), digest),
            HashAlg::Sha384 => self
                .key
                .sign_with_rng(rng, Pss::<sha2::Sha384>::new(), digest),
            HashAlg::Sha512 => self
                .key
                .sign_with_rng(rng, Pss::<sha2::Sha512>::new(), digest),
        };
        signed.map_err(|_| CryptoError::InvalidInput)
    }

    fn rsa_decrypt(
        &self,
        padding: RsaDecryptPadding,
        cryptogram: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if cryptogram.len() != self.k {
            return Err(CryptoError::InvalidInput);
        }
        let mut em = self.raw(cryptogram, rng)?;
        match padding {
            RsaDecryptPadding::Pkcs1v15 => pkcs1v15_unpad(&em),
            RsaDecryptPadding::Oaep(hash) => oaep_unpad(hash, &mut em),
        }
    }
}

/// The ECDSA signing key of a curve (it holds the scalar).
enum EcSigner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A P-256 or P-384 key: the ECDSA signing key and its public point.
pub(super) struct EcKey {
    key: EcSigner,
    public: PublicKey,
}

impl EcKey {
    /// Builds the key of an EC algorithm from its big-endian scalar in `1..n`, exactly the
    /// field size long (32 bytes for P-256, 48 for P-384).
    pub(super) fn load(alg: KeyAlgorithm, d: &[u8]) -> Result<Self, CryptoError> {
        if Some(d.len()) != alg.ec_field_len() {
            return Err(CryptoError::InvalidKey);
        }
        Ok(match alg {
            KeyAlgorithm::P256 => {
                let key =
                    p256::ecdsa::SigningKey::from_slice(d).map_err(|_| CryptoError::InvalidKey)?;
                let point = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                EcKey {
                    key: EcSigner::P256(key),
                    public: PublicKey::P256 { point },
                }
            }
            KeyAlgorithm::P384 => {
                let key =
                    p384::ecdsa::SigningKey::from_slice(d).map_err(|_| CryptoError::InvalidKey)?;
                let point = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                EcKey {
                    key: EcSigner::P384(key),
                    public: PublicKey::P384 { point },
                }
            }
            KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => return Err(CryptoError::WrongKeyType),
            KeyAlgorithm::Rsa1024
            | KeyAlgorithm::Rsa2048
            | KeyAlgorithm::Rsa3072
            | KeyAlgorithm::Rsa4096 => return Err(CryptoError::WrongKeyType),
        })
    }
}

/// The ECDSA input for a curve of `N`-byte scalars (FIPS 186-5 section 6.4.1): the leftmost
/// `8 * N` bits of the digest, or a shorter digest as the same integer (left-padded with
/// zeros). This is what PIV hosts expect: yubico-piv-tool and OpenSC send the digest as it
/// is, at most the field size long.
pub(super) fn ec_prehash<const N: usize>(digest: &[u8]) -> Result<[u8; N], CryptoError> {
    if digest.is_empty() {
        return Err(CryptoError::InvalidInput);
    }
    let mut z = [0u8; N];
    let used = digest.get(..N).unwrap_or(digest);
    let (_, tail) = z
        .split_at_mut_checked(N.saturating_sub(used.len()))
        .ok_or(CryptoError::InvalidInput)?;
    tail.copy_from_slice(used);
    Ok(z)
}

/// Checks that `point` is an uncompressed SEC1 point of the key's curve (04, then two
/// coordinates of the field size: 65 bytes for P-256, 97 for P-384).
pub(super) fn check_uncompressed(alg: KeyAlgorithm, point: &[u8]) -> Result<(), CryptoError> {
    let len = alg
        .ec_field_len()
        .and_then(|f| f.checked_mul(2))
        .and_then(|f| f.checked_add(1));
    match point.first() {
        Some(0x04) if Some(point.len()) == len => Ok(()),
        _ => Err(CryptoError::InvalidInput),
    }
}

impl PrivateKeyOps for EcKey {
    fn algorithm(&self) -> KeyAlgorithm {
        match self.key {
            EcSigner::P256(_) => KeyAlgorithm::P256,
            EcSigner::P384(_) => KeyAlgorithm::P384,
        }
    }

    fn public(&self) -> &PublicKey {
        &self.public
    }

    fn ecdsa_sign(&self, digest: &[u8], rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        match &self.key {
            EcSigner::P256(key) => {
                let z = ec_prehash::<32>(digest)?;
                let sig: p256::ecdsa::DerSignature = key
                    .sign_prehash_with_rng(rng, &z)
                    .map_err(|_| CryptoError::InvalidInput)?;
                Ok(sig.as_bytes().to_vec())
            }
            EcSigner::P384(key) => {
                let z = ec_prehash::<48>(digest)?;
                let sig: p384::ecdsa::DerSignature = key
                    .sign_prehash_with_rng(rng, &z)
                    .map_err(|_| CryptoError::InvalidInput)?;
                Ok(sig.as_bytes().to_vec())
            }
        }
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        check_uncompressed(self.algorithm(), peer_point)?;
        match &self.key {
            EcSigner::P256(key) => {
                let peer = p256::PublicKey::from_sec1_bytes(peer_point)
                    .map_err(|_| CryptoError::InvalidInput)?;
                let shared = p256::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
                Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
            }
            EcSigner::P384(key) => {
                let peer = p384::PublicKey::from_sec1_bytes(peer_point)
                    .map_err(|_| CryptoError::InvalidInput)?;
                let shared = p384::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
                Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prehash_truncates_and_pads() {
        let long: Vec<u8> = (0..64).collect();
        assert_eq!(ec_prehash::<32>(&long).unwrap().as_slice(), &long[..32]);
        assert_eq!(ec_prehash::<48>(&long).unwrap().as_slice(), &long[..48]);
        assert_eq!(
            ec_prehash::<48>(&long[..48]).unwrap().as_slice(),
            &long[..48]
        );
        let z = ec_prehash::<32>(&[1, 2, 3]).unwrap();
        assert_eq!(&z[29..], &[1, 2, 3]);
        assert!(z[..29].iter().all(|b| *b == 0));
        let z = ec_prehash::<48>(&long[..32]).unwrap();
        assert_eq!(&z[16..], &long[..32]);
        assert!(z[..16].iter().all(|b| *b == 0));
        assert_eq!(ec_prehash::<32>(&[]), Err(CryptoError::InvalidInput));
        assert_eq!(ec_prehash::<48>(&[]), Err(CryptoError::InvalidInput));
    }

    #[test]
    fn uncompressed_points_have_the_curve_length() {
        let p256 = [&[4u8][..], &[1; 64]].concat();
        let p384 = [&[4u8][..], &[1; 96]].concat();
        assert_eq!(check_uncompressed(KeyAlgorithm::P256, &p256), Ok(()));
        assert_eq!(check_uncompressed(KeyAlgorithm::P384, &p384), Ok(()));
        for (alg, point) in [
            (KeyAlgorithm::P256, &p384[..]),
            (KeyAlgorithm::P384, &p256[..]),
            (KeyAlgorithm::P384, &p384[..49]),
            (KeyAlgorithm::Rsa2048, &p256[..]),
        ] {
            assert_eq!(
                check_uncompressed(alg, point),
                Err(CryptoError::InvalidInput)
            );
        }
    }
}
