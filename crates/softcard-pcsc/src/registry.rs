//! The registry of virtual readers: readers added and removed, cards inserted and removed
//! at run time.
//!
//! `pcsc::Context::establish(Scope)` takes no argument naming a reader set, so the readers
//! that [`Context::establish`](crate::Context::establish) sees live in one process-wide
//! registry, [`Registry::global`]. Tests and programs that want isolation create their own
//! with [`Registry::new`] and open contexts on it with [`Registry::establish`].

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::fault::{CardEvent, Decision, Fault, FaultSet};
use crate::trace::{EventKind, Injected, Tap};

use crate::{Context, Error, Scope, ShareMode};

/// A set of virtual readers shared by every context opened on it. Cloning gives another
/// handle to the same readers.
#[derive(Clone)]
pub struct Registry {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("readers", &self.readers())
            .finish()
    }
}

/// State shared by a registry, its contexts and their cards.
pub(crate) struct Shared {
    pub(crate) hub: Mutex<Hub>,
    /// Notified on every change: card or reader added or removed, connection, transaction
    /// end, cancel.
    pub(crate) changed: Condvar,
    /// What the exchanges pass through: recorded, or answered from a trace.
    tap: RwLock<Option<Tap>>,
    /// The faults injected (see [`crate::fault`]).
    faults: Mutex<FaultSet>,
    /// Whether `faults` holds any: the plain path checks this flag, not the lock.
    faulty: AtomicBool,
    /// Cards taken out of their readers by [`Registry::eject`], to be put back.
    parked: Mutex<HashMap<CString, softcard::Card>>,
    /// Card events that faults triggered during an exchange, carried out once the card's
    /// lock is given back (see [`Shared::run_events`]).
    events: Mutex<Vec<PendingEvent>>,
    /// The registry itself, for the events (and the delayed re-insertions) they start.
    me: Weak<Shared>,
}

/// A card event a fault triggered, to be carried out after the exchange.
struct PendingEvent {
    reader: String,
    event: CardEvent,
    back: Option<Duration>,
}

/// The registry's bookkeeping, behind one mutex. A card itself sits behind its own mutex
/// (in [`Slot`]) so that a long card operation does not block the other readers.
#[derive(Default)]
pub(crate) struct Hub {
    pub(crate) readers: Vec<Reader>,
    pub(crate) handles: HashMap<u64, Handle>,
    /// Per context: how many times it was cancelled.
    pub(crate) cancels: HashMap<u64, u64>,
    next_id: u64,
}

/// One virtual reader.
pub(crate) struct Reader {
    pub(crate) name: CString,
    pub(crate) slot: Option<Arc<Mutex<Slot>>>,
    /// Insertions and removals so far (the high 16 bits of `SCARD_READERSTATE` events).
    pub(crate) events: u32,
    /// Power cycles injected by [`Registry::power_cycle`] (a vpcd bridge shows each to
    /// pcscd).
    pub(crate) cycles: u64,
}

/// A card in a reader. `card` becomes `None` when the card is removed, which every handle
/// still holding the slot sees.
pub(crate) struct Slot {
    pub(crate) card: Option<softcard::Card>,
    /// Bumped at every reset or power-off; a handle with an older epoch gets
    /// `SCARD_W_RESET_CARD` until it reconnects.
    pub(crate) epoch: u64,
    /// The handle holding the card's transaction, and how many times it began it (pcsc-lite
    /// counts nested `SCardBeginTransaction` calls on one handle). It lives beside the card,
    /// under the same lock, so that "is another handle's transaction open" and the command
    /// itself are one step: nothing lands inside another handle's transaction.
    pub(crate) transaction: Option<(u64, u32)>,
}

/// One connection (`SCARDHANDLE`).
pub(crate) struct Handle {
    pub(crate) context: u64,
    pub(crate) reader: CString,
    pub(crate) share: ShareMode,
    pub(crate) slot: Option<Arc<Mutex<Slot>>>,
    pub(crate) epoch: u64,
}

