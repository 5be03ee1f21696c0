//! The reasons a CA refuses a request, as AD CS words them: an HRESULT and its message
//! (the text `FormatMessage` gives for the code), shown on the denied page as
//! `The disposition message is "..."`.

use core::fmt;

/// A refused request: the HRESULT and the disposition message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HRESULT (e.g. `0x80094800`).
    pub hresult: u32,
    /// The disposition message, without the code.
    pub message: String,
}

impl Refusal {
    /// A refusal with `hresult` and `message`.
    pub fn new(hresult: u32, message: impl Into<String>) -> Self {
        Refusal {
            hresult,
            message: message.into(),
        }
    }

    /// `ERROR_INVALID_DATA` (0x8007000D): the request is not base64.
    pub fn bad_base64() -> Self {
        Self::new(
            0x8007_000D,
            "Error Parsing Request The data is invalid. (WIN32: 13 ERROR_INVALID_DATA)",
        )
    }

    /// `CRYPT_E_ASN1_BADTAG` (0x8009310B): the request does not decode.
    pub fn bad_asn1(what: &str) -> Self {
        Self::new(
            0x8009_310B,
            format!("Error Parsing Request ASN1 bad tag value met. ({what})"),
        )
    }

    /// `NTE_BAD_SIGNATURE` (0x80090006): a signature does not verify.
    pub fn bad_signature(what: &str) -> Self {
        Self::new(0x8009_0006, format!("Invalid Signature. ({what})"))
    }

    /// `CRYPT_E_SIGNER_NOT_FOUND` (0x8009100E): the CMC signer is neither the request's
    /// key nor a certificate the request carries.
    pub fn signer_not_found() -> Self {
        Self::new(0x8009_100E, "Cannot find the original signer.")
    }

    /// `CERTSRV_E_UNSUPPORTED_CERT_TYPE` (0x80094800).
    pub fn unsupported_template(name: &str) -> Self {
        Self::new(
            0x8009_4800,
            format!(
                "The requested certificate template is not supported by this CA. (template {name})"
            ),
        )
    }

    /// `CERTSRV_E_NO_CERT_TYPE` (0x80094801): no template named at all.
    pub fn no_template() -> Self {
        Self::new(
            0x8009_4801,
            "The request contains no certificate template information.",
        )
    }

    /// `CERTSRV_E_KEY_LENGTH` (0x80094811).
    pub fn key_length(bits: usize, minimum: usize) -> Self {
        Self::new(
            0x8009_4811,
            format!(
                "The public key does not meet the minimum size required by the specified certificate template. ({bits} bits, at least {minimum})"
            ),
        )
    }

    /// `CERT_E_WRONG_USAGE` (0x800B0110): an agent certificate without the Certificate
    /// Request Agent usage.
    pub fn wrong_usage() -> Self {
        Self::new(
            0x800B_0110,
            "The certificate is not valid for the requested usage. (the signing certificate is not a Certificate Request Agent certificate)",
        )
    }

    /// `CERT_E_UNTRUSTEDROOT` (0x800B0109): an agent certificate this CA did not issue.
    pub fn untrusted() -> Self {
        Self::new(
            0x800B_0109,
            "A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.",
        )
    }

    /// `CERT_E_EXPIRED` (0x800B0101): an agent certificate outside its validity.
    pub fn expired() -> Self {
        Self::new(
            0x800B_0101,
            "A required certificate is not within its validity period when verifying against the current system clock or the timestamp in the signed file.",
        )
    }

    /// `CERTSRV_E_BAD_REQUESTSUBJECT` (0x80094001): no name to issue to.
    pub fn bad_subject() -> Self {
        Self::new(
            0x8009_4001,
            "The request subject name is invalid or too long.",
        )
    }

    /// `CERTSRV_E_TEMPLATE_DENIED` (0x80094012): an enrollment agent template that needs
    /// a signature it lacks, or a request on behalf of someone without an agent.
    pub fn template_denied(why: &str) -> Self {
        Self::new(
            0x8009_4012,
            format!(
                "The permissions on the certificate template do not allow the current user to enroll for this type of certificate. ({why})"
            ),
        )
    }

    /// `CERTSRV_E_ADMIN_DENIED_REQUEST` (0x80094014): denied with `softcard ca deny`.
    pub fn admin_denied() -> Self {
        Self::new(
            0x8009_4014,
            "The request was denied by a certificate manager or CA administrator.",
        )
    }

    /// `CRYPT_E_INVALID_MESSAGE_TYPE` (0x80091004): a SignedData holding neither a
    /// PKIData nor a PKCS#10.
    pub fn invalid_message_type() -> Self {
        Self::new(0x8009_1004, "Invalid cryptographic message type.")
    }

    /// The disposition message as AD CS shows it: `Denied by Policy Module  0x80094800,
    /// The requested ...` (the text never holds a double quote: the denied page quotes
    /// it).
    pub fn disposition(&self) -> String {
        format!(
            "Denied by Policy Module  0x{:08x}, {}",
            self.hresult, self.message
        )
        .replace('"', "'")
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}: {}", self.hresult, self.message)
    }
}

impl std::error::Error for Refusal {}
