//! The card: power, SELECT routing, command and response chaining, persistence.
//!
//! `Card::transmit` takes command bytes and returns response bytes (data || SW1 SW2). It
//! opens no file or socket and spawns no thread; randomness and storage are handed in.
//!
//! Memory always matches the stored image: a change the storage refuses (6581) or that
//! would make the image larger than [`MAX_IMAGE_LEN`] (6A84) is undone in memory too.
//! Buffers that may hold secrets (the saved states, images, command chains and pending
//! responses) are wiped when dropped or replaced.

#![warn(clippy::arithmetic_side_effects)]

use core::{cell::Cell, fmt};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::{Zeroize, Zeroizing};

use crate::{
    Applet, Command, Context, Effect, Outcome, Status,
    crypto::{BackendKind, CardRng},
    image::{self, ImageError},
    profile::{CardOptions, Profile},
    storage::Storage,
};

/// Longest command data a chain may accumulate.
pub const CHAIN_LIMIT: usize = 65_536;

/// Largest card image (4 MiB) a card grows to: a command whose new image would be larger
/// than this, and larger than the image already stored, is refused with 6A84 (not enough
/// memory) and undone, in memory and on storage alike. Well under what
/// [`image::decode`] accepts ([`image::MAX_BODY_LEN`]), so every image a card writes can be
/// loaded again. The first image of a new card is not held to it.
pub const MAX_IMAGE_LEN: usize = 4 << 20;

const INS_SELECT: u8 = 0xA4;
const INS_GET_RESPONSE: u8 = 0xC0;
const INS_MANAGE_CHANNEL: u8 = 0x70;

/// Why a card could not be created or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An option was rejected (a PIN of the wrong length...), with the status word that
    /// the card would give.
    InvalidOption(Status),
    /// The image could not be read.
    Image(ImageError),
    /// The storage refused the first image.
    Storage(String),
    /// The crypto backend asked for is not compiled into this build (a card is created
    /// or loaded with `BackendKind::AwsLc` without the cargo feature `aws-lc`).
    BackendUnavailable(BackendKind),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidOption(s) => write!(f, "invalid card option (status {s})"),
            Error::Image(e) => e.fmt(f),
            Error::Storage(e) => write!(f, "cannot write the card image: {e}"),
            Error::BackendUnavailable(kind) => write!(
                f,
                "the crypto backend {} is not compiled into this softcard (cargo feature {} of the softcard crate)",
                kind.name(),
                kind.name()
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<ImageError> for Error {
    fn from(e: ImageError) -> Self {
        Error::Image(e)
    }
}

struct Chain {
    header: [u8; 4],
    data: Zeroizing<Vec<u8>>,
}

/// Appends to a buffer of secrets; when it must grow, the old allocation is wiped rather
/// than left behind by a reallocation.
fn append_wiping(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = buf.len().saturating_add(data.len());
    if needed > buf.capacity() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            needed.max(buf.capacity().saturating_mul(2)),
        ));
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

/// The card's storage and what it holds.
struct Store {
    storage: Box<dyn Storage>,
    /// Length of the image in storage; `usize::MAX` before the first write, which is not
    /// held to [`MAX_IMAGE_LEN`].
    image_len: usize,
}

impl Store {
    /// Writes the image of these `(aid, state)` records, or refuses: 6A84 if it would grow
    /// past [`MAX_IMAGE_LEN`] (or past what an image may hold), 6581 if the storage fails.
    fn write(
        &mut self,
        profile: Profile,
        serial: u32,
        records: &[(&[u8], &[u8])],
    ) -> Result<(), Status> {
        let bytes = image::encode_records(profile, serial, records).map_err(|e| match e {
            ImageError::TooLarge(_) => Status::NotEnoughMemory,
            _ => Status::MemoryFailure,
        })?;
        if bytes.len() > MAX_IMAGE_LEN && bytes.len() > self.image_len {
            return Err(Status::NotEnoughMemory);
        }
        self.storage
            .save(&bytes)
            .map_err(|_| Status::MemoryFailure)?;
        self.image_len = bytes.len();
        Ok(())
    }
}