impl Shared {
    /// The tap exchanges pass through now, if any.
    pub(crate) fn tap(&self) -> Option<Tap> {
        self.tap
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records an event of the card in `reader` in the trace, if one is recorded.
    pub(crate) fn note(&self, reader: &CStr, profile: softcard::Profile, kind: EventKind) {
        if let Some(Tap::Record(r)) = self.tap() {
            r.event(&reader.to_string_lossy(), profile, kind);
        }
    }

    /// Whether faults are injected (the reader's name is then needed for an exchange).
    pub(crate) fn faulty(&self) -> bool {
        self.faulty.load(Ordering::Acquire)
    }

    /// Sends a command to the card in `reader` through the faults and `tap`, if any: a
    /// failed transmission or an injected status word never reaches the card; a latency
    /// makes the answer wait until the operation took at least that long.
    ///
    /// # Errors
    /// The error of a [`FaultKind::FailTransmit`](crate::fault::FaultKind::FailTransmit).
    pub(crate) fn exchange(
        &self,
        tap: Option<&Tap>,
        reader: &CStr,
        card: &mut softcard::Card,
        apdu: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let pass = |card: &mut softcard::Card| match tap {
            None => card.transmit(apdu),
            Some(tap) => tap.exchange(&reader.to_string_lossy(), card, apdu),
        };
        if !self.faulty() {
            return Ok(pass(card));
        }
        let name = reader.to_string_lossy();
        let start = Instant::now();
        let decision = {
            let mut faults = lock(&self.faults);
            let d = faults.decide(&name, card.profile(), apdu);
            self.faulty.store(!faults.is_empty(), Ordering::Release);
            d
        };
        let (injected, result) = match decision {
            Decision::Pass(delay) => {
                let response = pass(card);
                lock(&self.faults).answered(&name, apdu, &response);
                sleep_until(start, delay);
                return Ok(response);
            }
            Decision::Fail(e) => (Injected::Failed(e), Err(e)),
            Decision::Answer(sw) => (Injected::Answered(sw), Ok(sw.to_be_bytes().to_vec())),
            Decision::Event { event, back } => {
                let error = match event {
                    CardEvent::Remove => Error::RemovedCard,
                    CardEvent::Reset => Error::ResetCard,
                };
                lock(&self.events).push(PendingEvent {
                    reader: name.to_string(),
                    event,
                    back,
                });
                (Injected::Failed(error), Err(error))
            }
        };
        // What a fault kept from the card goes in the trace, once for every kind.
        if let Some(Tap::Record(r)) = tap {
            r.fault(&name, card.profile(), apdu, injected);
        }
        result
    }

    /// Carries out the card events that faults triggered (a card pulled out or reset on a
    /// command): called by the exchange's caller once it gave the card's lock back, before
    /// it answers, so the client's next call sees the event. A removal with a `back` delay
    /// puts the card back from a thread of its own.
    pub(crate) fn run_events(&self) {
        let events = std::mem::take(&mut *lock(&self.events));
        if events.is_empty() {
            return;
        }
        let Some(shared) = self.me.upgrade() else {
            return;
        };
        let registry = Registry { shared };
        for e in events {
            match e.event {
                CardEvent::Remove => {
                    if registry.eject(&e.reader).is_ok() {
                        if let Some(back) = e.back {
                            let me = self.me.clone();
                            std::thread::spawn(move || {
                                std::thread::sleep(back);
                                if let Some(shared) = me.upgrade() {
                                    let _ = Registry { shared }.reinsert(&e.reader);
                                }
                            });
                        }
                    }
                }
                CardEvent::Reset => {
                    let _ = registry.power_cycle(&e.reader);
                }
            }
        }
    }

    /// Waits for a change (see [`Shared::changed`]) for at most `timeout` (`None`: until
    /// one comes), giving the hub back.
    pub(crate) fn wait<'a>(
        &self,
        hub: MutexGuard<'a, Hub>,
        timeout: Option<std::time::Duration>,
    ) -> MutexGuard<'a, Hub> {
        match timeout {
            None => self
                .changed
                .wait(hub)
                .unwrap_or_else(PoisonError::into_inner),
            Some(t) => {
                self.changed
                    .wait_timeout(hub, t)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        }
    }
}

/// Sleeps until `delay` has passed since `start`.
fn sleep_until(start: Instant, delay: Duration) {
    if let Some(left) = delay.checked_sub(start.elapsed()) {
        std::thread::sleep(left);
    }
}

