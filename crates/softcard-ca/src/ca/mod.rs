//! The CA's decisions: which template, whether the key and the signer pass, whether the
//! request waits for approval, and the certificate it issues.

use std::time::{Duration, SystemTime};

use const_oid::AssociatedOid as _;
use const_oid::ObjectIdentifier;
use der::asn1::{Any, BmpString, OctetString, Utf8StringRef};
use der::referenced::OwnedToRef as _;
use der::{Decode as _, Encode as _};
use softcard::crypto::{CardRng, PublicKey};
use softcard_enroll::Certificate;
use softcard_enroll::testca::{self, TestCa};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};

use crate::submission::{Submission, UPN};
use crate::template::{ENROLLMENT_AGENT_EKU, KeyUsageBit};
use crate::{Refusal, Template};

/// The version 1 template name extension ([MS-WCCE] 2.2.2.7.7.1).
const TEMPLATE_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2");

/// What the CA does with a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Issued: the certificate.
    Issued(Certificate),
    /// Taken under submission: it waits for `softcard ca approve`.
    Pending,
    /// Denied, with AD CS's code and message.
    Denied(Refusal),
}

/// Who asks, beside the request itself.
#[derive(Clone, Debug, Default)]
pub struct Context<'a> {
    /// The authenticated user (basic authentication), if any.
    pub user: Option<&'a str>,
    /// The request attributes typed in the form (`CertAttrib`: `NAME:VALUE` lines).
    pub form_attributes: &'a [(String, String)],
    /// Whether a CA manager approved it (`softcard ca approve`).
    pub approved: bool,
}

/// A CA: its key and certificate, and its templates.
pub struct Ca {
    ca: TestCa,
    templates: Vec<Template>,
}

impl core::fmt::Debug for Ca {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ca")
            .field("templates", &self.templates)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// A CA issuing with `ca`'s key from `templates`.
    pub fn new(ca: TestCa, templates: Vec<Template>) -> Self {
        Ca { ca, templates }
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &Certificate {
        self.ca.certificate()
    }

    /// The key and certificate.
    pub fn test_ca(&self) -> &TestCa {
        &self.ca
    }

    /// The templates, in the order the form lists them.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The template called `name` (case ignored).
    pub fn template(&self, name: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Decides on a request: the template named in the form, else in the request; the
    /// key size; an enrollment agent's certificate and the user it asks for; approval.
    pub fn decide(
        &self,
        submission: &Submission,
        context: &Context<'_>,
        rng: &mut dyn CardRng,
    ) -> Decision {
        match self.try_decide(submission, context, rng) {
            Ok(Some(cert)) => Decision::Issued(cert),
            Ok(None) => Decision::Pending,
            Err(refusal) => Decision::Denied(refusal),
        }
    }

    fn try_decide(
        &self,
        submission: &Submission,
        context: &Context<'_>,
        rng: &mut dyn CardRng,
    ) -> Result<Option<Certificate>, Refusal> {
        let form = |name: &str| {
            context
                .form_attributes
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let name = form("CertificateTemplate")
            .or_else(|| submission.template())
            .ok_or_else(Refusal::no_template)?;
        let template = self
            .template(&name)
            .ok_or_else(|| Refusal::unsupported_template(&name))?;
        let bits = submission.key_bits();
        let minimum = match submission.public_key {
            PublicKey::Rsa { .. } => template.min_key_bits,
            _ => template.min_ec_bits,
        };
        if bits < minimum {
            return Err(Refusal::key_length(bits, minimum));
        }
        let on_behalf_of = form("RequesterName").or_else(|| {
            submission
                .attribute("RequesterName")
                .map(ToString::to_string)
        });
        match (&submission.signer_certificate, &on_behalf_of) {
            (Some(agent), Some(_)) => self.check_agent(agent)?,
            (Some(_), None) => {
                return Err(Refusal::template_denied(
                    "a request signed by another certificate names no RequesterName",
                ));
            }
            (None, Some(_)) => {
                return Err(Refusal::template_denied(
                    "a request on behalf of another user must be signed by an enrollment agent",
                ));
            }
            (None, None) => {}
        }
        if template.requires_approval && !context.approved {
            return Ok(None);
        }
        let upn = on_behalf_of
            .or_else(|| submission.requested_upn())
            .or_else(|| context.user.map(ToString::to_string));
        self.issue(submission, template, upn.as_deref(), rng)
            .map(Some)
    }

    /// Checks an enrollment agent's certificate: issued by this CA (its signature
    /// verifies with the CA key), within its validity, with the Certificate Request Agent
    /// usage.
    fn check_agent(&self, der: &[u8]) -> Result<(), Refusal> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|_| Refusal::bad_asn1("the signer's certificate"))?;
        let tbs = cert.tbs_certificate();
        let ca = x509_cert::Certificate::from_der(self.ca.certificate().der())
            .map_err(|_| Refusal::bad_asn1("the CA certificate"))?;
        let ca_key = self
            .ca
            .certificate()
            .public_key()
            .ok_or_else(|| Refusal::bad_asn1("the CA certificate"))?;
        let tbs_der = tbs
            .to_der()
            .map_err(|_| Refusal::bad_asn1("the signer's certificate"))?;
        let signature = cert.signature().as_bytes().unwrap_or_default();
        if tbs.issuer() != ca.tbs_certificate().subject()
            || testca::verify_with_identifier(
                ca_key,
                cert.signature_algorithm().owned_to_ref(),
                &tbs_der,
                signature,
            )
            .is_err()
        {
            return Err(Refusal::untrusted());
        }
        let now = SystemTime::now();
        let validity = tbs.validity();
        if now < validity.not_before.to_system_time() || now > validity.not_after.to_system_time() {
            return Err(Refusal::expired());
        }
        let agent_eku = ObjectIdentifier::new_unwrap(ENROLLMENT_AGENT_EKU);
        let has_eku = tbs
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id == ExtendedKeyUsage::OID)
            .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
            .any(|eku| eku.0.contains(&agent_eku));
        if has_eku {
            Ok(())
        } else {
            Err(Refusal::wrong_usage())
        }
    }

