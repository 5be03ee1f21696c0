//! SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7) to and from [`PublicKey`], as the
//! `spki` and `pkcs1` crates encode it.

use der::asn1::{AnyRef, BitString, UintRef};
use der::{Decode as _, Encode as _};
use softcard::crypto::{HashAlg, KeyAlgorithm, PublicKey, trim_leading_zeros};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::{EnrollError, oid};

const WHAT: &str = "SubjectPublicKeyInfo";

/// The algorithm of a key: RSA by the size of its modulus, P-256, P-384.
///
/// # Errors
/// [`EnrollError::Unsupported`] for an RSA modulus of another size than 1024, 2048, 3072
/// or 4096 bits.
pub(crate) fn algorithm(key: &PublicKey) -> Result<KeyAlgorithm, EnrollError> {
    match key {
        PublicKey::Rsa { n, .. } => {
            let bits = trim_leading_zeros(n).len() * 8;
            KeyAlgorithm::rsa_with_bits(bits)
                .ok_or_else(|| EnrollError::Unsupported(format!("RSA-{bits}")))
        }
        PublicKey::P256 { .. } => Ok(KeyAlgorithm::P256),
        PublicKey::P384 { .. } => Ok(KeyAlgorithm::P384),
        PublicKey::Ed25519 { .. } => Ok(KeyAlgorithm::Ed25519),
        PublicKey::X25519 { .. } => Ok(KeyAlgorithm::X25519),
    }
}

/// The `subjectPublicKey` bits: the PKCS#1 `RSAPublicKey`, or the SEC1 point.
fn key_bits(key: &PublicKey) -> Result<Vec<u8>, EnrollError> {
    match key {
        PublicKey::Rsa { n, e } => {
            let malformed = |_| EnrollError::Malformed("RSA public key");
            pkcs1::RsaPublicKey {
                // `UintRef::new` drops the leading zeros itself.
                modulus: UintRef::new(n).map_err(malformed)?,
                public_exponent: UintRef::new(e).map_err(malformed)?,
            }
            .to_der()
            .map_err(malformed)
        }
        PublicKey::P256 { point }
        | PublicKey::P384 { point }
        | PublicKey::Ed25519 { point }
        | PublicKey::X25519 { point } => Ok(point.clone()),
    }
}

/// The `SubjectPublicKeyInfo` of a key: RSA with NULL parameters (RFC 3279), P-256 and
/// P-384 as `id-ecPublicKey` with the named curve `secp256r1` or `secp384r1` (RFC 5480).
///
/// # Errors
/// [`EnrollError::Malformed`] for a key too large to encode.
pub(crate) fn encode(key: &PublicKey) -> Result<SubjectPublicKeyInfoOwned, EnrollError> {
    let (oid, parameters) = match key {
        PublicKey::Rsa { .. } => (oid::RSA_ENCRYPTION, der::Any::null()),
        PublicKey::P256 { .. } => (oid::EC_PUBLIC_KEY, oid::SECP256R1.into()),
        PublicKey::P384 { .. } => (oid::EC_PUBLIC_KEY, oid::SECP384R1.into()),
        PublicKey::Ed25519 { .. } | PublicKey::X25519 { .. } => {
            return Err(EnrollError::Unsupported(
                "enrollment of Ed25519 and X25519 keys".into(),
            ));
        }
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid,
            parameters: Some(parameters),
        },
        subject_public_key: BitString::from_bytes(&key_bits(key)?)
            .map_err(|_| EnrollError::Malformed(WHAT))?,
    })
}

/// The key identifier of RFC 5280 section 4.2.1.2, method (1): the SHA-1 of the
/// `subjectPublicKey` bits. OpenSSL's `subjectKeyIdentifier=hash` computes the same.
///
/// # Errors
/// As [`encode`].
pub(crate) fn key_identifier(key: &PublicKey) -> Result<Vec<u8>, EnrollError> {
    Ok(HashAlg::Sha1.digest(&key_bits(key)?))
}

