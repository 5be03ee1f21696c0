//! What a request asks for, and the request that comes out.

use der::Encode as _;
use softcard::crypto::HashAlg;

use crate::signer::RequestSigner;
use crate::{EnrollError, Oid, cmc, name, pem, pkcs10};

/// The CryptoAPI key specification of a key container (`AT_KEYEXCHANGE`, `AT_SIGNATURE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// `AT_KEYEXCHANGE` (1): the key signs and decrypts (RSA key usage
    /// digitalSignature + keyEncipherment). The only choice the seed's template offers.
    Exchange,
    /// `AT_SIGNATURE` (2): the key only signs (key usage digitalSignature).
    Signature,
}

impl KeySpec {
    /// The number CryptoAPI and the CSP information attribute use.
    pub const fn value(self) -> u32 {
        match self {
            KeySpec::Exchange => 1,
            KeySpec::Signature => 2,
        }
    }
}

/// A version 2 (or later) certificate template named by its OID ([MS-WCCE] 2.2.2.7.7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateOid {
    /// The template's `msPKI-Cert-Template-OID`.
    pub oid: Oid,
    /// The template's major version (`revision`).
    pub major_version: u32,
    /// The template's minor version (`msPKI-Template-Minor-Revision`).
    pub minor_version: u32,
}

/// The contents of a request: subject, names, key use, template, hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestOptions {
    /// The subject as a name string (see the crate documentation), e.g.
    /// `"CN=Jane Doe,O=Example,C=US"`. Empty for an empty subject.
    pub subject: String,
    /// A user principal name for the subjectAltName (smart card logon), e.g.
    /// `jane@example.com`.
    pub upn: Option<String>,
    /// An e-mail address for the subjectAltName (`rfc822Name`).
    pub email: Option<String>,
    /// How the key may be used.
    pub key_spec: KeySpec,
    /// The certificate template by name (`SmartcardUser`): sent as the V1 template
    /// extension (1.3.6.1.4.1.311.20.2) and as the `CertificateTemplate` name-value pair.
    pub template: Option<String>,
    /// The certificate template by OID: sent as the V2 template extension
    /// (1.3.6.1.4.1.311.21.7).
    pub template_oid: Option<TemplateOid>,
    /// The extended key usages to request; none leaves the extension out.
    pub extended_key_usages: Vec<Oid>,
    /// The cryptographic provider named in the CSP information attribute.
    pub csp: Option<String>,
    /// The hash of every signature in the request.
    pub hash: HashAlg,
    /// The friendly name the seed gives the certificate. It is not part of the request:
    /// Windows keeps it on the client (with the pending request in the request store, then
    /// as a property of the installed certificate in the user's store), never sends it to
    /// the CA, and the card has no place for it. This crate hands it back in
    /// [`Request::friendly_name`] for the caller to keep.
    pub friendly_name: Option<String>,
}

impl RequestOptions {
    /// The seed's enrollment: template Smartcard User (`SmartcardUser`), Exchange key,
    /// Microsoft Base Smart Card Crypto Provider, SHA-1, friendly name
    /// "Smartcard Certificate", and the template's extended key usages (client
    /// authentication, secure e-mail, smart card logon).
    pub fn smartcard_user(subject: impl Into<String>) -> Self {
        RequestOptions {
            subject: subject.into(),
            upn: None,
            email: None,
            key_spec: KeySpec::Exchange,
            template: Some("SmartcardUser".to_owned()),
            template_oid: None,
            extended_key_usages: vec![
                Oid::CLIENT_AUTH,
                Oid::EMAIL_PROTECTION,
                Oid::SMART_CARD_LOGON,
            ],
            csp: Some(BASE_SMART_CARD_CSP.to_owned()),
            hash: HashAlg::Sha1,
            friendly_name: Some("Smartcard Certificate".to_owned()),
        }
    }

    /// Checks that every option can be encoded, without a key: the subject parses, a UPN
    /// is `name@suffix`, an e-mail address is ASCII (IA5String) `local@domain`, a template
    /// name is not empty. [`Request::build`] and
    /// [`CardClient::enroll`](crate::CardClient::enroll) call it first, so a bad option
    /// fails before a key is created.
    ///
    /// # Errors
    /// [`EnrollError::InvalidName`] for the subject, [`EnrollError::InvalidOption`] naming
    /// the option and the problem.
    pub fn check(&self) -> Result<(), EnrollError> {
        name::parse(&self.subject)?;
        let bad = |what: String| Err(EnrollError::InvalidOption(what));
        let split = |s: &str| {
            s.rsplit_once('@')
                .filter(|(local, domain)| !local.is_empty() && !domain.is_empty())
                .is_some()
        };
        if let Some(upn) = &self.upn {
            if !split(upn) || upn.chars().any(char::is_control) {
                return bad(format!(
                    "UPN {upn:?}: a user principal name is name@suffix, e.g. jane@example.com"
                ));
            }
        }
        if let Some(email) = &self.email {
            if !split(email) || !email.bytes().all(|b| b.is_ascii_graphic()) {
                return bad(format!(
                    "e-mail address {email:?}: local@domain in ASCII without spaces (rfc822Name is an IA5String)"
                ));
            }
        }
        if self.template.as_deref().is_some_and(str::is_empty) {
            return bad("an empty certificate template name".into());
        }
        Ok(())
    }