/// Locks a mutex; a panic elsewhere while it was held does not make the state unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn reader(&self, name: &CStr) -> Option<&Reader> {
        self.readers.iter().find(|r| r.name.as_c_str() == name)
    }

    pub(crate) fn reader_mut(&mut self, name: &CStr) -> Option<&mut Reader> {
        self.readers.iter_mut().find(|r| r.name.as_c_str() == name)
    }

    /// The card slot of a reader.
    ///
    /// # Errors
    /// [`Error::UnknownReader`], or [`Error::NoSmartcard`] if the reader is empty.
    pub(crate) fn slot_of(&self, name: &CStr) -> Result<Arc<Mutex<Slot>>, Error> {
        self.reader(name)
            .ok_or(Error::UnknownReader)?
            .slot
            .clone()
            .ok_or(Error::NoSmartcard)
    }

    /// Handles connected to a reader.
    pub(crate) fn handles_on<'a>(
        &'a self,
        name: &'a CStr,
    ) -> impl Iterator<Item = (u64, &'a Handle)> + 'a {
        self.handles
            .iter()
            .filter(move |(_, h)| h.reader.as_c_str() == name)
            .map(|(id, h)| (*id, h))
    }
}

/// The reader name softcard gives the `index`-th card it serves (from 0):
/// `softcard <KIND> <nn> 00`, KIND being `PIV` or `GIDS`. The names start with `softcard`,
/// which is what `yubico-piv-tool -r softcard` matches. A YubiKey card sits in the reader
/// a YubiKey 5 is given, `Yubico YubiKey OTP+FIDO+CCID <nn> 00`: clients find YubiKeys by
/// that name (piv-go and the `yubikey` crate look for "yubikey", ykman reads the USB
/// interfaces from it).
pub fn served_reader_name(profile: softcard::Profile, index: usize) -> String {
    let kind = match profile {
        softcard::Profile::Piv => "softcard PIV",
        softcard::Profile::WindowsVsc => "softcard GIDS",
        softcard::Profile::Yubikey | softcard::Profile::Yubikey54 => "Yubico YubiKey OTP+FIDO+CCID",
    };
    format!("{kind} {index:02} 00")
}

