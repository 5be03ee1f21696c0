//! The PIV card application (NIST SP 800-73-4) with the Yubico extensions.
//!
//! Commands are parsed into `PivCommand` first; the handlers live in one module
//! per concern (`auth`: PINs and the management key; `keys`: key operations, generation
//! and import; `objects`: data objects; `yubico`: the vendor extensions; `attest`:
//! attestation certificates). The supported commands, status words, policies and
//! defaults are listed in docs/apdu/piv.md.

mod attest;
mod auth;
mod command;
mod der;
mod describe;
mod identity;
mod keys;
mod objects;
mod state;
mod types;
mod yubico;

pub use self::identity::Identity;
use self::{
    command::{Authenticate, PivCommand},
    state::{KeyRecord, Persistent, Volatile},
    types::{KeyPinPolicy, Origin, Slot, TouchPolicy},
};
use crate::{
    Applet, CardOptions, Command, Context, Effect, ImageError, Outcome, Status,
    applet::encode_state,
    crypto::{BackendKind, CardRng, KeyAlgorithm, KeyMaterial, PrivateKey},
    description::AppletState,
    tlv,
};

/// PIV application identifier (with version).
pub const AID: &[u8] = &[
    0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];

/// The PIV profile's answer to reset: T=0 and T=1, historical bytes 80 (compact-TLV)
/// and 5B (issuer data, 11 bytes) "softcardPIV", then TCK.
pub const ATR: &[u8] = &[
    0x3B, 0x8D, 0x80, 0x01, 0x80, 0x5B, 0x73, 0x6F, 0x66, 0x74, 0x63, 0x61, 0x72, 0x64, 0x50, 0x49,
    0x56, 0x82,
];

/// The answer to reset of a YubiKey 5 over USB (CCID): T=1, historical bytes
/// `80 73 C0 21 C0 57` and "YubiKey", then TCK 40. The ATR OpenSC's drivers list for a
/// YubiKey 5 (card-openpgp.c names it "Yubikey 5").
pub const YUBIKEY_ATR: &[u8] = &[
    0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
];

/// The application label in the SELECT response.
const LABEL: &[u8] = b"softcard PIV";

/// Algorithms the generic card announces in its SELECT response (tag AC): the management
/// key's (3DES, AES-128/192/256), then the key pairs' (RSA-1024/2048/3072/4096, P-256,
/// P-384): those [`Identity::offers`] accepts.
const ALGORITHMS: [u8; 10] = [0x03, 0x08, 0x0A, 0x0C, 0x06, 0x07, 0x05, 0x16, 0x11, 0x14];

/// The PIV applet.
#[derive(Debug)]
pub struct PivApplet {
    state: Persistent,
    vol: Volatile,
    identity: Identity,
}

impl PivApplet {
    /// A new applet with the options' PIN, PUK, management key and serial number, a
    /// random CHUID GUID, and a P-256 attestation key with its self-signed certificate. Its
    /// [`Identity`] follows from the options' profile.
    ///
    /// # Errors
    /// [`Status::WrongData`] for a PIN or PUK outside 6..=8 bytes or a management key of
    /// the wrong length; a crypto error if the attestation key cannot be made.
    pub fn create(opts: &CardOptions, rng: &mut dyn CardRng) -> Result<Self, Status> {
        let identity = Identity::of(opts.profile);
        let serial = opts.serial.unwrap_or_else(|| rng.next_u32() & 0x7FFF_FFFF);
        let mut state = yubico::fresh_state(opts, identity, serial, rng)?;
        let key = PrivateKey::generate(opts.backend, KeyAlgorithm::P256, rng)?;
        let cert = attest::ca_certificate(&key, identity.version(), rng)?;
        let mut object = tlv::encode(0x70, &cert);
        tlv::write(&mut object, 0x71, &[0x00]);
        tlv::write(&mut object, 0xFE, &[]);
        state.objects.insert(Slot::Attestation.cert_tag(), object);
        let record = KeyRecord {
            key,
            pin_policy: KeyPinPolicy::Never,
            touch_policy: TouchPolicy::Never,
            origin: Origin::Generated,
        };
        state.keys.insert(Slot::Attestation, record);
        Ok(PivApplet {
            state,
            vol: Volatile::default(),
            identity,
        })
    }

    /// Restores an applet of `identity` from its saved state, its keys loaded into
    /// `backend`.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if the state does not decode or a key does not load.
    pub fn load(
        state: &[u8],
        backend: BackendKind,
        identity: Identity,
    ) -> Result<Self, ImageError> {
        let state = postcard::from_bytes::<Persistent<KeyMaterial>>(state)
            .map_err(|e| ImageError::Corrupt(format!("PIV state: {e}")))?
            .bind(backend)
            .map_err(|e| ImageError::Corrupt(format!("PIV key: {e}")))?;
        Ok(PivApplet {
            state,
            vol: Volatile::default(),
            identity,
        })
    }

    /// `refusal` unless the card generates and imports keys of `alg`.
    fn offers(&self, alg: KeyAlgorithm, refusal: Status) -> Result<(), Status> {
        if self.identity.offers(alg) {
            Ok(())
        } else {
            Err(refusal)
        }
    }

