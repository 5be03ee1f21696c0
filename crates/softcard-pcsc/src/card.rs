//! [`Card`]: a connection to a virtual card (`SCARDHANDLE`), and [`Transaction`].

use std::ops::Deref;

use crate::card_status::{CardStatus, CardStatusOwned};
use crate::context::{ReaderNames, write_multi_string};
use crate::{
    Attribute, Context, Disposition, Dword, Error, MAX_BUFFER_SIZE_EXTENDED, Protocol, Protocols,
    ShareMode, Status,
};

/// A connection to the card in a reader. `Send + Sync`. Dropping it disconnects with
/// [`Disposition::ResetCard`], as `pcsc` does.
#[derive(Debug)]
pub struct Card {
    context: Context,
    id: u64,
    protocol: Option<Protocol>,
}

/// An exclusive transaction on a card (`SCardBeginTransaction`); dropping it ends the
/// transaction with [`Disposition::LeaveCard`].
#[derive(Debug)]
pub struct Transaction<'tx> {
    card: &'tx mut Card,
}

fn copy_into<'b>(data: &[u8], buffer: &'b mut [u8]) -> Result<&'b [u8], Error> {
    let out = buffer
        .get_mut(..data.len())
        .ok_or(Error::InsufficientBuffer)?;
    out.copy_from_slice(data);
    Ok(out)
}

impl Card {
    pub(crate) fn new(context: Context, id: u64, protocol: Option<Protocol>) -> Card {
        Card {
            context,
            id,
            protocol,
        }
    }

    fn shared(&self) -> &crate::link::Link {
        self.context.link()
    }

