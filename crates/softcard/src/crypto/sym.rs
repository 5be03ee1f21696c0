//! Symmetric block ciphers for administrator and management keys: 3DES and AES.
//!
//! PIV card management keys answer a challenge with one block in ECB mode
//! (SP 800-73-4 Part 2 section 3.2.4, GENERAL AUTHENTICATE); the GIDS administrator key
//! uses 3DES in CBC mode with a zero IV for mutual authentication. Only whole blocks are
//! processed: these protocols never pad.

use core::fmt;

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;

/// A symmetric algorithm for administrator and management keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SymAlg {
    /// Triple DES, three keys (EDE), 24-byte key, 8-byte block (SP 800-67).
    Tdes,
    /// AES-128, 16-byte key, 16-byte block.
    Aes128,
    /// AES-192, 24-byte key.
    Aes192,
    /// AES-256, 32-byte key.
    Aes256,
}

impl SymAlg {
    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            SymAlg::Tdes | SymAlg::Aes192 => 24,
            SymAlg::Aes128 => 16,
            SymAlg::Aes256 => 32,
        }
    }

    /// Block length in bytes (8 for 3DES, 16 for AES).
    pub const fn block_len(self) -> usize {
        match self {
            SymAlg::Tdes => 8,
            _ => 16,
        }
    }

    /// Every algorithm.
    pub const ALL: [SymAlg; 4] = [SymAlg::Tdes, SymAlg::Aes128, SymAlg::Aes192, SymAlg::Aes256];

    /// Whether this is an AES algorithm.
    pub const fn is_aes(self) -> bool {
        !matches!(self, SymAlg::Tdes)
    }

    /// The algorithm of a `len`-byte key of 3DES (`aes` false: 24 bytes) or of AES (16, 24
    /// or 32 bytes): the one place the key length names the algorithm.
    pub fn with_key_len(aes: bool, len: usize) -> Option<SymAlg> {
        SymAlg::ALL
            .into_iter()
            .find(|alg| alg.is_aes() == aes && alg.key_len() == len)
    }

    /// A short name for reports: 3DES, AES-128, AES-192, AES-256.
    pub const fn name(self) -> &'static str {
        match self {
            SymAlg::Tdes => "3DES",
            SymAlg::Aes128 => "AES-128",
            SymAlg::Aes192 => "AES-192",
            SymAlg::Aes256 => "AES-256",
        }
    }
}

/// A symmetric key. Zeroized on drop; `Debug` shows the algorithm only.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
pub enum SymKey {
    /// Three-key 3DES (K1 || K2 || K3).
    Tdes([u8; 24]),
    /// AES-128.
    Aes128([u8; 16]),
    /// AES-192.
    Aes192([u8; 24]),
    /// AES-256.
    Aes256([u8; 32]),
}

impl fmt::Debug for SymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymKey::{:?}([REDACTED])", self.algorithm())
    }
}

/// What to do with the blocks.
#[derive(Clone, Copy)]
enum Mode {
    EcbEncrypt,
    EcbDecrypt,
    CbcEncrypt,
    CbcDecrypt,
}

impl SymKey {
    /// A key of `alg` from its bytes.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] if `bytes` is not [`SymAlg::key_len`] long.
    pub fn from_bytes(alg: SymAlg, bytes: &[u8]) -> Result<Self, CryptoError> {
        fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], CryptoError> {
            bytes.try_into().map_err(|_| CryptoError::InvalidKey)
        }
        Ok(match alg {
            SymAlg::Tdes => SymKey::Tdes(array(bytes)?),
            SymAlg::Aes128 => SymKey::Aes128(array(bytes)?),
            SymAlg::Aes192 => SymKey::Aes192(array(bytes)?),
            SymAlg::Aes256 => SymKey::Aes256(array(bytes)?),
        })
    }

    /// The key's algorithm.
    pub const fn algorithm(&self) -> SymAlg {
        match self {
            SymKey::Tdes(_) => SymAlg::Tdes,
            SymKey::Aes128(_) => SymAlg::Aes128,
            SymKey::Aes192(_) => SymAlg::Aes192,
            SymKey::Aes256(_) => SymAlg::Aes256,
        }
    }

    /// The key bytes (for writing a card image).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SymKey::Tdes(k) | SymKey::Aes192(k) => k,
            SymKey::Aes128(k) => k,
            SymKey::Aes256(k) => k,
        }
    }

    /// Block length in bytes.
    pub const fn block_len(&self) -> usize {
        self.algorithm().block_len()
    }

    /// Encrypts one block in place (ECB).
    ///
    /// # Errors
    /// [`CryptoError::InvalidInput`] if `block` is not one block long.
    pub fn encrypt_block(&self, block: &mut [u8]) -> Result<(), CryptoError> {
        self.one_block(block, Mode::EcbEncrypt)
    }

    /// Decrypts one block in place (ECB).
    ///
    /// # Errors
    /// [`CryptoError::InvalidInput`] if `block` is not one block long.
    pub fn decrypt_block(&self, block: &mut [u8]) -> Result<(), CryptoError> {
        self.one_block(block, Mode::EcbDecrypt)
    }

    /// Encrypts whole blocks in place in CBC mode with a zero IV.
    ///
    /// # Errors
    /// [`CryptoError::InvalidInput`] if `data` is empty or not a whole number of blocks.
    pub fn cbc_encrypt(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.run(data, Mode::CbcEncrypt)
    }

    /// Decrypts whole blocks in place in CBC mode with a zero IV.
    ///
    /// # Errors
    /// [`CryptoError::InvalidInput`] if `data` is empty or not a whole number of blocks.
    pub fn cbc_decrypt(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.run(data, Mode::CbcDecrypt)
    }

    fn one_block(&self, block: &mut [u8], mode: Mode) -> Result<(), CryptoError> {
        if block.len() != self.block_len() {
            return Err(CryptoError::InvalidInput);
        }
        self.run(block, mode)
    }

    fn run(&self, data: &mut [u8], mode: Mode) -> Result<(), CryptoError> {
        if data.is_empty() || !data.len().is_multiple_of(self.block_len()) {
            return Err(CryptoError::InvalidInput);
        }
        match self {
            SymKey::Tdes(k) => blocks::<des::TdesEde3>(k, data, mode),
            SymKey::Aes128(k) => blocks::<aes::Aes128>(k, data, mode),
            SymKey::Aes192(k) => blocks::<aes::Aes192>(k, data, mode),
            SymKey::Aes256(k) => blocks::<aes::Aes256>(k, data, mode),
        }
    }
}

