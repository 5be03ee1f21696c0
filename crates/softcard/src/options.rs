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
    /// A YubiKey 5 with firmware 5.7: its ATR, PIV with the YubiKey defaults and the
    /// firmware 5.7 commands, and the YubiKey Management application. Appended: card
    /// images index the variants.
    Yubikey,
    /// A YubiKey 5 with firmware 5.4.3: as [`Profile::Yubikey`], with the 3DES default
    /// management key and without the commands and key types of 5.7, for the clients that
    /// know 3DES management keys only.
    Yubikey54,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 4] = [
        Profile::Piv,
        Profile::WindowsVsc,
        Profile::Yubikey,
        Profile::Yubikey54,
    ];

    /// The name used on the command line: `piv`, `windows-vsc`, `yubikey`, `yubikey-5.4`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Piv => "piv",
            Profile::WindowsVsc => "windows-vsc",
            Profile::Yubikey => "yubikey",
            Profile::Yubikey54 => "yubikey-5.4",
        }
    }

    /// Whether the card is a YubiKey (`yubikey`, `yubikey-5.4`): the YubiKey ATR, reader
    /// name, defaults and Management application.
    pub const fn is_yubikey(self) -> bool {
        matches!(self, Profile::Yubikey | Profile::Yubikey54)
    }

    /// The user PIN a new card has when none is given: `123456` on a YubiKey (its factory
    /// PIN), `12345678` on the others.
    pub const fn default_pin(self) -> &'static [u8] {
        if self.is_yubikey() {
            YUBIKEY_DEFAULT_PIN
        } else {
            DEFAULT_PIN
        }
    }

    /// Whether the default administrator / management key ([`DEFAULT_ADMIN_KEY`]) is
    /// AES-192 rather than 3DES: on a `yubikey` card, as on a YubiKey from firmware 5.7
    /// (yubikit and the `yubikey` crate choose AES-192 from 5.7.0 on).
    pub const fn default_admin_key_aes(self) -> bool {
        matches!(self, Profile::Yubikey)
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
            .ok_or_else(|| {
                format!("unknown profile {s:?} (expected piv, windows-vsc, yubikey or yubikey-5.4)")
            })
    }
}

/// How a new card is set up. Unset fields take the profile's defaults: PIN and PUK
/// 12345678 and the 3DES key 010203040506070801020304050607080102030405060708 as PIV
/// management key or GIDS administrator key (`piv`, `windows-vsc`); PIN 123456, PUK
/// 12345678 and that key as AES-192 (`yubikey`, as a YubiKey 5.7).
#[derive(Clone, Debug)]
pub struct CardOptions {
    /// The card's kind.
    pub profile: Profile,
    /// User PIN.
    pub pin: Option<Secret>,
    /// PUK (PIV cards). A GIDS card has none: one given is refused.
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

/// The default user PIN of the `piv` and `windows-vsc` profiles.
pub const DEFAULT_PIN: &[u8] = b"12345678";
/// The default user PIN of the `yubikey` profile, a YubiKey's.
pub const YUBIKEY_DEFAULT_PIN: &[u8] = b"123456";
/// The default PUK of every profile.
pub const DEFAULT_PUK: &[u8] = b"12345678";
/// The default administrator / management key of every profile: 3DES, or AES-192 where
/// [`Profile::default_admin_key_aes`] says so.
pub const DEFAULT_ADMIN_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];