    /// Starts a transaction (`SCardBeginTransaction`), waiting while another connection
    /// holds one. Meanwhile other connections' commands fail with
    /// [`Error::SharingViolation`], as with pcsc-lite.
    ///
    /// # Errors
    /// [`Error::RemovedCard`], [`Error::ResetCard`], [`Error::InvalidHandle`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        self.shared().begin_transaction(self.id)?;
        Ok(Transaction { card: self })
    }

    /// Ends the transaction this connection holds, without a [`Transaction`] guard: the
    /// `SCardEndTransaction` of a C-ABI adapter, whose caller began it in another call.
    /// Never waits: a transaction another connection holds now, or none at all, is an
    /// error. Not in the `pcsc` crate, whose transactions end with their guard.
    ///
    /// # Errors
    /// [`Error::NotTransacted`] if this connection holds no transaction,
    /// [`Error::RemovedCard`], [`Error::ResetCard`], [`Error::InvalidHandle`].
    pub fn end_transaction(&mut self, disposition: Disposition) -> Result<(), Error> {
        self.shared().end_transaction(self.id, disposition)
    }

    /// As [`Card::transaction`], giving the card back on failure.
    ///
    /// # Errors
    /// As [`Card::transaction`].
    pub fn transaction2(&mut self) -> Result<Transaction<'_>, (&mut Self, Error)> {
        match self.shared().begin_transaction(self.id) {
            Ok(()) => Ok(Transaction { card: self }),
            Err(e) => Err((self, e)),
        }
    }

    /// Reconnects (`SCardReconnect`): applies `initialization`, clears a pending
    /// [`Error::ResetCard`] or [`Error::RemovedCard`] notice and attaches to the card now in
    /// the reader.
    ///
    /// # Errors
    /// [`Error::NoSmartcard`], [`Error::SharingViolation`], [`Error::ProtoMismatch`],
    /// [`Error::ReaderUnavailable`].
    pub fn reconnect(
        &mut self,
        share_mode: ShareMode,
        preferred_protocols: Protocols,
        initialization: Disposition,
    ) -> Result<(), Error> {
        self.protocol =
            self.shared()
                .reconnect(self.id, share_mode, preferred_protocols, initialization)?;
        Ok(())
    }

    /// Disconnects (`SCardDisconnect`) and applies the disposition: `ResetCard` clears the
    /// card's security state, `UnpowerCard` and `EjectCard` power it off.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`], with the card back.
    pub fn disconnect(self, disposition: Disposition) -> Result<(), (Card, Error)> {
        match self.shared().disconnect(self.id, disposition) {
            Ok(()) => {
                // Already disconnected: Drop finds no handle and does nothing.
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Disconnects as `SCardReleaseContext` does for a connection still open: the card is
    /// reset unless a connection of another context uses it (then it is left as it is).
    /// Not in the `pcsc` crate, where a context outlives its cards.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`], with the card back.
    pub fn disconnect_released(self) -> Result<(), (Card, Error)> {
        match self.shared().disconnect_released(self.id) {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }

    /// The card's status and protocol (`SCardStatus`).
    ///
    /// # Errors
    /// As [`Card::status2_owned`].
    #[deprecated(
        since = "0.1.0",
        note = "use status2() or status2_owned(), as in pcsc 2.3 and later"
    )]
    pub fn status(&self) -> Result<(Status, Protocol), Error> {
        let s = self.status2_owned()?;
        Ok((s.status(), s.protocol()))
    }

    /// The buffer lengths [`Card::status2`] needs: (reader names, ATR).
    ///
    /// # Errors
    /// As [`Card::status2_owned`].
    pub fn status2_len(&self) -> Result<(usize, usize), Error> {
        let s = self.status2_owned()?;
        Ok((
            crate::context::multi_string_len(&s.reader_names),
            s.atr.len(),
        ))
    }

    /// The connection's status (`SCardStatus`) into the caller's buffers.
    ///
    /// # Errors
    /// [`Error::InsufficientBuffer`], and those of [`Card::status2_owned`].
    pub fn status2<'names_buf, 'atr_buf>(
        &self,
        names_buffer: &'names_buf mut [u8],
        atr_buffer: &'atr_buf mut [u8],
    ) -> Result<CardStatus<'names_buf, 'atr_buf>, Error> {
        let s = self.status2_owned()?;
        let names = write_multi_string(&s.reader_names, names_buffer)?;
        let atr = copy_into(&s.atr, atr_buffer)?;
        Ok(CardStatus {
            reader_names: ReaderNames::new(names),
            status: s.status,
            protocol: s.protocol,
            atr,
        })
    }

    /// The connection's status (`SCardStatus`).
    ///
    /// # Errors
    /// [`Error::RemovedCard`], [`Error::ResetCard`], [`Error::NoSmartcard`],
    /// [`Error::InvalidHandle`].
    pub fn status2_owned(&self) -> Result<CardStatusOwned, Error> {
        let s = self.shared().status(self.id)?;
        let status = if s.powered {
            Status::PRESENT | Status::POWERED | Status::NEGOTIABLE
        } else {
            Status::PRESENT | Status::SWALLOWED
        };
        Ok(CardStatusOwned {
            reader_names: vec![s.reader],
            status,
            protocol: self.protocol,
            atr: s.atr,
        })
    }

    fn attribute(&self, attribute: Attribute) -> Result<Vec<u8>, Error> {
        let s = self.shared().status(self.id)?;
        Ok(match attribute {
            Attribute::AtrString => s.atr,
            Attribute::DeviceFriendlyName | Attribute::DeviceSystemName => {
                s.reader.into_bytes_with_nul()
            }
            Attribute::VendorName => b"softcard\0".to_vec(),
            Attribute::VendorIfdType => b"softcard virtual reader\0".to_vec(),
            Attribute::VendorIfdVersion => 0x0001_0000u32.to_le_bytes().to_vec(),
            Attribute::CurrentProtocolType => {
                let p = self.protocol.map_or(0, |p| p as u32);
                p.to_le_bytes().to_vec()
            }
            Attribute::MaxIfsd => 254u32.to_le_bytes().to_vec(),
            Attribute::IccPresence => vec![2],
            Attribute::ChannelId => 0u32.to_le_bytes().to_vec(),
            _ => return Err(Error::UnsupportedFeature),
        })
    }

    /// Reads an attribute (`SCardGetAttrib`) into `buffer`. Supported: the ATR, the reader
    /// name, vendor name and type, protocol, IFSD, presence, channel.
    ///
    /// # Errors
    /// [`Error::UnsupportedFeature`] for other attributes, [`Error::InsufficientBuffer`],
    /// and those of [`Card::status2_owned`].
    pub fn get_attribute<'buf>(
        &self,
        attribute: Attribute,
        buffer: &'buf mut [u8],
    ) -> Result<&'buf [u8], Error> {
        copy_into(&self.attribute(attribute)?, buffer)
    }

    /// The buffer length [`Card::get_attribute`] needs.
    ///
    /// # Errors
    /// As [`Card::get_attribute_owned`].
    pub fn get_attribute_len(&self, attribute: Attribute) -> Result<usize, Error> {
        Ok(self.attribute(attribute)?.len())
    }

    /// Reads an attribute (`SCardGetAttrib`).
    ///
    /// # Errors
    /// As [`Card::get_attribute`], but never [`Error::InsufficientBuffer`].
    pub fn get_attribute_owned(&self, attribute: Attribute) -> Result<Vec<u8>, Error> {
        self.attribute(attribute)
    }

    /// Sets an attribute (`SCardSetAttrib`): no attribute of a virtual reader can be set.
    ///
    /// # Errors
    /// [`Error::UnsupportedFeature`].
    pub fn set_attribute(
        &self,
        _attribute: Attribute,
        _attribute_data: &[u8],
    ) -> Result<(), Error> {
        Err(Error::UnsupportedFeature)
    }

    /// Sends an APDU and returns the response in `receive_buffer` (`SCardTransmit`). The
    /// card has saved any state change to its storage before this returns.
    ///
    /// # Errors
    /// As [`Card::transmit2`].
    pub fn transmit<'buf>(
        &self,
        send_buffer: &[u8],
        receive_buffer: &'buf mut [u8],
    ) -> Result<&'buf [u8], Error> {
        self.transmit2(send_buffer, receive_buffer)
            .map_err(|(e, _)| e)
    }

    /// As [`Card::transmit`]; on [`Error::InsufficientBuffer`] also gives the length needed.
    ///
    /// # Errors
    /// [`Error::RemovedCard`], [`Error::ResetCard`] (another connection reset the card:
    /// reconnect), [`Error::SharingViolation`] (another connection's transaction),
    /// [`Error::InsufficientBuffer`], [`Error::InvalidParameter`] (empty or oversized
    /// command), [`Error::ProtoMismatch`] (direct connection), [`Error::InvalidHandle`].
    pub fn transmit2<'buf>(
        &self,
        send_buffer: &[u8],
        receive_buffer: &'buf mut [u8],
    ) -> Result<&'buf [u8], (Error, usize)> {
        if self.protocol.is_none() {
            return Err((Error::ProtoMismatch, 0));
        }
        if send_buffer.is_empty() || send_buffer.len() > MAX_BUFFER_SIZE_EXTENDED {
            return Err((Error::InvalidParameter, 0));
        }
        let response = self
            .shared()
            .transmit(self.id, send_buffer)
            .map_err(|e| (e, 0))?;
        let n = response.len();
        copy_into(&response, receive_buffer).map_err(|e| (e, n))
    }

    /// Sends a reader control command (`SCardControl`): virtual readers have none.
    ///
    /// # Errors
    /// [`Error::UnsupportedFeature`].
    pub fn control<'buf>(
        &self,
        _control_code: Dword,
        _send_buffer: &[u8],
        _receive_buffer: &'buf mut [u8],
    ) -> Result<&'buf [u8], Error> {
        Err(Error::UnsupportedFeature)
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        let _ = self.shared().disconnect(self.id, Disposition::ResetCard);
    }
}

impl<'tx> Transaction<'tx> {
    /// Ends the transaction (`SCardEndTransaction`) and applies the disposition.
    ///
    /// # Errors
    /// [`Error::NotTransacted`], [`Error::RemovedCard`], [`Error::ResetCard`], with the
    /// transaction back.
    pub fn end(self, disposition: Disposition) -> Result<(), (Transaction<'tx>, Error)> {
        match self
            .card
            .shared()
            .end_transaction(self.card.id, disposition)
        {
            Ok(()) => {
                std::mem::forget(self);
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Reconnects the card inside the transaction (`SCardReconnect`).
    ///
    /// # Errors
    /// As [`Card::reconnect`].
    pub fn reconnect(
        &mut self,
        share_mode: ShareMode,
        preferred_protocols: Protocols,
        initialization: Disposition,
    ) -> Result<(), Error> {
        self.card
            .reconnect(share_mode, preferred_protocols, initialization)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        let _ = self
            .card
            .shared()
            .end_transaction(self.card.id, Disposition::LeaveCard);
    }
}

impl Deref for Transaction<'_> {
    type Target = Card;

    fn deref(&self) -> &Card {
        self.card
    }
}
