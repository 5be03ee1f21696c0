//! The GIDS card application: the Windows TPM virtual smart card (profile `windows-vsc`)
//! as Windows' inbox GIDS minidriver and OpenSC's gids driver see it.
//!
//! The card stores data objects in access-controlled EFs and RSA keys in key files; the
//! Windows minidriver file system (master file, `cardid`, `cardcf`, `mscp/cmapfile`,
//! compressed certificates) lives in those data objects and is written by clients; see
//! [`minidriver`] for its formats. docs/apdu/gids.md lists every command.

mod auth;
mod command;
mod describe;
mod files;
mod keys;
pub mod minidriver;
mod state;

use std::collections::BTreeMap;

use crate::{
    Applet, CardOptions, Command, Context, Effect, ImageError, Outcome, Pin, Secret, Status,
    applet::encode_state,
    crypto::{
        BackendKind, CardRng, KeyMaterial,
        sym::{SymAlg, SymKey},
    },
    description::AppletState,
    options::{DEFAULT_ADMIN_KEY, DEFAULT_PIN},
};
use command::{AppletRead, AppletWrite, GidsCommand};
use minidriver as md;
use state::{Current, Ef, State, Volatile};

/// GIDS application identifier (version 2). SELECT with its first 9 bytes finds it too.
pub const AID: &[u8] = &[
    0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01,
];

/// The Windows TPM virtual smart card's answer to reset (T=1, historical bytes carrying
/// the GIDS AID, TCK C8).
pub const ATR: &[u8] = &[
    0x3B, 0x8D, 0x01, 0x80, 0xFB, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x03, 0x01,
    0xC8,
];

/// The FCI answered to SELECT: application template with the AID and the discretionary
/// data `73 03 40 01 C0` (Windows' value).
const FCI: &[u8] = &[
    0x61, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01, 0x73,
    0x03, 0x40, 0x01, 0xC0,
];

/// The access-control EFs of an initialized card: identifier, read and write conditions
/// (00 always, FF never, 30 PIN or administrator, 20 administrator).
const ACCESS_EFS: [(u16, u8, u8); 6] = [
    (0xA000, 0x00, 0x30),
    (0xA010, 0x00, 0x30),
    (0xA011, 0xFF, 0x30),
    (0xA012, 0x00, 0x20),
    (0xA013, 0x30, 0x30),
    (0xA014, 0x20, 0x20),
];

/// The FCP of a data object EF (file type 39, compact conditions write then read).
fn ef_fcp(fid: u16, read: u8, write: u8) -> Vec<u8> {
    let [hi, lo] = fid.to_be_bytes();
    vec![
        0x62, 0x0C, 0x82, 0x01, 0x39, 0x83, 0x02, hi, lo, 0x8C, 0x03, 0x03, write, read,
    ]
}

/// The GIDS applet.
pub struct GidsApplet {
    state: State,
    volatile: Volatile,
}

impl core::fmt::Debug for GidsApplet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GidsApplet")
            .field("operational", &self.state.operational)
            .field("keys", &self.state.keys.len())
            .finish_non_exhaustive()
    }
}

