//! Object identifiers: a small public type and the constants requests are made of.

use core::fmt;
use core::str::FromStr;
use std::borrow::Cow;

use crate::EnrollError;

/// An OBJECT IDENTIFIER, kept as its arcs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Oid(Cow<'static, [u32]>);

impl Oid {
    /// An OID from constant arcs (used for the constants below).
    pub const fn from_static(arcs: &'static [u32]) -> Self {
        Oid(Cow::Borrowed(arcs))
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// The DER encoding (tag, length, content).
    pub(crate) fn to_der(&self) -> Vec<u8> {
        crate::der::oid(&self.0)
    }

    /// Extended key usage: client authentication (RFC 5280).
    pub const CLIENT_AUTH: Oid = Oid::from_static(&[1, 3, 6, 1, 5, 5, 7, 3, 2]);
    /// Extended key usage: e-mail protection (RFC 5280).
    pub const EMAIL_PROTECTION: Oid = Oid::from_static(&[1, 3, 6, 1, 5, 5, 7, 3, 4]);
    /// Extended key usage: Microsoft smart card logon (`szOID_KP_SMARTCARD_LOGON`).
    pub const SMART_CARD_LOGON: Oid = Oid::from_static(&[1, 3, 6, 1, 4, 1, 311, 20, 2, 2]);
}

impl From<Vec<u32>> for Oid {
    fn from(arcs: Vec<u32>) -> Self {
        Oid(Cow::Owned(arcs))
    }
}

impl FromStr for Oid {
    type Err = EnrollError;

    /// Parses dotted decimal notation, e.g. `1.3.6.1.4.1.311.21.8.1.2`.
    fn from_str(s: &str) -> Result<Self, EnrollError> {
        let bad = || EnrollError::InvalidOid(s.to_owned());
        let arcs = s
            .split('.')
            .map(|a| {
                if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                a.parse::<u32>().map_err(|_| bad())
            })
            .collect::<Result<Vec<u32>, _>>()?;
        match arcs.as_slice() {
            [0 | 1, second, ..] if *second < 40 => {}
            [2, second, ..] if *second <= u32::MAX / 2 => {}
            _ => return Err(bad()),
        }
        Ok(Oid(Cow::Owned(arcs)))
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

// Constants used inside the crate, named as in their specifications.

/// rsaEncryption (RFC 8017).
pub(crate) const RSA_ENCRYPTION: &[u32] = &[1, 2, 840, 113549, 1, 1, 1];
/// id-ecPublicKey (RFC 5480).
pub(crate) const EC_PUBLIC_KEY: &[u32] = &[1, 2, 840, 10045, 2, 1];
/// secp256r1 (RFC 5480).
pub(crate) const SECP256R1: &[u32] = &[1, 2, 840, 10045, 3, 1, 7];
/// secp384r1 (RFC 5480).
pub(crate) const SECP384R1: &[u32] = &[1, 3, 132, 0, 34];
/// id-sha1.
pub(crate) const SHA1: &[u32] = &[1, 3, 14, 3, 2, 26];
/// id-sha256.
pub(crate) const SHA256: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
/// id-sha384.
pub(crate) const SHA384: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];
/// id-sha512.
pub(crate) const SHA512: &[u32] = &[2, 16, 840, 1, 101, 3, 4, 2, 3];
/// sha1WithRSAEncryption and its SHA-2 siblings (RFC 8017 appendix C).
pub(crate) const SHA1_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 5];
pub(crate) const SHA256_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 11];
pub(crate) const SHA384_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 12];
pub(crate) const SHA512_WITH_RSA: &[u32] = &[1, 2, 840, 113549, 1, 1, 13];
/// ecdsa-with-SHA1 (RFC 3279) and ecdsa-with-SHA2 (RFC 5758).
pub(crate) const ECDSA_WITH_SHA1: &[u32] = &[1, 2, 840, 10045, 4, 1];
pub(crate) const ECDSA_WITH_SHA256: &[u32] = &[1, 2, 840, 10045, 4, 3, 2];
pub(crate) const ECDSA_WITH_SHA384: &[u32] = &[1, 2, 840, 10045, 4, 3, 3];
pub(crate) const ECDSA_WITH_SHA512: &[u32] = &[1, 2, 840, 10045, 4, 3, 4];

/// PKCS#9 attributes (RFC 2985): e-mail address, content type, message digest,
/// extension request.
pub(crate) const EMAIL_ADDRESS: &[u32] = &[1, 2, 840, 113549, 1, 9, 1];
pub(crate) const CONTENT_TYPE: &[u32] = &[1, 2, 840, 113549, 1, 9, 3];
pub(crate) const MESSAGE_DIGEST: &[u32] = &[1, 2, 840, 113549, 1, 9, 4];
pub(crate) const EXTENSION_REQUEST: &[u32] = &[1, 2, 840, 113549, 1, 9, 14];

/// CMS content types (RFC 5652) and the CMC PKIData content type (RFC 5272).
pub(crate) const SIGNED_DATA: &[u32] = &[1, 2, 840, 113549, 1, 7, 2];
pub(crate) const PKI_DATA: &[u32] = &[1, 3, 6, 1, 5, 5, 7, 12, 2];

/// Certificate extensions (RFC 5280).
pub(crate) const KEY_USAGE: &[u32] = &[2, 5, 29, 15];
pub(crate) const SUBJECT_ALT_NAME: &[u32] = &[2, 5, 29, 17];
pub(crate) const EXT_KEY_USAGE: &[u32] = &[2, 5, 29, 37];

/// Microsoft: UPN other name, template name (V1), template OID (V2), CSP information,
/// enrollment name-value pair, CMC add-attributes control ([MS-WCCE] 2.2.2.7).
pub(crate) const MS_UPN: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];
pub(crate) const MS_ENROLL_CERTTYPE: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 20, 2];
pub(crate) const MS_CERTIFICATE_TEMPLATE: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 21, 7];
pub(crate) const MS_ENROLLMENT_CSP_PROVIDER: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 13, 2, 2];
pub(crate) const MS_ENROLLMENT_NAME_VALUE_PAIR: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 13, 2, 1];
pub(crate) const MS_CMC_ADD_ATTRIBUTES: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 10, 10, 1];

#[cfg(test)]
mod tests {
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
}
