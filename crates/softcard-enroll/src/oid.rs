//! Object identifiers: the public [`Oid`] (a [`const_oid::ObjectIdentifier`] with the
//! constants requests are made of) and the identifiers used inside the crate.

use core::fmt;
use core::str::FromStr;

use const_oid::ObjectIdentifier;

use crate::EnrollError;

/// An OBJECT IDENTIFIER.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(ObjectIdentifier);

impl Oid {
    /// An OID from its dotted form, checked when the constant is evaluated.
    ///
    /// # Panics
    /// On a malformed OID: meant for constants, where that is a compile error.
    pub const fn new_unwrap(dotted: &str) -> Self {
        Oid(ObjectIdentifier::new_unwrap(dotted))
    }

    /// The arcs.
    pub fn arcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.arcs()
    }

    /// The identifier as the `der`, `spki` and `x509-cert` crates take it.
    pub const fn object_identifier(&self) -> ObjectIdentifier {
        self.0
    }

    /// Extended key usage: client authentication (RFC 5280).
    pub const CLIENT_AUTH: Oid = Oid(const_oid::db::rfc5280::ID_KP_CLIENT_AUTH);
    /// Extended key usage: e-mail protection (RFC 5280).
    pub const EMAIL_PROTECTION: Oid = Oid(const_oid::db::rfc5280::ID_KP_EMAIL_PROTECTION);
    /// Extended key usage: Microsoft smart card logon (`szOID_KP_SMARTCARD_LOGON`).
    pub const SMART_CARD_LOGON: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.20.2.2");
    /// Extended key usage: Microsoft Certificate Request Agent, an enrollment agent
    /// (`szOID_ENROLLMENT_AGENT`).
    pub const ENROLLMENT_AGENT: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.20.2.1");
}

impl From<ObjectIdentifier> for Oid {
    fn from(oid: ObjectIdentifier) -> Self {
        Oid(oid)
    }
}

impl From<Oid> for ObjectIdentifier {
    fn from(oid: Oid) -> Self {
        oid.0
    }
}

impl FromStr for Oid {
    type Err = EnrollError;

    /// Parses dotted decimal notation, e.g. `1.3.6.1.4.1.311.21.8.1.2`.
    fn from_str(s: &str) -> Result<Self, EnrollError> {
        ObjectIdentifier::new(s)
            .map(Oid)
            .map_err(|_| EnrollError::InvalidOid(s.to_owned()))
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.0)
    }
}

// Identifiers used inside the crate: from `const-oid`'s database, under the names the
// crate uses.
pub(crate) use const_oid::db::rfc2985::PKCS_9_AT_EMAIL_ADDRESS as EMAIL_ADDRESS;
pub(crate) use const_oid::db::rfc5911::{
    ID_CONTENT_TYPE as CONTENT_TYPE, ID_MESSAGE_DIGEST as MESSAGE_DIGEST,
    ID_SIGNED_DATA as SIGNED_DATA,
};
pub(crate) use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256 as ECDSA_WITH_SHA256, ECDSA_WITH_SHA_384 as ECDSA_WITH_SHA384,
    ECDSA_WITH_SHA_512 as ECDSA_WITH_SHA512, ID_CCT_PKI_DATA as PKI_DATA,
    ID_EC_PUBLIC_KEY as EC_PUBLIC_KEY, ID_SHA_1 as SHA1, ID_SHA_256 as SHA256,
    ID_SHA_384 as SHA384, ID_SHA_512 as SHA512, RSA_ENCRYPTION, SECP_256_R_1 as SECP256R1,
    SECP_384_R_1 as SECP384R1, SHA_1_WITH_RSA_ENCRYPTION as SHA1_WITH_RSA,
    SHA_256_WITH_RSA_ENCRYPTION as SHA256_WITH_RSA, SHA_384_WITH_RSA_ENCRYPTION as SHA384_WITH_RSA,
    SHA_512_WITH_RSA_ENCRYPTION as SHA512_WITH_RSA,
};

// And those the database does not hold.
macro_rules! oids {
    ($($(#[$doc:meta])* $name:ident = $dotted:literal;)*) => {
        $($(#[$doc])* pub(crate) const $name: ObjectIdentifier =
            ObjectIdentifier::new_unwrap($dotted);)*
    };
}

oids! {
    /// ecdsa-with-SHA1 (RFC 3279).
    ECDSA_WITH_SHA1 = "1.2.840.10045.4.1";
    /// Microsoft: UPN other name, template name (V1), template OID (V2), CSP information,
    /// enrollment name-value pair, CMC add-attributes control ([MS-WCCE] 2.2.2.7).
    MS_UPN = "1.3.6.1.4.1.311.20.2.3";
    MS_ENROLL_CERTTYPE = "1.3.6.1.4.1.311.20.2";
    MS_CERTIFICATE_TEMPLATE = "1.3.6.1.4.1.311.21.7";
    MS_ENROLLMENT_CSP_PROVIDER = "1.3.6.1.4.1.311.13.2.2";
    MS_ENROLLMENT_NAME_VALUE_PAIR = "1.3.6.1.4.1.311.13.2.1";
    MS_CMC_ADD_ATTRIBUTES = "1.3.6.1.4.1.311.10.10.1";
}

#[cfg(test)]
mod tests {
    use der::Encode as _;

    use super::*;

    #[test]
    fn parses_and_prints_dotted_notation() {
        let oid: Oid = "1.3.6.1.4.1.311.21.8.12345.1".parse().unwrap();
        assert_eq!(oid.to_string(), "1.3.6.1.4.1.311.21.8.12345.1");
        assert_eq!(Oid::SMART_CARD_LOGON.to_string(), "1.3.6.1.4.1.311.20.2.2");
    }

    #[test]
    fn rejects_malformed_oids() {
        for bad in [
            "",
            "1",
            "1.",
            "1..2",
            "3.1",
            "1.40",
            "1.2.x",
            "1.2.-3",
            "1.2.99999999999",
        ] {
            assert!(bad.parse::<Oid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn oids_encode_in_base_128() {
        assert_eq!(
            SHA256.to_der().unwrap(),
            [6, 9, 0x60, 0x86, 0x48, 1, 0x65, 3, 4, 2, 1]
        );
        assert_eq!(
            ObjectIdentifier::new_unwrap("1.2.840.113549")
                .to_der()
                .unwrap(),
            [6, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
    }
}
