//! The administrator key's block ciphers in CBC mode with a zero IV, as the GIDS mutual
//! authentication uses them (3DES-EDE3 with three keys, or AES).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{
    Status,
    crypto::sym::{SymAlg, SymKey},
};

/// Which cipher an administrator key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum SymKind {
    /// Three-key triple DES (24 bytes).
    Tdes,
    /// AES-128, AES-192 or AES-256 (16, 24 or 32 bytes).
    Aes,
}

impl SymKind {
    /// The cipher's block length in bytes.
    pub(super) const fn block_len(self) -> usize {
        match self {
            SymKind::Tdes => 8,
            SymKind::Aes => 16,
        }
    }

    /// Whether `len` is a key length of this cipher.
    pub(super) const fn accepts_key_len(self, len: usize) -> bool {
        match self {
            SymKind::Tdes => len == 24,
            SymKind::Aes => matches!(len, 16 | 24 | 32),
        }
    }

    /// The GIDS algorithm name used in reports.
    pub(super) const fn name(self) -> &'static str {
        match self {
            SymKind::Tdes => "3DES",
            SymKind::Aes => "AES",
        }
    }
}

/// Encrypts or decrypts `data` (a whole number of blocks) in CBC mode with a zero IV.
///
/// # Errors
/// [`Status::WrongData`] (6A80) for data that is not a whole number of blocks;
/// [`Status::ReferenceDataNotUsable`] (6984) for a key of the wrong length.
pub(super) fn cbc(
    kind: SymKind,
    key: &[u8],
    data: &[u8],
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, Status> {
    let alg = match (kind, key.len()) {
        (SymKind::Tdes, 24) => SymAlg::Tdes,
        (SymKind::Aes, 16) => SymAlg::Aes128,
        (SymKind::Aes, 24) => SymAlg::Aes192,
        (SymKind::Aes, 32) => SymAlg::Aes256,
        _ => return Err(Status::ReferenceDataNotUsable),
    };
    let key = SymKey::from_bytes(alg, key).map_err(|_| Status::ReferenceDataNotUsable)?;
    if data.is_empty() || !data.len().is_multiple_of(alg.block_len()) {
        return Err(Status::WrongData);
    }
    let mut out = Zeroizing::new(data.to_vec());
    if encrypt {
        key.cbc_encrypt(&mut out)
    } else {
        key.cbc_decrypt(&mut out)
    }
    .map_err(|_| Status::WrongData)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_round_trips_and_chains() {
        let key = crate::options::DEFAULT_ADMIN_KEY;
        let data: Vec<u8> = (0..40).collect();
        let enc = cbc(SymKind::Tdes, &key, &data, true).unwrap();
        assert_ne!(&enc[..], &data[..]);
        // Two equal plaintext blocks encrypt differently in CBC mode.
        let same = cbc(SymKind::Tdes, &key, &[7u8; 16], true).unwrap();
        assert_ne!(same[..8], same[8..]);
        assert_eq!(
            &cbc(SymKind::Tdes, &key, &enc, false).unwrap()[..],
            &data[..]
        );
        let aes_key = [9u8; 16];
        let enc = cbc(SymKind::Aes, &aes_key, &data[..32], true).unwrap();
        assert_eq!(
            &cbc(SymKind::Aes, &aes_key, &enc, false).unwrap()[..],
            &data[..32]
        );
        assert_eq!(
            cbc(SymKind::Tdes, &key, &data[..7], true),
            Err(Status::WrongData)
        );
    }
}
