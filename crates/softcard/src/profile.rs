//! The profile factory: which applets a card of each [`Profile`] carries, its ATR, and how
//! its applets are built from options or loaded from an image.
//!
//! The only module of the core that names the PIV, GIDS and YubiKey Management applets: the card engine
//! ([`crate::card`]) sees `dyn Applet` only, and the applets see [`CardOptions`] and the
//! defaults, which live below them.

use crate::{
    Applet, ImageError, Status,
    crypto::{BackendKind, CardRng},
    gids, piv, yubikey,
};

pub use crate::options::{
    CardOptions, DEFAULT_ADMIN_KEY, DEFAULT_PIN, DEFAULT_PUK, Profile, YUBIKEY_DEFAULT_PIN,
};

impl Profile {
    /// The answer to reset.
    pub fn atr(self) -> &'static [u8] {
        match self {
            Profile::Piv => piv::ATR,
            Profile::WindowsVsc => gids::ATR,
            Profile::Yubikey | Profile::Yubikey54 => piv::YUBIKEY_ATR,
        }
    }

    pub(crate) fn create_applets(
        self,
        opts: &CardOptions,
        rng: &mut dyn CardRng,
    ) -> Result<Vec<Box<dyn Applet>>, Status> {
        Ok(match self {
            // A PIV card has no blank state: it is always personalized.
            Profile::Piv if opts.blank => return Err(Status::FunctionNotSupported),
            Profile::Piv => vec![Box::new(piv::PivApplet::create(opts, rng)?)],
            Profile::WindowsVsc if opts.blank => vec![Box::new(gids::GidsApplet::create_blank())],
            Profile::WindowsVsc => vec![Box::new(gids::GidsApplet::create(opts, rng)?)],
            Profile::Yubikey | Profile::Yubikey54 if opts.blank => {
                return Err(Status::FunctionNotSupported);
            }
            Profile::Yubikey | Profile::Yubikey54 => vec![
                Box::new(piv::PivApplet::create(opts, rng)?),
                Box::new(yubikey::ManagementApplet::create(opts)?),
            ],
        })
    }

    pub(crate) fn load_applet(
        self,
        aid: &[u8],
        state: &[u8],
        backend: BackendKind,
    ) -> Result<Box<dyn Applet>, ImageError> {
        Ok(match self {
            Profile::Piv | Profile::Yubikey | Profile::Yubikey54 if aid == piv::AID => Box::new(
                piv::PivApplet::load(state, backend, piv::Identity::of(self))?,
            ),
            Profile::Yubikey | Profile::Yubikey54 if aid == yubikey::MANAGEMENT_AID => Box::new(
                yubikey::ManagementApplet::load(state, piv::Identity::of(self))?,
            ),
            Profile::WindowsVsc if aid == gids::AID => {
                Box::new(gids::GidsApplet::load(state, backend)?)
            }
            _ => {
                return Err(ImageError::Corrupt(format!(
                    "unknown applet {aid:02X?} for profile {self}"
                )));
            }
        })
    }
}
