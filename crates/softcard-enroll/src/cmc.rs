//! CMC full PKI requests (RFC 5272) as Windows CAs take them ([MS-WCCE] 3.1.1.4.3.1.3).
//!
//! ```text
//! ContentInfo { id-signedData, SignedData {
//!   version 3, digestAlgorithms { hash },
//!   encapContentInfo { id-cct-PKIData, PKIData {
//!     controlSequence { TaggedAttribute { 2, CMC add-attributes (1.3.6.1.4.1.311.10.10.1),
//!                         { CmcAddAttributes { 0, { 1 }, { name-value pairs } } } } },
//!     reqSequence { tcr [0] { bodyPartID 1, the PKCS#10 } },
//!     cmsSequence { }, otherMsgSequence { } } },
//!   signerInfos { SignerInfo { version 3, sid [0] subjectKeyIdentifier, hash,
//!     signedAttrs { contentType, messageDigest }, signature algorithm, signature } } } }
//! ```
//!
//! There is no certificate yet, so the signer is named by the key identifier of the
//! request's own key (RFC 5272 section 3.2.1.3.3 for the PKCS#10 case) and the
//! `certificates` field is left out. The CMS types come from `cms`; the CMC ones, which
//! `cms` does not have, are derived here with `der`.

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Choice, Decode as _, Encode as _, Sequence};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::request::CertReq;

use crate::ms::{self, NameValuePair, encode};
use crate::request::RequestOptions;
use crate::signer::{RequestSigner, digest_identifier};
use crate::{EnrollError, oid, public_key};

/// `BodyPartID ::= INTEGER(0..4294967295)` (RFC 5272 section 3.2.2).
type BodyPartId = u32;

/// `PKIData` (RFC 5272 section 3.2.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct PkiData {
    pub control_sequence: Vec<TaggedAttribute>,
    pub req_sequence: Vec<TaggedRequest>,
    pub cms_sequence: Vec<TaggedContentInfo>,
    pub other_msg_sequence: Vec<OtherMsg>,
}

/// `TaggedAttribute`: a control (RFC 5272 section 3.2.1.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct TaggedAttribute {
    pub body_part_id: BodyPartId,
    pub attr_type: ObjectIdentifier,
    pub attr_values: SetOfVec<Any>,
}

/// `TaggedRequest` (RFC 5272 section 3.2.1.3): the PKCS#10 choice; CRMF (`crm [1]`) and
/// other requests (`orm [2]`) are neither built nor read here.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub(crate) enum TaggedRequest {
    /// `tcr [0] TaggedCertificationRequest`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true")]
    Tcr(TaggedCertificationRequest),
}

/// `TaggedCertificationRequest` (RFC 5272 section 3.2.1.3.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct TaggedCertificationRequest {
    pub body_part_id: BodyPartId,
    pub certification_request: CertReq,
}

/// `TaggedContentInfo` (RFC 5272 section 3.2.1.4).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct TaggedContentInfo {
    pub body_part_id: BodyPartId,
    pub content_info: ContentInfo,
}

/// `OtherMsg` (RFC 5272 section 3.2.1.5).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct OtherMsg {
    pub body_part_id: BodyPartId,
    pub other_msg_type: ObjectIdentifier,
    pub other_msg_value: Any,
}

/// Microsoft's add-attributes control value ([MS-WCCE] 2.2.2.7.9 `CmcAddAttributes`).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct CmcAddAttributes {
    pub pki_data_reference: BodyPartId,
    pub cert_references: Vec<BodyPartId>,
    pub attributes: SetOfVec<Attribute>,
}

/// The body part of the PKCS#10 inside the PKIData.
const REQUEST_BODY_PART: BodyPartId = 1;
/// The body part of the add-attributes control.
const ATTRIBUTES_BODY_PART: BodyPartId = 2;

