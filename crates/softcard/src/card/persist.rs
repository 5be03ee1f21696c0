//! Persistence: each applet's state as last written, the image written through the card's
//! [`Storage`], and the rollback that keeps memory equal to storage.
//!
//! A command that changes an applet's state (its [`Outcome`] says so, or
//! [`Context::verify_pin`] wrote mid-command) is written before its response leaves. A write
//! the storage refuses (6581) or that would make the image larger than [`MAX_IMAGE_LEN`]
//! (6A84) is undone in memory too, through [`Applet::restore`].

#![warn(clippy::arithmetic_side_effects)]

use core::{cell::Cell, iter};
use std::io;

use zeroize::Zeroizing;

use super::{Card, Error, MAX_IMAGE_LEN};
use crate::{
    Applet, Context, Effect, ImageError, Outcome, Profile, Status, image, storage::Storage,
};

/// An applet on the card, with what persistence knows of it.
pub(super) struct Slot {
    pub(super) applet: Box<dyn Applet>,
    /// Its AID (it never changes), kept apart so that the image can be written while the
    /// applet runs.
    pub(super) aid: Vec<u8>,
    /// Its state as last written to storage.
    saved: Zeroizing<Vec<u8>>,
    /// Its memory could not be put back to `saved` after a failed write: it answers 6581
    /// to everything.
    diverged: bool,
}

impl Slot {
    /// A slot for `applet`, its current state taken as the written one.
    pub(super) fn new(applet: Box<dyn Applet>) -> Result<Self, Status> {
        Ok(Slot {
            saved: Zeroizing::new(applet.save()?),
            aid: applet.aid().to_vec(),
            applet,
            diverged: false,
        })
    }

    /// The `(aid, state)` record of the image last written.
    fn record(&self) -> (&[u8], &[u8]) {
        (&self.aid, &self.saved)
    }
}

/// Why an image was not written.
pub(super) enum WriteError {
    /// It could not be encoded (or would be larger than an image may be).
    Image(ImageError),
    /// It would grow past [`MAX_IMAGE_LEN`]: its length.
    Limit(usize),
    /// The storage failed.
    Storage(io::Error),
}

impl WriteError {
    /// The status a command answers: 6A84 for an image too large, else 6581.
    fn status(&self) -> Status {
        match self {
            WriteError::Image(ImageError::TooLarge(_)) | WriteError::Limit(_) => {
                Status::NotEnoughMemory
            }
            WriteError::Image(_) | WriteError::Storage(_) => Status::MemoryFailure,
        }
    }
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Image(e) => Error::Image(e),
            WriteError::Limit(len) => Error::Image(ImageError::TooLarge(len)),
            WriteError::Storage(e) => Error::Storage(e),
        }
    }
}

/// The card's storage and what it holds.
pub(super) struct Store {
    storage: Box<dyn Storage>,
    pub(super) profile: Profile,
    pub(super) serial: u32,
    /// Length of the image in storage; `usize::MAX` before the first write, which is not
    /// held to [`MAX_IMAGE_LEN`].
    pub(super) image_len: usize,
}

impl Store {
    /// A store that has written nothing yet.
    pub(super) fn new(profile: Profile, serial: u32, storage: Box<dyn Storage>) -> Self {
        Store {
            storage,
            profile,
            serial,
            image_len: usize::MAX,
        }
    }

    /// Writes the image of these `(aid, state)` records, or refuses one that would grow
    /// past [`MAX_IMAGE_LEN`].
    pub(super) fn write(&mut self, records: &[(&[u8], &[u8])]) -> Result<(), WriteError> {
        let bytes =
            image::encode_records(self.profile, self.serial, records).map_err(WriteError::Image)?;
        if bytes.len() > MAX_IMAGE_LEN && bytes.len() > self.image_len {
            return Err(WriteError::Limit(bytes.len()));
        }
        self.storage.save(&bytes).map_err(WriteError::Storage)?;
        self.image_len = bytes.len();
        Ok(())
    }
}

impl Card {
    /// Writes every applet's last written state: a new card's first image.
    ///
    /// # Errors
    /// [`Error::Storage`] with the storage's error, [`Error::Image`] if the image cannot
    /// be encoded.
    pub(super) fn save_all(&mut self) -> Result<(), Error> {
        let records: Vec<_> = self.slots.iter().map(Slot::record).collect();
        Ok(self.store.write(&records)?)
    }

    /// The current image bytes. They hold the card's PINs and keys: wipe them after use.
    ///
    /// # Errors
    /// [`ImageError::Corrupt`] if an applet cannot serialize its state,
    /// [`ImageError::TooLarge`] if the image would be too large to read back.
    pub fn image(&self) -> Result<Vec<u8>, ImageError> {
        let states = self
            .slots
            .iter()
            .map(|s| s.applet.save().map(Zeroizing::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|s| ImageError::Corrupt(format!("applet state: {s}")))?;
        let records: Vec<_> = self
            .slots
            .iter()
            .zip(&states)
            .map(|(slot, state)| (slot.aid.as_slice(), state.as_slice()))
            .collect();
        let mut bytes = image::encode_records(self.store.profile, self.store.serial, &records)?;
        Ok(core::mem::take(&mut *bytes))
    }

    /// Runs `f` on applet `idx` and writes its state if it changed: if the outcome says so,
    /// or a PIN verification left its restored counter unwritten. When a write fails
    /// (6581) or is refused (6A84), the applet is put back to its last written state and
    /// the command answers that status: memory never differs from storage.
    pub(super) fn run_applet(
        &mut self,
        idx: usize,
        f: impl FnOnce(&mut dyn Applet, &mut Context<'_>) -> Result<Outcome, Status>,
    ) -> Result<Vec<u8>, Status> {
        let Card {
            slots,
            rng,
            store,
            backend,
            ..
        } = self;
        let (before, rest) = slots.split_at_mut_checked(idx).ok_or(Status::Unknown)?;
        let (this, after) = rest.split_first_mut().ok_or(Status::Unknown)?;
        if this.diverged {
            return Err(Status::MemoryFailure);
        }
        let Slot {
            applet, aid, saved, ..
        } = this;
        let failure = Cell::new(None);
        // The other applets are not touched while this one runs, so their last written
        // states stand for them in any image written meanwhile.
        let mut persist = |state: Vec<u8>| -> Result<(), Status> {
            let state = Zeroizing::new(state);
            let records: Vec<_> = before
                .iter()
                .map(Slot::record)
                .chain(iter::once((aid.as_slice(), state.as_slice())))
                .chain(after.iter().map(Slot::record))
                .collect();
            let written = store.write(&records).map_err(|e| e.status());
            drop(records);
            match written {
                Ok(()) => *saved = state,
                Err(s) => failure.set(Some(s)),
            }
            written
        };
        let mut ctx = Context::new(&mut **rng, *backend, &mut persist);
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
        let backend = self.backend;
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.diverged = slot.applet.restore(&slot.saved, backend).is_err();
        }
    }
}
