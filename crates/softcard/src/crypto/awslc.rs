//! The aws-lc-rs backend (cargo feature `aws-lc`): AWS-LC's RSA, P-256 and P-384 for the
//! private-key operations it offers, loaded once from the key material as PKCS#8.
//!
//! aws-lc-rs has no safe API for some operations; those are done by a RustCrypto key loaded
//! from the same material (so results stay byte-identical where the scheme is deterministic):
//!
//! | operation | done by |
//! |---|---|
//! | key generation (RSA, P-256 and P-384) | RustCrypto: it draws from the card's generator (so a seeded card stays reproducible; aws-lc-rs only uses its own), and `rsa` 0.10 generates faster |
//! | every operation of an RSA-1024 key | RustCrypto: aws-lc-rs only loads 2048- to 8192-bit keys |
//! | `rsa_raw` | RustCrypto: aws-lc-rs exposes no raw private operation |
//! | `rsa_sign_pkcs1v15` of a SHA-1 DigestInfo or of any other block | RustCrypto: aws-lc-rs signs SHA-256/384/512 digests only |
//! | `rsa_sign_pss` with SHA-1 | RustCrypto: no SHA-1 PSS encoding in aws-lc-rs |
//! | every operation of an Ed25519 or X25519 key | `ed25519-dalek` and `x25519-dalek`, as on the RustCrypto backend |
//!
//! Everything else (PKCS#1 v1.5 signing of SHA-256/384/512 DigestInfos, PSS with SHA-2,
//! PKCS#1 v1.5 and OAEP decryption, ECDSA, ECDH) runs in AWS-LC. AWS-LC draws the PSS salt
//! and the ECDSA nonce from its own generator, and blinds RSA with it, not with the card's.

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, UnparsedPublicKey};
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, RsaEncoding, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;
use zeroize::Zeroizing;

use super::pad::pkcs1v15_sign_payload;
use super::rustcrypto::{EcKey, RsaKey, RustCrypto, check_uncompressed, ec_prehash};
use super::{
    BackendKind, CardRng, CryptoBackend, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial,
    PrivateKeyOps, PublicKey, RsaDecryptPadding,
};

/// The aws-lc-rs backend (cargo feature `aws-lc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLc;

impl CryptoBackend for AwsLc {
    fn kind(&self) -> BackendKind {
        BackendKind::AwsLc
    }

    /// Delegated to RustCrypto, see the module documentation.
    fn generate(
        &self,
        alg: KeyAlgorithm,
        rng: &mut dyn CardRng,
    ) -> Result<KeyMaterial, CryptoError> {
        RustCrypto.generate(alg, rng)
    }

    fn load(&self, material: &KeyMaterial) -> Result<Box<dyn PrivateKeyOps>, CryptoError> {
        Ok(match material {
            KeyMaterial::Rsa { .. } if material.algorithm()? == KeyAlgorithm::Rsa1024 => {
                RustCrypto.load(material)?
            }
            KeyMaterial::Rsa { .. } => Box::new(AwsRsa::load(material)?),
            KeyMaterial::P256 { d } => Box::new(AwsEc::load(KeyAlgorithm::P256, d)?),
            KeyMaterial::P384 { d } => Box::new(AwsEc::load(KeyAlgorithm::P384, d)?),
            // Ed25519 and X25519 keys are the same pure-Rust keys on every backend.
            KeyMaterial::Ed25519 { .. } | KeyMaterial::X25519 { .. } => {
                super::curve25519::load(material)?
            }
        })
    }
}