    /// What the card is.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    fn run(&mut self, cmd: PivCommand<'_>, ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        let none = |r: Result<(), Status>| r.map(|()| Vec::new());
        match cmd {
            PivCommand::GetData(tag) => self.get_data(tag),
            PivCommand::PutData { tag, content } => none(self.put_data(tag, content)),
            PivCommand::Verify(op) => none(self.verify(op, ctx)),
            PivCommand::ChangeReference { which, old, new } => {
                none(self.change_reference(which, old, new, ctx))
            }
            PivCommand::ResetRetryCounter { puk, new_pin } => {
                none(self.reset_retry_counter(puk, new_pin, ctx))
            }
            PivCommand::Authenticate(Authenticate::Management { alg, step }) => {
                self.authenticate_mgmt(alg, step, ctx)
            }
            PivCommand::Authenticate(Authenticate::Private { alg, slot, op }) => {
                self.private_operation(alg, slot, op, ctx)
            }
            PivCommand::Generate(params) => {
                self.offers(params.alg, Status::WrongData)?;
                self.generate(params, ctx)
            }
            PivCommand::GetVersion => Ok(self.get_version()),
            PivCommand::GetSerial => Ok(self.get_serial()),
            PivCommand::GetMetadata(key_ref) => self.get_metadata(key_ref),
            PivCommand::Import { params, data } => {
                self.offers(params.alg, Status::IncorrectP1P2)?;
                none(self.import(params, data, ctx))
            }
            PivCommand::SetManagementKey { key, touch } => {
                none(self.set_management_key(key, touch))
            }
            PivCommand::Reset => none(self.reset_card(ctx.rng)),
            PivCommand::SetPinRetries { pin, puk } => none(self.set_pin_retries(pin, puk)),
            PivCommand::Attest(slot) => self.attest(slot, ctx.rng),
            PivCommand::MoveKey { from, to } => none(self.move_key(from, to)),
        }
    }
}

/// What a command does to the persistent state when it succeeds: the one place that says
/// which PIV commands write the card image. A PIN comparison writes its counter through
/// [`Context::verify_pin`] whatever the outcome; a failed command changes nothing.
fn effect(cmd: &PivCommand<'_>) -> Effect {
    match cmd {
        PivCommand::PutData { .. }
        | PivCommand::ChangeReference { .. }
        | PivCommand::ResetRetryCounter { .. }
        | PivCommand::Generate(_)
        | PivCommand::Import { .. }
        | PivCommand::SetManagementKey { .. }
        | PivCommand::Reset
        | PivCommand::SetPinRetries { .. }
        | PivCommand::MoveKey { .. } => Effect::Changed,
        PivCommand::GetData(_)
        | PivCommand::Verify(_)
        | PivCommand::Authenticate { .. }
        | PivCommand::GetVersion
        | PivCommand::GetSerial
        | PivCommand::GetMetadata(_)
        | PivCommand::Attest(_) => Effect::Unchanged,
    }
}

impl Applet for PivApplet {
    fn aid(&self) -> &[u8] {
        AID
    }

    fn name(&self) -> &'static str {
        "PIV"
    }

    /// SELECT, SP 800-73-4 Part 2 section 3.1.1: the application property template. A
    /// YubiKey's has the AID's PIX and RID only (`61 11 4F 06 ... 79 07 4F 05 ...`); the
    /// generic card adds its label and algorithms.
    ///
    /// On a YubiKey, SELECT starts a new PIV session: the PIN verification and the
    /// management-key authentication are forgotten. The YubiKey clients count on it: the
    /// `yubikey` crate's `get_pin_retries` and libykpiv re-select PIV "to unverify" before
    /// an empty VERIFY, and piv-go's `TestYubiKeyPINRetries` expects 63Cx from a new
    /// connection's SELECT and VERIFY after earlier tests verified the PIN. The generic card
    /// keeps its security state across a re-selection.
    fn select(&mut self, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        if self.identity.is_yubikey() {
            self.vol.clear();
        }
        let mut apt = Vec::new();
        tlv::write(&mut apt, 0x4F, AID.get(5..).unwrap_or_default());
        tlv::write(
            &mut apt,
            0x79,
            &tlv::encode(0x4F, AID.get(..5).unwrap_or_default()),
        );
        if self.identity.is_yubikey() {
            return Ok(tlv::encode(0x61, &apt));
        }
        let mut algs = Vec::new();
        for id in ALGORITHMS {
            tlv::write(&mut algs, 0x80, &[id]);
        }
        tlv::write(&mut algs, 0x06, &[0x00]);
        tlv::write(&mut apt, 0x50, LABEL);
        tlv::write(&mut apt, 0xAC, &algs);
        Ok(tlv::encode(0x61, &apt))
    }

    fn process(&mut self, cmd: &Command<'_>, ctx: &mut Context<'_>) -> Result<Outcome, Status> {
        let parsed = PivCommand::try_from(cmd)?;
        if !self.identity.has(&parsed) {
            return Err(Status::InsNotSupported);
        }
        let effect = effect(&parsed);
        let data = self.run(parsed, ctx)?;
        Ok(Outcome { data, effect })
    }

    /// Selecting another application ends the PIV session as on a YubiKey: the PIN
    /// verification and the management-key authentication are forgotten (libykpiv selects
    /// the Management application to log the PIN out on firmware before 5.4.3).
    fn deselect(&mut self) {
        self.vol.clear();
    }

    fn reset(&mut self) {
        self.vol.clear();
    }

    fn save(&self) -> Result<Vec<u8>, Status> {
        encode_state(&self.state)
    }

    fn restore(&mut self, state: &[u8], backend: BackendKind) -> Result<(), Status> {
        *self =
            PivApplet::load(state, backend, self.identity).map_err(|_| Status::MemoryFailure)?;
        Ok(())
    }

    fn description(&self) -> AppletState {
        AppletState::Piv(describe::description(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_check_byte() {
        for atr in [ATR, YUBIKEY_ATR] {
            let x = atr.iter().skip(1).fold(0, |acc, b| acc ^ b);
            assert_eq!(x, 0, "TCK");
            assert_eq!(atr[1] & 0x0F, 13, "historical byte count");
        }
        assert_eq!(&YUBIKEY_ATR[15..22], b"YubiKey");
    }
}
