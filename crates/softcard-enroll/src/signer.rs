//! The key that signs a request, and the algorithms it signs with.

use softcard::crypto::{HashAlg, PublicKey};

use crate::der;
use crate::{EnrollError, oid};

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
    /// None today; the `Result` leaves room for key types without a signature algorithm.
    pub fn for_key(key: &PublicKey, hash: HashAlg) -> Result<Self, EnrollError> {
        Ok(match key {
            PublicKey::Rsa { .. } => SignatureAlgorithm::RsaPkcs1(hash),
            PublicKey::P256 { .. } | PublicKey::P384 { .. } => SignatureAlgorithm::Ecdsa(hash),
        })
    }

    /// The hash it signs with.
    pub fn hash(self) -> HashAlg {
        match self {
            SignatureAlgorithm::RsaPkcs1(h) | SignatureAlgorithm::Ecdsa(h) => h,
        }
    }

    /// The `AlgorithmIdentifier` of a signature (RSA with NULL parameters as RFC 8017
    /// asks, ECDSA without parameters as RFC 5758 asks).
    pub(crate) fn algorithm_identifier(self) -> Vec<u8> {
        match self {
            SignatureAlgorithm::RsaPkcs1(h) => {
                let arcs = match h {
                    HashAlg::Sha1 => oid::SHA1_WITH_RSA,
                    HashAlg::Sha256 => oid::SHA256_WITH_RSA,
                    HashAlg::Sha384 => oid::SHA384_WITH_RSA,
                    HashAlg::Sha512 => oid::SHA512_WITH_RSA,
                };
                der::seq(&[&der::oid(arcs), &der::null()])
            }
            SignatureAlgorithm::Ecdsa(h) => {
                let arcs = match h {
                    HashAlg::Sha1 => oid::ECDSA_WITH_SHA1,
                    HashAlg::Sha256 => oid::ECDSA_WITH_SHA256,
                    HashAlg::Sha384 => oid::ECDSA_WITH_SHA384,
                    HashAlg::Sha512 => oid::ECDSA_WITH_SHA512,
                };
                der::seq(&[&der::oid(arcs)])
            }
        }
    }

    /// The CMS `SignerInfo.signatureAlgorithm`: `rsaEncryption` for RSA (as OpenSSL and
    /// Windows write it, RFC 3370 section 3.2), the ECDSA algorithm itself for ECDSA.
    pub(crate) fn cms_signature_identifier(self) -> Vec<u8> {
        match self {
            SignatureAlgorithm::RsaPkcs1(_) => {
                der::seq(&[&der::oid(oid::RSA_ENCRYPTION), &der::null()])
            }
            SignatureAlgorithm::Ecdsa(_) => self.algorithm_identifier(),
        }
    }
}

/// The `AlgorithmIdentifier` of a digest: SHA-1 with NULL parameters (as Windows writes
/// it), SHA-2 without (RFC 5754).
pub(crate) fn digest_identifier(hash: HashAlg) -> Vec<u8> {
    match hash {
        HashAlg::Sha1 => der::seq(&[&der::oid(oid::SHA1), &der::null()]),
        HashAlg::Sha256 => der::seq(&[&der::oid(oid::SHA256)]),
        HashAlg::Sha384 => der::seq(&[&der::oid(oid::SHA384)]),
        HashAlg::Sha512 => der::seq(&[&der::oid(oid::SHA512)]),
    }
}
