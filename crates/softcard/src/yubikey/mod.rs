//! The YubiKey Management application (AID `A0 00 00 05 27 47 11 17`), as a YubiKey 5 with
//! firmware 5.7 answers it over CCID: SELECT gives the firmware version as text, and READ
//! CONFIG gives the device information (serial number, form factor, firmware version, the
//! applications supported and enabled over USB and NFC). ykman reads the firmware version
//! and serial number here; without this application it takes the card for a YubiKey NEO.
//!
//! Encodings follow yubikit (`yubikit/management.py`: `ManagementSession`,
//! `DeviceInfo.parse`). The card has one application a YubiKey offers, PIV, and says so: its
//! capabilities name PIV alone, supported and enabled. Configuration is read-only: WRITE
//! CONFIG, SET MODE and DEVICE RESET answer 6D00.

use serde::{Deserialize, Serialize};

use crate::{
    Applet, CardOptions, Command, Context, ImageError, Outcome, Status, applet::encode_state,
    crypto::BackendKind, description::AppletState, piv::Identity, tlv,
};

/// The Management application identifier.
pub const MANAGEMENT_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17];

/// yubikit's CAPABILITY.PIV.
const CAPABILITY_PIV: u16 = 0x0010;
/// yubikit's FORM_FACTOR.USB_A_KEYCHAIN: a YubiKey 5 NFC.
const FORM_FACTOR_USB_A_KEYCHAIN: u8 = 0x01;

/// Device information tags (yubikit `TAG_*`).
mod tag {
    pub const USB_SUPPORTED: u32 = 0x01;
    pub const SERIAL: u32 = 0x02;
    pub const USB_ENABLED: u32 = 0x03;
    pub const FORM_FACTOR: u32 = 0x04;
    pub const VERSION: u32 = 0x05;
    pub const CONFIG_LOCK: u32 = 0x0A;
    pub const NFC_SUPPORTED: u32 = 0x0D;
    pub const NFC_ENABLED: u32 = 0x0E;
}

/// READ CONFIG (INS 1D).
const INS_READ_CONFIG: u8 = 0x1D;

/// What the card image keeps of the Management application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    /// The serial number READ CONFIG reports (the card's).
    serial: u32,
    /// The form factor byte (yubikit FORM_FACTOR).
    form_factor: u8,
}

/// The Management application of a `yubikey` or `yubikey-5.4` card.
#[derive(Debug)]
pub struct ManagementApplet {
    state: State,
    /// The card's PIV identity, whose firmware version this application reports.
    identity: Identity,
}

/// One Management command, parsed.
enum MgmtCommand {
    /// READ CONFIG of a page (P1).
    ReadConfig(u8),
}

impl TryFrom<&Command<'_>> for MgmtCommand {
    type Error = Status;

    fn try_from(cmd: &Command<'_>) -> Result<Self, Status> {
        if cmd.cla & 0x80 != 0 {
            return Err(Status::ClaNotSupported);
        }
        match cmd.ins {
            INS_READ_CONFIG if cmd.p2 == 0 && cmd.data.is_empty() => {
                Ok(MgmtCommand::ReadConfig(cmd.p1))
            }
            INS_READ_CONFIG if cmd.p2 != 0 => Err(Status::IncorrectP1P2),
            INS_READ_CONFIG => Err(Status::WrongLength),
            _ => Err(Status::InsNotSupported),
        }
    }
}

impl ManagementApplet {
    /// The Management application of a new card, with the options' serial number.
    ///
    /// # Errors
    /// [`Status::WrongData`] when the options carry no serial number (the card sets it).
    pub fn create(opts: &CardOptions) -> Result<Self, Status> {
        Ok(ManagementApplet {
            state: State {
                serial: opts.serial.ok_or(Status::WrongData)?,
                form_factor: FORM_FACTOR_USB_A_KEYCHAIN,
            },
            identity: Identity::of(opts.profile),
        })
    }

