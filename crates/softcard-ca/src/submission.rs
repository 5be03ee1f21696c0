//! What is posted as `CertRequest`: base64 (with or without PEM lines) of a PKCS#10
//! request, a CMC full PKI request (RFC 5272) or a PKCS#7 SignedData holding a PKCS#10,
//! read and checked as a CA does before its policy looks at it.
//!
//! Checks: the PKCS#10's own signature (proof of possession), and for CMC and PKCS#7 the
//! one SignerInfo: its message digest, its signature, and who signed. The signer is
//! either the request's own key (named by its key identifier, as a request for oneself
//! is signed) or a certificate carried in the SignedData (named by issuer and serial
//! number or key identifier): an enrollment agent signing on behalf of the user named by
//! the `RequesterName` name-value pair. Whether that certificate may do so is the CA's
//! decision ([`crate::Ca`]).

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::{Any, BmpString, OctetString, SetOfVec, Utf8StringRef};
use der::{Choice, Decode as _, Encode as _, Sequence};
use softcard::crypto::{HashAlg, PublicKey};
use softcard_enroll::SignatureAlgorithm;
use softcard_enroll::testca::{self, verify_signature};
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::request::{CertReq, ExtensionReq};

use crate::Refusal;

/// `id-cct-PKIData` (RFC 5272 section 3.2).
pub(crate) const PKI_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.12.2");
/// Microsoft's CMC add-attributes control ([MS-WCCE] 2.2.2.7.9).
pub(crate) const CMC_ADD_ATTRIBUTES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.10.1");
/// `szOID_ENROLLMENT_NAME_VALUE_PAIR` ([MS-WCCE] 2.2.2.7.10).
pub(crate) const NAME_VALUE_PAIR: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.13.2.1");
/// The version 1 template name extension ([MS-WCCE] 2.2.2.7.7.1).
const TEMPLATE_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2");
/// The UPN otherName (`szOID_NT_PRINCIPAL_NAME`).
pub(crate) const UPN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2.3");
/// `rsaEncryption`, as CMS writes an RSA signer's algorithm.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The digest algorithms a SignerInfo may name.
const DIGESTS: [(ObjectIdentifier, HashAlg); 4] = [
    (ObjectIdentifier::new_unwrap("1.3.14.3.2.26"), HashAlg::Sha1),
    (
        ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
        HashAlg::Sha256,
    ),
    (
        ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
        HashAlg::Sha384,
    ),
    (
        ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
        HashAlg::Sha512,
    ),
];

/// `PKIData` (RFC 5272 section 3.2.1), as read.
#[derive(Clone, Debug, Sequence)]
pub(crate) struct PkiData {
    pub(crate) control_sequence: Vec<TaggedAttribute>,
    pub(crate) req_sequence: Vec<TaggedRequest>,
    pub(crate) cms_sequence: Vec<Any>,
    pub(crate) other_msg_sequence: Vec<Any>,
}

/// `TaggedAttribute` (RFC 5272 section 3.2.1.2).
#[derive(Clone, Debug, Sequence)]
pub(crate) struct TaggedAttribute {
    pub(crate) body_part_id: u32,
    pub(crate) attr_type: ObjectIdentifier,
    pub(crate) attr_values: SetOfVec<Any>,
}

/// `TaggedRequest` (RFC 5272 section 3.2.1.3); only the PKCS#10 choice is taken.
#[derive(Clone, Debug, Choice)]
pub(crate) enum TaggedRequest {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true")]
    Tcr(TaggedCertificationRequest),
}

/// `TaggedCertificationRequest` (RFC 5272 section 3.2.1.3.2).
#[derive(Clone, Debug, Sequence)]
pub(crate) struct TaggedCertificationRequest {
    pub(crate) body_part_id: u32,
    pub(crate) certification_request: CertReq,
}

/// `CmcAddAttributes` ([MS-WCCE] 2.2.2.7.9).
#[derive(Clone, Debug, Sequence)]
pub(crate) struct CmcAddAttributes {
    pub(crate) pki_data_reference: u32,
    pub(crate) cert_references: Vec<u32>,
    pub(crate) attributes: SetOfVec<Attribute>,
}

/// A name-value pair ([MS-WCCE] 2.2.2.7.10).
#[derive(Clone, Debug, Sequence)]
pub(crate) struct NameValuePair {
    pub(crate) name: BmpString,
    pub(crate) value: BmpString,
}

