//! Card images encrypted at rest with a passphrase.
//!
//! A TPM virtual smart card's keys are bound to its chip; an image file is not bound to
//! anything, and holds the PIN, the PUK, the administrator or management key and every
//! private key. A sealed image wraps the whole plain image (the `SOFTCARD` envelope of
//! `docs/card-image-format.md`) in an authenticated encryption:
//!
//! - the key is derived from the passphrase with Argon2id (version 1.3), a memory-hard
//!   function, with a random 16-byte salt and the cost parameters recorded in the header;
//! - the image is encrypted with XChaCha20-Poly1305 under a random 24-byte nonce, new at
//!   every write, and the header is the associated data: a changed parameter, salt, nonce,
//!   length or ciphertext byte makes the image fail to open, as does a wrong passphrase.
//!
//! The derived key is kept (zeroized on drop) while the card lives, so each write costs one
//! encryption, not one derivation. The two failures an attacker can cause and a user can
//! make (a wrong passphrase, a modified file) are one error: the AEAD cannot tell them apart,
//! and a separate "passphrase check" value would only help a guesser.

use std::fmt;
use std::io::Read;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// The first eight bytes of a sealed image.
pub const SEAL_MAGIC: &[u8; 8] = b"SOFTSEAL";
/// The sealed-envelope version this build writes and reads.
pub const SEAL_VERSION: u16 = 1;
/// The header's length: everything before the ciphertext, all of it authenticated.
pub const SEAL_HEADER_LEN: usize = 68;
/// What sealing adds to a plain image: the header and the Poly1305 tag.
pub const SEAL_OVERHEAD: usize = SEAL_HEADER_LEN + TAG_LEN;

const KDF_ARGON2ID_13: u8 = 1;
const AEAD_XCHACHA20_POLY1305: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
/// The longest passphrase taken, in bytes.
pub const MAX_PASSPHRASE_LEN: usize = 1024;

/// A passphrase: bytes, zeroized on drop, never shown by `Debug`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// The environment variable naming a file that holds the passphrase.
pub const PASSPHRASE_FILE_VAR: &str = "SOFTCARD_PASSPHRASE_FILE";
/// The environment variable holding the passphrase itself (for CI secrets; `softcard exec`
/// does not pass it on to the command it runs).
pub const PASSPHRASE_VAR: &str = "SOFTCARD_PASSPHRASE";