/// An enrollment agent signing a CMC request on behalf of another user, as Windows
/// builds "enroll on behalf of" ([MS-WCCE] 3.1.1.4.3.1.3): the agent's key signs the
/// SignedData, its Certificate Request Agent certificate travels in it and names the
/// signer (issuer and serial number), and the user goes in the `RequesterName`
/// name-value pair of the add-attributes control.
pub(crate) struct Agent<'a> {
    /// The user the certificate is for (`DOMAIN\user` or a UPN).
    pub requester: &'a str,
    /// The agent's certificate (DER).
    pub certificate: &'a [u8],
    /// The agent's key.
    pub signer: &'a mut dyn RequestSigner,
}

/// Wraps a signed PKCS#10 in a CMC full PKI request signed by the same key.
///
/// # Errors
/// The signer's errors.
pub(crate) fn build(
    csr: CertReq,
    options: &RequestOptions,
    signer: &mut dyn RequestSigner,
) -> Result<ContentInfo, EnrollError> {
    let pki_data = pki_data(csr, options, &[])?.to_der().map_err(encode)?;
    let ski = public_key::key_identifier(signer.public_key())?;
    let sid = SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(
        OctetString::new(ski).map_err(encode)?,
    ));
    sign(pki_data, options, signer, sid, None)
}

/// Wraps a PKCS#10 signed by the user's key in a CMC full PKI request signed by an
/// enrollment agent.
///
/// # Errors
/// [`EnrollError::Malformed`] for an agent certificate that does not decode;
/// [`EnrollError::InvalidOption`] for one that does not certify the agent's key or a
/// requester name that is empty; the signer's errors.
pub(crate) fn build_for(
    csr: CertReq,
    options: &RequestOptions,
    agent: Agent<'_>,
) -> Result<ContentInfo, EnrollError> {
    if agent.requester.is_empty() {
        return Err(EnrollError::InvalidOption("an empty requester name".into()));
    }
    let cert = x509_cert::Certificate::from_der(agent.certificate)
        .map_err(|_| EnrollError::Malformed("enrollment agent certificate"))?;
    if !crate::Certificate::from_der(agent.certificate)?.certifies(agent.signer.public_key()) {
        return Err(EnrollError::InvalidOption(
            "the enrollment agent's certificate does not certify the agent's key".into(),
        ));
    }
    let pairs = [("RequesterName", agent.requester)];
    let pki_data = pki_data(csr, options, &pairs)?.to_der().map_err(encode)?;
    let tbs = cert.tbs_certificate();
    let sid = SignerIdentifier::IssuerAndSerialNumber(cms::cert::IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    });
    let certificates = cms::signed_data::CertificateSet(
        SetOfVec::try_from(vec![cms::cert::CertificateChoices::Certificate(cert)])
            .map_err(encode)?,
    );
    sign(pki_data, options, agent.signer, sid, Some(certificates))
}

/// The SignedData over `pki_data` (DER), signed by `signer` named by `sid`.
fn sign(
    pki_data: Vec<u8>,
    options: &RequestOptions,
    signer: &mut dyn RequestSigner,
    sid: SignerIdentifier,
    certificates: Option<cms::signed_data::CertificateSet>,
) -> Result<ContentInfo, EnrollError> {
    let hash = options.hash;
    let digest_alg = digest_identifier(hash);
    let algorithm = signer.signature_algorithm(hash)?;

    let digest = OctetString::new(hash.digest(&pki_data)).map_err(encode)?;
    let signed_attrs = SetOfVec::try_from(vec![
        ms::attribute(oid::CONTENT_TYPE, &oid::PKI_DATA)?,
        ms::attribute(oid::MESSAGE_DIGEST, &digest)?,
    ])
    .map_err(encode)?;
    // The signature covers the attributes encoded as a SET OF (RFC 5652 section 5.4);
    // the SignerInfo carries the same values under the [0] IMPLICIT tag.
    let signature = signer.sign(&signed_attrs.to_der().map_err(encode)?, hash)?;

    // RFC 5652 section 5.3: version 1 with issuer and serial number, 3 with a key
    // identifier.
    let version = match sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => CmsVersion::V1,
        SignerIdentifier::SubjectKeyIdentifier(_) => CmsVersion::V3,
    };
    let signer_info = SignerInfo {
        version,
        sid,
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm.cms_signature_identifier(),
        signature: OctetString::new(signature).map_err(encode)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(encode)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oid::PKI_DATA,
            econtent: Some(
                Any::encode_from(&OctetString::new(pki_data).map_err(encode)?).map_err(encode)?,
            ),
        },
        certificates,
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(encode)?),
    };
    Ok(ContentInfo {
        content_type: oid::SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encode)?,
    })
}

