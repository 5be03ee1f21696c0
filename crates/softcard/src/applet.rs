//! The extension point: card applications behind the [`Applet`] trait.

#![warn(clippy::arithmetic_side_effects)]

use core::fmt;

use serde::Serialize;

use crate::{
    Command, PinStore, Status,
    crypto::{BackendKind, CardRng},
    description::AppletState,
};

/// A card application. The [`Card`](crate::Card) routes SELECT to it by AID, reassembles
/// chained commands and chains long responses; the applet sees whole commands only.
///
/// Applets keep two kinds of state: persistent state, which [`Applet::save`] serializes
/// into the card image, and volatile security state (verified PINs, authenticated keys,
/// selected key references), which [`Applet::reset`] clears.
pub trait Applet: Send {
    /// The full application identifier.
    fn aid(&self) -> &[u8];

    /// A short human-readable name ("PIV", "GIDS").
    fn name(&self) -> &'static str;

    /// Called when the applet is selected; returns the response data (FCI or the
    /// application property template).
    ///
    /// # Errors
    /// The status word to answer the SELECT with.
    fn select(&mut self, ctx: &mut Context<'_>) -> Result<Vec<u8>, Status>;

    /// Called when another applet is selected. Clears per-selection state.
    fn deselect(&mut self) {}

    /// Processes one whole command (never SELECT by AID, GET RESPONSE or a chain part). The
    /// [`Outcome`] says whether the persistent state changed: if so the card writes the
    /// image before the response leaves. Decide it in one place per applet, from the parsed
    /// command, rather than in the handlers.
    ///
    /// A command that fails must leave the persistent state as it found it, or as the last
    /// write the core made for it ([`Context::verify_pin`]): no data is returned and nothing
    /// is written with an error.
    ///
    /// # Errors
    /// The status word to answer with.
    fn process(&mut self, cmd: &Command<'_>, ctx: &mut Context<'_>) -> Result<Outcome, Status>;

    /// Power-on, reset, or a reset disposition: clears the volatile security state.
    fn reset(&mut self);

    /// The persistent state, serialized (postcard) for the card image.
    ///
    /// # Errors
    /// [`Status::MemoryFailure`] if it cannot be serialized.
    fn save(&self) -> Result<Vec<u8>, Status>;

    /// Puts the persistent state back to `state` (bytes an earlier [`Applet::save`]
    /// returned), its keys loaded into `backend`, and clears the volatile state as
    /// [`Applet::reset`] does. The card calls it
    /// when it could not write a change (6581, 6A84), so that the applet is again what its
    /// image says.
    ///
    /// # Errors
    /// Any status if the state cannot be restored: the card then refuses every later
    /// command to this applet with 6581 (its memory no longer matches its image).
    fn restore(&mut self, state: &[u8], backend: BackendKind) -> Result<(), Status>;

    /// The applet's state (no secrets), for [`Card::description`](crate::Card::description)
    /// and `softcard info`. By default: no lines.
    fn description(&self) -> AppletState {
        AppletState::Other { lines: Vec::new() }
    }

    /// Human-readable lines describing the applet's state (no secrets): its
    /// [`description`](Applet::description) as text.
    fn describe(&self) -> Vec<String> {
        self.description().lines()
    }
}

/// What a command did to its applet's persistent state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing the image holds changed.
    Unchanged,
    /// The persistent state changed: the card writes the image before the response leaves.
    Changed,
}

/// A command's response data and its [`Effect`].
#[must_use]
pub struct Outcome {
    /// The response data (without the status word).
    pub data: Vec<u8>,
    /// Whether the persistent state changed.
    pub effect: Effect,
}

impl Outcome {
    /// Response data of a command that changed nothing persistent.
    pub fn unchanged(data: Vec<u8>) -> Self {
        Outcome {
            data,
            effect: Effect::Unchanged,
        }
    }

    /// Response data of a command that changed the persistent state.
    pub fn changed(data: Vec<u8>) -> Self {
        Outcome {
            data,
            effect: Effect::Changed,
        }
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Response data may be secret (a deciphered key): its length only.
        f.debug_struct("Outcome")
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .field("effect", &self.effect)
            .finish()
    }
}

/// What an applet may use while it processes a command: randomness, the crypto backend,
/// and the core's PIN verification, which writes the card image mid-command.
pub struct Context<'a> {
    /// The card's random number generator.
    pub rng: &'a mut dyn CardRng,
    /// The backend new keys are generated with.
    pub backend: BackendKind,
    persist: &'a mut dyn FnMut(Vec<u8>) -> Result<(), Status>,
    /// A PIN comparison succeeded and restored its counter after the spent try was
    /// written: the state must be written again, whatever the command's outcome.
    unwritten: bool,
}

impl<'a> Context<'a> {
    /// A context over the given parts. `persist` writes a card image in which the calling
    /// applet's state is replaced by the bytes given.
    pub fn new(
        rng: &'a mut dyn CardRng,
        backend: BackendKind,
        persist: &'a mut dyn FnMut(Vec<u8>) -> Result<(), Status>,
    ) -> Self {
        Context {
            rng,
            backend,
            persist,
            unwritten: false,
        }
    }

    /// Verifies a PIN of `state` the anti-tearing way, the one sequence every applet uses:
    /// spends a try, writes `state` with the try spent, then compares `candidate`
    /// ([`Pin::compare`](crate::Pin::compare)). A wrong value leaves the try spent, as
    /// written; a right one restores the counter, and the card writes that before the
    /// response leaves, whatever the rest of the command does.
    ///
    /// # Errors
    /// The status of [`PinStore::pin_mut`] for an unknown PIN; 6983 if the PIN is blocked
    /// (nothing is written); the write's status (6581, 6A84: the card then restores the
    /// applet's last written state); 63Cx for a wrong value.
    pub fn verify_pin<S: PinStore>(
        &mut self,
        state: &mut S,
        reference: S::Reference,
        candidate: &[u8],
    ) -> Result<(), Status> {
        state.pin_mut(reference)?.spend_try()?;
        (self.persist)(encode_state(&*state)?)?;
        state.pin_mut(reference)?.compare(candidate)?;
        self.unwritten = true;
        Ok(())
    }

    /// Whether [`Context::verify_pin`] left a change the card has not written yet.
    pub(crate) fn has_unwritten_change(&self) -> bool {
        self.unwritten
    }
}
/// Serializes a persistent state with postcard (the image's encoding), into a buffer
/// allocated once at its final size (growth would leave copies of secrets behind).
///
/// # Errors
/// [`Status::MemoryFailure`] if serialization fails.
pub fn encode_state<T: Serialize>(state: &T) -> Result<Vec<u8>, Status> {
    crate::image::serialize_exact(state).map_err(|_| Status::MemoryFailure)
}
