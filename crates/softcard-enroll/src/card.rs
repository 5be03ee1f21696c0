//! The host side of a card signature: what a card-backed [`RequestSigner`] computes before
//! and after the card's private-key operation.
//!
//! Cards offer the private key in three shapes, and [`CardSigner`] turns each into a
//! request signature:
//!
//! | [`CardOperation`] | the card is sent | used by |
//! |---|---|---|
//! | `RsaRaw` | the EMSA-PKCS1-v1_5 block, modulus length | PIV GENERAL AUTHENTICATE (SP 800-73-4 part 2, 3.2.4) |
//! | `RsaDigestInfo` | the DigestInfo; the card pads | GIDS PSO: COMPUTE DIGITAL SIGNATURE (ISO 7816-8, 11) |
//! | `Ecdsa` | the digest; the card answers DER or `r ‖ s` | PIV GENERAL AUTHENTICATE, GIDS PSO: CDS |

use der::asn1::UintRef;
use der::{Decode as _, Encode as _, Sequence};
use softcard::crypto::{HashAlg, PublicKey};

use crate::{EnrollError, RequestSigner};
use softcard::crypto::trim_leading_zeros;

/// What the card's signing command takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardOperation {
    /// The raw RSA private operation on a block the host has padded.
    RsaRaw,
    /// RSA PKCS#1 v1.5 signing of a DigestInfo, padded by the card.
    RsaDigestInfo,
    /// ECDSA of a digest; the card answers DER `Ecdsa-Sig-Value` or plain `r ‖ s`.
    Ecdsa,
}

/// A [`RequestSigner`] whose private operation is a call `op(input) -> output` to a card
/// (an APDU exchange), with hashing, padding and encoding done on the host.
pub struct CardSigner<F> {
    public: PublicKey,
    operation: CardOperation,
    op: F,
}

impl<F> CardSigner<F>
where
    F: FnMut(&[u8]) -> Result<Vec<u8>, EnrollError>,
{
    /// A signer for the container whose public key is `public`, reached through `op`.
    pub fn new(public: PublicKey, operation: CardOperation, op: F) -> Self {
        CardSigner {
            public,
            operation,
            op,
        }
    }
}

impl<F> core::fmt::Debug for CardSigner<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CardSigner")
            .field("public", &self.public)
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl<F> RequestSigner for CardSigner<F>
where
    F: FnMut(&[u8]) -> Result<Vec<u8>, EnrollError>,
{
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError> {
        let digest = hash.digest(message);
        match (self.operation, &self.public) {
            (CardOperation::RsaRaw, PublicKey::Rsa { n, .. }) => {
                let k = trim_leading_zeros(n).len();
                let block = pkcs1v15_block(&hash.digest_info(&digest), k)?;
                (self.op)(&block).map(|s| left_pad(s, k))
            }
            (CardOperation::RsaDigestInfo, PublicKey::Rsa { n, .. }) => {
                let k = trim_leading_zeros(n).len();
                (self.op)(&hash.digest_info(&digest)).map(|s| left_pad(s, k))
            }
            (CardOperation::Ecdsa, PublicKey::P256 { .. } | PublicKey::P384 { .. }) => {
                ecdsa_to_der((self.op)(&digest)?)
            }
            _ => Err(EnrollError::Signer(
                "the card operation does not fit the key type".into(),
            )),
        }
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 section 9.2): `00 01 FF..FF 00 || t` in `k` bytes.
fn pkcs1v15_block(t: &[u8], k: usize) -> Result<Vec<u8>, EnrollError> {
    let ps = k
        .checked_sub(t.len() + 3)
        .filter(|&n| n >= 8)
        .ok_or_else(|| EnrollError::Signer("RSA modulus too short for the hash".into()))?;
    let mut block = vec![0x00, 0x01];
    block.resize(2 + ps, 0xff);
    block.push(0x00);
    block.extend_from_slice(t);
    Ok(block)
}

/// An RSA signature as X.509 wants it: exactly the modulus length.
fn left_pad(signature: Vec<u8>, k: usize) -> Vec<u8> {
    let trimmed = trim_leading_zeros(&signature);
    if trimmed.len() >= k {
        return trimmed.to_vec();
    }
    let mut out = vec![0; k - trimmed.len()];
    out.extend_from_slice(trimmed);
    out
}

/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 section 2.2.3).
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// An ECDSA signature in DER: kept if it already is one, converted from `r ‖ s` otherwise.
fn ecdsa_to_der(signature: Vec<u8>) -> Result<Vec<u8>, EnrollError> {
    if EcdsaSigValue::from_der(&signature).is_ok() {
        return Ok(signature);
    }
    let bad = || EnrollError::Malformed("ECDSA signature from the card");
    if signature.is_empty() || !signature.len().is_multiple_of(2) {
        return Err(bad());
    }
    let (r, s) = signature.split_at(signature.len() / 2);
    EcdsaSigValue {
        r: UintRef::new(r).map_err(|_| bad())?,
        s: UintRef::new(s).map_err(|_| bad())?,
    }
    .to_der()
    .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_block_has_the_rfc_8017_layout() {
        let block = pkcs1v15_block(&[0xaa; 35], 64).unwrap();
        assert_eq!(block.len(), 64);
        assert_eq!(block[..2], [0, 1]);
        assert!(block[2..28].iter().all(|&b| b == 0xff));
        assert_eq!(block[28], 0);
        assert_eq!(block[29..], [0xaa; 35]);
        assert!(
            pkcs1v15_block(&[0; 60], 64).is_err(),
            "padding shorter than 8 bytes"
        );
    }

    #[test]
    fn raw_ecdsa_becomes_der_and_der_stays() {
        let mut raw = vec![0x80; 32];
        raw.extend_from_slice(&[0x01; 32]);
        let der = ecdsa_to_der(raw).unwrap();
        assert_eq!(der[..5], [0x30, 0x45, 0x02, 0x21, 0x00]);
        assert_eq!(ecdsa_to_der(der.clone()).unwrap(), der);
        assert!(ecdsa_to_der(vec![1, 2, 3]).is_err());
    }

    #[test]
    fn rsa_signatures_are_modulus_length() {
        assert_eq!(left_pad(vec![1, 2], 4), [0, 0, 1, 2]);
        assert_eq!(left_pad(vec![0, 9, 1, 2, 3], 4), [9, 1, 2, 3]);
    }
}