/// The form a request came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PKCS#10 request alone.
    Pkcs10,
    /// A CMC full PKI request.
    Cmc,
    /// A PKCS#7 SignedData holding a PKCS#10.
    Pkcs7,
}

/// A request that decoded and whose signatures verify.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The form it came in.
    pub format: Format,
    /// The PKCS#10 request.
    pub request: CertReq,
    /// Its key.
    pub public_key: PublicKey,
    /// Name-value pairs it carries (the PKCS#10's, then the CMC add-attributes'), in
    /// order.
    pub attributes: Vec<(String, String)>,
    /// The certificate (DER) that signed the CMC or PKCS#7 wrapper, when it was not the
    /// request's own key: an enrollment agent.
    pub signer_certificate: Option<Vec<u8>>,
}

impl Submission {
    /// Decodes the posted base64 and reads the request.
    ///
    /// # Errors
    /// The [`Refusal`] AD CS gives: bad base64, ASN.1, signature, unknown signer.
    pub fn from_base64(text: &str) -> Result<Self, Refusal> {
        Self::from_der(&decode_base64(text)?)
    }

    /// Reads a DER request.
    ///
    /// # Errors
    /// As [`Submission::from_base64`].
    pub fn from_der(der: &[u8]) -> Result<Self, Refusal> {
        if let Ok(request) = CertReq::from_der(der) {
            let public_key = verify_pkcs10(&request)?;
            let attributes = request_pairs(&request)?;
            return Ok(Submission {
                format: Format::Pkcs10,
                request,
                public_key,
                attributes,
                signer_certificate: None,
            });
        }
        let info = ContentInfo::from_der(der)
            .map_err(|_| Refusal::bad_asn1("neither a PKCS#10 request nor a CMS message"))?;
        if info.content_type != ID_SIGNED_DATA {
            return Err(Refusal::invalid_message_type());
        }
        let signed: SignedData = info
            .content
            .decode_as()
            .map_err(|_| Refusal::bad_asn1("SignedData"))?;
        let content = signed
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or_else(|| Refusal::bad_asn1("a SignedData without content"))?;
        let content: OctetString = content
            .decode_as()
            .map_err(|_| Refusal::bad_asn1("the SignedData content"))?;
        let content = content.as_bytes();
        let content_type = signed.encap_content_info.econtent_type;
        let (format, request, mut cmc_pairs) = if content_type == PKI_DATA {
            let (request, pairs) = read_pki_data(content)?;
            (Format::Cmc, request, pairs)
        } else if content_type == ID_DATA {
            let request = CertReq::from_der(content)
                .map_err(|_| Refusal::bad_asn1("the PKCS#10 inside the PKCS#7"))?;
            (Format::Pkcs7, request, Vec::new())
        } else {
            return Err(Refusal::invalid_message_type());
        };
        let public_key = verify_pkcs10(&request)?;
        let signer_certificate = verify_signer(&signed, content_type, content, &public_key)?;
        let mut attributes = request_pairs(&request)?;
        attributes.append(&mut cmc_pairs);
        Ok(Submission {
            format,
            request,
            public_key,
            attributes,
            signer_certificate,
        })
    }

    /// The value of the last name-value pair called `name` (case ignored).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The template named in the request: the `CertificateTemplate` pair, else the
    /// version 1 template name extension.
    pub fn template(&self) -> Option<String> {
        if let Some(t) = self.attribute("CertificateTemplate") {
            return Some(t.to_string());
        }
        requested_extensions(&self.request)
            .ok()?
            .into_iter()
            .find(|e| e.extn_id == TEMPLATE_NAME)
            .and_then(|e| BmpString::from_der(e.extn_value.as_bytes()).ok())
            .map(|s| s.to_string())
    }

    /// The UPN the request's subjectAltName asks for, if any.
    pub fn requested_upn(&self) -> Option<String> {
        let extensions = requested_extensions(&self.request).ok()?;
        let san = extensions
            .iter()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME)?;
        let names = SubjectAltName::from_der(san.extn_value.as_bytes()).ok()?;
        names.0.iter().find_map(|n| match n {
            GeneralName::OtherName(o) if o.type_id == UPN => o
                .value
                .decode_as::<Utf8StringRef<'_>>()
                .ok()
                .map(|s| s.as_str().to_string()),
            _ => None,
        })
    }

    /// The key size the template's minimum is compared with: the RSA modulus's bits, or
    /// the curve's size.
    pub fn key_bits(&self) -> usize {
        match &self.public_key {
            PublicKey::Rsa { n, .. } => {
                let trimmed = softcard::crypto::trim_leading_zeros(n);
                trimmed.first().map_or(0, |b| {
                    (trimmed.len() - 1) * 8 + (8 - b.leading_zeros() as usize)
                })
            }
            PublicKey::P256 { .. } => 256,
            PublicKey::P384 { .. } => 384,
            _ => 0,
        }
    }
}