impl GidsApplet {
    /// A card as Windows creates it (`tpmvscmgr create /pin default /adminkey default`):
    /// the access EFs and the minidriver file system exist (master file, a random 16-byte
    /// `cardid`, `cardapps`, `cardcf`, an empty `cmapfile`), the PIN is the options' or
    /// 12345678 (8 to 127 characters, 3 tries), the administrator key the options' or the
    /// default 3DES key (AES with `admin_key_aes`).
    ///
    /// # Errors
    /// [`Status::WrongData`] for a PIN or administrator key of the wrong length, and for a
    /// PUK: a GIDS card has none (its PIN is unblocked with the administrator key), so one
    /// given is refused rather than ignored.
    pub fn create(opts: &CardOptions, rng: &mut dyn CardRng) -> Result<Self, Status> {
        if opts.puk.is_some() {
            return Err(Status::WrongData);
        }
        let pin = Pin::new(
            opts.pin.as_ref().map_or(DEFAULT_PIN, Secret::expose),
            auth::WINDOWS_PIN_POLICY,
        )?;
        let key = opts
            .admin_key
            .as_ref()
            .map_or(&DEFAULT_ADMIN_KEY[..], Secret::expose);
        let alg = SymAlg::with_key_len(opts.admin_key_aes, key.len()).ok_or(Status::WrongData)?;
        let admin = SymKey::from_bytes(alg, key).map_err(|_| Status::WrongData)?;
        let mut efs: BTreeMap<u16, Ef> = ACCESS_EFS
            .iter()
            .map(|(fid, read, write)| {
                let ef = Ef {
                    fcp: ef_fcp(*fid, *read, *write),
                    read: *read,
                    write: *write,
                    active: true,
                    dos: BTreeMap::new(),
                };
                (*fid, ef)
            })
            .collect();
        let master =
            md::encode_master_file(&md::initial_master_file()).map_err(|_| Status::Unknown)?;
        let mut cardid = vec![0u8; 16];
        rng.fill_bytes(&mut cardid);
        let mut put = |ef: u16, tag: u16, value: Vec<u8>| {
            if let Some(ef) = efs.get_mut(&ef) {
                ef.dos.insert(u32::from(tag), value);
            }
        };
        put(md::USER_CREATE_DELETE_EF, md::MASTER_FILE_DO, master);
        put(md::EVERYONE_READ_ADMIN_WRITE_EF, md::CARDID_DO, cardid);
        put(
            md::EVERYONE_READ_USER_WRITE_EF,
            md::CARDAPPS_DO,
            md::CARDAPPS.to_vec(),
        );
        put(
            md::EVERYONE_READ_USER_WRITE_EF,
            md::CARDCF_DO,
            md::CardCf::default().encode().to_vec(),
        );
        put(md::EVERYONE_READ_USER_WRITE_EF, md::CMAPFILE_DO, Vec::new());
        let state = State {
            operational: true,
            efs,
            keys: BTreeMap::new(),
            pin: Some(pin),
            admin: Some(admin),
            admin_file: true,
        };
        Ok(GidsApplet {
            state,
            volatile: Volatile::default(),
        })
    }

    /// A blank GIDS card, not initialized: no EFs, no PIN, no administrator key, every
    /// access condition met until a client (`gids-tool -X`) creates the file system and
    /// activates the application.
    pub fn create_blank() -> Self {
        let state = State {
            operational: false,
            efs: BTreeMap::new(),
            keys: BTreeMap::new(),
            pin: None,
            admin: None,
            admin_file: false,
        };
        GidsApplet {
            state,
            volatile: Volatile::default(),
        }
    }

    /// Restores an applet from its saved state, its keys loaded into `backend`.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if the state does not decode or a key does not load.
    pub fn load(saved: &[u8], backend: BackendKind) -> Result<Self, ImageError> {
        let state = postcard::from_bytes::<State<KeyMaterial>>(saved)
            .map_err(|e| ImageError::Corrupt(format!("GIDS state: {e}")))?
            .bind(backend)
            .map_err(|e| ImageError::Corrupt(format!("GIDS key: {e}")))?;
        Ok(GidsApplet {
            state,
            volatile: Volatile::default(),
        })
    }