    /// The value of the `CertificateTemplate` name-value pair: the name, else the OID.
    pub(crate) fn template_pair_value(&self) -> Option<String> {
        self.template
            .clone()
            .or_else(|| self.template_oid.as_ref().map(|t| t.oid.to_string()))
    }
}

/// The name of the Windows smart card CSP the seed selects.
pub const BASE_SMART_CARD_CSP: &str = "Microsoft Base Smart Card Crypto Provider";

/// The request formats of the seed's web enrollment page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestFormat {
    /// A bare PKCS#10 certification request (RFC 2986).
    Pkcs10,
    /// A CMC full PKI request (RFC 5272) wrapping the PKCS#10 in a CMS SignedData.
    Cmc,
}

impl RequestFormat {
    /// The PEM label this crate writes: `CERTIFICATE REQUEST` (OpenSSL's `req`, `certreq`)
    /// or `CMS` (OpenSSL's `cms`; `certreq` reads any base64 label).
    pub const fn pem_label(self) -> &'static str {
        match self {
            RequestFormat::Pkcs10 => "CERTIFICATE REQUEST",
            RequestFormat::Cmc => "CMS",
        }
    }
}

/// A signed request, ready to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Its format.
    pub format: RequestFormat,
    /// Its DER encoding.
    pub der: Vec<u8>,
    /// The friendly name to give the issued certificate, from
    /// [`RequestOptions::friendly_name`]: not in the request; kept here for the caller.
    pub friendly_name: Option<String>,
}

impl Request {
    /// Builds and signs a request in `format`.
    ///
    /// # Errors
    /// As [`RequestOptions::check`]; [`EnrollError::Signer`] if the key does not sign;
    /// [`EnrollError::Encode`] for a value too large for its field.
    pub fn build(
        format: RequestFormat,
        options: &RequestOptions,
        signer: &mut dyn RequestSigner,
    ) -> Result<Self, EnrollError> {
        options.check()?;
        let csr = pkcs10::build(options, signer)?;
        let der = match format {
            RequestFormat::Pkcs10 => csr.to_der(),
            RequestFormat::Cmc => cmc::build(csr, options, signer)?.to_der(),
        }
        .map_err(crate::ms::encode)?;
        Ok(Request {
            format,
            der,
            friendly_name: options.friendly_name.clone(),
        })
    }

    /// A CMC request on behalf of another user, as an enrollment agent makes it: the
    /// PKCS#10 is signed by the user's new key (`user_key`, on the user's card), the CMC
    /// by the agent's key (`agent`, on the agent's card), whose Certificate Request Agent
    /// certificate (`agent_certificate`, DER) travels in the SignedData and names the
    /// signer; the user is the `RequesterName` name-value pair (`requester`, e.g.
    /// `EXAMPLE\jane` or `jane@example.com`) of the add-attributes control, beside the
    /// template.
    ///
    /// # Errors
    /// As [`Request::build`]; [`EnrollError::InvalidOption`] for an agent certificate
    /// that does not certify the agent's key, or an empty requester;
    /// [`EnrollError::Malformed`] for an agent certificate that does not decode.
    pub fn build_on_behalf_of(
        options: &RequestOptions,
        requester: &str,
        user_key: &mut dyn RequestSigner,
        agent_certificate: &[u8],
        agent: &mut dyn RequestSigner,
    ) -> Result<Self, EnrollError> {
        options.check()?;
        let csr = pkcs10::build(options, user_key)?;
        let agent = cmc::Agent {
            requester,
            certificate: agent_certificate,
            signer: agent,
        };
        let der = cmc::build_for(csr, options, agent)?
            .to_der()
            .map_err(crate::ms::encode)?;
        Ok(Request {
            format: RequestFormat::Cmc,
            der,
            friendly_name: options.friendly_name.clone(),
        })
    }

    /// The request in PEM, under [`RequestFormat::pem_label`].
    pub fn to_pem(&self) -> String {
        pem::encode(self.format.pem_label(), &self.der)
    }
}
