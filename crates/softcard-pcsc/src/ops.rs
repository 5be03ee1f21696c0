//! The PC/SC operations on a registry: connections, share modes, transactions,
//! dispositions and APDU exchange. [`Context`](crate::Context) and [`Card`](crate::Card)
//! are thin wrappers over these.

use std::ffi::{CStr, CString};

use crate::registry::{Handle, Hub, Shared, Slot, lock};
use crate::trace::EventKind;
use crate::{Disposition, Error, Protocol, Protocols, ShareMode};

/// What [`Shared::status`] reports.
pub(crate) struct HandleStatus {
    pub(crate) reader: CString,
    pub(crate) powered: bool,
    pub(crate) atr: Vec<u8>,
}

fn choose_protocol(share: ShareMode, wanted: Protocols) -> Result<Option<Protocol>, Error> {
    match share {
        // pcsc-lite reports SCARD_PROTOCOL_UNDEFINED for a direct connection: it talks to
        // the reader, not to the card.
        ShareMode::Direct => Ok(None),
        // The virtual cards speak T=1, as vpcd tells pcscd's clients.
        _ if wanted.contains(Protocols::T1) => Ok(Some(Protocol::T1)),
        _ => Err(Error::ProtoMismatch),
    }
}

/// Applies a disposition to the card in `reader` and bumps its epoch (other handles see
/// the reset); a trace records it.
pub(crate) fn dispose(shared: &Shared, reader: &CStr, slot: &mut Slot, disposition: Disposition) {
    let Some(card) = slot.card.as_mut() else {
        return;
    };
    let event = match disposition {
        Disposition::LeaveCard => return,
        Disposition::ResetCard => {
            card.reset();
            EventKind::Reset
        }
        Disposition::UnpowerCard | Disposition::EjectCard => {
            card.power_off();
            EventKind::PowerOff
        }
    };
    shared.note(reader, card.profile(), event);
    slot.epoch += 1;
}

/// Powers on the card in `reader` if it is off; a trace records it.
pub(crate) fn power_on(shared: &Shared, reader: &CStr, slot: &mut Slot) {
    if let Some(card) = slot.card.as_mut().filter(|c| !c.is_powered()) {
        card.power_on();
        shared.note(reader, card.profile(), EventKind::PowerOn);
    }
}

/// The card a handle may talk to now.
fn usable(slot: &Slot, epoch: u64) -> Result<(), Error> {
    if slot.card.is_none() {
        Err(Error::RemovedCard)
    } else if slot.epoch != epoch {
        Err(Error::ResetCard)
    } else {
        Ok(())
    }
}

/// Whether a new connection in `share` mode may join those on the reader (`except` the
/// reconnecting handle itself).
fn check_sharing(
    hub: &Hub,
    reader: &CStr,
    share: ShareMode,
    except: Option<u64>,
) -> Result<(), Error> {
    let mut others = hub
        .handles_on(reader)
        .filter(|(id, _)| Some(*id) != except)
        .peekable();
    let exclusive_other = hub
        .handles_on(reader)
        .any(|(id, h)| Some(id) != except && h.share == ShareMode::Exclusive);
    if exclusive_other || (share == ShareMode::Exclusive && others.peek().is_some()) {
        return Err(Error::SharingViolation);
    }
    Ok(())
}

impl Shared {
    fn handle(hub: &Hub, id: u64) -> Result<&Handle, Error> {
        hub.handles.get(&id).ok_or(Error::InvalidHandle)
    }

    /// `SCardConnect`.
    pub(crate) fn connect(
        &self,
        context: u64,
        reader: &CStr,
        share: ShareMode,
        protocols: Protocols,
    ) -> Result<(u64, Option<Protocol>), Error> {
        let mut hub = lock(&self.hub);
        let r = hub.reader(reader).ok_or(Error::UnknownReader)?;
        let slot = r.slot.clone();
        if slot.is_none() && share != ShareMode::Direct {
            return Err(Error::NoSmartcard);
        }
        let protocol = choose_protocol(share, protocols)?;
        check_sharing(&hub, reader, share, None)?;
        let epoch = match &slot {
            Some(s) => {
                let mut s = lock(s);
                power_on(self, reader, &mut s);
                s.epoch
            }
            None => 0,
        };
        let id = hub.new_id();
        hub.handles.insert(
            id,
            Handle {
                context,
                reader: reader.to_owned(),
                share,
                slot,
                epoch,
            },
        );
        drop(hub);
        self.changed.notify_all();
        Ok((id, protocol))
    }