impl Passphrase {
    /// A passphrase of these bytes.
    ///
    /// # Errors
    /// An empty passphrase, or one longer than [`MAX_PASSPHRASE_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err("the passphrase is empty".into());
        }
        if bytes.len() > MAX_PASSPHRASE_LEN {
            return Err(format!(
                "the passphrase is longer than {MAX_PASSPHRASE_LEN} bytes"
            ));
        }
        Ok(Passphrase(bytes))
    }

    /// The passphrase in the file at `path`: its bytes, without one final line end
    /// (`\n` or `\r\n`), as `echo` or an editor leaves it.
    ///
    /// # Errors
    /// The file cannot be read, is not a regular file, or holds no or too long a passphrase.
    /// The message names the file, never its content.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let name = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the passphrase file {name}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("the passphrase file {name} is not a regular file"));
        }
        let mut bytes = Zeroizing::new(Vec::new());
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(MAX_PASSPHRASE_LEN as u64 + 3)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| format!("cannot read the passphrase file {name}: {e}"))?;
        let mut len = bytes.len();
        if bytes.ends_with(b"\r\n") {
            len -= 2;
        } else if bytes.ends_with(b"\n") {
            len -= 1;
        }
        Passphrase::new(&bytes[..len]).map_err(|e| format!("{name}: {e}"))
    }

    /// The passphrase the environment gives: the file named by [`PASSPHRASE_FILE_VAR`], else
    /// the value of [`PASSPHRASE_VAR`]; `None` when neither is set.
    ///
    /// # Errors
    /// As [`Passphrase::from_file`], and an empty or too long value.
    pub fn from_env() -> Result<Option<Self>, String> {
        if let Some(file) = std::env::var_os(PASSPHRASE_FILE_VAR) {
            return Passphrase::from_file(Path::new(&file))
                .map(Some)
                .map_err(|e| format!("{PASSPHRASE_FILE_VAR}: {e}"));
        }
        match std::env::var_os(PASSPHRASE_VAR) {
            Some(value) => {
                use std::os::unix::ffi::OsStringExt;
                Passphrase::new(value.into_vec())
                    .map(Some)
                    .map_err(|e| format!("{PASSPHRASE_VAR}: {e}"))
            }
            None => Ok(None),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The Argon2id cost parameters of a sealed image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// What `softcard` writes: 64 MiB, 3 passes, 4 lanes (RFC 9106's second recommended
    /// setting), about a quarter of a second on one core of a small machine.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };
    /// The cheapest parameters accepted (8 MiB, 1 pass, 1 lane): for tests, which derive
    /// many keys; never what `softcard` writes.
    pub const CHEAPEST: KdfParams = KdfParams {
        memory_kib: KdfParams::MIN_MEMORY_KIB,
        iterations: 1,
        parallelism: 1,
    };
    /// The least memory accepted, in KiB (8 MiB).
    pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
    /// The most memory accepted, in KiB (1 GiB): a file cannot make a reader allocate more.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// The most passes accepted.
    pub const MAX_ITERATIONS: u32 = 16;
    /// The most lanes accepted.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Refuses parameters outside the accepted ranges, before any memory is taken.
    ///
    /// # Errors
    /// [`SealError::Params`].
    pub fn check(&self) -> Result<(), SealError> {
        let ok = (Self::MIN_MEMORY_KIB..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=Self::MAX_PARALLELISM).contains(&self.parallelism);
        if ok {
            Ok(())
        } else {
            Err(SealError::Params(*self))
        }
    }
}

/// Why a sealed image could not be opened or written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The file is shorter than its header says.
    Truncated,
    /// The file has bytes after its ciphertext.
    TrailingBytes,
    /// A sealed envelope of a newer version.
    UnsupportedVersion(u16),
    /// A key-derivation or cipher identifier this build does not know.
    UnknownAlgorithm,
    /// Cost parameters outside the accepted ranges ([`KdfParams::check`]).
    Params(KdfParams),
    /// The passphrase is wrong, or the file was modified: the authentication failed.
    Unseal,
    /// No randomness for a salt or a nonce.
    Random(String),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Truncated => f.write_str("the encrypted image is truncated"),
            SealError::TrailingBytes => {
                f.write_str("the encrypted image has bytes after its ciphertext")
            }
            SealError::UnsupportedVersion(v) => write!(
                f,
                "the encrypted image has envelope version {v}, newer than this softcard \
                 reads ({SEAL_VERSION})"
            ),
            SealError::UnknownAlgorithm => {
                f.write_str("the encrypted image names an unknown key derivation or cipher")
            }
            SealError::Params(p) => write!(
                f,
                "the encrypted image's Argon2id parameters (memory {} KiB, {} passes, {} \
                 lanes) are outside the accepted ranges (memory {}..={} KiB, 1..={} passes, \
                 1..={} lanes)",
                p.memory_kib,
                p.iterations,
                p.parallelism,
                KdfParams::MIN_MEMORY_KIB,
                KdfParams::MAX_MEMORY_KIB,
                KdfParams::MAX_ITERATIONS,
                KdfParams::MAX_PARALLELISM
            ),
            SealError::Unseal => f.write_str(
                "cannot decrypt the image: the passphrase is wrong, or the file was modified",
            ),
            SealError::Random(e) => write!(f, "no system randomness: {e}"),
        }
    }
}

impl std::error::Error for SealError {}

/// Whether `bytes` start as a sealed image does.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(SEAL_MAGIC)
}

/// A key derived from a passphrase, with the salt and parameters it was derived with: what
/// seals each new image of a card. Zeroized on drop; `Debug` shows the parameters only.
pub struct SealKey {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> Result<[u8; N], SealError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| SealError::Random(e.to_string()))?;
    Ok(out)
}

fn derive(
    passphrase: &Passphrase,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, SealError> {
    params.check()?;
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|_| SealError::Params(params))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.bytes(), salt, key.as_mut_slice())
        .map_err(|_| SealError::Params(params))?;
    Ok(key)
}

impl SealKey {
    /// A new key for `passphrase`, with a new random salt.
    ///
    /// # Errors
    /// [`SealError::Params`] for parameters out of range, [`SealError::Random`].
    pub fn new(passphrase: &Passphrase, params: KdfParams) -> Result<Self, SealError> {
        let salt = random::<SALT_LEN>()?;
        let key = derive(passphrase, &salt, params)?;
        Ok(SealKey { params, salt, key })
    }

