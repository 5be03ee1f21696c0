//! The extension point: card applications behind the [`Applet`] trait.

#![warn(clippy::arithmetic_side_effects)]

use serde::Serialize;

use crate::{
    Command, Status,
    crypto::{BackendKind, CardRng},
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

    /// Processes one whole command (never SELECT by AID, GET RESPONSE or a chain part).
    ///
    /// # Errors
    /// The status word to answer with; no data is returned with an error.
    fn process(&mut self, cmd: &Command<'_>, ctx: &mut Context<'_>) -> Result<Vec<u8>, Status>;

    /// Power-on, reset, or a reset disposition: clears the volatile security state.
    fn reset(&mut self);

    /// The persistent state, serialized (postcard) for the card image.
    ///
    /// # Errors
    /// [`Status::MemoryFailure`] if it cannot be serialized.
    fn save(&self) -> Result<Vec<u8>, Status>;

    /// Puts the persistent state back to `state` (bytes an earlier [`Applet::save`]
    /// returned) and clears the volatile state as [`Applet::reset`] does. The card calls it
    /// when it could not write a change (6581, 6A84), so that the applet is again what its
    /// image says.
    ///
    /// The default declines with [`Status::FunctionNotSupported`]: the card then rebuilds
    /// the applets its profile knows (PIV, GIDS) from `state`, and refuses every later
    /// command to any other applet with 6581 (its memory no longer matches its image).
    ///
    /// # Errors
    /// Any status if the state cannot be restored.
    fn restore(&mut self, state: &[u8]) -> Result<(), Status> {
        let _ = state;
        Err(Status::FunctionNotSupported)
    }

    /// Human-readable lines describing the applet's state (no secrets), for `softcard info`.
    fn describe(&self) -> Vec<String> {
        Vec::new()
    }
}

/// What an applet may use while it processes a command: randomness, the crypto backend,
/// and the card's storage.
pub struct Context<'a> {
    /// The card's random number generator.
    pub rng: &'a mut dyn CardRng,
    /// The backend new keys are generated with.
    pub backend: BackendKind,
    persist: &'a mut dyn FnMut(Vec<u8>) -> Result<(), Status>,
    dirty: bool,
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
            dirty: false,
        }
    }

    /// Marks the persistent state changed: the card saves it before the response leaves.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether [`Context::mark_dirty`] was called.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes the applet's persistent state to storage now, before the command goes on
    /// (the anti-tearing step of a PIN verification).
    ///
    /// # Errors
    /// [`Status::MemoryFailure`] (6581) if it cannot be serialized or written,
    /// [`Status::NotEnoughMemory`] (6A84) if the image would grow past the card's limit.
    /// Either way the card then restores the applet's last written state (see
    /// [`Applet::restore`]) and answers the command with that status.
    pub fn persist_now<T: Serialize>(&mut self, state: &T) -> Result<(), Status> {
        (self.persist)(encode_state(state)?)
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