/// Runs `mode` over `data` (whole blocks) with cipher `C` keyed by `key`.
fn blocks<C>(key: &[u8], data: &mut [u8], mode: Mode) -> Result<(), CryptoError>
where
    C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt,
{
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::InvalidKey)?;
    let mut chain = Array::<u8, C::BlockSize>::default();
    let mut saved = Array::<u8, C::BlockSize>::default();
    for chunk in data.chunks_exact_mut(C::block_size()) {
        let block: &mut Array<u8, C::BlockSize> =
            chunk.try_into().map_err(|_| CryptoError::InvalidInput)?;
        match mode {
            Mode::EcbEncrypt => cipher.encrypt_block(block),
            Mode::EcbDecrypt => cipher.decrypt_block(block),
            Mode::CbcEncrypt => {
                xor(block, &chain);
                cipher.encrypt_block(block);
                chain.copy_from_slice(block);
            }
            Mode::CbcDecrypt => {
                saved.copy_from_slice(block);
                cipher.decrypt_block(block);
                xor(block, &chain);
                chain.copy_from_slice(&saved);
            }
        }
    }
    chain.zeroize();
    saved.zeroize();
    Ok(())
}

fn xor(block: &mut [u8], mask: &[u8]) {
    block.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
}

/// Compares two byte strings in constant time (for the length of the shorter one; a length
/// mismatch is not secret). Use it for every authentication response or cryptogram check.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecb(alg: SymAlg, key: &[u8], data: &[u8], encrypt: bool) -> Result<Vec<u8>, CryptoError> {
        let key = SymKey::from_bytes(alg, key)?;
        let mut out = data.to_vec();
        for block in out.chunks_mut(alg.block_len()) {
            if encrypt {
                key.encrypt_block(block)?;
            } else {
                key.decrypt_block(block)?;
            }
        }
        Ok(out)
    }

    #[test]
    fn ecb_known_answers() {
        // FIPS 197 appendix C.1 (AES-128).
        let key = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let pt = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        let ct = ecb(SymAlg::Aes128, &key, &pt, true).unwrap();
        assert_eq!(hex::encode(&ct), "69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(ecb(SymAlg::Aes128, &key, &ct, false).unwrap(), pt);
        // Triple DES with three equal keys is single DES: the classic DES test vector.
        let k = hex::decode("133457799BBCDFF1").unwrap().repeat(3);
        let ct = ecb(
            SymAlg::Tdes,
            &k,
            &hex::decode("0123456789ABCDEF").unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(hex::encode_upper(&ct), "85E813540F0AB405");
        assert_eq!(
            ecb(SymAlg::Tdes, &k, &[0; 7], true),
            Err(CryptoError::InvalidInput)
        );
        assert_eq!(
            ecb(SymAlg::Aes256, &key, &pt, true),
            Err(CryptoError::InvalidKey)
        );
    }

    #[test]
    fn cbc_round_trips_and_chains() {
        let key = SymKey::from_bytes(SymAlg::Tdes, &crate::options::DEFAULT_ADMIN_KEY).unwrap();
        let data: Vec<u8> = (0..40).collect();
        let mut enc = data.clone();
        key.cbc_encrypt(&mut enc).unwrap();
        assert_ne!(enc, data);
        // Two equal plaintext blocks encrypt differently in CBC mode.
        let mut same = [7u8; 16];
        key.cbc_encrypt(&mut same).unwrap();
        assert_ne!(same[..8], same[8..]);
        key.cbc_decrypt(&mut enc).unwrap();
        assert_eq!(enc, data);
        let aes = SymKey::from_bytes(SymAlg::Aes128, &[9u8; 16]).unwrap();
        let mut enc = data[..32].to_vec();
        aes.cbc_encrypt(&mut enc).unwrap();
        aes.cbc_decrypt(&mut enc).unwrap();
        assert_eq!(enc, data[..32]);
        assert_eq!(
            key.cbc_encrypt(&mut data[..7].to_vec()),
            Err(CryptoError::InvalidInput)
        );
    }

    #[test]
    fn the_key_length_names_the_algorithm() {
        assert_eq!(SymAlg::with_key_len(false, 24), Some(SymAlg::Tdes));
        assert_eq!(SymAlg::with_key_len(false, 16), None);
        assert_eq!(SymAlg::with_key_len(true, 16), Some(SymAlg::Aes128));
        assert_eq!(SymAlg::with_key_len(true, 24), Some(SymAlg::Aes192));
        assert_eq!(SymAlg::with_key_len(true, 32), Some(SymAlg::Aes256));
        assert_eq!(SymAlg::with_key_len(true, 8), None);
    }
}
