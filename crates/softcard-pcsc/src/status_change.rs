//! `SCardGetStatusChange` over a registry, and [`ReaderState`].

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use crate::registry::{Hub, Shared, lock};
use crate::{Dword, Error, MAX_ATR_SIZE, PNP_NOTIFICATION, State};

/// A reader's state as known to the caller and as last seen (`SCARD_READERSTATE`).
#[derive(Clone, Debug)]
pub struct ReaderState {
    name: CString,
    current: Dword,
    event: Dword,
    atr: [u8; MAX_ATR_SIZE],
    atr_len: usize,
}

impl ReaderState {
    /// A reader state with the caller's view `current_state` (often [`State::UNAWARE`]).
    pub fn new<T: Into<CString>>(name: T, current_state: State) -> ReaderState {
        ReaderState {
            name: name.into(),
            current: current_state.bits(),
            event: 0,
            atr: [0; MAX_ATR_SIZE],
            atr_len: 0,
        }
    }

    /// The reader's name.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The card's ATR when last seen.
    pub fn atr(&self) -> &[u8] {
        self.atr.get(..self.atr_len).unwrap_or(&[])
    }

    /// The state the caller knows.
    pub fn current_state(&self) -> State {
        State::from_bits_truncate(self.current)
    }

    /// The state found by the last [`Context::get_status_change`](crate::Context::get_status_change).
    pub fn event_state(&self) -> State {
        State::from_bits_truncate(self.event)
    }

    /// The reader's event counter (high 16 bits of the event state).
    pub fn event_count(&self) -> u32 {
        ((self.event >> 16) & 0xFFFF) as u32
    }

    /// The state the caller knows, with its event counter (the raw `dwCurrentState`).
    pub(crate) fn current_bits(&self) -> Dword {
        self.current
    }

    /// Sets the state found and the card's ATR (as a host reported them).
    pub(crate) fn set_event(&mut self, event: Dword, atr: &[u8]) {
        self.event = event;
        let n = atr.len().min(MAX_ATR_SIZE);
        if let (Some(dst), Some(src)) = (self.atr.get_mut(..n), atr.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.atr_len = n;
    }

    /// The state found, with its event counter (the raw `dwEventState`).
    pub(crate) fn event_bits(&self) -> Dword {
        self.event
    }

    /// Takes the last seen state as the known state.
    pub fn sync_current_state(&mut self) {
        self.current = self.event;
    }
}

/// The state bits that a change in counts as a change.
const WATCHED: Dword = State::UNKNOWN.bits()
    | State::UNAVAILABLE.bits()
    | State::EMPTY.bits()
    | State::PRESENT.bits()
    | State::EXCLUSIVE.bits()
    | State::INUSE.bits()
    | State::MUTE.bits()
    | State::UNPOWERED.bits();

/// Fills in one reader's event state; returns whether it changed. `pnp_known` is the
/// reader count the caller knows, for the PnP notification reader.
fn update(hub: &Hub, rs: &mut ReaderState, pnp_known: Dword) -> bool {
    if rs.current & State::IGNORE.bits() != 0 {
        rs.event = State::IGNORE.bits();
        return false;
    }
    let unaware = rs.current == State::UNAWARE.bits();
    if rs.name.as_c_str() == PNP_NOTIFICATION() {
        let count = hub.readers.len() as Dword & 0xFFFF;
        rs.event = count << 16;
        let changed = pnp_known != count;
        if changed {
            rs.event |= State::CHANGED.bits();
        }
        return changed;
    }
    let Some(reader) = hub.reader(&rs.name) else {
        let known = rs.current & State::UNKNOWN.bits() != 0;
        rs.event = State::UNKNOWN.bits() | if known { 0 } else { State::CHANGED.bits() };
        rs.atr_len = 0;
        return !known;
    };
    let mut bits = State::EMPTY.bits();
    rs.atr_len = 0;
    if let Some(slot) = &reader.slot {
        let s = lock(slot);
        if let Some(card) = &s.card {
            bits = State::PRESENT.bits();
            if !card.is_powered() {
                bits |= State::UNPOWERED.bits();
            }
            let atr = card.atr();
            let n = atr.len().min(MAX_ATR_SIZE);
            if let (Some(dst), Some(src)) = (rs.atr.get_mut(..n), atr.get(..n)) {
                dst.copy_from_slice(src);
                rs.atr_len = n;
            }
        }
    }
    let mut handles = hub.handles_on(&reader.name).peekable();
    if handles.peek().is_some() {
        bits |= State::INUSE.bits();
    }
    if hub
        .handles_on(&reader.name)
        .any(|(_, h)| h.share == crate::ShareMode::Exclusive)
    {
        bits |= State::EXCLUSIVE.bits();
    }
    let counter = Dword::from(reader.events & 0xFFFF);
    rs.event = bits | (counter << 16);
    let changed =
        unaware || (rs.current ^ bits) & WATCHED != 0 || (rs.current >> 16) & 0xFFFF != counter;
    if changed {
        rs.event |= State::CHANGED.bits();
    }
    changed
}

/// `SCardGetStatusChange`. `give_up` is asked after every wake-up and at least every
/// `poll`: when it answers true the wait ends with [`Error::Cancelled`] (a host whose
/// client went away stops waiting for it).
pub(crate) fn wait(
    shared: &Shared,
    context: u64,
    timeout: Option<Duration>,
    readers: &mut [ReaderState],
    poll: Option<Duration>,
    give_up: &dyn Fn() -> bool,
) -> Result<(), Error> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut hub = lock(&shared.hub);
    let cancels = hub.cancels.get(&context).copied().unwrap_or(0);
    // As pcsc-lite: a caller that gives no reader count for the PnP notification reader
    // (pcsc_scan passes UNAWARE every time) learns of readers added or removed during
    // the call, not of the readers that exist.
    let start_count = hub.readers.len() as Dword & 0xFFFF;
    let pnp_known: Vec<Dword> = readers
        .iter()
        .map(|rs| match (rs.current >> 16) & 0xFFFF {
            0 => start_count,
            known => known,
        })
        .collect();
    loop {
        let mut any = false;
        for (rs, known) in readers.iter_mut().zip(&pnp_known) {
            any |= update(&hub, rs, *known);
        }
        if any {
            return Ok(());
        }
        if hub.cancels.get(&context).copied().unwrap_or(0) != cancels || give_up() {
            return Err(Error::Cancelled);
        }
        let now = Instant::now();
        let left = match deadline {
            Some(d) if now >= d => return Err(Error::Timeout),
            Some(d) => Some(d - now),
            None => None,
        };
        let wait = match (left, poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        hub = shared.wait(hub, wait);
    }
}
