//! Issued certificates: read them as the CA hands them out, pick the one for our key.

use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, SignedData};
use der::{Decode as _, Encode as _};
use softcard::crypto::PublicKey;

use crate::{EnrollError, oid, pem, public_key};

/// An X.509 certificate, with the fields installation needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: Vec<u8>,
    public_key: Option<PublicKey>,
}

impl Certificate {
    /// Reads one DER certificate (RFC 5280 section 4.1).
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] if it is not a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, EnrollError> {
        Self::from_x509(&x509_cert::Certificate::from_der(der).map_err(malformed)?).map(|c| {
            Certificate {
                der: der.to_vec(),
                ..c
            }
        })
    }

    /// The fields of a decoded certificate.
    fn from_x509(cert: &x509_cert::Certificate) -> Result<Self, EnrollError> {
        let tbs = cert.tbs_certificate();
        Ok(Certificate {
            der: cert.to_der().map_err(malformed)?,
            subject: tbs.subject().to_der().map_err(malformed)?,
            public_key: public_key::decode(tbs.subject_public_key_info())?,
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER encoding of the subject name.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject
    }

    /// The subject name as a string (`CN=Jane Doe,O=Example`, the form `softcard enroll
    /// --subject` takes; RFC 4514 escapes); `None` if it does not decode.
    pub fn subject(&self) -> Option<String> {
        crate::name::decode(&self.subject)
    }

    /// The subject public key, if of an algorithm this crate holds (RSA, P-256).
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.public_key.as_ref()
    }

    /// Whether the certificate certifies `key`.
    pub fn certifies(&self, key: &PublicKey) -> bool {
        self.public_key
            .as_ref()
            .is_some_and(|k| public_key::same_key(k, key))
    }

    /// Whether the certificate's extended key usage extension lists `usage` (RFC 5280
    /// section 4.2.1.12); false without the extension.
    pub fn has_extended_key_usage(&self, usage: &crate::Oid) -> bool {
        use x509_cert::ext::pkix::ExtendedKeyUsage;
        let Ok(cert) = x509_cert::Certificate::from_der(&self.der) else {
            return false;
        };
        cert.tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .ok()
            .flatten()
            .is_some_and(|(_, eku)| eku.0.contains(&usage.object_identifier()))
    }

    /// The certificate in PEM.
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }
}

/// Reads every certificate in a CA's answer: a DER certificate, a DER PKCS#7 certs-only
/// message (a degenerate SignedData, `.p7b`), or PEM holding any number of
/// `CERTIFICATE`, `PKCS7` or `CMS` documents.
///
/// # Errors
/// [`EnrollError::Pem`] for broken PEM, [`EnrollError::Malformed`] for broken DER,
/// [`EnrollError::NoCertificate`] when the input holds none.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Certificate>, EnrollError> {
    let mut certs = Vec::new();
    if pem::is_pem(input) {
        for (label, der) in pem::decode_all(input)? {
            match label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" => certs.push(Certificate::from_der(&der)?),
                "PKCS7" | "CMS" => certs.extend(from_pkcs7(&der)?),
                _ => {}
            }
        }
    } else if is_content_info(input) {
        certs = from_pkcs7(input)?;
    } else {
        certs.push(Certificate::from_der(input)?);
    }
    if certs.is_empty() {
        return Err(EnrollError::NoCertificate);
    }
    Ok(certs)
}

/// Picks the certificate for `key` among `certs` (the end-entity certificate of a chain).
///
/// # Errors
/// [`EnrollError::NoMatchingCertificate`] when none certifies `key`.
pub fn select_for_key(certs: &[Certificate], key: &PublicKey) -> Result<Certificate, EnrollError> {
    certs
        .iter()
        .find(|c| c.certifies(key))
        .cloned()
        .ok_or(EnrollError::NoMatchingCertificate {
            candidates: certs.len(),
        })
}

fn malformed(_: der::Error) -> EnrollError {
    EnrollError::Malformed("Certificate")
}

/// Whether DER input is a `ContentInfo` rather than a certificate.
fn is_content_info(input: &[u8]) -> bool {
    ContentInfo::from_der(input).is_ok()
}

/// The certificates of a CMS/PKCS#7 SignedData (RFC 5652 section 5.1); other
/// `CertificateChoices` (attribute certificates...) are skipped.
fn from_pkcs7(der: &[u8]) -> Result<Vec<Certificate>, EnrollError> {
    let bad = |_| EnrollError::Malformed("PKCS#7 SignedData");
    let info = ContentInfo::from_der(der).map_err(bad)?;
    if info.content_type != oid::SIGNED_DATA {
        return Err(EnrollError::Malformed("PKCS#7 SignedData"));
    }
    let signed: SignedData = info.content.decode_as().map_err(bad)?;
    let Some(CertificateSet(set)) = signed.certificates else {
        return Ok(Vec::new());
    };
    set.iter()
        .filter_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(cert) => Some(Certificate::from_x509(cert)),
            _ => None,
        })
        .collect()
}