/// The `PKIData`: the template and the other name-value `pairs` as an add-attributes
/// control, and the request.
fn pki_data(
    csr: CertReq,
    options: &RequestOptions,
    pairs: &[(&str, &str)],
) -> Result<PkiData, EnrollError> {
    let mut control_sequence = Vec::new();
    let mut attributes = Vec::new();
    if let Some(template) = options.template_pair_value() {
        attributes.push(NameValuePair::certificate_template(&template)?.to_attribute_value()?);
    }
    for (name, value) in pairs {
        attributes.push(NameValuePair::new(name, value)?.to_attribute_value()?);
    }
    if !attributes.is_empty() {
        // Data reference 0 is this PKIData, the certificate reference is the request.
        let add = CmcAddAttributes {
            pki_data_reference: 0,
            cert_references: vec![REQUEST_BODY_PART],
            attributes: SetOfVec::try_from(attributes).map_err(encode)?,
        };
        control_sequence.push(TaggedAttribute {
            body_part_id: ATTRIBUTES_BODY_PART,
            attr_type: oid::MS_CMC_ADD_ATTRIBUTES,
            attr_values: SetOfVec::try_from(vec![Any::encode_from(&add).map_err(encode)?])
                .map_err(encode)?,
        });
    }
    Ok(PkiData {
        control_sequence,
        req_sequence: vec![TaggedRequest::Tcr(TaggedCertificationRequest {
            body_part_id: REQUEST_BODY_PART,
            certification_request: csr,
        })],
        cms_sequence: Vec::new(),
        other_msg_sequence: Vec::new(),
    })
}

/// The first PKCS#10 of a CMC full PKI request (the `PKIData` inside its SignedData).
///
/// # Errors
/// [`EnrollError::Malformed`] if it is not a CMC request holding a PKCS#10.
pub(crate) fn first_request(der: &[u8]) -> Result<CertReq, EnrollError> {
    let bad = |_| EnrollError::Malformed("CMC request");
    let info = ContentInfo::from_der(der).map_err(bad)?;
    let signed: SignedData = info.content.decode_as().map_err(bad)?;
    let content = signed
        .encap_content_info
        .econtent
        .ok_or(EnrollError::Malformed("CMC request"))?;
    let octets: OctetString = content.decode_as().map_err(bad)?;
    let pki_data = PkiData::from_der(octets.as_bytes()).map_err(bad)?;
    match pki_data.req_sequence.into_iter().next() {
        Some(TaggedRequest::Tcr(tcr)) => Ok(tcr.certification_request),
        None => Err(EnrollError::Malformed("CMC request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        let octets = |n| OctetString::new(vec![0; n]).unwrap().to_der().unwrap();
        assert_eq!(octets(3)[..2], [0x04, 3]);
        assert_eq!(octets(200)[..3], [0x04, 0x81, 200]);
        assert_eq!(octets(300)[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn set_of_sorts_its_elements() {
        let int = |v: u8| Any::encode_from(&v).unwrap();
        let set = SetOfVec::try_from(vec![int(9), int(1)]).unwrap();
        assert_eq!(set.to_der().unwrap(), [0x31, 6, 2, 1, 1, 2, 1, 9]);
    }

    #[test]
    fn reader_rejects_truncated_and_indefinite_values() {
        assert!(Any::from_der(&[0x30, 0x05, 1, 2]).is_err());
        assert!(Any::from_der(&[0x30, 0x80, 0, 0]).is_err());
        assert!(Any::from_der(&[0x30]).is_err());
        let big = OctetString::new(vec![7; 300]).unwrap().to_der().unwrap();
        assert_eq!(OctetString::from_der(&big).unwrap().as_bytes().len(), 300);
    }

    #[test]
    fn a_cmc_request_gives_back_its_pkcs10() {
        assert!(matches!(
            first_request(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(EnrollError::Malformed("CMC request"))
        ));
    }
}
