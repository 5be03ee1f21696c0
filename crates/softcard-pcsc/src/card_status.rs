//! [`CardStatus`] and [`CardStatusOwned`]: what `SCardStatus` tells of a connection.

use std::ffi::CString;

use crate::context::ReaderNames;
use crate::{Protocol, Status};

/// The status of a connection, borrowing the caller's buffers.
#[derive(Clone, Debug)]
pub struct CardStatus<'names_buf, 'atr_buf> {
    pub(crate) reader_names: ReaderNames<'names_buf>,
    pub(crate) status: Status,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) atr: &'atr_buf [u8],
}

impl<'names_buf, 'atr_buf> CardStatus<'names_buf, 'atr_buf> {
    /// The reader's names.
    pub fn reader_names(&self) -> ReaderNames<'names_buf> {
        self.reader_names.clone()
    }
    /// The card's status flags.
    pub fn status(&self) -> Status {
        self.status
    }
    /// The active protocol (`None` for a direct connection).
    pub fn protocol2(&self) -> Option<Protocol> {
        self.protocol
    }
    /// The active protocol; [`Protocol::RAW`] for a direct connection (where `pcsc`
    /// panics).
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or(Protocol::RAW)
    }
    /// The card's ATR.
    pub fn atr(&self) -> &'atr_buf [u8] {
        self.atr
    }
}

/// The status of a connection, owned.
#[derive(Clone, Debug)]
pub struct CardStatusOwned {
    pub(crate) reader_names: Vec<CString>,
    pub(crate) status: Status,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) atr: Vec<u8>,
}

impl CardStatusOwned {
    /// The reader's names.
    pub fn reader_names(&self) -> &[CString] {
        &self.reader_names
    }
    /// The card's status flags.
    pub fn status(&self) -> Status {
        self.status
    }
    /// The active protocol (`None` for a direct connection).
    pub fn protocol2(&self) -> Option<Protocol> {
        self.protocol
    }
    /// The active protocol; [`Protocol::RAW`] for a direct connection (where `pcsc`
    /// panics).
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or(Protocol::RAW)
    }
    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
}