    /// `SCardReconnect`: re-checks the share mode, applies `initialization`, clears a
    /// pending reset or removal notice and attaches to the card now in the reader.
    pub(crate) fn reconnect(
        &self,
        id: u64,
        share: ShareMode,
        protocols: Protocols,
        initialization: Disposition,
    ) -> Result<Option<Protocol>, Error> {
        let mut hub = lock(&self.hub);
        let reader = Self::handle(&hub, id)?.reader.clone();
        let slot = hub
            .reader(&reader)
            .ok_or(Error::ReaderUnavailable)?
            .slot
            .clone();
        if slot.is_none() && share != ShareMode::Direct {
            return Err(Error::NoSmartcard);
        }
        let protocol = choose_protocol(share, protocols)?;
        check_sharing(&hub, &reader, share, Some(id))?;
        let epoch = match &slot {
            Some(s) => {
                let mut s = lock(s);
                dispose(self, &reader, &mut s, initialization);
                power_on(self, &reader, &mut s);
                s.epoch
            }
            None => 0,
        };
        let h = hub.handles.get_mut(&id).ok_or(Error::InvalidHandle)?;
        h.share = share;
        h.slot = slot;
        h.epoch = epoch;
        drop(hub);
        self.changed.notify_all();
        Ok(protocol)
    }

    /// `SCardDisconnect`: ends the handle's transaction, if any, and applies the
    /// disposition.
    pub(crate) fn disconnect(&self, id: u64, disposition: Disposition) -> Result<(), Error> {
        let mut hub = lock(&self.hub);
        let h = hub.handles.remove(&id).ok_or(Error::InvalidHandle)?;
        if let Some(slot) = &h.slot {
            let mut s = lock(slot);
            if s.transaction.is_some_and(|(owner, _)| owner == id) {
                s.transaction = None;
            }
            // A handle that missed a reset does not reset the card again.
            if usable(&s, h.epoch).is_ok() {
                dispose(self, &h.reader, &mut s, disposition);
            }
        }
        drop(hub);
        self.changed.notify_all();
        Ok(())
    }

    /// How a released context's connection is closed: a card that another context's
    /// connection still uses is left as it is (its security state belongs to that client
    /// too); a card no one else uses is reset.
    fn release_disposition(hub: &Hub, id: u64) -> Disposition {
        let Some(h) = hub.handles.get(&id) else {
            return Disposition::LeaveCard;
        };
        let shared = hub
            .handles_on(&h.reader)
            .any(|(_, other)| other.context != h.context);
        if shared {
            Disposition::LeaveCard
        } else {
            Disposition::ResetCard
        }
    }

    /// Closes a connection as releasing its context does (see
    /// [`Shared::release_disposition`]).
    pub(crate) fn disconnect_released(&self, id: u64) -> Result<(), Error> {
        let disposition = Self::release_disposition(&lock(&self.hub), id);
        self.disconnect(id, disposition)
    }

    /// Drops every handle of a released context (see [`Shared::disconnect_released`]).
    pub(crate) fn forget_context(&self, context: u64) {
        let mut hub = lock(&self.hub);
        let ids: Vec<u64> = hub
            .handles
            .iter()
            .filter(|(_, h)| h.context == context)
            .map(|(id, _)| *id)
            .collect();
        hub.cancels.remove(&context);
        drop(hub);
        for id in ids {
            let _ = self.disconnect_released(id);
        }
    }

