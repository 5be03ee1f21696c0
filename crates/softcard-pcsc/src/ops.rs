//! The PC/SC operations on a registry: connections, share modes, transactions,
//! dispositions and APDU exchange. [`Context`](crate::Context) and [`Card`](crate::Card)
//! are thin wrappers over these.

use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex};

use crate::registry::{Handle, Hub, Shared, Slot, lock};
use crate::{Disposition, Error, Protocol, Protocols, ShareMode};

/// What [`Shared::status`] reports.
pub(crate) struct HandleStatus {
    pub(crate) reader: CString,
    pub(crate) powered: bool,
    pub(crate) atr: Vec<u8>,
}

fn choose_protocol(
    share: ShareMode,
    wanted: Protocols,
    card: bool,
) -> Result<Option<Protocol>, Error> {
    match share {
        ShareMode::Direct => Ok((card && wanted.contains(Protocols::T1)).then_some(Protocol::T1)),
        // The virtual cards speak T=1, as vpcd tells pcscd's clients.
        _ if wanted.contains(Protocols::T1) => Ok(Some(Protocol::T1)),
        _ => Err(Error::ProtoMismatch),
    }
}

/// Applies a disposition to a card and bumps its epoch (other handles see the reset).
fn dispose(slot: &mut Slot, disposition: Disposition) {
    let Some(card) = slot.card.as_mut() else {
        return;
    };
    match disposition {
        Disposition::LeaveCard => return,
        Disposition::ResetCard => {
            card.reset();
        }
        Disposition::UnpowerCard | Disposition::EjectCard => card.power_off(),
    }
    slot.epoch += 1;
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
        let protocol = choose_protocol(share, protocols, slot.is_some())?;
        check_sharing(&hub, reader, share, None)?;
        let epoch = match &slot {
            Some(s) => {
                let mut s = lock(s);
                if let Some(card) = s.card.as_mut().filter(|c| !c.is_powered()) {
                    card.power_on();
                }
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
        let protocol = choose_protocol(share, protocols, slot.is_some())?;
        check_sharing(&hub, &reader, share, Some(id))?;
        let epoch = match &slot {
            Some(s) => {
                let mut s = lock(s);
                dispose(&mut s, initialization);
                if let Some(card) = s.card.as_mut().filter(|c| !c.is_powered()) {
                    card.power_on();
                }
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
        if let Some(r) = hub.reader_mut(&h.reader) {
            if r.transaction == Some(id) {
                r.transaction = None;
            }
        }
        if let Some(slot) = &h.slot {
            let mut s = lock(slot);
            // A handle that missed a reset does not reset the card again.
            if usable(&s, h.epoch).is_ok() {
                dispose(&mut s, disposition);
            }
        }
        drop(hub);
        self.changed.notify_all();
        Ok(())
    }

    /// Drops every handle of a released context.
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
            let _ = self.disconnect(id, Disposition::ResetCard);
        }
    }

    /// `SCardBeginTransaction`: waits while another handle holds the reader's transaction.
    pub(crate) fn begin_transaction(&self, id: u64) -> Result<(), Error> {
        let mut hub = lock(&self.hub);
        loop {
            let h = Self::handle(&hub, id)?;
            let slot = h.slot.clone().ok_or(Error::NoSmartcard)?;
            usable(&lock(&slot), h.epoch)?;
            let reader = h.reader.clone();
            let r = hub.reader_mut(&reader).ok_or(Error::ReaderUnavailable)?;
            match r.transaction {
                None => {
                    r.transaction = Some(id);
                    return Ok(());
                }
                Some(owner) if owner == id => return Ok(()),
                Some(_) => {
                    hub = self
                        .changed
                        .wait(hub)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
            }
        }
    }

    /// `SCardEndTransaction`.
    pub(crate) fn end_transaction(&self, id: u64, disposition: Disposition) -> Result<(), Error> {
        let mut hub = lock(&self.hub);
        let h = Self::handle(&hub, id)?;
        let (reader, slot, epoch) = (h.reader.clone(), h.slot.clone(), h.epoch);
        let r = hub.reader_mut(&reader).ok_or(Error::ReaderUnavailable)?;
        if r.transaction != Some(id) {
            return Err(slot
                .map_or(Ok(()), |s| usable(&lock(&s), epoch))
                .err()
                .unwrap_or(Error::NotTransacted));
        }
        r.transaction = None;
        if let Some(slot) = slot {
            let mut s = lock(&slot);
            dispose(&mut s, disposition);
            let new_epoch = s.epoch;
            drop(s);
            if let Some(h) = hub.handles.get_mut(&id) {
                h.epoch = new_epoch;
            }
        }
        drop(hub);
        self.changed.notify_all();
        Ok(())
    }

    /// The slot a handle may send commands to now.
    fn ready_slot(&self, id: u64) -> Result<(Arc<Mutex<Slot>>, u64), Error> {
        let hub = lock(&self.hub);
        let h = Self::handle(&hub, id)?;
        let slot = h.slot.clone().ok_or(Error::NoSmartcard)?;
        // pcsc-lite answers a command sent during another handle's transaction this way.
        if hub
            .reader(&h.reader)
            .and_then(|r| r.transaction)
            .is_some_and(|owner| owner != id)
        {
            return Err(Error::SharingViolation);
        }
        Ok((slot, h.epoch))
    }

    /// `SCardTransmit`: one APDU to the card, the response back.
    pub(crate) fn transmit(&self, id: u64, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        let (slot, epoch) = self.ready_slot(id)?;
        let mut s = lock(&slot);
        usable(&s, epoch)?;
        let card = s.card.as_mut().ok_or(Error::RemovedCard)?;
        Ok(card.transmit(apdu))
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
