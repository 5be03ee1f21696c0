//! SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7) to and from [`PublicKey`].

use softcard::crypto::{HashAlg, PublicKey};

use crate::der::{self, Reader, tag};
use crate::{EnrollError, oid};

/// The DER `SubjectPublicKeyInfo` of a key: RSA with NULL parameters (RFC 3279), P-256 and
/// P-384 as `id-ecPublicKey` with the named curve `secp256r1` or `secp384r1` (RFC 5480).
pub(crate) fn encode(key: &PublicKey) -> Vec<u8> {
    let (algorithm, bits) = match key {
        PublicKey::Rsa { n, e } => (
            der::seq(&[&der::oid(oid::RSA_ENCRYPTION), &der::null()]),
            der::seq(&[&der::uint(n), &der::uint(e)]),
        ),
        PublicKey::P256 { point } => (
            der::seq(&[&der::oid(oid::EC_PUBLIC_KEY), &der::oid(oid::SECP256R1)]),
            point.clone(),
        ),
        PublicKey::P384 { point } => (
            der::seq(&[&der::oid(oid::EC_PUBLIC_KEY), &der::oid(oid::SECP384R1)]),
            point.clone(),
        ),
    };
    der::seq(&[&algorithm, &der::bit_string(&bits)])
}

/// The key identifier of RFC 5280 section 4.2.1.2, method (1): the SHA-1 of the
/// `subjectPublicKey` bits. OpenSSL's `subjectKeyIdentifier=hash` computes the same.
pub(crate) fn key_identifier(key: &PublicKey) -> Vec<u8> {
    let bits = match key {
        PublicKey::Rsa { n, e } => der::seq(&[&der::uint(n), &der::uint(e)]),
        PublicKey::P256 { point } | PublicKey::P384 { point } => point.clone(),
    };
    HashAlg::Sha1.digest(&bits)
}

/// Reads a DER `SubjectPublicKeyInfo`. Returns `Ok(None)` for a well-formed key of an
/// algorithm this crate does not hold (RSA, P-256 and P-384 only).
///
/// # Errors
/// [`EnrollError::Malformed`] if the structure is broken.
pub(crate) fn decode(spki: &[u8]) -> Result<Option<PublicKey>, EnrollError> {
    const WHAT: &str = "SubjectPublicKeyInfo";
    let outer = Reader::new(spki).expect(tag::SEQUENCE, WHAT)?;
    let mut r = Reader::new(outer.content);
    let algorithm = r.expect(tag::SEQUENCE, WHAT)?;
    let bits = r.expect(tag::BIT_STRING, WHAT)?;
    let key = match bits.content.split_first() {
        Some((0, key)) => key,
        _ => return Err(EnrollError::Malformed(WHAT)),
    };
    let mut alg = Reader::new(algorithm.content);
    let alg_oid = alg.expect(tag::OID, WHAT)?;
    if alg_oid.raw == der::oid(oid::RSA_ENCRYPTION) {
        let seq = Reader::new(key).expect(tag::SEQUENCE, WHAT)?;
        let mut numbers = Reader::new(seq.content);
        let n = numbers.expect(tag::INTEGER, WHAT)?;
        let e = numbers.expect(tag::INTEGER, WHAT)?;
        return Ok(Some(PublicKey::Rsa {
            n: der::strip_leading_zeros(n.content).to_vec(),
            e: der::strip_leading_zeros(e.content).to_vec(),
        }));
    }
    if alg_oid.raw == der::oid(oid::EC_PUBLIC_KEY) {
        let curve = alg.optional(tag::OID, WHAT)?;
        let point = key.to_vec();
        if curve.is_some_and(|c| c.raw == der::oid(oid::SECP256R1)) {
            return Ok(Some(PublicKey::P256 { point }));
        }
        if curve.is_some_and(|c| c.raw == der::oid(oid::SECP384R1)) {
            return Ok(Some(PublicKey::P384 { point }));
        }
    }
    Ok(None)
}

/// Whether two keys are the same, ignoring leading zeros of RSA numbers.
pub(crate) fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    match (a, b) {
        (PublicKey::Rsa { n: n1, e: e1 }, PublicKey::Rsa { n: n2, e: e2 }) => {
            der::strip_leading_zeros(n1) == der::strip_leading_zeros(n2)
                && der::strip_leading_zeros(e1) == der::strip_leading_zeros(e2)
        }
        (PublicKey::P256 { point: p1 }, PublicKey::P256 { point: p2 })
        | (PublicKey::P384 { point: p1 }, PublicKey::P384 { point: p2 }) => p1 == p2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rsa_p256_and_p384() {
        let rsa = PublicKey::Rsa {
            n: vec![0xc1; 256],
            e: vec![1, 0, 1],
        };
        assert_eq!(decode(&encode(&rsa)).unwrap(), Some(rsa.clone()));
        let mut point = vec![4];
        point.extend_from_slice(&[7; 64]);
        let ec = PublicKey::P256 { point };
        assert_eq!(decode(&encode(&ec)).unwrap(), Some(ec.clone()));
        assert!(!same_key(&rsa, &ec));
        let mut point = vec![4];
        point.extend_from_slice(&[7; 96]);
        let p384 = PublicKey::P384 { point };
        let der = encode(&p384);
        // id-ecPublicKey with the named curve secp384r1 (1.3.132.0.34)
        let curve = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert!(der.windows(curve.len()).any(|w| w == curve));
        assert_eq!(decode(&der).unwrap(), Some(p384.clone()));
        assert!(!same_key(&ec, &p384));
        let padded = PublicKey::Rsa {
            n: [&[0u8][..], &[0xc1; 256]].concat(),
            e: vec![0, 1, 0, 1],
        };
        assert!(same_key(&rsa, &padded));
    }
}
