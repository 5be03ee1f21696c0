//! The GIDS card application (the Windows TPM virtual smart card).

use crate::{Applet, CardOptions, Command, Context, ImageError, Status, crypto::CardRng};

/// GIDS application identifier.
pub const AID: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01];

/// The windows-vsc profile's answer to reset.
pub const ATR: &[u8] = &[0x3B, 0x8D, 0x01, 0x80, 0xFB, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x03, 0x01, 0xC8];

/// The GIDS applet.
#[derive(Debug)]
pub struct GidsApplet {}

impl GidsApplet {
    /// A new applet with the options' PIN, PUK and management key.
    ///
    /// # Errors
    /// A status for a rejected option.
    pub fn create(_opts: &CardOptions, _rng: &mut dyn CardRng) -> Result<Self, Status> {
        Ok(GidsApplet {})
    }

    /// Restores an applet from its saved state.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if the state does not decode.
    pub fn load(_state: &[u8]) -> Result<Self, ImageError> {
        Ok(GidsApplet {})
    }
}

impl Applet for GidsApplet {
    fn aid(&self) -> &[u8] {
        AID
    }
    fn name(&self) -> &'static str {
        "GIDS"
    }
    fn select(&mut self, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        Ok(Vec::new())
    }
    fn process(&mut self, _cmd: &Command<'_>, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        Err(Status::InsNotSupported)
    }
    fn reset(&mut self) {}
    fn save(&self) -> Result<Vec<u8>, Status> {
        Ok(Vec::new())
    }
}