    /// The parameters the key was derived with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// `image` encrypted under this key with a new random nonce: header then ciphertext.
    ///
    /// # Errors
    /// [`SealError::Random`]; [`SealError::Truncated`] for an image too large to record.
    pub fn seal(&self, image: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = random::<NONCE_LEN>()?;
        let len = u32::try_from(image.len() + TAG_LEN).map_err(|_| SealError::Truncated)?;
        let mut out = Vec::with_capacity(SEAL_HEADER_LEN + image.len() + TAG_LEN);
        out.extend_from_slice(SEAL_MAGIC);
        out.extend_from_slice(&SEAL_VERSION.to_be_bytes());
        out.push(KDF_ARGON2ID_13);
        out.push(AEAD_XCHACHA20_POLY1305);
        out.extend_from_slice(&self.params.memory_kib.to_be_bytes());
        out.extend_from_slice(&self.params.iterations.to_be_bytes());
        out.extend_from_slice(&self.params.parallelism.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&len.to_be_bytes());
        debug_assert_eq!(out.len(), SEAL_HEADER_LEN);
        let cipher = XChaCha20Poly1305::new((&*self.key).into());
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: image,
                    aad: &out,
                },
            )
            .map_err(|_| SealError::Truncated)?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed image with `passphrase`: the plain image (zeroized on drop), and the
    /// key that seals the card's next images (same salt and parameters, so the passphrase is
    /// not derived again).
    ///
    /// The header is checked before any key is derived: a file cannot make the reader spend
    /// more than [`KdfParams::MAX_MEMORY_KIB`] of memory.
    ///
    /// # Errors
    /// The [`SealError`] naming the first problem; [`SealError::Unseal`] for a wrong
    /// passphrase or a modified file.
    pub fn open(
        bytes: &[u8],
        passphrase: &Passphrase,
    ) -> Result<(Zeroizing<Vec<u8>>, SealKey), SealError> {
        let header = Header::parse(bytes)?;
        let key = derive(passphrase, &header.salt, header.params)?;
        let cipher = XChaCha20Poly1305::new((&*key).into());
        let plain = cipher
            .decrypt(
                &XNonce::from(header.nonce),
                Payload {
                    msg: &bytes[SEAL_HEADER_LEN..],
                    aad: &bytes[..SEAL_HEADER_LEN],
                },
            )
            .map_err(|_| SealError::Unseal)?;
        Ok((
            Zeroizing::new(plain),
            SealKey {
                params: header.params,
                salt: header.salt,
                key,
            },
        ))
    }
}

/// A sealed image's header, read without any secret: what `info` can say of an image
/// without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The key derivation's parameters.
    pub params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
}

