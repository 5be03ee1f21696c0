//! PKCS#10 certification requests (RFC 2986) with the attributes Windows CAs read.

use softcard::crypto::PublicKey;

use crate::der::{self, tag};
use crate::request::{KeySpec, RequestOptions};
use crate::signer::RequestSigner;
use crate::{EnrollError, name, oid, spki};

/// Builds and signs the DER `CertificationRequest`.
///
/// Attributes: `extensionRequest` (RFC 2985) with the certificate extensions, the CSP
/// information ([MS-WCCE] 2.2.2.7.2) when a CSP is named, and the `CertificateTemplate`
/// name-value pair ([MS-WCCE] 2.2.2.7.10) when a template is named.
///
/// # Errors
/// [`EnrollError::InvalidName`] for a bad subject; the signer's errors.
pub(crate) fn build(
    options: &RequestOptions,
    signer: &mut dyn RequestSigner,
) -> Result<Vec<u8>, EnrollError> {
    let key = signer.public_key().clone();
    let algorithm = signer.signature_algorithm(options.hash)?;
    let subject = name::encode(&options.subject)?;
    let subject_empty = subject == [tag::SEQUENCE, 0];

    let mut attributes = vec![attribute(
        oid::EXTENSION_REQUEST,
        &extensions(options, &key, subject_empty),
    )];
    if let Some(csp) = &options.csp {
        // EnrollmentCSPProvider ::= SEQUENCE { keySpec, cspName BMPString, signature BIT STRING }
        let info = der::seq(&[
            &der::small_uint(options.key_spec.value()),
            &der::bmp_string(csp),
            &der::bit_string(&[]),
        ]);
        attributes.push(attribute(oid::MS_ENROLLMENT_CSP_PROVIDER, &info));
    }
    if let Some(template) = options.template_pair_value() {
        attributes.push(name_value_pairs(&[("CertificateTemplate", &template)]));
    }

    let info = der::seq(&[
        &der::small_uint(0),
        &subject,
        &spki::encode(&key),
        &der::set_of_tagged(tag::context(0), attributes),
    ]);
    let signature = signer.sign(&info, options.hash)?;
    Ok(der::seq(&[
        &info,
        &algorithm.algorithm_identifier(),
        &der::bit_string(&signature),
    ]))
}

/// `Attribute ::= SEQUENCE { type, values SET OF }` with one value.
pub(crate) fn attribute(arcs: &[u32], value: &[u8]) -> Vec<u8> {
    der::seq(&[&der::oid(arcs), &der::set_of(vec![value.to_vec()])])
}

/// The enrollment name-value pair attribute: one `SEQUENCE { name, value }` of BMPStrings
/// per pair, as Windows' certificate enrollment writes it.
pub(crate) fn name_value_pairs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let values = pairs
        .iter()
        .map(|(n, v)| der::seq(&[&der::bmp_string(n), &der::bmp_string(v)]))
        .collect();
    der::seq(&[
        &der::oid(oid::MS_ENROLLMENT_NAME_VALUE_PAIR),
        &der::set_of(values),
    ])
}

/// `Extensions`: key usage (critical), extended key usage, subjectAltName (critical when
/// the subject is empty, RFC 5280 4.2.1.6), and the template extensions.
fn extensions(options: &RequestOptions, key: &PublicKey, subject_empty: bool) -> Vec<u8> {
    let mut list = vec![extension(
        oid::KEY_USAGE,
        true,
        &key_usage(options.key_spec, key),
    )];
    if !options.extended_key_usages.is_empty() {
        let ekus: Vec<Vec<u8>> = options
            .extended_key_usages
            .iter()
            .map(|o| o.to_der())
            .collect();
        let value = der::constructed(
            tag::SEQUENCE,
            &ekus.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        list.push(extension(oid::EXT_KEY_USAGE, false, &value));
    }
    let mut names = Vec::new();
    if let Some(upn) = &options.upn {
        // otherName [0] IMPLICIT { type-id, value [0] EXPLICIT UTF8String }
        let value = der::tlv(tag::context(0), &der::tlv(tag::UTF8_STRING, upn.as_bytes()));
        names.push(der::constructed(
            tag::context(0),
            &[&der::oid(oid::MS_UPN), &value],
        ));
    }
    if let Some(email) = &options.email {
        names.push(der::tlv(tag::context_primitive(1), email.as_bytes()));
    }
    if !names.is_empty() {
        let value = der::constructed(
            tag::SEQUENCE,
            &names.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        list.push(extension(oid::SUBJECT_ALT_NAME, subject_empty, &value));
    }
    if let Some(template) = &options.template {
        list.push(extension(
            oid::MS_ENROLL_CERTTYPE,
            false,
            &der::bmp_string(template),
        ));
    }
    if let Some(t) = &options.template_oid {
        let value = der::seq(&[
            &t.oid.to_der(),
            &der::small_uint(t.major_version),
            &der::small_uint(t.minor_version),
        ]);
        list.push(extension(oid::MS_CERTIFICATE_TEMPLATE, false, &value));
    }
    der::constructed(
        tag::SEQUENCE,
        &list.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )
}

/// `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`.
fn extension(arcs: &[u32], critical: bool, value: &[u8]) -> Vec<u8> {
    let id = der::oid(arcs);
    let octets = der::tlv(tag::OCTET_STRING, value);
    if critical {
        der::seq(&[&id, &[tag::BOOLEAN, 1, 0xff], &octets])
    } else {
        der::seq(&[&id, &octets])
    }
}

/// The KeyUsage BIT STRING: digitalSignature (bit 0) always; keyEncipherment (bit 2) for an
/// RSA exchange key, keyAgreement (bit 4) for an EC exchange key.
fn key_usage(spec: KeySpec, key: &PublicKey) -> Vec<u8> {
    match (spec, key) {
        (KeySpec::Signature, _) => vec![tag::BIT_STRING, 2, 7, 0x80],
        (KeySpec::Exchange, PublicKey::Rsa { .. }) => vec![tag::BIT_STRING, 2, 5, 0xa0],
        (KeySpec::Exchange, PublicKey::P256 { .. } | PublicKey::P384 { .. }) => {
            vec![tag::BIT_STRING, 2, 3, 0x88]
        }
    }
}
