//! The card: power, SELECT routing, command and response chaining, persistence.
//!
//! `Card::transmit` takes command bytes and returns response bytes (data || SW1 SW2). It
//! opens no file or socket and spawns no thread; randomness and storage are handed in.
//!
//! This file builds cards and routes SELECT; `framing` turns bytes into whole commands and
//! whole responses back into bytes (class, chaining, 61xx, GET RESPONSE, 6Cxx); `persist`
//! runs an applet and writes the image when its state changed, or rolls the applet back.
//! Memory always matches the stored image: a change the storage refuses (6581) or that
//! would make the image larger than [`MAX_IMAGE_LEN`] (6A84) is undone in memory too.
//! Buffers that may hold secrets (the saved states, images, command chains and pending
//! responses) are wiped when dropped or replaced.

#![warn(clippy::arithmetic_side_effects)]

mod error;
mod framing;
mod persist;
mod snapshot;

use core::fmt;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use self::error::Error;
pub use self::snapshot::Snapshot;
use self::{
    framing::Framing,
    persist::{Slot, Store},
};
use crate::{
    Applet, Command, Outcome, Status,
    crypto::{BackendKind, CardRng},
    description::{AppletDescription, AppletState, CardDescription},
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

/// A virtual smart card.
pub struct Card {
    /// The applets, in the image's order.
    slots: Vec<Slot>,
    selected: Option<usize>,
    framing: Framing,
    powered: bool,
    rng: Box<dyn CardRng>,
    /// The storage, and the profile and serial number its images carry.
    store: Store,
    backend: BackendKind,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("profile", &self.store.profile)
            .field("serial", &self.store.serial)
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
    /// [`Error::InvalidOption`] for a rejected option, [`Error::Storage`] with the storage's
    /// I/O error if the image cannot be written.
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
        card.save_all()?;
        Ok(card)
    }

    /// A card carrying the given applets (applets are an open set): the profile gives the
    /// ATR and is recorded in the image. An image of a card with applets its profile does
    /// not know cannot be loaded back with [`Card::load`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if an applet cannot save its state, [`Error::Storage`] with
    /// the storage's I/O error if the first image cannot be written.
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
        card.save_all()?;
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
        let slots = applets
            .into_iter()
            .map(Slot::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::InvalidOption)?;
        let mut card = Card {
            slots,
            selected: None,
            framing: Framing::default(),
            powered: false,
            rng,
            store: Store::new(profile, serial, storage),
            backend,
        };
        card.power_on();
        Ok(card)
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.store.profile
    }

    /// The serial number.
    pub fn serial(&self) -> u32 {
        self.store.serial
    }

    /// The crypto backend the keys run on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The answer to reset.
    pub fn atr(&self) -> &'static [u8] {
        self.store.profile.atr()
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
        for slot in &mut self.slots {
            slot.applet.reset();
        }
        self.framing.clear();
        // The card's one applet is selected implicitly, as on single-application cards.
        self.selected = (self.slots.len() == 1).then_some(0);
    }

    /// The card's typed description (no secrets): profile, serial, ATR, backend and each
    /// applet's state, for `softcard info --json`.
    pub fn description(&self) -> CardDescription {
        CardDescription {
            profile: self.profile().to_string(),
            serial: self.serial(),
            atr: hex_upper(self.atr()),
            backend: self.backend.name().into(),
            applets: self
                .slots
                .iter()
                .map(|Slot { applet, aid, .. }| AppletDescription {
                    name: applet.name().into(),
                    aid: hex_upper(aid),
                    // An applet that only writes lines (`Applet::describe`) is described by them.
                    state: match applet.description() {
                        AppletState::Other { lines } if lines.is_empty() => AppletState::Other {
                            lines: applet.describe(),
                        },
                        state => state,
                    },
                })
                .collect(),
        }
    }

    /// Lines describing the card (no secrets), for `softcard info`: its
    /// [`description`](Card::description) as text.
    pub fn describe(&self) -> Vec<String> {
        self.description().lines()
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
            .slots
            .iter()
            .position(|s| s.aid == aid)
            .or_else(|| {
                (!aid.is_empty())
                    .then(|| self.slots.iter().position(|s| s.aid.starts_with(aid)))
                    .flatten()
            })
            .ok_or(Status::FileNotFound)?;
        if let Some(old) = self.selected.filter(|old| *old != found) {
            if let Some(slot) = self.slots.get_mut(old) {
                slot.applet.deselect();
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
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
