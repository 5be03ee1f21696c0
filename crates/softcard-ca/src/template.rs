//! Certificate templates as data: what a certificate issued from each carries, and the
//! policy a request must meet. The built-in set follows AD CS's version 1 templates of the
//! same names; a JSON file replaces it (`softcard ca serve --templates FILE`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The Certificate Request Agent EKU (`szOID_ENROLLMENT_AGENT`).
pub const ENROLLMENT_AGENT_EKU: &str = "1.3.6.1.4.1.311.20.2.1";
/// Smart card logon (`szOID_KP_SMARTCARD_LOGON`).
pub const SMARTCARD_LOGON_EKU: &str = "1.3.6.1.4.1.311.20.2.2";
/// TLS client authentication (RFC 5280).
pub const CLIENT_AUTH_EKU: &str = "1.3.6.1.5.5.7.3.2";
/// E-mail protection (RFC 5280).
pub const EMAIL_PROTECTION_EKU: &str = "1.3.6.1.5.5.7.3.4";
/// Encrypting File System (`szOID_KP_EFS`).
pub const EFS_EKU: &str = "1.3.6.1.4.1.311.10.3.4";

/// A bit of the key usage extension (RFC 5280 section 4.2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyUsageBit {
    /// digitalSignature (0).
    DigitalSignature,
    /// nonRepudiation (1).
    NonRepudiation,
    /// keyEncipherment (2).
    KeyEncipherment,
    /// dataEncipherment (3).
    DataEncipherment,
    /// keyAgreement (4).
    KeyAgreement,
}

/// A certificate template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The name requests use (`CertificateTemplate:NAME`), compared without case.
    pub name: String,
    /// The name the request form shows.
    pub display_name: String,
    /// Extended key usages, dotted OIDs.
    pub ekus: Vec<String>,
    /// Key usage bits (critical).
    pub key_usage: Vec<KeyUsageBit>,
    /// Whether the certificate carries the requester's UPN in its subjectAltName.
    pub upn: bool,
    /// Smallest RSA key accepted, in bits of the modulus.
    pub min_key_bits: usize,
    /// Smallest elliptic curve accepted, in bits (256: P-256 and P-384).
    #[serde(default = "default_min_ec_bits")]
    pub min_ec_bits: usize,
    /// Whether requests wait for `softcard ca approve`.
    #[serde(default)]
    pub requires_approval: bool,
    /// Validity of the issued certificate, in days.
    pub validity_days: u32,
}