    /// Restores the application of a card of `identity` from its saved state.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if the state does not decode.
    pub fn load(state: &[u8], identity: Identity) -> Result<Self, ImageError> {
        let state = postcard::from_bytes::<State>(state)
            .map_err(|e| ImageError::Corrupt(format!("Management state: {e}")))?;
        Ok(ManagementApplet { state, identity })
    }

    /// The firmware version: the PIV application's, as on a YubiKey.
    fn version(&self) -> [u8; 3] {
        self.identity.version()
    }

    /// READ CONFIG: one length byte, then the device information TLVs of `page`. Page 0
    /// holds everything (no "more data" tag); later pages are empty.
    fn read_config(&self, page: u8) -> Vec<u8> {
        let mut tlvs = Vec::new();
        if page == 0 {
            let piv = CAPABILITY_PIV.to_be_bytes();
            tlv::write(&mut tlvs, tag::USB_SUPPORTED, &piv);
            tlv::write(&mut tlvs, tag::SERIAL, &self.state.serial.to_be_bytes());
            tlv::write(&mut tlvs, tag::USB_ENABLED, &piv);
            tlv::write(&mut tlvs, tag::FORM_FACTOR, &[self.state.form_factor]);
            tlv::write(&mut tlvs, tag::VERSION, &self.version());
            tlv::write(&mut tlvs, tag::CONFIG_LOCK, &[0x00]);
            tlv::write(&mut tlvs, tag::NFC_SUPPORTED, &piv);
            tlv::write(&mut tlvs, tag::NFC_ENABLED, &piv);
        }
        // Well under 255 bytes: the length fits its one byte.
        let mut out = vec![u8::try_from(tlvs.len()).unwrap_or(u8::MAX)];
        out.extend_from_slice(&tlvs);
        out
    }
}

impl Applet for ManagementApplet {
    fn aid(&self) -> &[u8] {
        MANAGEMENT_AID
    }

    fn name(&self) -> &'static str {
        "Management"
    }

    /// SELECT: the firmware version as text, "Virtual mgr - FW version 5.7.1", the string a
    /// YubiKey 5 answers (yubikit reads the version from it with a regular expression).
    fn select(&mut self, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        let [major, minor, patch] = self.version();
        Ok(format!("Virtual mgr - FW version {major}.{minor}.{patch}").into_bytes())
    }

    fn process(&mut self, cmd: &Command<'_>, _ctx: &mut Context<'_>) -> Result<Outcome, Status> {
        match MgmtCommand::try_from(cmd)? {
            MgmtCommand::ReadConfig(page) => Ok(Outcome::unchanged(self.read_config(page))),
        }
    }

    fn reset(&mut self) {}

    fn save(&self) -> Result<Vec<u8>, Status> {
        encode_state(&self.state)
    }

    fn restore(&mut self, state: &[u8], _backend: BackendKind) -> Result<(), Status> {
        *self = ManagementApplet::load(state, self.identity).map_err(|_| Status::MemoryFailure)?;
        Ok(())
    }

    fn description(&self) -> AppletState {
        let [major, minor, patch] = self.version();
        AppletState::Other {
            lines: vec![
                format!("firmware {major}.{minor}.{patch}"),
                "applications: PIV (USB and NFC)".into(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_config_is_length_prefixed_tlvs() {
        let opts = CardOptions {
            serial: Some(0x0102_0304),
            ..CardOptions::new(crate::Profile::Yubikey)
        };
        let applet = ManagementApplet::create(&opts).unwrap();
        let out = applet.read_config(0);
        assert_eq!(usize::from(out[0]), out.len() - 1);
        let body = &out[1..];
        assert_eq!(tlv::find(body, 0x02).unwrap(), Some(&[1, 2, 3, 4][..]));
        assert_eq!(tlv::find(body, 0x05).unwrap(), Some(&[5, 7, 1][..]));
        assert_eq!(tlv::find(body, 0x01).unwrap(), Some(&[0x00, 0x10][..]));
        assert_eq!(applet.read_config(1), [0]);
    }
}