/// The bytes of a base64 request: PEM lines (`-----BEGIN ...-----`) and whitespace are
/// skipped, as the web form and `certreq` do.
///
/// # Errors
/// [`Refusal::bad_base64`] when what is left is not base64 or is empty.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, Refusal> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_ascii_whitespace()))
        .collect();
    if body.is_empty() {
        return Err(Refusal::bad_base64());
    }
    base64ct_decode(&body).ok_or_else(Refusal::bad_base64)
}

/// Standard base64 with padding, strictly.
fn base64ct_decode(body: &str) -> Option<Vec<u8>> {
    use base64ct::Encoding as _;
    base64ct::Base64::decode_vec(body).ok()
}

/// Verifies the PKCS#10 signature with its own key.
fn verify_pkcs10(request: &CertReq) -> Result<PublicKey, Refusal> {
    testca::verify_request(request).map_err(|e| match e {
        softcard_enroll::EnrollError::BadSignature => {
            Refusal::bad_signature("the PKCS#10 request's signature")
        }
        other => Refusal::bad_asn1(&other.to_string()),
    })
}

/// The request and the name-value pairs of the add-attributes controls of a PKIData.
fn read_pki_data(der: &[u8]) -> Result<(CertReq, Vec<(String, String)>), Refusal> {
    let data = PkiData::from_der(der).map_err(|_| Refusal::bad_asn1("PKIData"))?;
    let request = match data.req_sequence.into_iter().next() {
        Some(TaggedRequest::Tcr(tcr)) => tcr.certification_request,
        None => return Err(Refusal::bad_asn1("a PKIData without a request")),
    };
    let mut pairs = Vec::new();
    for control in data
        .control_sequence
        .iter()
        .filter(|c| c.attr_type == CMC_ADD_ATTRIBUTES)
    {
        for value in control.attr_values.iter() {
            let add: CmcAddAttributes = value
                .decode_as()
                .map_err(|_| Refusal::bad_asn1("CMC add-attributes"))?;
            pairs.extend(attribute_pairs(add.attributes.iter())?);
        }
    }
    Ok((request, pairs))
}

/// The name-value pairs among `attributes`.
fn attribute_pairs<'a>(
    attributes: impl Iterator<Item = &'a Attribute>,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut pairs = Vec::new();
    for attribute in attributes.filter(|a| a.oid == NAME_VALUE_PAIR) {
        for value in attribute.values.iter() {
            let pair: NameValuePair = value
                .decode_as()
                .map_err(|_| Refusal::bad_asn1("a name-value pair"))?;
            pairs.push((pair.name.to_string(), pair.value.to_string()));
        }
    }
    Ok(pairs)
}

/// The name-value pairs of a PKCS#10.
fn request_pairs(request: &CertReq) -> Result<Vec<(String, String)>, Refusal> {
    attribute_pairs(request.info.attributes.iter())
}

/// The extensions a PKCS#10 asks for.
pub(crate) fn requested_extensions(request: &CertReq) -> Result<Vec<Extension>, Refusal> {
    let mut out = Vec::new();
    for attribute in request
        .info
        .attributes
        .iter()
        .filter(|a| a.oid == <ExtensionReq as const_oid::AssociatedOid>::OID)
    {
        for value in attribute.values.iter() {
            let list: Vec<Extension> = value
                .decode_as()
                .map_err(|_| Refusal::bad_asn1("extensionRequest"))?;
            out.extend(list);
        }
    }
    Ok(out)
}