impl Header {
    /// Reads and checks the header of the sealed image `bytes` (the whole file: its length
    /// is checked against the header's).
    ///
    /// # Errors
    /// The [`SealError`] naming the first problem, in file order.
    pub fn parse(bytes: &[u8]) -> Result<Header, SealError> {
        if bytes.len() < SEAL_HEADER_LEN || !is_sealed(bytes) {
            return Err(SealError::Truncated);
        }
        let u32_at = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[at..at + 4]);
            u32::from_be_bytes(b)
        };
        let version = u16::from_be_bytes([bytes[8], bytes[9]]);
        if version != SEAL_VERSION {
            return Err(SealError::UnsupportedVersion(version));
        }
        if bytes[10] != KDF_ARGON2ID_13 || bytes[11] != AEAD_XCHACHA20_POLY1305 {
            return Err(SealError::UnknownAlgorithm);
        }
        let params = KdfParams {
            memory_kib: u32_at(12),
            iterations: u32_at(16),
            parallelism: u32_at(20),
        };
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[24..24 + SALT_LEN]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[40..40 + NONCE_LEN]);
        let len = u32_at(64) as usize;
        let rest = bytes.len() - SEAL_HEADER_LEN;
        if len < TAG_LEN || rest < len {
            return Err(SealError::Truncated);
        }
        if rest > len {
            return Err(SealError::TrailingBytes);
        }
        Ok(Header {
            params,
            salt,
            nonce,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams::CHEAPEST;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn seals_and_opens() {
        let key = SealKey::new(&pass("correct horse"), FAST).unwrap();
        let image = b"SOFTCARD plain image with PIN 12345678".to_vec();
        let sealed = key.seal(&image).unwrap();
        assert_eq!(sealed.len(), image.len() + SEAL_OVERHEAD);
        assert!(is_sealed(&sealed));
        assert!(
            !sealed.windows(8).any(|w| w == b"12345678"),
            "the PIN is not in the sealed bytes"
        );
        let (plain, again) = SealKey::open(&sealed, &pass("correct horse")).unwrap();
        assert_eq!(*plain, image);
        assert_eq!(again.params(), FAST);
        // The key from opening seals the next image with a new nonce, and the passphrase
        // opens that too.
        let resealed = again.seal(&image).unwrap();
        assert_ne!(resealed[40..64], sealed[40..64], "a new nonce each write");
        assert_eq!(resealed[24..40], sealed[24..40], "the same salt");
        assert_eq!(
            *SealKey::open(&resealed, &pass("correct horse")).unwrap().0,
            image
        );
    }

    #[test]
    fn a_wrong_passphrase_does_not_open() {
        let sealed = SealKey::new(&pass("right"), FAST)
            .unwrap()
            .seal(b"image")
            .unwrap();
        for wrong in ["wrong", "righ", "right ", "Right"] {
            assert_eq!(
                SealKey::open(&sealed, &pass(wrong)).unwrap_err(),
                SealError::Unseal,
                "{wrong}"
            );
        }
    }

    /// Every byte of the file is covered: flipping any bit of the header or the ciphertext,
    /// truncating or extending the file, is refused.
    #[test]
    fn every_modification_is_refused() {
        let p = pass("pw");
        let sealed = SealKey::new(&p, FAST).unwrap().seal(&[7u8; 40]).unwrap();
        for at in 0..sealed.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = sealed.clone();
                bad[at] ^= bit;
                let err = SealKey::open(&bad, &p).unwrap_err();
                assert!(
                    !matches!(err, SealError::Random(_)),
                    "byte {at} bit {bit:02x}: {err}"
                );
            }
        }
        for len in [0, 8, SEAL_HEADER_LEN - 1, SEAL_HEADER_LEN, sealed.len() - 1] {
            assert_eq!(
                SealKey::open(&sealed[..len], &p).unwrap_err(),
                SealError::Truncated,
                "{len}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            SealKey::open(&longer, &p).unwrap_err(),
            SealError::TrailingBytes
        );
    }

    /// A file asking for a gibibyte more of memory, or a thousand passes, is refused before
    /// any memory is taken.
    #[test]
    fn parameters_out_of_range_are_refused_before_deriving() {
        let p = pass("pw");
        let sealed = SealKey::new(&p, FAST).unwrap().seal(b"x").unwrap();
        for (at, value) in [
            (12, KdfParams::MAX_MEMORY_KIB + 1),
            (12, KdfParams::MIN_MEMORY_KIB - 1),
            (16, 0),
            (16, 1000),
            (20, 0),
            (20, 17),
        ] {
            let mut bad = sealed.clone();
            bad[at..at + 4].copy_from_slice(&value.to_be_bytes());
            assert!(
                matches!(SealKey::open(&bad, &p), Err(SealError::Params(_))),
                "offset {at} value {value}"
            );
        }
        assert!(matches!(
            SealKey::new(
                &p,
                KdfParams {
                    memory_kib: u32::MAX,
                    ..FAST
                }
            ),
            Err(SealError::Params(_))
        ));
    }

    #[test]
    fn versions_and_algorithms() {
        let p = pass("pw");
        let sealed = SealKey::new(&p, FAST).unwrap().seal(b"x").unwrap();
        let mut newer = sealed.clone();
        newer[9] = 2;
        assert_eq!(
            SealKey::open(&newer, &p).unwrap_err(),
            SealError::UnsupportedVersion(2)
        );
        for at in [10, 11] {
            let mut bad = sealed.clone();
            bad[at] = 9;
            assert_eq!(
                SealKey::open(&bad, &p).unwrap_err(),
                SealError::UnknownAlgorithm
            );
        }
    }

    #[test]
    fn passphrases() {
        assert!(Passphrase::new(Vec::new()).is_err());
        assert!(Passphrase::new(vec![b'a'; MAX_PASSPHRASE_LEN + 1]).is_err());
        assert!(Passphrase::new(vec![b'a'; MAX_PASSPHRASE_LEN]).is_ok());
        assert_eq!(format!("{:?}", pass("secret words")), "Passphrase(..)");
        let key = SealKey::new(&pass("secret words"), FAST).unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("memory_kib") && !shown.contains("key:"),
            "{shown}"
        );

        let dir = tempfile::tempdir().unwrap();
        for (content, expected) in [
            (&b"pw\n"[..], &b"pw"[..]),
            (b"pw\r\n", b"pw"),
            (b"pw", b"pw"),
            (b"pw\n\n", b"pw\n"),
            (b" pw ", b" pw "),
        ] {
            let f = dir.path().join("p");
            std::fs::write(&f, content).unwrap();
            assert_eq!(Passphrase::from_file(&f).unwrap().bytes(), expected);
        }
        let f = dir.path().join("empty");
        std::fs::write(&f, b"\n").unwrap();
        let err = Passphrase::from_file(&f).unwrap_err();
        assert!(err.contains("empty") && err.contains("empty"), "{err}");
        let err = Passphrase::from_file(dir.path()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let f = dir.path().join("long");
        std::fs::write(&f, vec![b'x'; 5000]).unwrap();
        let err = Passphrase::from_file(&f).unwrap_err();
        assert!(err.contains("longer") && !err.contains("xxxx"), "{err}");
    }
}
