//! The crate's error type.

/// What went wrong while building a request or installing a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// The subject name string cannot be encoded; says which part and why.
    #[error("invalid subject name: {0}")]
    InvalidName(String),
    /// A request option other than the subject cannot be encoded (UPN, e-mail address,
    /// template name); says which and why.
    #[error("invalid request option: {0}")]
    InvalidOption(String),
    /// An object identifier in dotted notation is malformed.
    #[error("invalid object identifier {0:?}")]
    InvalidOid(String),
    /// The key refused to sign or failed (card error, PIN not verified...).
    #[error("signing failed: {0}")]
    Signer(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// DER input is not the structure named.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A request or certificate cannot be encoded (a value too large for its field);
    /// says why.
    #[error("cannot encode: {0}")]
    Encode(String),
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
    /// The card could not be reached.
    #[error(transparent)]
    Transport(#[from] crate::TransportError),
    /// The card answered a command with an error status word.
    #[error("the card refused {command} (status {sw:04X})")]
    Card {
        /// The command, e.g. "GENERATE ASYMMETRIC KEY PAIR".
        command: &'static str,
        /// SW1 SW2.
        sw: u16,
    },
    /// VERIFY failed: the PIN (or PUK) is wrong; the card answered 63Cx.
    #[error("wrong {what} (status 63C{tries_left:X}): {}", tries_text(*tries_left))]
    WrongPin {
        /// "PIN" or "PUK".
        what: &'static str,
        /// The tries left before it is blocked (x of 63Cx).
        tries_left: u8,
    },
    /// The card refused a new PIN (CHANGE REFERENCE DATA, RESET RETRY COUNTER) because it
    /// breaks the card's PIN rules: the card answered 6A80 (or 6700).
    #[error("the card refused the new {what} (status {sw:04X}): {rules}")]
    NewPinRefused {
        /// "PIN".
        what: &'static str,
        /// SW1 SW2.
        sw: u16,
        /// The rules of this kind of card, e.g. "a PIV PIN has 6 to 8 characters".
        rules: &'static str,
    },
    /// The PIN (or PUK) is blocked: the card answered 6983.
    #[error("{what} blocked (status 6983)")]
    PinBlocked {
        /// "PIN" or "PUK".
        what: &'static str,
    },
    /// The administrator or management key was refused.
    #[error("{what} authentication failed (status {sw:04X})")]
    AdminAuthentication {
        /// "administrator key" (GIDS) or "management key" (PIV).
        what: &'static str,
        /// SW1 SW2.
        sw: u16,
    },
    /// A signature does not verify with the key it should come from.
    #[error("the signature does not verify")]
    BadSignature,
    /// Neither a GIDS nor a PIV application answered SELECT.
    #[error("no GIDS or PIV application on the card")]
    NoApplication,
    /// No container of that name holds a key.
    #[error("no key container {0:?} on the card")]
    NoContainer(String),
    /// A container of that name already exists.
    #[error("a key container {0:?} already exists on the card")]
    ContainerExists(String),
    /// A certsrv endpoint answered with a page that is none of the pages of Web Enrollment
    /// (issued, pending, denied, disposition message): names the page by its title.
    #[error("the CA answered with a page that is not a Web Enrollment answer: {0:?}")]
    UnexpectedPage(String),
    /// The card, or this client, cannot do what was asked (says what).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// "2 tries left", "1 try left", "no tries left: it is now blocked".
fn tries_text(tries_left: u8) -> String {
    match tries_left {
        0 => "no tries left: it is now blocked".into(),
        1 => "1 try left".into(),
        n => format!("{n} tries left"),
    }
}
