//! The key that signs a request, and the algorithms it signs with.

use const_oid::ObjectIdentifier;
use der::asn1::BitString;
use softcard::crypto::{HashAlg, PublicKey};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned};
use x509_cert::builder::Builder;

use crate::{EnrollError, oid, public_key};

/// A private key that signs requests: a key container on a card, or a software key.
///
/// The request builders hand it the exact bytes to sign (a `CertificationRequestInfo`, or
/// a CMS `SignedAttributes` set) and the hash to use. A card-backed signer hashes on the
/// host, wraps RSA digests in a DigestInfo
/// ([`HashAlg::digest_info`](softcard::crypto::HashAlg::digest_info)) and asks the card
/// for the private operation (GIDS PSO: COMPUTE DIGITAL SIGNATURE, or PIV GENERAL
/// AUTHENTICATE with the PKCS#1 v1.5 padding built on the host).
pub trait RequestSigner {
    /// The public half of the key.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` hashed with `hash`.
    ///
    /// Returns the signature as X.509 carries it: the PKCS#1 v1.5 signature block for RSA
    /// (exactly the modulus length), the DER `Ecdsa-Sig-Value` (`SEQUENCE { r, s }`) for
    /// ECDSA.
    ///
    /// # Errors
    /// [`EnrollError::Signer`] when the key cannot sign (card error, PIN not verified...).
    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError>;

    /// The signature algorithm this key uses with `hash`.
    ///
    /// # Errors
    /// As [`SignatureAlgorithm::for_key`].
    fn signature_algorithm(&self, hash: HashAlg) -> Result<SignatureAlgorithm, EnrollError> {
        SignatureAlgorithm::for_key(self.public_key(), hash)
    }
}

impl<S: RequestSigner + ?Sized> RequestSigner for &mut S {
    fn public_key(&self) -> &PublicKey {
        (**self).public_key()
    }

    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError> {
        (**self).sign(message, hash)
    }
}

/// A signature algorithm of requests and CMS signers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 (`sha1WithRSAEncryption`, `sha256WithRSAEncryption`...).
    RsaPkcs1(HashAlg),
    /// ECDSA (`ecdsa-with-SHA1`, `ecdsa-with-SHA256`...).
    Ecdsa(HashAlg),
}

impl SignatureAlgorithm {
    /// The algorithm a key of this kind signs with, using `hash`.
    ///
    /// # Errors
    /// [`EnrollError::Unsupported`] for Ed25519 and X25519 keys.
    pub fn for_key(key: &PublicKey, hash: HashAlg) -> Result<Self, EnrollError> {
        Ok(match key {
            PublicKey::Rsa { .. } => SignatureAlgorithm::RsaPkcs1(hash),
            PublicKey::P256 { .. } | PublicKey::P384 { .. } => SignatureAlgorithm::Ecdsa(hash),
            PublicKey::Ed25519 { .. } | PublicKey::X25519 { .. } => {
                return Err(EnrollError::Unsupported(
                    "enrollment of Ed25519 and X25519 keys".into(),
                ));
            }
        })
    }

    /// The hash it signs with.
    pub fn hash(self) -> HashAlg {
        match self {
            SignatureAlgorithm::RsaPkcs1(h) | SignatureAlgorithm::Ecdsa(h) => h,
        }
    }

    /// Every algorithm, with its OID.
    const ALL: [(SignatureAlgorithm, ObjectIdentifier); 8] = [
        (Self::RsaPkcs1(HashAlg::Sha1), oid::SHA1_WITH_RSA),
        (Self::RsaPkcs1(HashAlg::Sha256), oid::SHA256_WITH_RSA),
        (Self::RsaPkcs1(HashAlg::Sha384), oid::SHA384_WITH_RSA),
        (Self::RsaPkcs1(HashAlg::Sha512), oid::SHA512_WITH_RSA),
        (Self::Ecdsa(HashAlg::Sha1), oid::ECDSA_WITH_SHA1),
        (Self::Ecdsa(HashAlg::Sha256), oid::ECDSA_WITH_SHA256),
        (Self::Ecdsa(HashAlg::Sha384), oid::ECDSA_WITH_SHA384),
        (Self::Ecdsa(HashAlg::Sha512), oid::ECDSA_WITH_SHA512),
    ];

