//! The PIV card application (NIST SP 800-73-4) with the Yubico extensions.

use crate::{Applet, CardOptions, Command, Context, ImageError, Status, crypto::CardRng};

/// PIV application identifier (with version).
pub const AID: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];

/// The PIV profile's answer to reset.
pub const ATR: &[u8] = &[0x3B, 0x80, 0x80, 0x01, 0x01];

/// The PIV applet.
#[derive(Debug)]
pub struct PivApplet {}

impl PivApplet {
    /// A new applet with the options' PIN, PUK and management key.
    ///
    /// # Errors
    /// A status for a rejected option.
    pub fn create(_opts: &CardOptions, _rng: &mut dyn CardRng) -> Result<Self, Status> {
        Ok(PivApplet {})
    }

    /// Restores an applet from its saved state.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if the state does not decode.
    pub fn load(_state: &[u8]) -> Result<Self, ImageError> {
        Ok(PivApplet {})
    }
}

impl Applet for PivApplet {
    fn aid(&self) -> &[u8] {
        AID
    }
    fn name(&self) -> &'static str {
        "PIV"
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
