//! A signer over a key held in memory.

use softcard::crypto::{CardRng, HashAlg, PrivateKey, PublicKey};

use crate::EnrollError;
use crate::signer::RequestSigner;

/// A [`RequestSigner`] over a [`PrivateKey`] in memory: enrollment without a card, or
/// with the key of a card image signed outside the card. It does what a card-backed signer
/// does, hashing and building the DigestInfo on the host, then calling the key's PKCS#1
/// v1.5 or ECDSA operation.
pub struct KeySigner<'k, R> {
    key: &'k PrivateKey,
    rng: R,
}

impl<'k, R: CardRng> KeySigner<'k, R> {
    /// A signer over `key`, drawing blinding and nonce randomness from `rng`.
    pub fn new(key: &'k PrivateKey, rng: R) -> Self {
        KeySigner { key, rng }
    }
}

impl<R> core::fmt::Debug for KeySigner<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeySigner")
            .field("key", self.key)
            .finish_non_exhaustive()
    }
}

impl<R: CardRng> RequestSigner for KeySigner<'_, R> {
    fn public_key(&self) -> &PublicKey {
        self.key.public()
    }

    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError> {
        let digest = hash.digest(message);
        let signature = match self.key.public() {
            PublicKey::Rsa { .. } => self
                .key
                .rsa_sign_pkcs1v15(&hash.digest_info(&digest), &mut self.rng),
            PublicKey::P256 { .. } | PublicKey::P384 { .. } => {
                self.key.ecdsa_sign(&digest, &mut self.rng)
            }
            PublicKey::Ed25519 { .. } | PublicKey::X25519 { .. } => {
                Err(softcard::crypto::CryptoError::WrongKeyType)
            }
        };
        signature.map_err(|e| EnrollError::Signer(Box::new(e)))
    }
}