/// A templates file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The file cannot be read.
    #[error("cannot read the templates file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a JSON array of templates.
    #[error("the templates file {path} is not a JSON array of templates: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A template is inconsistent.
    #[error("template {name:?}: {problem}")]
    Invalid {
        /// The template.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

fn default_min_ec_bits() -> usize {
    256
}

impl Template {
    fn new(
        name: &str,
        display_name: &str,
        ekus: &[&str],
        key_usage: &[KeyUsageBit],
        min_key_bits: usize,
    ) -> Self {
        Template {
            name: name.into(),
            display_name: display_name.into(),
            ekus: ekus.iter().map(|s| (*s).to_string()).collect(),
            key_usage: key_usage.to_vec(),
            upn: true,
            min_key_bits,
            min_ec_bits: default_min_ec_bits(),
            requires_approval: false,
            validity_days: 365,
        }
    }

    /// The built-in templates:
    ///
    /// | name | EKUs | key usage | notes |
    /// |---|---|---|---|
    /// | `SmartcardUser` | smart card logon, client authentication, e-mail protection | digitalSignature, keyEncipherment | UPN |
    /// | `SmartcardUserApproval` | as `SmartcardUser` | as `SmartcardUser` | pending until approved |
    /// | `SmartcardLogon` | smart card logon, client authentication | digitalSignature, keyEncipherment | UPN |
    /// | `User` | EFS, e-mail protection, client authentication | digitalSignature, keyEncipherment | UPN |
    /// | `EnrollmentAgent` | Certificate Request Agent | digitalSignature | |
    ///
    /// All take keys of 1024 bits and more (AD CS's version 1 templates) and issue for a
    /// year.
    pub fn builtin() -> Vec<Template> {
        use KeyUsageBit::{DigitalSignature, KeyEncipherment};
        let exchange = [DigitalSignature, KeyEncipherment];
        let smartcard_user = Template::new(
            "SmartcardUser",
            "Smartcard User",
            &[SMARTCARD_LOGON_EKU, CLIENT_AUTH_EKU, EMAIL_PROTECTION_EKU],
            &exchange,
            1024,
        );
        let approval = Template {
            name: "SmartcardUserApproval".into(),
            display_name: "Smartcard User (CA manager approval)".into(),
            requires_approval: true,
            ..smartcard_user.clone()
        };
        let mut agent = Template::new(
            "EnrollmentAgent",
            "Enrollment Agent",
            &[ENROLLMENT_AGENT_EKU],
            &[DigitalSignature],
            1024,
        );
        agent.upn = false;
        vec![
            smartcard_user,
            approval,
            Template::new(
                "SmartcardLogon",
                "Smartcard Logon",
                &[SMARTCARD_LOGON_EKU, CLIENT_AUTH_EKU],
                &exchange,
                1024,
            ),
            Template::new(
                "User",
                "User",
                &[EFS_EKU, EMAIL_PROTECTION_EKU, CLIENT_AUTH_EKU],
                &exchange,
                1024,
            ),
            agent,
        ]
    }

    /// Reads a JSON array of templates (the fields of [`Template`], in snake case).
    ///
    /// # Errors
    /// [`TemplateError`] when the file cannot be read or parsed, or a template has a bad
    /// EKU, an empty name, a name used twice or a zero validity.
    pub fn load(path: &Path) -> Result<Vec<Template>, TemplateError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: shown.clone(),
            source,
        })?;
        let templates: Vec<Template> =
            serde_json::from_str(&text).map_err(|source| TemplateError::Parse {
                path: shown,
                source,
            })?;
        Self::check_all(&templates)?;
        Ok(templates)
    }

    /// Checks a set of templates for the problems [`Template::load`] names.
    ///
    /// # Errors
    /// [`TemplateError::Invalid`].
    pub fn check_all(templates: &[Template]) -> Result<(), TemplateError> {
        for (i, t) in templates.iter().enumerate() {
            let invalid = |problem: String| TemplateError::Invalid {
                name: t.name.clone(),
                problem,
            };
            if t.name.is_empty() || t.name.contains(['\r', '\n', ':']) {
                return Err(invalid(
                    "a name must be non-empty, on one line, without ':'".into(),
                ));
            }
            if templates
                .iter()
                .take(i)
                .any(|o| o.name.eq_ignore_ascii_case(&t.name))
            {
                return Err(invalid("the name is used twice".into()));
            }
            if let Some(bad) = t
                .ekus
                .iter()
                .find(|e| const_oid::ObjectIdentifier::new(e).is_err())
            {
                return Err(invalid(format!("{bad:?} is not a dotted OID")));
            }
            if t.validity_days == 0 {
                return Err(invalid("validity_days must be at least 1".into()));
            }
        }
        Ok(())
    }

    /// Whether the template makes Certificate Request Agent certificates.
    pub fn is_enrollment_agent(&self) -> bool {
        self.ekus.iter().any(|e| e == ENROLLMENT_AGENT_EKU)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_pass_their_own_checks() {
        let all = Template::builtin();
        Template::check_all(&all).unwrap();
        assert!(all.iter().any(|t| t.requires_approval));
        assert!(all.iter().any(Template::is_enrollment_agent));
    }

    #[test]
    fn a_file_with_a_bad_oid_or_a_repeated_name_is_refused() {
        let mut t = Template::builtin();
        t[0].ekus.push("not.an.oid".into());
        assert!(matches!(
            Template::check_all(&t),
            Err(TemplateError::Invalid { .. })
        ));
        let mut t = Template::builtin();
        t[1].name = "smartcarduser".into();
        assert!(Template::check_all(&t).is_err());
    }

    #[test]
    fn templates_round_trip_through_json() {
        let all = Template::builtin();
        let text = serde_json::to_string(&all).unwrap();
        assert!(text.contains("\"keyEncipherment\""));
        let back: Vec<Template> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, all);
    }
}