/// Checks the one SignerInfo of a request's SignedData; returns the signer's certificate
/// when the signer is not the request's own key.
fn verify_signer(
    signed: &SignedData,
    content_type: ObjectIdentifier,
    content: &[u8],
    request_key: &PublicKey,
) -> Result<Option<Vec<u8>>, Refusal> {
    let mut infos = signed.signer_infos.0.iter();
    let (Some(info), None) = (infos.next(), infos.next()) else {
        return Err(Refusal::signer_not_found());
    };
    let hash = DIGESTS
        .iter()
        .find(|(oid, _)| *oid == info.digest_alg.oid)
        .map(|(_, h)| *h)
        .ok_or_else(|| Refusal::bad_asn1("an unknown digest algorithm"))?;
    let signed_bytes = signed_bytes(info, hash, content_type, content)?;

    let certificates: Vec<x509_cert::Certificate> = signed
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let own_id =
        testca::key_identifier(request_key).map_err(|_| Refusal::bad_asn1("the request's key"))?;
    let (key, certificate) = match &info.sid {
        SignerIdentifier::SubjectKeyIdentifier(ski) if ski.0.as_bytes() == own_id => {
            (request_key.clone(), None)
        }
        sid => {
            let cert = certificates
                .iter()
                .find(|c| names_certificate(sid, c))
                .ok_or_else(Refusal::signer_not_found)?;
            let key = testca::public_key_of(cert.tbs_certificate().subject_public_key_info())
                .map_err(|_| Refusal::bad_asn1("the signer's certificate key"))?;
            let der = cert
                .to_der()
                .map_err(|_| Refusal::bad_asn1("the signer's certificate"))?;
            (key, Some(der))
        }
    };
    let algorithm = if info.signature_algorithm.oid == RSA_ENCRYPTION {
        SignatureAlgorithm::RsaPkcs1(hash)
    } else {
        let alg = SignatureAlgorithm::for_key(&key, hash)
            .map_err(|_| Refusal::bad_asn1("the signer's key algorithm"))?;
        // The named algorithm must be the one the key and digest give.
        if testca::verify_with_identifier(&key, info.signature_algorithm.owned_to_ref(), &[], &[])
            .is_err_and(|e| matches!(e, softcard_enroll::EnrollError::Unsupported(_)))
        {
            return Err(Refusal::bad_asn1("an unknown signature algorithm"));
        }
        alg
    };
    verify_signature(&key, algorithm, &signed_bytes, info.signature.as_bytes())
        .map_err(|_| Refusal::bad_signature("the CMC or PKCS#7 signer's signature"))?;
    Ok(certificate)
}

/// The bytes a SignerInfo's signature covers: the signed attributes as a SET OF, after
/// checking their content type and message digest; or the content itself when there are
/// none (RFC 5652 section 5.4).
fn signed_bytes(
    info: &SignerInfo,
    hash: HashAlg,
    content_type: ObjectIdentifier,
    content: &[u8],
) -> Result<Vec<u8>, Refusal> {
    let Some(attributes) = &info.signed_attrs else {
        return Ok(content.to_vec());
    };
    let value = |oid| {
        attributes
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let digest: OctetString = value(ID_MESSAGE_DIGEST)
        .ok_or_else(|| Refusal::bad_asn1("no messageDigest attribute"))?
        .decode_as()
        .map_err(|_| Refusal::bad_asn1("messageDigest"))?;
    if digest.as_bytes() != hash.digest(content).as_slice() {
        return Err(Refusal::bad_signature(
            "the message digest does not match the content",
        ));
    }
    let typ: ObjectIdentifier = value(ID_CONTENT_TYPE)
        .ok_or_else(|| Refusal::bad_asn1("no contentType attribute"))?
        .decode_as()
        .map_err(|_| Refusal::bad_asn1("contentType"))?;
    if typ != content_type {
        return Err(Refusal::bad_signature("the signed content type differs"));
    }
    attributes
        .to_der()
        .map_err(|_| Refusal::bad_asn1("signed attributes"))
}

/// Whether `sid` names `cert` (issuer and serial number, or key identifier).
fn names_certificate(sid: &SignerIdentifier, cert: &x509_cert::Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == *tbs.issuer() && ias.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            testca::public_key_of(tbs.subject_public_key_info())
                .ok()
                .and_then(|k| testca::key_identifier(&k).ok())
                .is_some_and(|id| id == ski.0.as_bytes())
        }
    }
}

use der::referenced::OwnedToRef as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_with_pem_lines_and_crlf_decodes() {
        assert_eq!(
            decode_base64("-----BEGIN NEW CERTIFICATE REQUEST-----\r\nAAEC\r\nAw==\r\n-----END NEW CERTIFICATE REQUEST-----\r\n")
                .unwrap(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn bad_base64_is_error_parsing_request() {
        for text in ["", "-----BEGIN X-----\n-----END X-----", "AA*C", "AAE"] {
            assert_eq!(
                decode_base64(text).unwrap_err().hresult,
                0x8007_000D,
                "{text:?}"
            );
        }
    }

    #[test]
    fn garbage_der_is_an_asn1_error() {
        let e = Submission::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err();
        assert_eq!(e.hresult, 0x8009_310B);
    }
}
