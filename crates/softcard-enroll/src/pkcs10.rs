//! PKCS#10 certification requests (RFC 2986) with the attributes Windows CAs read, built
//! with `x509-cert`'s request builder and signed by the request's key.

use der::asn1::{BitString, Ia5String, Utf8StringRef};
use softcard::crypto::PublicKey;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::request::{CertReq, RequestBuilder};

use crate::ms::{self, CertificateTemplate, CspInformation, NameValuePair, encode};
use crate::request::{KeySpec, RequestOptions};
use crate::signer::{RequestSigner, build_signed};
use crate::{EnrollError, name, oid};

/// Builds and signs the `CertificationRequest`.
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
) -> Result<CertReq, EnrollError> {
    let mut builder = RequestBuilder::new(name::parse(&options.subject)?).map_err(builder_error)?;
    add_extensions(&mut builder, options, signer.public_key())?;
    if let Some(csp) = &options.csp {
        let info = CspInformation {
            key_spec: options.key_spec.value(),
            csp_name: ms::bmp(csp)?,
            signature: BitString::from_bytes(&[]).map_err(encode)?,
        };
        builder.add_attribute(&info).map_err(builder_error)?;
    }
    if let Some(template) = options.template_pair_value() {
        let pair = NameValuePair::certificate_template(&template)?;
        builder.add_attribute(&pair).map_err(builder_error)?;
    }
    build_signed(builder, signer, options.hash)
}

fn builder_error(e: x509_cert::builder::Error) -> EnrollError {
    EnrollError::Encode(e.to_string())
}

/// The requested extensions, in this order: key usage (critical), extended key usage,
/// subjectAltName (critical when the subject is empty, RFC 5280 4.2.1.6: the builder
/// decides), and the template extensions.
fn add_extensions(
    builder: &mut RequestBuilder,
    options: &RequestOptions,
    key: &PublicKey,
) -> Result<(), EnrollError> {
    builder
        .add_extension(&key_usage(options.key_spec, key))
        .map_err(encode)?;
    if !options.extended_key_usages.is_empty() {
        let ekus = options
            .extended_key_usages
            .iter()
            .map(|o| o.object_identifier())
            .collect();
        builder
            .add_extension(&ExtendedKeyUsage(ekus))
            .map_err(encode)?;
    }
    let mut names = Vec::new();
    if let Some(upn) = &options.upn {
        let value = Utf8StringRef::new(upn).map_err(encode)?;
        names.push(GeneralName::OtherName(OtherName {
            type_id: oid::MS_UPN,
            value: der::Any::encode_from(&value).map_err(encode)?,
        }));
    }
    if let Some(email) = &options.email {
        let email = Ia5String::new(email).map_err(encode)?;
        names.push(GeneralName::Rfc822Name(email));
    }
    if !names.is_empty() {
        builder
            .add_extension(&SubjectAltName(names))
            .map_err(encode)?;
    }
    if let Some(template) = &options.template {
        let extension = ms::extension(oid::MS_ENROLL_CERTTYPE, false, &ms::bmp(template)?)?;
        builder.add_extension(extension).map_err(encode)?;
    }
    if let Some(t) = &options.template_oid {
        let value = CertificateTemplate {
            template_id: t.oid.object_identifier(),
            major_version: t.major_version,
            minor_version: t.minor_version,
        };
        let extension = ms::extension(oid::MS_CERTIFICATE_TEMPLATE, false, &value)?;
        builder.add_extension(extension).map_err(encode)?;
    }
    Ok(())
}

/// Key usage: digitalSignature always; keyEncipherment for an RSA exchange key,
/// keyAgreement for an EC exchange key.
fn key_usage(spec: KeySpec, key: &PublicKey) -> KeyUsage {
    KeyUsage(match (spec, key) {
        (KeySpec::Signature, _) => KeyUsages::DigitalSignature.into(),
        (KeySpec::Exchange, PublicKey::Rsa { .. }) => {
            KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
        }
        (
            KeySpec::Exchange,
            PublicKey::P256 { .. } | PublicKey::P384 { .. } | PublicKey::X25519 { .. },
        ) => KeyUsages::DigitalSignature | KeyUsages::KeyAgreement,
        (KeySpec::Exchange, PublicKey::Ed25519 { .. }) => KeyUsages::DigitalSignature.into(),
    })
}
