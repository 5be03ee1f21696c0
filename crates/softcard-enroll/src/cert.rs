//! Issued certificates: read them as the CA hands them out, pick the one for our key.

use softcard::crypto::PublicKey;

use crate::der::{self, Reader, tag};
use crate::{EnrollError, oid, pem, spki};

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
        const WHAT: &str = "Certificate";
        let mut outer = Reader::new(der);
        let cert = outer.expect(tag::SEQUENCE, WHAT)?;
        if !outer.is_empty() {
            return Err(EnrollError::Malformed(WHAT));
        }
        let mut parts = Reader::new(cert.content);
        let tbs = parts.expect(tag::SEQUENCE, WHAT)?;
        parts.expect(tag::SEQUENCE, WHAT)?; // signatureAlgorithm
        parts.expect(tag::BIT_STRING, WHAT)?; // signatureValue
        let mut fields = Reader::new(tbs.content);
        fields.optional(tag::context(0), WHAT)?; // version
        fields.expect(tag::INTEGER, WHAT)?; // serialNumber
        fields.expect(tag::SEQUENCE, WHAT)?; // signature
        fields.expect(tag::SEQUENCE, WHAT)?; // issuer
        fields.expect(tag::SEQUENCE, WHAT)?; // validity
        let subject = fields.expect(tag::SEQUENCE, WHAT)?;
        let key_info = fields.expect(tag::SEQUENCE, WHAT)?;
        Ok(Certificate {
            der: der.to_vec(),
            subject: subject.raw.to_vec(),
            public_key: spki::decode(key_info.raw)?,
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
            .is_some_and(|k| spki::same_key(k, key))
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

/// Whether DER input starts as a `ContentInfo` (a SEQUENCE whose first element is an OID).
fn is_content_info(input: &[u8]) -> bool {
    let Ok(outer) = Reader::new(input).expect(tag::SEQUENCE, "ContentInfo") else {
        return false;
    };
    Reader::new(outer.content).peek_tag() == Some(tag::OID)
}

/// The certificates of a CMS/PKCS#7 SignedData (RFC 5652 section 5.1); other
/// `CertificateChoices` (attribute certificates...) are skipped.
fn from_pkcs7(der: &[u8]) -> Result<Vec<Certificate>, EnrollError> {
    const WHAT: &str = "PKCS#7 SignedData";
    let info = Reader::new(der).expect(tag::SEQUENCE, WHAT)?;
    let mut r = Reader::new(info.content);
    let content_type = r.expect(tag::OID, WHAT)?;
    if content_type.raw != der::oid(oid::SIGNED_DATA) {
        return Err(EnrollError::Malformed(WHAT));
    }
    let explicit = r.expect(tag::context(0), WHAT)?;
    let signed = Reader::new(explicit.content).expect(tag::SEQUENCE, WHAT)?;
    let mut fields = Reader::new(signed.content);
    fields.expect(tag::INTEGER, WHAT)?; // version
    fields.expect(tag::SET, WHAT)?; // digestAlgorithms
    fields.expect(tag::SEQUENCE, WHAT)?; // encapContentInfo
    let mut certs = Vec::new();
    if let Some(set) = fields.optional(tag::context(0), WHAT)? {
        let mut items = Reader::new(set.content);
        while !items.is_empty() {
            let item = items.any(WHAT)?;
            if item.tag == tag::SEQUENCE {
                certs.push(Certificate::from_der(item.raw)?);
            }
        }
    }
    Ok(certs)
}