/// The `(aid, state)` records of an image, with applet `replace.0`'s state replaced.
fn records<'a>(
    aids: &'a [Vec<u8>],
    saved: &'a [Zeroizing<Vec<u8>>],
    replace: Option<(usize, &'a [u8])>,
) -> Vec<(&'a [u8], &'a [u8])> {
    aids.iter()
        .zip(saved)
        .enumerate()
        .map(|(i, (aid, state))| {
            let state = match replace {
                Some((j, new)) if i == j => new,
                _ => state.as_slice(),
            };
            (aid.as_slice(), state)
        })
        .collect()
}

/// A virtual smart card.
pub struct Card {
    profile: Profile,
    serial: u32,
    applets: Vec<Box<dyn Applet>>,
    /// The applets' AIDs, in order (they never change).
    aids: Vec<Vec<u8>>,
    /// The applets' states as last written to storage.
    saved: Vec<Zeroizing<Vec<u8>>>,
    /// Applets whose memory could not be put back to their saved state after a failed
    /// write: they answer 6581 to everything.
    diverged: Vec<bool>,
    selected: Option<usize>,
    chain: Option<Chain>,
    pending: Zeroizing<Vec<u8>>,
    powered: bool,
    rng: Box<dyn CardRng>,
    store: Store,
    backend: BackendKind,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("profile", &self.profile)
            .field("serial", &self.serial)
            .field("powered", &self.powered)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A deterministic generator for reproducible tests: the same seed gives the same keys.
/// **Test use only**: a card built on it has predictable keys.
pub fn seeded_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

impl Card {
    /// Creates a new card and writes its first image to `storage`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a rejected option, [`Error::Storage`] if the image cannot
    /// be written.
    pub fn create(
        opts: &CardOptions,
        mut rng: Box<dyn CardRng>,
        storage: Box<dyn Storage>,
    ) -> Result<Card, Error> {
        if opts.backend.backend().is_none() {
            return Err(Error::BackendUnavailable(opts.backend));
        }
        let serial = opts.serial.unwrap_or_else(|| rng.next_u32() & 0x7FFF_FFFF);
        // Applets that report a serial number (PIV GET SERIAL) see the card's own.
        let opts = &CardOptions {
            serial: Some(serial),
            ..opts.clone()
        };
        let applets = opts
            .profile
            .create_applets(opts, &mut *rng)
            .map_err(Error::InvalidOption)?;
        let mut card = Card::assemble(opts.profile, serial, applets, rng, storage, opts.backend)?;
        card.save_all()
            .map_err(|_| Error::Storage("first write failed".into()))?;
        Ok(card)
    }

    /// A card carrying the given applets (applets are an open set): the profile gives the
    /// ATR and is recorded in the image. An image of a card with applets its profile does
    /// not know cannot be loaded back with [`Card::load`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if an applet cannot save its state, [`Error::Storage`] if the
    /// first image cannot be written.
    pub fn with_applets(
        profile: Profile,
        serial: u32,
        applets: Vec<Box<dyn Applet>>,
        rng: Box<dyn CardRng>,
        storage: Box<dyn Storage>,
    ) -> Result<Card, Error> {
        let mut card = Card::assemble(
            profile,
            serial,
            applets,
            rng,
            storage,
            BackendKind::default(),
        )?;
        card.save_all()
            .map_err(|_| Error::Storage("first write failed".into()))?;
        Ok(card)
    }

    /// A card whose randomness comes from `seed` (see [`seeded_rng`]): **test use only**.
    ///
    /// # Errors
    /// As [`Card::create`].
    pub fn create_seeded(
        opts: &CardOptions,
        seed: u64,
        storage: Box<dyn Storage>,
    ) -> Result<Card, Error> {
        Card::create(opts, Box::new(seeded_rng(seed)), storage)
    }

