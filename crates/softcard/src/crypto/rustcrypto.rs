//! The RustCrypto backend: `rsa` 0.10 (blinded, constant-time) and `p256`.

use super::{CryptoBackend, BackendKind, CardRng, CryptoError, KeyAlgorithm, KeyMaterial, PrivateKeyOps};

/// The pure-Rust backend (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

impl CryptoBackend for RustCrypto {
    fn kind(&self) -> BackendKind {
        BackendKind::RustCrypto
    }

    fn generate(&self, _alg: KeyAlgorithm, _rng: &mut dyn CardRng) -> Result<KeyMaterial, CryptoError> {
        Err(CryptoError::Unsupported)
    }

    fn load(&self, _material: &KeyMaterial) -> Result<Box<dyn PrivateKeyOps>, CryptoError> {
        Err(CryptoError::Unsupported)
    }
}
