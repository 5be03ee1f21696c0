//! What a new card is made of: the [`Profile`] names, the [`CardOptions`] and the defaults.
//!
//! This module sits below the applets (they read their options and defaults here) and names
//! none of them; the factory that turns a profile into applets is [`crate::profile`].

use core::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{Secret, crypto::BackendKind};

/// The kinds of card softcard emulates (a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Profile {
    /// A PIV card (NIST SP 800-73-4) with the Yubico extensions.
    Piv,
    /// A Windows TPM virtual smart card: a GIDS card.
    WindowsVsc,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Piv, Profile::WindowsVsc];

    /// The name used on the command line: `piv`, `windows-vsc`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Piv => "piv",
            Profile::WindowsVsc => "windows-vsc",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown profile {s:?} (expected piv or windows-vsc)"))
    }
}

/// How a new card is set up. Unset fields take the profile's defaults (PIN and PUK
/// 12345678; the 3DES key 010203040506070801020304050607080102030405060708 as PIV
/// management key or GIDS administrator key).
#[derive(Clone, Debug)]
pub struct CardOptions {
    /// The card's kind.
    pub profile: Profile,
    /// User PIN.
    pub pin: Option<Secret>,
    /// PUK (PIV) / unblock PIN.
    pub puk: Option<Secret>,
    /// Management key (PIV) or administrator key (GIDS), raw bytes: 24 bytes are 3DES,
    /// 16/24/32 bytes with `admin_key_aes` are AES.
    pub admin_key: Option<Secret>,
    /// Use AES instead of 3DES for a 24-byte administrator / management key.
    pub admin_key_aes: bool,
    /// Serial number; random when unset.
    pub serial: Option<u32>,
    /// The crypto backend for the card's keys.
    pub backend: BackendKind,
    /// `windows-vsc` only: a blank GIDS card with no file system, PIN or administrator key,
    /// to be initialized by a client (`gids-tool -X`).
    pub blank: bool,
}

impl CardOptions {
    /// The defaults of a profile.
    pub fn new(profile: Profile) -> Self {
        CardOptions {
            profile,
            pin: None,
            puk: None,
            admin_key: None,
            admin_key_aes: false,
            serial: None,
            backend: BackendKind::default(),
            blank: false,
        }
    }
}

/// The default user PIN of every profile.
pub const DEFAULT_PIN: &[u8] = b"12345678";
/// The default PUK.
pub const DEFAULT_PUK: &[u8] = b"12345678";
/// The default 3DES administrator / management key.
pub const DEFAULT_ADMIN_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];