/// The SHA-2 hash whose DigestInfo `block` is, with the digest.
fn split_digest_info(block: &[u8]) -> Option<(HashAlg, &[u8])> {
    [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
        .into_iter()
        .find_map(|hash| {
            let digest = block.strip_prefix(hash.digest_info_prefix())?;
            (digest.len() == hash.len()).then_some((hash, digest))
        })
}

const fn digest_alg(hash: HashAlg) -> &'static digest::Algorithm {
    match hash {
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

const fn oaep_alg(hash: HashAlg) -> &'static OaepAlgorithm {
    match hash {
        HashAlg::Sha1 => &OAEP_SHA1_MGF1SHA1,
        HashAlg::Sha256 => &OAEP_SHA256_MGF1SHA256,
        HashAlg::Sha384 => &OAEP_SHA384_MGF1SHA384,
        HashAlg::Sha512 => &OAEP_SHA512_MGF1SHA512,
    }
}

/// An RSA key (2048 bits or more) in AWS-LC, with its RustCrypto twin for delegated operations.
struct AwsRsa {
    fallback: RsaKey,
    pair: RsaKeyPair,
    pkcs1: Pkcs1PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
}

impl AwsRsa {
    fn load(material: &KeyMaterial) -> Result<Self, CryptoError> {
        let fallback = RsaKey::load(material)?;
        let pkcs8 = fallback
            .key()
            .to_pkcs8_der()
            .map_err(|_| CryptoError::InvalidKey)?;
        let der = pkcs8.as_bytes();
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| CryptoError::InvalidKey)?;
        let decrypting =
            || PrivateDecryptingKey::from_pkcs8(der).map_err(|_| CryptoError::InvalidKey);
        let pkcs1 =
            Pkcs1PrivateDecryptingKey::new(decrypting()?).map_err(|_| CryptoError::InvalidKey)?;
        let oaep =
            OaepPrivateDecryptingKey::new(decrypting()?).map_err(|_| CryptoError::InvalidKey)?;
        Ok(AwsRsa {
            fallback,
            pair,
            pkcs1,
            oaep,
        })
    }

    fn sign_digest(
        &self,
        encoding: &'static dyn RsaEncoding,
        hash: HashAlg,
        digest: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let digest = Digest::import_less_safe(digest, digest_alg(hash))
            .map_err(|_| CryptoError::InvalidInput)?;
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign_digest(encoding, &digest, &mut sig)
            .map_err(|_| CryptoError::InvalidInput)?;
        Ok(sig)
    }
}

impl PrivateKeyOps for AwsRsa {
    fn algorithm(&self) -> KeyAlgorithm {
        self.fallback.algorithm()
    }

    fn public(&self) -> &PublicKey {
        self.fallback.public()
    }

    fn rsa_raw(&self, input: &[u8], rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        // A host-padded PKCS#1 v1.5 signature block (what PIV clients send) is signed by
        // AWS-LC from its DigestInfo: the scheme is deterministic, so the bytes are those of
        // the raw operation. Anything else goes through the raw operation itself.
        if input.len() == self.pair.public_modulus_len() {
            if let Some(t) = pkcs1v15_sign_payload(input) {
                if matches!(split_digest_info(t), Some((h, _)) if h != HashAlg::Sha1) {
                    return self.rsa_sign_pkcs1v15(t, rng);
                }
            }
        }
        self.fallback.rsa_raw(input, rng)
    }

    fn rsa_sign_pkcs1v15(
        &self,
        digest_info: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        let Some((hash, digest)) = split_digest_info(digest_info) else {
            return self.fallback.rsa_sign_pkcs1v15(digest_info, rng);
        };
        let encoding: &'static dyn RsaEncoding = match hash {
            HashAlg::Sha1 => return self.fallback.rsa_sign_pkcs1v15(digest_info, rng),
            HashAlg::Sha256 => &signature::RSA_PKCS1_SHA256,
            HashAlg::Sha384 => &signature::RSA_PKCS1_SHA384,
            HashAlg::Sha512 => &signature::RSA_PKCS1_SHA512,
        };
        self.sign_digest(encoding, hash, digest)
    }

    fn rsa_sign_pss(
        &self,
        hash: HashAlg,
        digest: &[u8],
        rng: &mut dyn CardRng,
    ) -> Result<Vec<u8>, CryptoError> {
        let encoding: &'static dyn RsaEncoding = match hash {
            HashAlg::Sha1 => return self.fallback.rsa_sign_pss(hash, digest, rng),
            HashAlg::Sha256 => &signature::RSA_PSS_SHA256,
            HashAlg::Sha384 => &signature::RSA_PSS_SHA384,
            HashAlg::Sha512 => &signature::RSA_PSS_SHA512,
        };
        if digest.len() != hash.len() {
            return Err(CryptoError::InvalidInput);
        }
        self.sign_digest(encoding, hash, digest)
    }

    fn rsa_decrypt(
        &self,
        padding: RsaDecryptPadding,
        cryptogram: &[u8],
        _rng: &mut dyn CardRng,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let k = self.pair.public_modulus_len();
        if cryptogram.len() != k {
            return Err(CryptoError::InvalidInput);
        }
        let mut out = Zeroizing::new(vec![0u8; k]);
        let len = match padding {
            RsaDecryptPadding::Pkcs1v15 => self.pkcs1.decrypt(cryptogram, &mut out),
            RsaDecryptPadding::Oaep(hash) => {
                self.oaep
                    .decrypt(oaep_alg(hash), cryptogram, &mut out, None)
            }
        }
        .map_err(|_| CryptoError::Decryption)?
        .len();
        out.truncate(len);
        Ok(out)
    }
}

