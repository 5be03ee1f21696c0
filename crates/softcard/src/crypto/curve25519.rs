//! Ed25519 (RFC 8032) and X25519 (RFC 7748) keys, with `ed25519-dalek` and `x25519-dalek`.
//! Pure Rust and the same for every backend: both backends generate and load these keys
//! here. Secrets are zeroized when dropped (the dalek keys' `zeroize` feature, and the
//! buffers here).

use ed25519_dalek::Signer;
use zeroize::Zeroizing;

use super::{CardRng, CryptoError, KeyAlgorithm, KeyMaterial, PrivateKeyOps, PublicKey};

/// New key material of `alg` (Ed25519 or X25519): 32 random bytes.
///
/// # Errors
/// [`CryptoError::WrongKeyType`] for another algorithm.
pub(super) fn generate(
    alg: KeyAlgorithm,
    rng: &mut dyn CardRng,
) -> Result<KeyMaterial, CryptoError> {
    let mut bytes = vec![0u8; 32];
    rng.fill_bytes(&mut bytes);
    match alg {
        KeyAlgorithm::Ed25519 => Ok(KeyMaterial::Ed25519 { seed: bytes }),
        KeyAlgorithm::X25519 => Ok(KeyMaterial::X25519 { k: bytes }),
        _ => {
            zeroize::Zeroize::zeroize(&mut bytes);
            Err(CryptoError::WrongKeyType)
        }
    }
}

/// The 32 bytes of `material`, in a buffer wiped when dropped.
fn secret32(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(CryptoError::InvalidKey);
    }
    out.copy_from_slice(bytes);
    Ok(out)
}

/// Loads Ed25519 or X25519 material.
///
/// # Errors
/// [`CryptoError::InvalidKey`] for a key of another length; [`CryptoError::WrongKeyType`]
/// for other material.
pub(super) fn load(material: &KeyMaterial) -> Result<Box<dyn PrivateKeyOps>, CryptoError> {
    Ok(match material {
        KeyMaterial::Ed25519 { seed } => {
            let key = ed25519_dalek::SigningKey::from_bytes(&*secret32(seed)?);
            let public = PublicKey::Ed25519 {
                point: key.verifying_key().to_bytes().to_vec(),
            };
            Box::new(Ed25519Key { key, public })
        }
        KeyMaterial::X25519 { k } => {
            let key = x25519_dalek::StaticSecret::from(*secret32(k)?);
            let public = PublicKey::X25519 {
                point: x25519_dalek::PublicKey::from(&key).to_bytes().to_vec(),
            };
            Box::new(X25519Key { key, public })
        }
        _ => return Err(CryptoError::WrongKeyType),
    })
}

struct Ed25519Key {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl PrivateKeyOps for Ed25519Key {
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::Ed25519
    }

    fn public(&self) -> &PublicKey {
        &self.public
    }

    fn ed25519_sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(self.key.sign(message).to_bytes().to_vec())
    }
}

struct X25519Key {
    key: x25519_dalek::StaticSecret,
    public: PublicKey,
}

impl PrivateKeyOps for X25519Key {
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::X25519
    }

    fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The shared secret with a 32-byte peer key; [`CryptoError::InvalidInput`] for
    /// another length, or a peer key of small order (an all-zero secret, RFC 7748
    /// section 6.1).
    fn ecdh(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let peer: [u8; 32] = peer_point
            .try_into()
            .map_err(|_| CryptoError::InvalidInput)?;
        let shared = self
            .key
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(CryptoError::InvalidInput);
        }
        Ok(Zeroizing::new(shared.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, test 1: the empty message.
    #[test]
    fn ed25519_rfc8032_test_1() {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let key = load(&KeyMaterial::Ed25519 { seed }).unwrap();
        assert_eq!(
            key.public(),
            &PublicKey::Ed25519 {
                point: hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            }
        );
        assert_eq!(
            key.ed25519_sign(b"").unwrap(),
            hex(concat!(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
                "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ))
        );
        assert_eq!(key.ecdh(&[9; 32]), Err(CryptoError::WrongKeyType));
    }

    /// RFC 7748 section 6.1: Alice and Bob agree.
    #[test]
    fn x25519_rfc7748_section_6_1() {
        let alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob_public = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let key = load(&KeyMaterial::X25519 { k: alice }).unwrap();
        assert_eq!(
            key.public(),
            &PublicKey::X25519 {
                point: hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
            }
        );
        assert_eq!(
            *key.ecdh(&bob_public).unwrap(),
            hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        );
        assert_eq!(
            key.ecdh(&[0; 32]),
            Err(CryptoError::InvalidInput),
            "small order"
        );
        assert_eq!(key.ecdh(&[9; 31]), Err(CryptoError::InvalidInput));
        assert_eq!(key.ed25519_sign(b"x"), Err(CryptoError::WrongKeyType));
    }

    #[test]
    fn wrong_lengths_are_invalid_keys() {
        assert!(load(&KeyMaterial::Ed25519 { seed: vec![1; 31] }).is_err());
        assert!(load(&KeyMaterial::X25519 { k: vec![1; 33] }).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
}