    /// Loads a card from image bytes. Keys are loaded into `backend` once, here.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] if `backend` is not compiled in; [`Error::Image`]
    /// naming what is wrong with the image.
    pub fn load(
        image_bytes: &[u8],
        rng: Box<dyn CardRng>,
        storage: Box<dyn Storage>,
        backend: BackendKind,
    ) -> Result<Card, Error> {
        if backend.backend().is_none() {
            return Err(Error::BackendUnavailable(backend));
        }
        let body = image::decode(image_bytes)?;
        let applets = body
            .applets
            .iter()
            .map(|r| body.profile.load_applet(&r.aid, &r.state, backend))
            .collect::<Result<Vec<_>, _>>()?;
        if applets.is_empty() {
            return Err(Error::Image(ImageError::Corrupt(
                "no applet in image".into(),
            )));
        }
        let mut card = Card::assemble(body.profile, body.serial, applets, rng, storage, backend)?;
        card.store.image_len = image_bytes.len();
        Ok(card)
    }

    fn assemble(
        profile: Profile,
        serial: u32,
        applets: Vec<Box<dyn Applet>>,
        rng: Box<dyn CardRng>,
        storage: Box<dyn Storage>,
        backend: BackendKind,
    ) -> Result<Card, Error> {
        let saved = applets
            .iter()
            .map(|a| a.save().map(Zeroizing::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::InvalidOption)?;
        let aids = applets.iter().map(|a| a.aid().to_vec()).collect();
        let mut card = Card {
            profile,
            serial,
            diverged: vec![false; applets.len()],
            applets,
            aids,
            saved,
            selected: None,
            chain: None,
            pending: Zeroizing::new(Vec::new()),
            powered: false,
            rng,
            store: Store {
                storage,
                image_len: usize::MAX,
            },
            backend,
        };
        card.power_on();
        Ok(card)
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The serial number.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The crypto backend the keys run on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The answer to reset.
    pub fn atr(&self) -> &'static [u8] {
        self.profile.atr()
    }

    /// Whether the card is powered.
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Cold start: clears all volatile state and selects the default applet. Returns the ATR.
    pub fn power_on(&mut self) -> &'static [u8] {
        self.clear_volatile();
        self.powered = true;
        self.atr()
    }

    /// Removes power: the volatile state is lost.
    pub fn power_off(&mut self) {
        self.clear_volatile();
        self.powered = false;
    }

    /// Warm reset: as power on. Returns the ATR.
    pub fn reset(&mut self) -> &'static [u8] {
        self.power_on()
    }

    fn clear_volatile(&mut self) {
        for a in &mut self.applets {
            a.reset();
        }
        self.chain = None;
        self.pending.zeroize();
        // The card's one applet is selected implicitly, as on single-application cards.
        self.selected = (self.applets.len() == 1).then_some(0);
    }

