//! **Test use only**: a throwaway certification authority, so that an enrollment can be
//! carried through (request, issued certificate, installation, logon-style signature)
//! with nothing installed. It keeps no database, checks no policy, revokes nothing and
//! issues whatever a correctly signed request asks for; never use it for real
//! certificates.
//!
//! [`TestCa::new`] makes an RSA-2048 key and a self-signed CA certificate;
//! [`TestCa::issue`] verifies a PKCS#10 request's signature (alone or inside a CMC full
//! PKI request) and issues a certificate (SHA-256 with RSA, one year) carrying the
//! subject, key and requested extensions. [`verify_signature`] checks signatures made
//! by a card.

use std::time::{Duration, SystemTime};

use cms::content_info::ContentInfo;
use const_oid::AssociatedOid as _;
use der::asn1::OctetString;
use der::referenced::OwnedToRef as _;
use der::{Decode as _, Encode as _};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use softcard::crypto::{BackendKind, CardRng, HashAlg, KeyAlgorithm, PrivateKey, PublicKey};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::CertificateBuilder;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, ExtensionReq};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::ms::{encode, extension};
use crate::signer::build_signed;
use crate::{Certificate, EnrollError, KeySigner, SignatureAlgorithm, cmc, name, public_key};

const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// A test certification authority: an RSA-2048 key and its self-signed certificate.
pub struct TestCa {
    key: PrivateKey,
    name: Name,
    certificate: Certificate,
}

impl core::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// What the builder asks of a CA: the names and the extensions, decided beforehand.
struct Issuance {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Issuance {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

impl TestCa {
    /// A new CA named `CN=softcard Test CA,O=softcard`, valid from an hour ago for a
    /// year.
    ///
    /// # Errors
    /// [`EnrollError::Signer`] if the key cannot be made.
    pub fn new(rng: &mut dyn CardRng) -> Result<Self, EnrollError> {
        Self::with_name("CN=softcard Test CA,O=softcard", rng)
    }

    /// A new CA named `name` (a subject string as `softcard enroll --subject` takes it),
    /// valid from an hour ago for a year.
    ///
    /// # Errors
    /// [`EnrollError::InvalidName`] for a bad name; [`EnrollError::Signer`] if the key
    /// cannot be made.
    pub fn with_name(name: &str, rng: &mut dyn CardRng) -> Result<Self, EnrollError> {
        let key = PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::Rsa2048, rng)
            .map_err(|e| EnrollError::Signer(Box::new(e)))?;
        let name = name::parse(name)?;
        let public = key.public().clone();
        let key_id = SubjectKeyIdentifier(
            OctetString::new(public_key::key_identifier(&public)?).map_err(encode)?,
        );
        let usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        let extensions = vec![
            extension(
                BasicConstraints::OID,
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
            )?,
            extension(KeyUsage::OID, true, &usage)?,
            extension(SubjectKeyIdentifier::OID, false, &key_id)?,
        ];
        let issuance = Issuance {
            issuer: name.clone(),
            subject: name.clone(),
            extensions,
        };
        let certificate = sign_certificate(&key, issuance, &public, rng)?;
        Ok(TestCa {
            certificate,
            key,
            name,
        })
    }

    /// A CA from a key and its certificate, as kept by a CA that persists its state; the
    /// issuer name of what it signs is the certificate's subject.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] if the certificate does not decode,
    /// [`EnrollError::InvalidOption`] if it does not certify `key`.
    pub fn from_parts(key: PrivateKey, certificate: Certificate) -> Result<Self, EnrollError> {
        if !certificate.certifies(key.public()) {
            return Err(EnrollError::InvalidOption(
                "the CA certificate does not certify the CA key".into(),
            ));
        }
        let cert = x509_cert::Certificate::from_der(certificate.der())
            .map_err(|_| EnrollError::Malformed("Certificate"))?;
        Ok(TestCa {
            name: cert.tbs_certificate().subject().clone(),
            key,
            certificate,
        })
    }

    /// The CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The CA's private key (to persist it).
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Signs a certificate for `public` named `subject` with exactly `extensions`, valid
    /// from an hour ago for `validity` (SHA-256 with RSA, random positive serial number):
    /// the CA decides everything, nothing is copied from a request.
    ///
    /// # Errors
    /// [`EnrollError::Encode`] if the certificate cannot be encoded; the key's errors.
    pub fn sign(
        &self,
        subject: Name,
        public: &PublicKey,
        extensions: Vec<Extension>,
        validity: Duration,
        rng: &mut dyn CardRng,
    ) -> Result<Certificate, EnrollError> {
        let issuance = Issuance {
            issuer: self.name.clone(),
            subject,
            extensions,
        };
        sign_certificate_for(&self.key, issuance, public, validity, rng)
    }

