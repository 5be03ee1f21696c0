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
//! `certificates` field is left out.

use crate::der::{self, tag};
use crate::pkcs10::{attribute, name_value_pairs};
use crate::request::RequestOptions;
use crate::signer::{RequestSigner, digest_identifier};
use crate::{EnrollError, oid, spki};

/// The body part of the PKCS#10 inside the PKIData.
pub(crate) const REQUEST_BODY_PART: u32 = 1;
/// The body part of the add-attributes control.
const ATTRIBUTES_BODY_PART: u32 = 2;

/// Wraps a signed PKCS#10 in a CMC full PKI request signed by the same key.
///
/// # Errors
/// The signer's errors.
pub(crate) fn build(
    csr: &[u8],
    options: &RequestOptions,
    signer: &mut dyn RequestSigner,
) -> Result<Vec<u8>, EnrollError> {
    let hash = options.hash;
    let pki_data = pki_data(csr, options);
    let digest_alg = digest_identifier(hash);
    let algorithm = signer.signature_algorithm(hash)?;

    let signed_attrs = vec![
        attribute(oid::CONTENT_TYPE, &der::oid(oid::PKI_DATA)),
        attribute(
            oid::MESSAGE_DIGEST,
            &der::tlv(tag::OCTET_STRING, &hash.digest(&pki_data)),
        ),
    ];
    // The signature covers the attributes encoded as a SET OF (RFC 5652 section 5.4);
    // the SignerInfo carries the same bytes under the [0] IMPLICIT tag.
    let to_sign = der::set_of(signed_attrs.clone());
    let signature = signer.sign(&to_sign, hash)?;
    let ski = spki::key_identifier(signer.public_key());

    let signer_info = der::seq(&[
        &der::small_uint(3),
        &der::tlv(tag::context_primitive(0), &ski),
        &digest_alg,
        &der::set_of_tagged(tag::context(0), signed_attrs),
        &algorithm.cms_signature_identifier(),
        &der::tlv(tag::OCTET_STRING, &signature),
    ]);
    let encap = der::seq(&[
        &der::oid(oid::PKI_DATA),
        &der::tlv(tag::context(0), &der::tlv(tag::OCTET_STRING, &pki_data)),
    ]);
    let signed_data = der::seq(&[
        &der::small_uint(3),
        &der::set_of(vec![digest_alg.clone()]),
        &encap,
        &der::set_of(vec![signer_info]),
    ]);
    Ok(der::seq(&[
        &der::oid(oid::SIGNED_DATA),
        &der::tlv(tag::context(0), &signed_data),
    ]))
}

/// The DER `PKIData`.
fn pki_data(csr: &[u8], options: &RequestOptions) -> Vec<u8> {
    let mut controls = Vec::new();
    if let Some(template) = options.template_pair_value() {
        // CmcAddAttributes ::= SEQUENCE { pkiDataReference, certReferences, attributes }:
        // data reference 0 is this PKIData, the certificate reference is the request.
        let add = der::seq(&[
            &der::small_uint(0),
            &der::seq(&[&der::small_uint(REQUEST_BODY_PART)]),
            &der::set_of(vec![name_value_pairs(&[(
                "CertificateTemplate",
                &template,
            )])]),
        ]);
        controls.push(der::seq(&[
            &der::small_uint(ATTRIBUTES_BODY_PART),
            &der::oid(oid::MS_CMC_ADD_ATTRIBUTES),
            &der::set_of(vec![add]),
        ]));
    }
    let tagged_request =
        der::constructed(tag::context(0), &[&der::small_uint(REQUEST_BODY_PART), csr]);
    let refs: Vec<&[u8]> = controls.iter().map(Vec::as_slice).collect();
    der::seq(&[
        &der::constructed(tag::SEQUENCE, &refs),
        &der::seq(&[&tagged_request]),
        &der::seq(&[]),
        &der::seq(&[]),
    ])
}