fn reader_name(name: &str) -> Result<CString, Error> {
    if name.is_empty() {
        return Err(Error::InvalidParameter);
    }
    CString::new(name).map_err(|_| Error::InvalidParameter)
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A new, empty registry, independent of [`Registry::global`].
    pub fn new() -> Self {
        Registry {
            shared: Arc::new_cyclic(|me| Shared {
                hub: Mutex::new(Hub::default()),
                changed: Condvar::new(),
                tap: RwLock::new(None),
                faults: Mutex::default(),
                faulty: AtomicBool::new(false),
                parked: Mutex::default(),
                events: Mutex::default(),
                me: me.clone(),
            }),
        }
    }

    /// The process-wide registry that [`Context::establish`] uses.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// Opens a context on this registry (`SCardEstablishContext`).
    ///
    /// # Errors
    /// None today; the signature mirrors [`Context::establish`].
    pub fn establish(&self, scope: Scope) -> Result<Context, Error> {
        Ok(Context::open(Arc::clone(&self.shared), scope))
    }

    /// Adds an empty reader.
    ///
    /// # Errors
    /// [`Error::DuplicateReader`] if the name is taken, [`Error::InvalidParameter`] for an
    /// empty name or one with a NUL byte.
    pub fn add_reader(&self, name: &str) -> Result<(), Error> {
        let name = reader_name(name)?;
        let mut hub = lock(&self.shared.hub);
        if hub.reader(&name).is_some() {
            return Err(Error::DuplicateReader);
        }
        hub.readers.push(Reader {
            name,
            slot: None,
            events: 0,
            cycles: 0,
        });
        drop(hub);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Removes a reader, and the card in it (returned). Open handles get
    /// [`Error::RemovedCard`] (with a card) or [`Error::ReaderUnavailable`].
    ///
    /// # Errors
    /// [`Error::UnknownReader`].
    pub fn remove_reader(&self, name: &str) -> Result<Option<softcard::Card>, Error> {
        let name = reader_name(name)?;
        let mut hub = lock(&self.shared.hub);
        let pos = hub
            .readers
            .iter()
            .position(|r| r.name == name)
            .ok_or(Error::UnknownReader)?;
        let reader = hub.readers.remove(pos);
        drop(hub);
        let parked = lock(&self.shared.parked).remove(&name);
        let card = reader.slot.and_then(|s| lock(&s).card.take());
        if let Some(c) = &card {
            self.shared.note(&name, c.profile(), EventKind::Removed);
        }
        let card = card.or(parked);
        self.shared.changed.notify_all();
        Ok(card)
    }

    /// Inserts a card, adding the reader if it does not exist. A card already in the reader
    /// is removed first (open handles see the removal) and returned.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty reader name or one with a NUL byte.
    pub fn insert_card(
        &self,
        reader: &str,
        card: softcard::Card,
    ) -> Result<Option<softcard::Card>, Error> {
        let name = reader_name(reader)?;
        let mut hub = lock(&self.shared.hub);
        if hub.reader(&name).is_none() {
            hub.readers.push(Reader {
                name: name.clone(),
                slot: None,
                events: 0,
                cycles: 0,
            });
        }
        let r = hub.reader_mut(&name).ok_or(Error::InternalError)?;
        let old = r.slot.take().and_then(|s| lock(&s).card.take());
        if old.is_some() {
            r.events = r.events.wrapping_add(1);
        }
        if let Some(c) = &old {
            self.shared.note(&name, c.profile(), EventKind::Removed);
        }
        self.shared.note(&name, card.profile(), EventKind::Inserted);
        r.slot = Some(Arc::new(Mutex::new(Slot {
            card: Some(card),
            epoch: 0,
            transaction: None,
        })));
        r.events = r.events.wrapping_add(1);
        drop(hub);
        self.shared.changed.notify_all();
        Ok(old)
    }

    /// Removes the card from a reader and returns it; the reader stays, empty. Open handles
    /// get [`Error::RemovedCard`].
    ///
    /// # Errors
    /// [`Error::UnknownReader`], or [`Error::NoSmartcard`] if the reader is empty.
    pub fn remove_card(&self, reader: &str) -> Result<softcard::Card, Error> {
        let name = reader_name(reader)?;
        let mut hub = lock(&self.shared.hub);
        let r = hub.reader_mut(&name).ok_or(Error::UnknownReader)?;
        let slot = r.slot.take().ok_or(Error::NoSmartcard)?;
        r.events = r.events.wrapping_add(1);
        drop(hub);
        let card = lock(&slot).card.take().ok_or(Error::NoSmartcard)?;
        self.shared.note(&name, card.profile(), EventKind::Removed);
        self.shared.changed.notify_all();
        Ok(card)
    }

    /// Runs `f` on the card in a reader (to inspect it, or to change it behind the
    /// connections' backs as a test would).
    ///
    /// # Errors
    /// [`Error::UnknownReader`], or [`Error::NoSmartcard`] if the reader is empty.
    pub fn with_card<R>(
        &self,
        reader: &str,
        f: impl FnOnce(&mut softcard::Card) -> R,
    ) -> Result<R, Error> {
        let name = reader_name(reader)?;
        let hub = lock(&self.shared.hub);
        let slot = hub.slot_of(&name)?;
        drop(hub);
        let mut guard = lock(&slot);
        let card = guard.card.as_mut().ok_or(Error::NoSmartcard)?;
        Ok(f(card))
    }

    /// Applies a disposition to the card in a reader, as a reader event would (a reset or
    /// power-off from pcscd's side of a bridge): its connections see it
    /// (`SCARD_W_RESET_CARD`).
    ///
    /// # Errors
    /// [`Error::UnknownReader`], [`Error::NoSmartcard`].
    pub fn dispose(&self, reader: &str, disposition: crate::Disposition) -> Result<(), Error> {
        let name = reader_name(reader)?;
        let hub = lock(&self.shared.hub);
        let slot = hub.slot_of(&name)?;
        crate::ops::dispose(&self.shared, &name, &mut lock(&slot), disposition);
        drop(hub);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Sends a command to the card in a reader from outside the registry's connections
    /// (pcscd's clients, through a bridge): it waits while a connection holds the card's
    /// transaction, so it never lands inside one.
    ///
    /// # Errors
    /// [`Error::UnknownReader`], [`Error::NoSmartcard`], [`Error::RemovedCard`]; the error of
    /// an injected failed transmission.
    pub fn transmit_between_transactions(
        &self,
        reader: &str,
        apdu: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let name = reader_name(reader)?;
        let mut hub = lock(&self.shared.hub);
        loop {
            let slot = hub.slot_of(&name)?;
            let mut s = lock(&slot);
            if s.transaction.is_none() {
                drop(hub);
                let card = s.card.as_mut().ok_or(Error::RemovedCard)?;
                let tap = self.shared.tap();
                let result = self.shared.exchange(tap.as_ref(), &name, card, apdu);
                drop(s);
                self.shared.run_events();
                return result;
            }
            drop(s);
            hub = self.shared.wait(hub, None);
        }
    }

    /// Takes the card out of `reader` as a user pulling it would: the card loses power
    /// (its verified PINs and other security state), every connection sees the removal
    /// ([`Error::RemovedCard`], the reader EMPTY in `get_status_change`), and a vpcd bridge
    /// on the reader closes its connection, which pcscd takes for a removal. The registry
    /// keeps the card for [`Registry::reinsert`].
    ///
    /// # Errors
    /// [`Error::UnknownReader`], or [`Error::NoSmartcard`] if the reader is empty.
    pub fn eject(&self, reader: &str) -> Result<(), Error> {
        let mut card = self.remove_card(reader)?;
        card.power_off();
        let name = reader_name(reader)?;
        lock(&self.shared.faults).forget(reader);
        lock(&self.shared.parked).insert(name, card);
        Ok(())
    }

    /// Puts back the card [`Registry::eject`] took out of `reader`: every client sees the
    /// insertion.
    ///
    /// # Errors
    /// [`Error::UnknownReader`] when no card was taken out of this reader.
    pub fn reinsert(&self, reader: &str) -> Result<(), Error> {
        let name = reader_name(reader)?;
        let card = lock(&self.shared.parked)
            .remove(&name)
            .ok_or(Error::UnknownReader)?;
        self.insert_card(reader, card)?;
        Ok(())
    }

    /// Power-cycles the card in `reader` (off, then on), as a reader losing power would:
    /// its security state is gone, and every connection gets [`Error::ResetCard`] on its
    /// next call until it reconnects. A vpcd bridge on the reader shows pcscd a removal
    /// and an insertion: pcscd's driver interface has no way to report a reset, so pcscd's
    /// clients get `SCARD_W_REMOVED_CARD`.
    ///
    /// # Errors
    /// [`Error::UnknownReader`], [`Error::NoSmartcard`].
    pub fn power_cycle(&self, reader: &str) -> Result<(), Error> {
        let name = reader_name(reader)?;
        let mut hub = lock(&self.shared.hub);
        let slot = hub.slot_of(&name)?;
        {
            let mut s = lock(&slot);
            let card = s.card.as_mut().ok_or(Error::NoSmartcard)?;
            card.power_off();
            self.shared.note(&name, card.profile(), EventKind::PowerOff);
            card.power_on();
            self.shared.note(&name, card.profile(), EventKind::PowerOn);
            s.epoch += 1;
        }
        if let Some(r) = hub.reader_mut(&name) {
            r.cycles += 1;
        }
        drop(hub);
        lock(&self.shared.faults).forget(reader);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// How many times [`Registry::power_cycle`] cycled the card in `reader` (0 for an
    /// unknown reader).
    pub(crate) fn power_cycles(&self, reader: &str) -> u64 {
        reader_name(reader)
            .ok()
            .and_then(|n| lock(&self.shared.hub).reader(&n).map(|r| r.cycles))
            .unwrap_or(0)
    }

    /// Powers on the card in `reader` if it is off (a trace records it).
    pub(crate) fn power_on(&self, reader: &str) -> Result<(), Error> {
        let name = reader_name(reader)?;
        let slot = lock(&self.shared.hub).slot_of(&name)?;
        crate::ops::power_on(&self.shared, &name, &mut lock(&slot));
        Ok(())
    }

    /// Whether `reader` has a card in it.
    pub fn has_card(&self, reader: &str) -> bool {
        reader_name(reader).is_ok_and(|n| lock(&self.shared.hub).slot_of(&n).is_ok())
    }

    /// Injects a fault in the exchanges with this registry's cards (see [`crate::fault`]).
    pub fn inject(&self, fault: Fault) {
        let mut faults = lock(&self.shared.faults);
        faults.add(fault);
        self.shared
            .faulty
            .store(!faults.is_empty(), Ordering::Release);
    }

    /// Injects several faults, in order.
    pub fn inject_all(&self, faults: impl IntoIterator<Item = Fault>) {
        for f in faults {
            self.inject(f);
        }
    }

    /// The faults in force (those used up are gone), in the order they were injected.
    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.shared.faults).list()
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
        self.shared.faulty.store(false, Ordering::Release);
    }

    /// Sets what every exchange with this registry's cards passes through from now on:
    /// a [`Tap::Record`] writes them to a trace, a [`Tap::Replay`] answers them from one
    /// (see [`crate::trace`]); `None` talks to the cards directly again.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *self
            .shared
            .tap
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tap;
    }

    /// The reader names, in the order they were added.
    pub fn readers(&self) -> Vec<String> {
        lock(&self.shared.hub)
            .readers
            .iter()
            .map(|r| r.name.to_string_lossy().into_owned())
            .collect()
    }
}
