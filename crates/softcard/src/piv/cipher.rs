//! The management key's block ciphers (3DES and AES, from `crypto::sym`), block by block
//! in ECB mode, as GENERAL AUTHENTICATE with key 9B needs them.

use zeroize::Zeroizing;

use super::types::MgmtAlg;
use crate::{
    Status,
    crypto::sym::{SymAlg, SymKey},
};

/// Encrypts (`encrypt` true) or decrypts whole blocks of `data` with `key`, in ECB mode.
///
/// # Errors
/// [`Status::WrongData`] if the key or the data has the wrong length.
pub fn ecb(
    alg: MgmtAlg,
    key: &[u8],
    data: &[u8],
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, Status> {
    let alg = match alg {
        MgmtAlg::Tdes => SymAlg::Tdes,
        MgmtAlg::Aes128 => SymAlg::Aes128,
        MgmtAlg::Aes192 => SymAlg::Aes192,
        MgmtAlg::Aes256 => SymAlg::Aes256,
    };
    let key = SymKey::from_bytes(alg, key).map_err(|_| Status::WrongData)?;
    if data.is_empty() || !data.len().is_multiple_of(alg.block_len()) {
        return Err(Status::WrongData);
    }
    let mut out = Zeroizing::new(data.to_vec());
    for block in out.chunks_exact_mut(alg.block_len()) {
        let done = if encrypt {
            key.encrypt_block(block)
        } else {
            key.decrypt_block(block)
        };
        done.map_err(|_| Status::WrongData)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 197 appendix C.1 (AES-128).
        let key = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let pt = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        let ct = ecb(MgmtAlg::Aes128, &key, &pt, true).unwrap();
        assert_eq!(hex::encode(&*ct), "69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(&*ecb(MgmtAlg::Aes128, &key, &ct, false).unwrap(), &pt);
        // Triple DES with three equal keys is single DES: the classic DES test vector.
        let k = hex::decode("133457799BBCDFF1").unwrap().repeat(3);
        let ct = ecb(
            MgmtAlg::Tdes,
            &k,
            &hex::decode("0123456789ABCDEF").unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(hex::encode_upper(&*ct), "85E813540F0AB405");
        assert_eq!(
            ecb(MgmtAlg::Tdes, &k, &[0; 7], true),
            Err(Status::WrongData)
        );
        assert_eq!(
            ecb(MgmtAlg::Aes256, &key, &pt, true),
            Err(Status::WrongData)
        );
    }
}