/// A P-256 or P-384 key in AWS-LC: the ECDSA key pair and the ECDH private key.
struct AwsEc {
    alg: KeyAlgorithm,
    public: PublicKey,
    signing: EcdsaKeyPair,
    agreement: agreement::PrivateKey,
}

impl AwsEc {
    fn load(alg: KeyAlgorithm, d: &[u8]) -> Result<Self, CryptoError> {
        // The RustCrypto key checks the scalar and computes the public point.
        let public = EcKey::load(alg, d)?.public().clone();
        let point = public.ec_point().ok_or(CryptoError::InvalidKey)?;
        let signing =
            EcdsaKeyPair::from_private_key_and_public_key(Self::signing_alg(alg)?, d, point)
                .map_err(|_| CryptoError::InvalidKey)?;
        let agreement = agreement::PrivateKey::from_private_key(Self::agreement_alg(alg)?, d)
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(AwsEc {
            alg,
            public,
            signing,
            agreement,
        })
    }

    /// The ECDSA algorithm whose digest length is the field size: a prehashed digest is
    /// imported as that hash's digest (a P-256 input as SHA-256, a P-384 one as SHA-384), so
    /// AWS-LC signs exactly the field-size integer [`ec_prehash`] made.
    fn signing_alg(alg: KeyAlgorithm) -> Result<&'static EcdsaSigningAlgorithm, CryptoError> {
        match alg {
            KeyAlgorithm::P256 => Ok(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
            KeyAlgorithm::P384 => Ok(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
            _ => Err(CryptoError::WrongKeyType),
        }
    }

    fn agreement_alg(alg: KeyAlgorithm) -> Result<&'static agreement::Algorithm, CryptoError> {
        match alg {
            KeyAlgorithm::P256 => Ok(&ECDH_P256),
            KeyAlgorithm::P384 => Ok(&ECDH_P384),
            _ => Err(CryptoError::WrongKeyType),
        }
    }
}

impl PrivateKeyOps for AwsEc {
    fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    fn public(&self) -> &PublicKey {
        &self.public
    }

    fn ecdsa_sign(&self, digest: &[u8], _rng: &mut dyn CardRng) -> Result<Vec<u8>, CryptoError> {
        let imported = match self.alg {
            KeyAlgorithm::P384 => {
                Digest::import_less_safe(&ec_prehash::<48>(digest)?, &digest::SHA384)
            }
            _ => Digest::import_less_safe(&ec_prehash::<32>(digest)?, &digest::SHA256),
        }
        .map_err(|_| CryptoError::InvalidInput)?;
        let sig = self
            .signing
            .sign_digest(&imported)
            .map_err(|_| CryptoError::InvalidInput)?;
        Ok(sig.as_ref().to_vec())
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        check_uncompressed(self.alg, peer_point)?;
        let peer = UnparsedPublicKey::new(Self::agreement_alg(self.alg)?, peer_point);
        agreement::agree(&self.agreement, peer, CryptoError::InvalidInput, |secret| {
            Ok(Zeroizing::new(secret.to_vec()))
        })
    }
}