    /// Issues from `template`: the request's subject and key, the template's key usage
    /// and EKUs, the UPN, the template name; key identifiers set by the CA.
    fn issue(
        &self,
        submission: &Submission,
        template: &Template,
        upn: Option<&str>,
        rng: &mut dyn CardRng,
    ) -> Result<Certificate, Refusal> {
        let subject = submission.request.info.subject.clone();
        let upn = upn.filter(|_| template.upn);
        if subject.is_empty() && upn.is_none() {
            return Err(Refusal::bad_subject());
        }
        let extensions = self
            .extensions(template, &submission.public_key, upn, subject.is_empty())
            .map_err(|e| Refusal::bad_asn1(&e.to_string()))?;
        let validity = Duration::from_secs(u64::from(template.validity_days) * 24 * 3600);
        self.ca
            .sign(subject, &submission.public_key, extensions, validity, rng)
            .map_err(|e| Refusal::new(0x8009_4000, format!("cannot issue: {e}")))
    }

    fn extensions(
        &self,
        template: &Template,
        key: &PublicKey,
        upn: Option<&str>,
        empty_subject: bool,
    ) -> Result<Vec<Extension>, der::Error> {
        let mut usages = KeyUsages::DigitalSignature & KeyUsages::NonRepudiation;
        for bit in &template.key_usage {
            usages |= match bit {
                KeyUsageBit::DigitalSignature => KeyUsages::DigitalSignature,
                KeyUsageBit::NonRepudiation => KeyUsages::NonRepudiation,
                KeyUsageBit::KeyEncipherment => KeyUsages::KeyEncipherment,
                KeyUsageBit::DataEncipherment => KeyUsages::DataEncipherment,
                KeyUsageBit::KeyAgreement => KeyUsages::KeyAgreement,
            };
        }
        let mut out = vec![
            extension(TEMPLATE_NAME, false, &BmpString::from_utf8(&template.name)?)?,
            extension(KeyUsage::OID, true, &KeyUsage(usages))?,
        ];
        if !template.ekus.is_empty() {
            let ekus = template
                .ekus
                .iter()
                .map(|e| ObjectIdentifier::new(e))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| der::Error::from(der::ErrorKind::OidMalformed))?;
            out.push(extension(
                ExtendedKeyUsage::OID,
                false,
                &ExtendedKeyUsage(ekus),
            )?);
        }
        if let Some(upn) = upn {
            let name = GeneralName::OtherName(OtherName {
                type_id: UPN,
                value: Any::encode_from(&Utf8StringRef::new(upn)?)?,
            });
            // Critical when the subject is empty (RFC 5280 section 4.2.1.6).
            out.push(extension(
                SubjectAltName::OID,
                empty_subject,
                &SubjectAltName(vec![name]),
            )?);
        }
        let id = |k: &PublicKey| {
            testca::key_identifier(k)
                .map_err(|_| der::Error::from(der::ErrorKind::Failed))
                .and_then(OctetString::new)
        };
        let ca_key = self
            .ca
            .certificate()
            .public_key()
            .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?;
        out.push(extension(
            SubjectKeyIdentifier::OID,
            false,
            &SubjectKeyIdentifier(id(key)?),
        )?);
        out.push(extension(
            AuthorityKeyIdentifier::OID,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(id(ca_key)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?);
        Ok(out)
    }
}

/// An extension holding `value`'s DER.
fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl der::Encode,
) -> Result<Extension, der::Error> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

#[cfg(test)]
mod tests;
