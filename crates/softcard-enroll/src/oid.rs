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
    pub const CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
    /// Extended key usage: e-mail protection (RFC 5280).
    pub const EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
    /// Extended key usage: Microsoft smart card logon (`szOID_KP_SMARTCARD_LOGON`).
    pub const SMART_CARD_LOGON: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.20.2.2");
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

// Identifiers used inside the crate, named as in their specifications.
macro_rules! oids {
    ($($(#[$doc:meta])* $name:ident = $dotted:literal;)*) => {
        $($(#[$doc])* pub(crate) const $name: ObjectIdentifier =
            ObjectIdentifier::new_unwrap($dotted);)*
    };
}

oids! {
    /// rsaEncryption (RFC 8017).
    RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
    /// id-ecPublicKey (RFC 5480).
    EC_PUBLIC_KEY = "1.2.840.10045.2.1";
    /// secp256r1 (RFC 5480).
    SECP256R1 = "1.2.840.10045.3.1.7";
    /// secp384r1 (RFC 5480).
    SECP384R1 = "1.3.132.0.34";
    /// id-sha1.
    SHA1 = "1.3.14.3.2.26";
    /// id-sha256.
    SHA256 = "2.16.840.1.101.3.4.2.1";
    /// id-sha384.
    SHA384 = "2.16.840.1.101.3.4.2.2";
    /// id-sha512.
    SHA512 = "2.16.840.1.101.3.4.2.3";
    /// sha1WithRSAEncryption and its SHA-2 siblings (RFC 8017 appendix C).
    SHA1_WITH_RSA = "1.2.840.113549.1.1.5";
    SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
    SHA384_WITH_RSA = "1.2.840.113549.1.1.12";
    SHA512_WITH_RSA = "1.2.840.113549.1.1.13";
    /// ecdsa-with-SHA1 (RFC 3279) and ecdsa-with-SHA2 (RFC 5758).
    ECDSA_WITH_SHA1 = "1.2.840.10045.4.1";
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
    ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3";
    ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.4";
    /// PKCS#9 attributes (RFC 2985): e-mail address, content type, message digest.
    EMAIL_ADDRESS = "1.2.840.113549.1.9.1";
    CONTENT_TYPE = "1.2.840.113549.1.9.3";
    MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
    /// CMS SignedData (RFC 5652) and the CMC PKIData content type (RFC 5272).
    SIGNED_DATA = "1.2.840.113549.1.7.2";
    PKI_DATA = "1.3.6.1.5.5.7.12.2";
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