    fn run(&mut self, cmd: GidsCommand<'_>, ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        let (s, v) = (&mut self.state, &mut self.volatile);
        let none = |r: Result<(), Status>| r.map(|()| Vec::new());
        match cmd {
            GidsCommand::SelectFile { file, fcp } => files::select(s, v, file, fcp),
            GidsCommand::GetAppletData(AppletRead::PinStatus(tag)) => auth::pin_status(s, tag),
            GidsCommand::GetAppletData(AppletRead::PublicKey(kid)) => keys::read_public(s, kid),
            GidsCommand::GetData { file, select } => files::get_data(s, v, file, select),
            GidsCommand::PutAppletData(AppletWrite::AdminKey(key)) => {
                none(auth::put_admin_key(s, v, key))
            }
            GidsCommand::PutAppletData(AppletWrite::ImportKey { kid, material }) => {
                none(keys::import(s, v, ctx, kid, material))
            }
            GidsCommand::PutData { file, items } => none(files::put_data(s, v, file, items)),
            GidsCommand::CreateFile { file, fcp } => none(files::create(s, v, file, fcp)),
            GidsCommand::Activate => none(files::activate(s, v)),
            GidsCommand::DeleteFile { file } => none(files::delete(s, v, file)),
            GidsCommand::Verify { pin_ref, pin } => none(auth::verify(s, v, ctx, pin_ref, pin)),
            GidsCommand::Logout => {
                v.logout();
                Ok(Vec::new())
            }
            GidsCommand::ChangePin {
                pin_ref,
                old_and_new,
            } => none(auth::change(s, v, ctx, pin_ref, old_and_new)),
            GidsCommand::SetPin { pin_ref, new } => none(auth::set(s, v, pin_ref, new)),
            GidsCommand::ResetRetryCounter { pin_ref, new } => {
                none(auth::reset_retry_counter(s, v, pin_ref, new))
            }
            GidsCommand::MseKey { op, algorithm, key } => {
                none(keys::set_env(s, v, op, algorithm, key))
            }
            GidsCommand::MseAdmin { key } => none(auth::select_admin(s, v, key)),
            GidsCommand::GeneralAuthenticate(step) => auth::general_authenticate(s, v, ctx, step),
            GidsCommand::Generate {
                algorithm,
                key,
                want_public,
            } => keys::generate(s, v, ctx, algorithm, key, want_public),
            GidsCommand::Sign { input } => keys::sign(s, v, ctx, input),
            GidsCommand::Decipher { input } => keys::decipher(s, v, ctx, input),
        }
    }
}

/// What a command does to the persistent state when it succeeds: the one place that says
/// which GIDS commands write the card image. A PIN comparison writes its counter through
/// [`Context::verify_pin`] whatever the outcome; a failed command changes nothing.
fn effect(cmd: &GidsCommand<'_>) -> Effect {
    match cmd {
        GidsCommand::PutData { .. }
        | GidsCommand::PutAppletData(_)
        | GidsCommand::CreateFile { .. }
        | GidsCommand::Activate
        | GidsCommand::DeleteFile { .. }
        | GidsCommand::ChangePin { .. }
        | GidsCommand::SetPin { .. }
        | GidsCommand::ResetRetryCounter { .. }
        | GidsCommand::Generate { .. } => Effect::Changed,
        GidsCommand::SelectFile { .. }
        | GidsCommand::GetData { .. }
        | GidsCommand::GetAppletData(_)
        | GidsCommand::Verify { .. }
        | GidsCommand::Logout
        | GidsCommand::MseKey { .. }
        | GidsCommand::MseAdmin { .. }
        | GidsCommand::GeneralAuthenticate(_)
        | GidsCommand::Sign { .. }
        | GidsCommand::Decipher { .. } => Effect::Unchanged,
    }
}

impl Applet for GidsApplet {
    fn aid(&self) -> &[u8] {
        AID
    }

    fn name(&self) -> &'static str {
        "GIDS"
    }

    /// SELECT by AID (GIDS specification v2.0, ISO 7816-4 SELECT): answers the FCI; the
    /// application DF becomes the current file. Authentication survives a re-selection.
    fn select(&mut self, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        self.volatile.current = Some(Current::Application);
        Ok(FCI.to_vec())
    }

    fn process(&mut self, cmd: &Command<'_>, ctx: &mut Context<'_>) -> Result<Outcome, Status> {
        let parsed = GidsCommand::try_from(cmd)?;
        let effect = effect(&parsed);
        let data = self.run(parsed, ctx)?;
        Ok(Outcome { data, effect })
    }

    fn reset(&mut self) {
        self.volatile = Volatile::default();
    }

    fn save(&self) -> Result<Vec<u8>, Status> {
        encode_state(&self.state)
    }

    fn restore(&mut self, state: &[u8], backend: BackendKind) -> Result<(), Status> {
        *self = GidsApplet::load(state, backend).map_err(|_| Status::MemoryFailure)?;
        Ok(())
    }

    fn description(&self) -> AppletState {
        AppletState::Gids(describe::description(&self.state))
    }
}