    /// Issues a certificate for a request (DER PKCS#10, or a DER CMC full PKI request
    /// whose first PKCS#10 is used), after verifying the request's signature with its own
    /// key. The requested extensions (key usage, extended key usages, subjectAltName,
    /// template) are copied; basic constraints and key identifiers are set by the CA.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] for a request that does not decode,
    /// [`EnrollError::BadSignature`] for one whose signature does not verify.
    pub fn issue(&self, request: &[u8], rng: &mut dyn CardRng) -> Result<Certificate, EnrollError> {
        let csr = if ContentInfo::from_der(request).is_ok() {
            cmc::first_request(request)?
        } else {
            CertReq::from_der(request).map_err(|_| EnrollError::Malformed("PKCS#10 request"))?
        };
        let public = verify_request(&csr)?;

        let set_by_ca = [
            BasicConstraints::OID,
            SubjectKeyIdentifier::OID,
            AuthorityKeyIdentifier::OID,
        ];
        let mut extensions: Vec<Extension> = requested_extensions(&csr)?
            .into_iter()
            .filter(|e| !set_by_ca.contains(&e.extn_id))
            .collect();
        let key_id = |key| -> Result<OctetString, EnrollError> {
            OctetString::new(public_key::key_identifier(key)?).map_err(encode)
        };
        let authority = AuthorityKeyIdentifier {
            key_identifier: Some(key_id(self.key.public())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.extend([
            extension(
                BasicConstraints::OID,
                false,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            extension(
                SubjectKeyIdentifier::OID,
                false,
                &SubjectKeyIdentifier(key_id(&public)?),
            )?,
            extension(AuthorityKeyIdentifier::OID, false, &authority)?,
        ]);
        let issuance = Issuance {
            issuer: self.name.clone(),
            subject: csr.info.subject.clone(),
            extensions,
        };
        sign_certificate(&self.key, issuance, &public, rng)
    }
}

/// Verifies a PKCS#10 request's signature with the key it carries, and returns that key.
///
/// # Errors
/// [`EnrollError::Unsupported`] for a key or signature algorithm this crate does not
/// know, [`EnrollError::Malformed`] for an unaligned signature, [`EnrollError::BadSignature`]
/// when it does not verify.
pub fn verify_request(csr: &CertReq) -> Result<PublicKey, EnrollError> {
    let public = public_key_of(&csr.info.public_key)?;
    let signature = csr
        .signature
        .as_bytes()
        .ok_or(EnrollError::Malformed("PKCS#10 request"))?;
    verify_with_identifier(
        &public,
        csr.algorithm.owned_to_ref(),
        &csr.info.to_der().map_err(encode)?,
        signature,
    )?;
    Ok(public)
}

/// The key of a `SubjectPublicKeyInfo`.
///
/// # Errors
/// [`EnrollError::Unsupported`] for an algorithm other than RSA, P-256 and P-384;
/// [`EnrollError::Malformed`] for a broken key.
pub fn public_key_of(info: &spki::SubjectPublicKeyInfoOwned) -> Result<PublicKey, EnrollError> {
    public_key::decode(info)?
        .ok_or_else(|| EnrollError::Unsupported("the request's key algorithm".into()))
}

/// The key identifier of `key`: SHA-1 of its subjectPublicKey bits (RFC 5280 section
/// 4.2.1.2, method 1), as a CMC signer or a certificate names it.
///
/// # Errors
/// [`EnrollError::Encode`] for a key that cannot be encoded.
pub fn key_identifier(key: &PublicKey) -> Result<Vec<u8>, EnrollError> {
    public_key::key_identifier(key)
}

/// [`verify_signature`] with the algorithm given by its `AlgorithmIdentifier` (a
/// certificate's or a request's `signatureAlgorithm`).
///
/// # Errors
/// [`EnrollError::Unsupported`] for an unknown algorithm; as [`verify_signature`].
pub fn verify_with_identifier(
    key: &PublicKey,
    algorithm: spki::AlgorithmIdentifierRef<'_>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), EnrollError> {
    let algorithm = SignatureAlgorithm::from_identifier(algorithm)
        .ok_or_else(|| EnrollError::Unsupported("the signature algorithm".into()))?;
    verify_signature(key, algorithm, message, signature)
}

/// The extensions a PKCS#10 request asks for (its `extensionRequest` attributes).
fn requested_extensions(csr: &CertReq) -> Result<Vec<Extension>, EnrollError> {
    let mut extensions = Vec::new();
    for attribute in csr.info.attributes.iter() {
        if attribute.oid != ExtensionReq::OID {
            continue;
        }
        for value in attribute.values.iter() {
            let list: Vec<Extension> = value
                .decode_as()
                .map_err(|_| EnrollError::Malformed("PKCS#10 request"))?;
            extensions.extend(list);
        }
    }
    Ok(extensions)
}

/// Builds and signs (SHA-256 with RSA) a version 3 certificate, valid from an hour ago
/// for a year, with a random positive 16-byte serial number.
fn sign_certificate(
    key: &PrivateKey,
    issuance: Issuance,
    public: &PublicKey,
    rng: &mut dyn CardRng,
) -> Result<Certificate, EnrollError> {
    sign_certificate_for(key, issuance, public, VALIDITY, rng)
}

/// As [`sign_certificate`], valid for `validity` from an hour ago.
fn sign_certificate_for(
    key: &PrivateKey,
    issuance: Issuance,
    public: &PublicKey,
    validity: Duration,
    rng: &mut dyn CardRng,
) -> Result<Certificate, EnrollError> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] &= 0x7F;
    serial[0] |= 0x40;
    let now = SystemTime::now();
    let time = |t: SystemTime| Time::try_from(t).map_err(encode);
    let validity = Validity::new(
        time(now - Duration::from_secs(3600))?,
        time(now + validity)?,
    );
    let builder = CertificateBuilder::new(
        issuance,
        SerialNumber::new(&serial).map_err(encode)?,
        validity,
        public_key::encode(public)?,
    )
    .map_err(|e| EnrollError::Encode(e.to_string()))?;
    let mut signer = KeySigner::new(key, rng);
    let cert = build_signed(builder, &mut signer, HashAlg::Sha256)?;
    Certificate::from_der(&cert.to_der().map_err(encode)?)
}

/// Checks `signature` over `message` with `key`: PKCS#1 v1.5 for RSA, DER ECDSA for
/// P-256, `algorithm` naming the hash.
///
/// # Errors
/// [`EnrollError::BadSignature`] when it does not verify (or the key and algorithm do
/// not fit together).
pub fn verify_signature(
    key: &PublicKey,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), EnrollError> {
    let hash = algorithm.hash();
    let digest = hash.digest(message);
    let ok = match (key, algorithm) {
        (PublicKey::Rsa { n, e }, SignatureAlgorithm::RsaPkcs1(_)) => {
            let public = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(n),
                rsa::BoxedUint::from_be_slice_vartime(e),
            )
            .map_err(|_| EnrollError::BadSignature)?;
            public
                .verify(
                    rsa::Pkcs1v15Sign::new_unprefixed(),
                    &hash.digest_info(&digest),
                    signature,
                )
                .is_ok()
        }
        (PublicKey::P256 { point }, SignatureAlgorithm::Ecdsa(_)) => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| EnrollError::BadSignature)?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| vk.verify_prehash(&digest, &sig).is_ok())
        }
        (PublicKey::P384 { point }, SignatureAlgorithm::Ecdsa(_)) => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| EnrollError::BadSignature)?;
            // A digest shorter than the field is the same integer left-padded (SHA-1 is
            // too short for `p384` to take as it is).
            let mut z = vec![0u8; 48usize.saturating_sub(digest.len())];
            z.extend_from_slice(&digest);
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| vk.verify_prehash(&z, &sig).is_ok())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(EnrollError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn time(since_epoch: Duration) -> Vec<u8> {
        Time::try_from(UNIX_EPOCH + since_epoch)
            .unwrap()
            .to_der()
            .unwrap()
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        [&[tag, u8::try_from(content.len()).unwrap()][..], content].concat()
    }

    #[test]
    fn times_are_utc_then_generalized() {
        assert_eq!(time(Duration::from_secs(0)), tlv(0x17, b"700101000000Z"));
        // 2024-02-29 12:34:56
        assert_eq!(
            time(Duration::from_secs(1_709_210_096)),
            tlv(0x17, b"240229123456Z")
        );
        // 2050-01-01 00:00:00
        assert_eq!(
            time(Duration::from_secs(2_524_608_000)),
            tlv(0x18, b"20500101000000Z")
        );
    }
}