    /// The current image bytes. They hold the card's PINs and keys: wipe them after use.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if an applet cannot serialize its state,
    /// [`ImageError::TooLarge`] if the image would be too large to read back.
    pub fn image(&self) -> Result<Vec<u8>, ImageError> {
        let saved = self
            .applets
            .iter()
            .map(|a| a.save().map(Zeroizing::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|s| ImageError::Corrupt(format!("applet state: {s}")))?;
        let mut bytes = image::encode_records(
            self.profile,
            self.serial,
            &records(&self.aids, &saved, None),
        )?;
        Ok(core::mem::take(&mut *bytes))
    }

    fn save_all(&mut self) -> Result<(), Status> {
        let records = records(&self.aids, &self.saved, None);
        self.store.write(self.profile, self.serial, &records)
    }

    /// Lines describing the card (no secrets), for `softcard info`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![
            format!("profile: {}", self.profile),
            format!("serial: {}", self.serial),
            format!("atr: {}", hex_upper(self.atr())),
            format!("backend: {}", self.backend.name()),
        ];
        for a in &self.applets {
            out.push(format!("applet {} ({})", a.name(), hex_upper(a.aid())));
            out.extend(a.describe().into_iter().map(|l| format!("  {l}")));
        }
        out
    }

    /// Sends one command APDU; returns the response (data || SW1 SW2). A command sent to an
    /// unpowered card powers it first, as a reader does.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        if !self.powered {
            self.power_on();
        }
        let cmd = match Command::parse(apdu) {
            Ok(c) => c,
            Err(s) => {
                self.pending.zeroize();
                self.chain = None;
                return s.to_bytes().to_vec();
            }
        };
        if let Err(s) = check_class(cmd.cla) {
            self.pending.zeroize();
            return s.to_bytes().to_vec();
        }
        if cmd.ins == INS_GET_RESPONSE && !cmd.is_chained() && self.chain.is_none() {
            return self.get_response(&cmd);
        }
        self.pending.zeroize();
        let ne = cmd.ne_or_max();
        match self.dispatch(&cmd) {
            Ok(data) => self.respond(data, ne),
            Err(s) => s.to_bytes().to_vec(),
        }
    }

    fn dispatch(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, Status> {
        if cmd.ins == INS_MANAGE_CHANNEL {
            self.chain = None;
            return Err(Status::LogicalChannelNotSupported);
        }
        let header = [cmd.cla & !0x10, cmd.ins, cmd.p1, cmd.p2];
        if cmd.is_chained() {
            let chain = self.chain.get_or_insert_with(|| Chain {
                header,
                data: Zeroizing::new(Vec::new()),
            });
            if chain.header != header {
                self.chain = None;
                return Err(Status::LastCommandOfChainExpected);
            }
            if chain.data.len().saturating_add(cmd.data.len()) > CHAIN_LIMIT {
                self.chain = None;
                return Err(Status::NotEnoughMemory);
            }
            append_wiping(&mut chain.data, cmd.data);
            return Ok(Vec::new());
        }
        match self.chain.take() {
            Some(chain) if chain.header != header => Err(Status::LastCommandOfChainExpected),
            Some(mut chain) => {
                if chain.data.len().saturating_add(cmd.data.len()) > CHAIN_LIMIT {
                    return Err(Status::NotEnoughMemory);
                }
                append_wiping(&mut chain.data, cmd.data);
                let whole = Command {
                    data: chain.data.as_slice(),
                    ..*cmd
                };
                self.execute(&whole)
            }
            None => self.execute(cmd),
        }
    }

    fn execute(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, Status> {
        if cmd.ins == INS_SELECT && cmd.p1 == 0x04 {
            return self.select(cmd);
        }
        let idx = self.selected.ok_or(Status::ConditionsNotSatisfied)?;
        self.run_applet(idx, |applet, ctx| applet.process(cmd, ctx))
    }

    fn select(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, Status> {
        if cmd.p2 & !0x0C != 0 {
            return Err(Status::IncorrectP1P2);
        }
        // Full match first, then the first applet whose AID begins with the bytes given.
        let aid = cmd.data;
        let found = self
            .applets
            .iter()
            .position(|a| a.aid() == aid)
            .or_else(|| {
                (!aid.is_empty())
                    .then(|| self.applets.iter().position(|a| a.aid().starts_with(aid)))
                    .flatten()
            })
            .ok_or(Status::FileNotFound)?;
        if let Some(old) = self.selected.filter(|old| *old != found) {
            if let Some(a) = self.applets.get_mut(old) {
                a.deselect();
            }
        }
        self.selected = Some(found);
        let fci = self.run_applet(found, |applet, ctx| {
            applet.select(ctx).map(Outcome::unchanged)
        })?;
        Ok(if cmd.p2 & 0x0C == 0x0C {
            Vec::new()
        } else {
            fci
        })
    }

    /// Runs `f` on applet `idx` and writes its state if it changed: if the outcome says so,
    /// or a PIN verification left its restored counter unwritten. When a write fails
    /// (6581) or is refused (6A84), the applet is put back to its last written state and
    /// the command answers that status: memory never differs from storage.
    fn run_applet(
        &mut self,
        idx: usize,
        f: impl FnOnce(&mut dyn Applet, &mut Context<'_>) -> Result<Outcome, Status>,
    ) -> Result<Vec<u8>, Status> {
        if self.diverged.get(idx).copied().unwrap_or(true) {
            return Err(Status::MemoryFailure);
        }
        let Card {
            profile,
            serial,
            applets,
            aids,
            saved,
            rng,
            store,
            backend,
            ..
        } = self;
        let (profile, serial, backend) = (*profile, *serial, *backend);
        let applet = applets.get_mut(idx).ok_or(Status::Unknown)?;
        let failure = Cell::new(None);
        // Applets other than `idx` are not touched while `idx` runs, so their last saved
        // states stand for them in any image written meanwhile.
        let mut persist = |state: Vec<u8>| -> Result<(), Status> {
            let state = Zeroizing::new(state);
            let written = store.write(
                profile,
                serial,
                &records(aids, saved, Some((idx, state.as_slice()))),
            );
            match written {
                Ok(()) => {
                    if let Some(slot) = saved.get_mut(idx) {
                        *slot = state;
                    }
                }
                Err(s) => failure.set(Some(s)),
            }
            written
        };
        let mut ctx = Context::new(&mut **rng, backend, &mut persist);
        let result = f(&mut **applet, &mut ctx);
        let unwritten = ctx.has_unwritten_change();
        let changed = unwritten
            || matches!(
                &result,
                Ok(Outcome {
                    effect: Effect::Changed,
                    ..
                })
            );
        let result = result.map(|outcome| outcome.data);
        let result = if changed && failure.get().is_none() {
            match applet.save() {
                Ok(state) => persist(state).and(result),
                Err(s) => {
                    failure.set(Some(s));
                    Err(s)
                }
            }
        } else {
            result
        };
        if let Some(s) = failure.get() {
            self.roll_back(idx);
            return Err(s);
        }
        result
    }

    /// Puts applet `idx` back to its last written state ([`Applet::restore`]). If that
    /// fails the applet is cut off (6581 to everything).
    fn roll_back(&mut self, idx: usize) {
        let Card {
            applets,
            saved,
            diverged,
            backend,
            ..
        } = self;
        let (Some(applet), Some(state), Some(flag)) =
            (applets.get_mut(idx), saved.get(idx), diverged.get_mut(idx))
        else {
            return;
        };
        let restored = applet.restore(state, *backend).is_ok();
        *flag = !restored;
    }

    fn respond(&mut self, mut data: Vec<u8>, ne: usize) -> Vec<u8> {
        if data.len() <= ne {
            data.extend_from_slice(&Status::Success.to_bytes());
            return data;
        }
        let Some(rest) = data.get_mut(ne..) else {
            return Status::Unknown.to_bytes().to_vec();
        };
        self.pending = Zeroizing::new(rest.to_vec());
        // What stays in `data`'s spare capacity is wiped before `data` leaves the card.
        rest.zeroize();
        data.truncate(ne);
        data.extend_from_slice(&remaining_status(self.pending.len()).to_bytes());
        data
    }

    /// GET RESPONSE (ISO 7816-4 section 11.6.1): the next part of a long response.
    fn get_response(&mut self, cmd: &Command<'_>) -> Vec<u8> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Status::IncorrectP1P2.to_bytes().to_vec();
        }
        if self.pending.is_empty() {
            return Status::ConditionsNotSatisfied.to_bytes().to_vec();
        }
        let available = self.pending.len();
        let ne = cmd.ne_or_max();
        if !cmd.extended && cmd.le.is_some_and(|le| le < 256 && le > available) {
            return Status::WrongLe(available as u8).to_bytes().to_vec();
        }
        let take = ne.min(available);
        let mut out = Vec::with_capacity(take.saturating_add(2));
        out.extend(self.pending.drain(..take));
        let sw = if self.pending.is_empty() {
            Status::Success
        } else {
            remaining_status(self.pending.len())
        };
        out.extend_from_slice(&sw.to_bytes());
        out
    }
}

fn remaining_status(n: usize) -> Status {
    Status::BytesRemaining(if n >= 256 { 0 } else { n as u8 })
}

fn check_class(cla: u8) -> Result<(), Status> {
    if cla == 0xFF {
        return Err(Status::ClaNotSupported);
    }
    if cla & 0x03 != 0 {
        return Err(Status::LogicalChannelNotSupported);
    }
    if cla & 0x0C != 0 {
        return Err(Status::SecureMessagingNotSupported);
    }
    if cla & 0xE0 != 0 && cla & 0x80 == 0 {
        // 0x20..0x7F: further interindustry classes (channels 4-19) are not supported.
        return Err(Status::ClaNotSupported);
    }
    Ok(())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
