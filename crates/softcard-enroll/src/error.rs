//! The crate's error type.

/// What went wrong while building a request or installing a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// The subject name string cannot be encoded; says which part and why.
    #[error("invalid subject name: {0}")]
    InvalidName(String),
    /// An object identifier in dotted notation is malformed.
    #[error("invalid object identifier {0:?}")]
    InvalidOid(String),
    /// The key refused to sign or failed (card error, PIN not verified...).
    #[error("signing failed: {0}")]
    Signer(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// DER input is not the structure named.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// PEM input is broken.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// The CA's answer holds no certificate at all.
    #[error("the input holds no certificate")]
    NoCertificate,
    /// None of the certificates read certifies the container's key: the CA answered
    /// another request, or the certificate belongs to another card.
    #[error("none of the {candidates} certificate(s) certifies the key of this container")]
    NoMatchingCertificate {
        /// How many certificates were looked at.
        candidates: usize,
    },
}
