//! The Microsoft enrollment structures of [MS-WCCE] 2.2.2.7, derived with `der`.

use core::str::FromStr as _;

use const_oid::{AssociatedOid, ObjectIdentifier};
use der::asn1::{BitString, BmpString, OctetString, SetOfVec};
use der::{Decode as _, Sequence};
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::request::attributes::AsAttribute;

use crate::{EnrollError, oid};

/// A BMPString, as Microsoft's attributes and template names are written.
pub(crate) fn bmp(s: &str) -> Result<BmpString, EnrollError> {
    BmpString::from_str(s).map_err(|e| EnrollError::Encode(format!("{s:?} as a BMPString: {e}")))
}

/// `EnrollmentCSPProvider ::= SEQUENCE { keySpec, cspName BMPString, signature BIT STRING }`
/// ([MS-WCCE] 2.2.2.7.2); the signature is empty.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct CspInformation {
    pub key_spec: u32,
    pub csp_name: BmpString,
    pub signature: BitString,
}

impl AssociatedOid for CspInformation {
    const OID: ObjectIdentifier = oid::MS_ENROLLMENT_CSP_PROVIDER;
}

impl AsAttribute for CspInformation {}

/// One enrollment name-value pair, `SEQUENCE { name BMPString, value BMPString }`
/// ([MS-WCCE] 2.2.2.7.10).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct NameValuePair {
    pub name: BmpString,
    pub value: BmpString,
}

impl AssociatedOid for NameValuePair {
    const OID: ObjectIdentifier = oid::MS_ENROLLMENT_NAME_VALUE_PAIR;
}

impl AsAttribute for NameValuePair {}

impl NameValuePair {
    /// The `CertificateTemplate` pair naming `template`.
    pub(crate) fn certificate_template(template: &str) -> Result<Self, EnrollError> {
        Self::new("CertificateTemplate", template)
    }

    /// The pair `name`, `value` (e.g. `RequesterName`, `DOMAIN\user`).
    pub(crate) fn new(name: &str, value: &str) -> Result<Self, EnrollError> {
        Ok(NameValuePair {
            name: bmp(name)?,
            value: bmp(value)?,
        })
    }

    /// The attribute carrying this pair.
    pub(crate) fn to_attribute_value(&self) -> Result<Attribute, EnrollError> {
        self.to_attribute().map_err(encode)
    }
}

/// The V2 template extension value ([MS-WCCE] 2.2.2.7.7.2):
/// `SEQUENCE { templateID OID, templateMajorVersion INTEGER, templateMinorVersion INTEGER }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct CertificateTemplate {
    pub template_id: ObjectIdentifier,
    pub major_version: u32,
    pub minor_version: u32,
}

/// An extension holding the DER of `value`.
pub(crate) fn extension(
    id: ObjectIdentifier,
    critical: bool,
    value: &impl der::Encode,
) -> Result<Extension, EnrollError> {
    Ok(Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(encode)?).map_err(encode)?,
    })
}

/// A single-valued attribute.
pub(crate) fn attribute(
    id: ObjectIdentifier,
    value: &impl der::Encode,
) -> Result<Attribute, EnrollError> {
    let value = der::Any::from_der(&value.to_der().map_err(encode)?).map_err(encode)?;
    Ok(Attribute {
        oid: id,
        values: SetOfVec::try_from(vec![value]).map_err(encode)?,
    })
}

/// An encoding failure of a value the crate builds.
pub(crate) fn encode(e: der::Error) -> EnrollError {
    EnrollError::Encode(e.to_string())
}
