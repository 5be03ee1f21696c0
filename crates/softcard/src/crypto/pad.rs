//! RSA encoding and padding removal written out here so that every backend shares them:
//! EMSA-PKCS1-v1_5 for signatures, and the constant-time checks of PKCS#1 v1.5 and OAEP
//! decryption (RFC 8017 sections 7.1.2 and 7.2.2), which report bad padding as
//! [`CryptoError::Decryption`] after the whole block has been examined.

use sha2::Digest;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

use super::{CryptoError, HashAlg};

/// EMSA-PKCS1-v1_5 (RFC 8017 section 9.2 step 5): `00 01 FF..FF 00 || t` in `k` bytes.
pub(super) fn pkcs1v15_sign_block(t: &[u8], k: usize) -> Result<Vec<u8>, CryptoError> {
    let ps_len = k
        .checked_sub(t.len().saturating_add(3))
        .filter(|n| *n >= 8)
        .ok_or(CryptoError::InvalidInput)?;
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.extend(core::iter::repeat_n(0xff, ps_len));
    em.push(0x00);
    em.extend_from_slice(t);
    Ok(em)
}

/// The payload `t` of an EMSA-PKCS1-v1_5 signature block `00 01 FF..FF 00 || t` (at least
/// eight FF bytes), or `None` if `em` is not one. Signature inputs are public: no need for
/// constant time here.
#[cfg_attr(not(feature = "aws-lc"), allow(dead_code))]
pub(super) fn pkcs1v15_sign_payload(em: &[u8]) -> Option<&[u8]> {
    let rest = em.strip_prefix(&[0x00, 0x01])?;
    let ps_len = rest.iter().take_while(|b| **b == 0xFF).count();
    let after = rest.get(ps_len..)?;
    match after.split_first() {
        Some((0x00, t)) if ps_len >= 8 => Some(t),
        _ => None,
    }
}

/// Removes PKCS#1 v1.5 encryption padding (RFC 8017 section 7.2.2 step 3) from a decrypted
/// block. The padding is checked in constant time; only the final verdict branches.
pub(super) fn pkcs1v15_unpad(em: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if em.len() < 11 {
        return Err(CryptoError::Decryption);
    }
    let first = em.first().copied().unwrap_or(0xff);
    let second = em.get(1).copied().unwrap_or(0);
    let mut good = first.ct_eq(&0) & second.ct_eq(&2);
    let mut looking = Choice::from(1);
    let mut separator = 0u32;
    for (i, b) in (0u32..).zip(em.iter()).skip(2) {
        let zero = b.ct_eq(&0);
        separator.conditional_assign(&i, looking & zero);
        looking &= !zero;
    }
    // Found a separator, after at least eight padding bytes (so at index 10 or later).
    good &= !looking & separator.ct_gt(&9);
    if !bool::from(good) {
        return Err(CryptoError::Decryption);
    }
    let start = usize::try_from(separator)
        .ok()
        .and_then(|s| s.checked_add(1))
        .ok_or(CryptoError::Decryption)?;
    let message = em.get(start..).ok_or(CryptoError::Decryption)?;
    Ok(Zeroizing::new(message.to_vec()))
}

/// `out ^= MGF1(seed)` (RFC 8017 appendix B.2.1).
fn mgf1_xor<D: Digest>(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(<D as Digest>::output_size())) {
        let mask = D::new()
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize();
        chunk.iter_mut().zip(mask.iter()).for_each(|(o, m)| *o ^= m);
    }
}

/// Removes OAEP padding with the empty label (RFC 8017 section 7.1.2 step 3) from a
/// decrypted block `em` (modified in place).
pub(super) fn oaep_unpad(hash: HashAlg, em: &mut [u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    match hash {
        HashAlg::Sha1 => oaep_unpad_with::<sha1::Sha1>(em),
        HashAlg::Sha256 => oaep_unpad_with::<sha2::Sha256>(em),
        HashAlg::Sha384 => oaep_unpad_with::<sha2::Sha384>(em),
        HashAlg::Sha512 => oaep_unpad_with::<sha2::Sha512>(em),
    }
}

fn oaep_unpad_with<D: Digest>(em: &mut [u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let h_len = <D as Digest>::output_size();
    if em.len() < h_len.saturating_mul(2).saturating_add(2) {
        return Err(CryptoError::Decryption);
    }
    let (y, rest) = em.split_first_mut().ok_or(CryptoError::Decryption)?;
    let (seed, db) = rest
        .split_at_mut_checked(h_len)
        .ok_or(CryptoError::Decryption)?;
    mgf1_xor::<D>(seed, db);
    mgf1_xor::<D>(db, seed);
    let label_hash = D::digest([]);
    let (db_hash, tail) = db.split_at_checked(h_len).ok_or(CryptoError::Decryption)?;
    let mut good = y.ct_eq(&0) & db_hash.ct_eq(label_hash.as_slice());
    // tail = PS (zeros) || 01 || M
    let mut looking = Choice::from(1);
    let mut separator = 0u32;
    for (i, b) in (0u32..).zip(tail.iter()) {
        let one = b.ct_eq(&1);
        separator.conditional_assign(&i, looking & one);
        good &= !looking | one | b.ct_eq(&0);
        looking &= !one;
    }
    good &= !looking;
    if !bool::from(good) {
        return Err(CryptoError::Decryption);
    }
    let start = usize::try_from(separator)
        .ok()
        .and_then(|s| s.checked_add(1))
        .ok_or(CryptoError::Decryption)?;
    let message = tail.get(start..).ok_or(CryptoError::Decryption)?;
    Ok(Zeroizing::new(message.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpad_accepts_good_and_rejects_bad_blocks() {
        let mut em = vec![0x00, 0x02];
        em.extend_from_slice(&[0x55; 8]);
        em.push(0x00);
        em.extend_from_slice(b"secret");
        assert_eq!(pkcs1v15_unpad(&em).unwrap().as_slice(), b"secret");

        let mut wrong_type = em.clone();
        wrong_type[1] = 0x01;
        assert_eq!(pkcs1v15_unpad(&wrong_type), Err(CryptoError::Decryption));
        let mut leading = em.clone();
        leading[0] = 0x01;
        assert_eq!(pkcs1v15_unpad(&leading), Err(CryptoError::Decryption));
        let mut short_ps = em.clone();
        short_ps[9] = 0x00;
        assert_eq!(pkcs1v15_unpad(&short_ps), Err(CryptoError::Decryption));
        let no_separator = [
            0x00, 0x02, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 1,
        ];
        assert_eq!(pkcs1v15_unpad(&no_separator), Err(CryptoError::Decryption));
        // An empty message is valid.
        let mut empty = vec![0x00, 0x02];
        empty.extend_from_slice(&[0x55; 9]);
        empty.push(0x00);
        assert_eq!(pkcs1v15_unpad(&empty).unwrap().len(), 0);
    }

    #[test]
    fn sign_block_layout() {
        let em = pkcs1v15_sign_block(&[0xaa, 0xbb], 16).unwrap();
        assert_eq!(
            em,
            [
                0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0xaa,
                0xbb
            ]
        );
        assert_eq!(
            pkcs1v15_sign_block(&[0; 6], 16),
            Err(CryptoError::InvalidInput)
        );
    }
}