    /// `SCardBeginTransaction`: waits while another handle holds the card's transaction;
    /// beginning again on the handle that holds it counts one more level (pcsc-lite
    /// nests them). `give_up` is asked after every wake-up and at least every `poll`:
    /// when it answers true the wait ends with [`Error::Cancelled`] (a host whose client
    /// went away stops waiting for it).
    pub(crate) fn begin_transaction(
        &self,
        id: u64,
        poll: Option<std::time::Duration>,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), Error> {
        let mut hub = lock(&self.hub);
        loop {
            let h = Self::handle(&hub, id)?;
            let slot = h.slot.clone().ok_or(Error::NoSmartcard)?;
            let mut s = lock(&slot);
            usable(&s, h.epoch)?;
            match &mut s.transaction {
                t @ None => {
                    *t = Some((id, 1));
                    return Ok(());
                }
                Some((owner, depth)) if *owner == id => {
                    *depth = depth.saturating_add(1);
                    return Ok(());
                }
                Some(_) => drop(s),
            }
            if give_up() {
                return Err(Error::Cancelled);
            }
            hub = self.wait(hub, poll);
        }
    }

    /// `SCardEndTransaction`: one level of the handle's transaction ends; the last one
    /// releases the card. The disposition is applied each time, as pcsc-lite does.
    pub(crate) fn end_transaction(&self, id: u64, disposition: Disposition) -> Result<(), Error> {
        let mut hub = lock(&self.hub);
        let h = Self::handle(&hub, id)?;
        let (slot, epoch) = (h.slot.clone().ok_or(Error::NoSmartcard)?, h.epoch);
        let reader = h.reader.clone();
        let mut s = lock(&slot);
        match &mut s.transaction {
            Some((owner, depth)) if *owner == id => {
                if *depth > 1 {
                    *depth -= 1;
                } else {
                    s.transaction = None;
                }
            }
            other => {
                let foreign = other.is_some();
                usable(&s, epoch)?;
                return Err(if foreign {
                    Error::SharingViolation
                } else {
                    Error::NotTransacted
                });
            }
        }
        dispose(self, &reader, &mut s, disposition);
        let new_epoch = s.epoch;
        drop(s);
        if let Some(h) = hub.handles.get_mut(&id) {
            h.epoch = new_epoch;
        }
        drop(hub);
        self.changed.notify_all();
        Ok(())
    }

    /// `SCardTransmit`: one APDU to the card, the response back. Whether another handle
    /// holds the transaction is checked under the card's own lock, in the same step as the
    /// command.
    pub(crate) fn transmit(&self, id: u64, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        let hub = lock(&self.hub);
        let h = Self::handle(&hub, id)?;
        let slot = h.slot.clone().ok_or(Error::NoSmartcard)?;
        let epoch = h.epoch;
        // The reader's name is copied only for a tap or faults: no allocation on the plain
        // path.
        let tap = self.tap();
        let reader = (tap.is_some() || self.faulty()).then(|| h.reader.clone());
        drop(hub);
        let mut s = lock(&slot);
        usable(&s, epoch)?;
        // pcsc-lite answers a command sent during another handle's transaction this way.
        if s.transaction.is_some_and(|(owner, _)| owner != id) {
            return Err(Error::SharingViolation);
        }
        let card = s.card.as_mut().ok_or(Error::RemovedCard)?;
        match &reader {
            Some(reader) => {
                let result = self.exchange(tap.as_ref(), reader, card, apdu);
                drop(s);
                self.run_events();
                result
            }
            None => Ok(card.transmit(apdu)),
        }
    }

    /// `SCardStatus`.
    pub(crate) fn status(&self, id: u64) -> Result<HandleStatus, Error> {
        let hub = lock(&self.hub);
        let h = Self::handle(&hub, id)?;
        let reader = h.reader.clone();
        let slot = h.slot.clone().ok_or(Error::NoSmartcard)?;
        let epoch = h.epoch;
        drop(hub);
        let s = lock(&slot);
        usable(&s, epoch)?;
        let card = s.card.as_ref().ok_or(Error::RemovedCard)?;
        Ok(HandleStatus {
            reader,
            powered: card.is_powered(),
            atr: card.atr().to_vec(),
        })
    }

    /// Cancels the pending `get_status_change` calls of a context (`SCardCancel`).
    pub(crate) fn cancel(&self, context: u64) {
        let mut hub = lock(&self.hub);
        *hub.cancels.entry(context).or_default() += 1;
        drop(hub);
        self.changed.notify_all();
    }
}