/// The key of a `SubjectPublicKeyInfo`. Returns `Ok(None)` for a well-formed key of an
/// algorithm this crate does not hold (RSA, P-256 and P-384 only).
///
/// # Errors
/// [`EnrollError::Malformed`] if the structure is broken.
pub(crate) fn decode(info: &SubjectPublicKeyInfoOwned) -> Result<Option<PublicKey>, EnrollError> {
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or(EnrollError::Malformed(WHAT))?;
    let algorithm = &info.algorithm;
    if algorithm.oid == oid::RSA_ENCRYPTION {
        let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(bits)
            .map_err(|_| EnrollError::Malformed(WHAT))?;
        return Ok(Some(PublicKey::Rsa {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        }));
    }
    if algorithm.oid == oid::EC_PUBLIC_KEY {
        let curve = algorithm.parameters.as_ref().and_then(|p| {
            AnyRef::from(p)
                .decode_as::<const_oid::ObjectIdentifier>()
                .ok()
        });
        let point = bits.to_vec();
        return Ok(match curve {
            Some(oid::SECP256R1) => Some(PublicKey::P256 { point }),
            Some(oid::SECP384R1) => Some(PublicKey::P384 { point }),
            _ => None,
        });
    }
    Ok(None)
}

/// Whether two keys are the same, ignoring leading zeros of RSA numbers.
pub(crate) fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    match (a, b) {
        (PublicKey::Rsa { n: n1, e: e1 }, PublicKey::Rsa { n: n2, e: e2 }) => {
            trim_leading_zeros(n1) == trim_leading_zeros(n2)
                && trim_leading_zeros(e1) == trim_leading_zeros(e2)
        }
        (PublicKey::P256 { point: p1 }, PublicKey::P256 { point: p2 })
        | (PublicKey::P384 { point: p1 }, PublicKey::P384 { point: p2 }) => p1 == p2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(key: &PublicKey) -> (Vec<u8>, Option<PublicKey>) {
        let der = encode(key).unwrap().to_der().unwrap();
        let back = decode(&SubjectPublicKeyInfoOwned::from_der(&der).unwrap()).unwrap();
        (der, back)
    }

    #[test]
    fn round_trips_rsa_p256_and_p384() {
        let rsa = PublicKey::Rsa {
            n: vec![0xc1; 256],
            e: vec![1, 0, 1],
        };
        assert_eq!(round_trip(&rsa).1, Some(rsa.clone()));
        let mut point = vec![4];
        point.extend_from_slice(&[7; 64]);
        let ec = PublicKey::P256 { point };
        assert_eq!(round_trip(&ec).1, Some(ec.clone()));
        assert!(!same_key(&rsa, &ec));
        let mut point = vec![4];
        point.extend_from_slice(&[7; 96]);
        let p384 = PublicKey::P384 { point };
        let (der, back) = round_trip(&p384);
        // id-ecPublicKey with the named curve secp384r1 (1.3.132.0.34)
        let curve = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert!(der.windows(curve.len()).any(|w| w == curve));
        assert_eq!(back, Some(p384.clone()));
        assert!(!same_key(&ec, &p384));
        let padded = PublicKey::Rsa {
            n: [&[0u8][..], &[0xc1; 256]].concat(),
            e: vec![0, 1, 0, 1],
        };
        assert!(same_key(&rsa, &padded));
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        let int = |b: &[u8]| UintRef::new(b).unwrap().to_der().unwrap();
        assert_eq!(int(&[0, 0, 0x7f]), [0x02, 1, 0x7f]);
        assert_eq!(int(&[0x80]), [0x02, 2, 0, 0x80]);
        // Zero (the hand-written encoder took an empty magnitude for it; `der` wants a byte).
        assert_eq!(int(&[0, 0]), [0x02, 1, 0]);
        assert_eq!(int(&65537u32.to_be_bytes()), [0x02, 3, 1, 0, 1]);
    }
}