    /// The algorithm an `AlgorithmIdentifier` names, if this crate knows it.
    pub fn from_identifier(identifier: AlgorithmIdentifierRef<'_>) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, oid)| *oid == identifier.oid)
            .map(|(alg, _)| *alg)
    }

    /// The `AlgorithmIdentifier` of a signature (RSA with NULL parameters as RFC 8017
    /// asks, ECDSA without parameters as RFC 5758 asks).
    pub(crate) fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        let oid = Self::ALL
            .iter()
            .find(|(alg, _)| *alg == self)
            .map_or(oid::SHA1_WITH_RSA, |(_, oid)| *oid);
        let parameters = match self {
            SignatureAlgorithm::RsaPkcs1(_) => Some(der::Any::null()),
            SignatureAlgorithm::Ecdsa(_) => None,
        };
        AlgorithmIdentifierOwned { oid, parameters }
    }

    /// The CMS `SignerInfo.signatureAlgorithm`: `rsaEncryption` for RSA (as OpenSSL and
    /// Windows write it, RFC 3370 section 3.2), the ECDSA algorithm itself for ECDSA.
    pub(crate) fn cms_signature_identifier(self) -> AlgorithmIdentifierOwned {
        match self {
            SignatureAlgorithm::RsaPkcs1(_) => AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(der::Any::null()),
            },
            SignatureAlgorithm::Ecdsa(_) => self.algorithm_identifier(),
        }
    }
}

/// The `AlgorithmIdentifier` of a digest: SHA-1 with NULL parameters (as Windows writes
/// it), SHA-2 without (RFC 5754).
pub(crate) fn digest_identifier(hash: HashAlg) -> AlgorithmIdentifierOwned {
    let (oid, parameters) = match hash {
        HashAlg::Sha1 => (oid::SHA1, Some(der::Any::null())),
        HashAlg::Sha256 => (oid::SHA256, None),
        HashAlg::Sha384 => (oid::SHA384, None),
        HashAlg::Sha512 => (oid::SHA512, None),
    };
    AlgorithmIdentifierOwned { oid, parameters }
}

/// What `x509-cert`'s builders ask of a signing key, without the key: its public half and
/// the algorithm it signs with. The signature itself comes from a [`RequestSigner`] (a
/// card), between the builder's `finalize` and `assemble`.
#[derive(Clone, Debug)]
struct BuilderKey {
    public: SubjectPublicKeyInfoOwned,
    algorithm: SignatureAlgorithm,
}

/// A public key as the builders take it: its `SubjectPublicKeyInfo`.
#[derive(Clone, Debug)]
struct PublicKeyInfo(SubjectPublicKeyInfoOwned);

impl EncodePublicKey for PublicKeyInfo {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

impl signature::Keypair for BuilderKey {
    type VerifyingKey = PublicKeyInfo;

    fn verifying_key(&self) -> PublicKeyInfo {
        PublicKeyInfo(self.public.clone())
    }
}

impl DynSignatureAlgorithmIdentifier for BuilderKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.algorithm.algorithm_identifier())
    }
}

/// Runs an `x509-cert` builder (a request, a certificate) with `signer` signing the
/// to-be-signed encoding it produces, hashed with `hash`.
///
/// # Errors
/// [`EnrollError::Encode`] when the builder cannot encode; the signer's errors.
pub(crate) fn build_signed<B: Builder>(
    mut builder: B,
    signer: &mut dyn RequestSigner,
    hash: HashAlg,
) -> Result<B::Output, EnrollError> {
    let encode = |e: x509_cert::builder::Error| EnrollError::Encode(e.to_string());
    let key = BuilderKey {
        public: public_key::encode(signer.public_key())?,
        algorithm: signer.signature_algorithm(hash)?,
    };
    let to_sign = builder.finalize(&key).map_err(encode)?;
    let signature = signer.sign(&to_sign, hash)?;
    let bits = BitString::from_bytes(&signature).map_err(|e| EnrollError::Encode(e.to_string()))?;
    builder.assemble(bits, &key).map_err(encode)
}
