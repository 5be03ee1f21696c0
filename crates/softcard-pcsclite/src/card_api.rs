//! The exported connection functions: connect, transactions, status, transmit, control,
//! attributes.

use std::os::raw::{c_char, c_void};

use softcard_pcsc::{Attribute, Card, Error, MAX_BUFFER_SIZE_EXTENDED};

use crate::buffers::{multi_string, write_opt, write_out};
use crate::ffi::{bytes, c_str, disposition, guard, share_mode};
use crate::table::{self, Info};
use crate::types::{
    CM_IOCTL_GET_FEATURE_REQUEST, DWORD, LONG, SCARD_IO_REQUEST, SCARDCONTEXT, SCARDHANDLE,
    protocol_to_c, protocols_from_c,
};

/// `SCARD_PROTOCOL_ANY_OLD`: a send PCI protocol pcsc-lite accepts for any connection.
const PROTOCOL_ANY_OLD: DWORD = 0x1000;

/// The active protocol of a new or reconnected card (none for a direct connection to an
/// empty reader).
fn active_protocol(card: &Card) -> DWORD {
    card.status2_owned()
        .map_or(0, |s| protocol_to_c(s.protocol2()))
}

/// Runs `f`, which must not block, on the connection behind `hCard`.
pub(crate) fn with_card<R>(
    hCard: SCARDHANDLE,
    f: impl FnOnce(&mut Info, &mut Card) -> Result<R, Error>,
) -> Result<R, Error> {
    table::card(hCard)?.with(f)
}

/// Connects to the card in a reader (`SCardConnect`). The virtual cards speak T=1.
///
/// # Safety
/// `szReader` is null or a NUL-terminated string; `phCard` and `pdwActiveProtocol` are
/// null or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardConnect(
    hContext: SCARDCONTEXT,
    szReader: *const c_char,
    dwShareMode: DWORD,
    dwPreferredProtocols: DWORD,
    phCard: *mut SCARDHANDLE,
    pdwActiveProtocol: *mut DWORD,
) -> LONG {
    guard(|| {
        let ctx = table::context(hContext)?;
        // SAFETY: null or NUL-terminated, per the caller.
        let reader = unsafe { c_str(szReader, Error::UnknownReader) }?;
        if phCard.is_null() || pdwActiveProtocol.is_null() {
            return Err(Error::InvalidParameter);
        }
        let share = share_mode(dwShareMode)?;
        let card = ctx.connect(reader, share, protocols_from_c(dwPreferredProtocols))?;
        let protocol = active_protocol(&card);
        let h = table::add_card(hContext, card, protocol)?;
        // SAFETY: both checked not null; valid for writes per the caller.
        unsafe {
            phCard.write(h);
            pdwActiveProtocol.write(protocol);
        }
        Ok(())
    })
}

/// Reconnects (`SCardReconnect`), applying `dwInitialization` to the card.
///
/// # Safety
/// `pdwActiveProtocol` is null or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardReconnect(
    hCard: SCARDHANDLE,
    dwShareMode: DWORD,
    dwPreferredProtocols: DWORD,
    dwInitialization: DWORD,
    pdwActiveProtocol: *mut DWORD,
) -> LONG {
    guard(|| {
        if pdwActiveProtocol.is_null() {
            return Err(Error::InvalidParameter);
        }
        let share = share_mode(dwShareMode)?;
        let init = disposition(dwInitialization)?;
        let protocol = with_card(hCard, |info, card| {
            card.reconnect(share, protocols_from_c(dwPreferredProtocols), init)?;
            info.protocol = active_protocol(card);
            Ok(info.protocol)
        })?;
        // SAFETY: checked not null; valid for writes per the caller.
        unsafe { pdwActiveProtocol.write(protocol) };
        Ok(())
    })
}

/// Disconnects (`SCardDisconnect`), applying `dwDisposition` to the card. The handle is
/// invalid afterwards, also when an error is returned.
#[unsafe(no_mangle)]
pub extern "C" fn SCardDisconnect(hCard: SCARDHANDLE, dwDisposition: DWORD) -> LONG {
    guard(|| {
        let disp = disposition(dwDisposition)?;
        table::remove_card(hCard)?.close(disp)
    })
}

/// Starts a transaction (`SCardBeginTransaction`), waiting while another connection
/// holds one. The wait holds no lock: other handles and contexts go on meanwhile, and
/// closing this handle makes the call fail when it wakes.
#[unsafe(no_mangle)]
pub extern "C" fn SCardBeginTransaction(hCard: SCARDHANDLE) -> LONG {
    guard(|| {
        let entry = table::card(hCard)?;
        let mut loan = entry.lend()?;
        // The transaction outlives this call: its guard is forgotten here and ended by
        // `SCardEndTransaction` (beginning again on the same handle nests: the card counts).
        let result = loan.card()?.transaction().map(std::mem::forget);
        loan.give_back()?;
        result
    })
}

/// Ends one level of the handle's transaction (`SCardEndTransaction`), applying
/// `dwDisposition`; the last level releases the card. Never waits: a handle whose
/// transaction was lost (the card was removed and the handle reconnected) gets the error
/// at once, as with pcsc-lite; another handle's transaction is
/// `SCARD_E_SHARING_VIOLATION`, none at all `SCARD_E_NOT_TRANSACTED`.
#[unsafe(no_mangle)]
pub extern "C" fn SCardEndTransaction(hCard: SCARDHANDLE, dwDisposition: DWORD) -> LONG {
    guard(|| {
        let disp = disposition(dwDisposition)?;
        with_card(hCard, |_, card| card.end_transaction(disp))
    })
}

/// The connection's status (`SCardStatus`): reader name (a multi-string), state,
/// protocol and ATR. Each output is optional; the name and ATR buffers follow the
/// `SCardListReaders` rules (null buffer: length only; `SCARD_AUTOALLOCATE`).
///
/// # Safety
/// Each pointer is null or valid as `SCardListReaders` describes for its buffer pair.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardStatus(
    hCard: SCARDHANDLE,
    mszReaderName: *mut c_char,
    pcchReaderLen: *mut DWORD,
    pdwState: *mut DWORD,
    pdwProtocol: *mut DWORD,
    pbAtr: *mut u8,
    pcbAtrLen: *mut DWORD,
) -> LONG {
    guard(|| {
        let (status, protocol) = with_card(hCard, |info, card| {
            Ok((card.status2_owned()?, info.protocol))
        })?;
        let names = multi_string(status.reader_names().iter().map(|n| n.as_bytes()));
        let mut result = Ok(());
        if !pcchReaderLen.is_null() {
            // SAFETY: the pointers are as the caller promised.
            result = unsafe { write_out(&names, mszReaderName.cast(), pcchReaderLen) };
        }
        // SAFETY: null or valid for writes, per the caller.
        unsafe {
            write_opt(pdwState, status.status().bits());
            write_opt(pdwProtocol, protocol);
        }
        if !pcbAtrLen.is_null() {
            // SAFETY: the pointers are as the caller promised.
            let atr = unsafe { write_out(status.atr(), pbAtr, pcbAtrLen) };
            result = result.and(atr);
        }
        result
    })
}

/// Sends an APDU and receives the response (`SCardTransmit`). `pioSendPci` must name the
/// active protocol; `*pcbRecvLength` is the receive buffer's size and becomes the
/// response's length (also when the buffer is too small, with
/// `SCARD_E_INSUFFICIENT_BUFFER`).
///
/// # Safety
/// `pioSendPci` and `pioRecvPci` are null or valid structures; `pbSendBuffer` is valid
/// for `cbSendLength` bytes; `pbRecvBuffer` for `*pcbRecvLength` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardTransmit(
    hCard: SCARDHANDLE,
    pioSendPci: *const SCARD_IO_REQUEST,
    pbSendBuffer: *const u8,
    cbSendLength: DWORD,
    pioRecvPci: *mut SCARD_IO_REQUEST,
    pbRecvBuffer: *mut u8,
    pcbRecvLength: *mut DWORD,
) -> LONG {
    guard(|| {
        if pioSendPci.is_null() || pbRecvBuffer.is_null() || pcbRecvLength.is_null() {
            return Err(Error::InvalidParameter);
        }
        // SAFETY: not null; valid for reads per the caller. pcsc-lite offers no
        // `SCARD_AUTOALLOCATE` here: refused before the command reaches the card.
        if unsafe { pcbRecvLength.read() } == crate::types::SCARD_AUTOALLOCATE {
            return Err(Error::InvalidParameter);
        }
        // SAFETY: not null; a valid structure per the caller.
        let send_protocol = unsafe { pioSendPci.read_unaligned() }.dwProtocol;
        // SAFETY: valid for `cbSendLength` bytes, per the caller.
        let command = unsafe { bytes(pbSendBuffer, cbSendLength) }?;
        let mut response = vec![0u8; MAX_BUFFER_SIZE_EXTENDED];
        let (n, protocol) = with_card(hCard, |info, card| {
            if send_protocol & info.protocol == 0 && send_protocol != PROTOCOL_ANY_OLD {
                return Err(Error::ProtoMismatch);
            }
            let n = card.transmit(command, &mut response)?.len();
            Ok((n, info.protocol))
        })?;
        if !pioRecvPci.is_null() {
            let pci = SCARD_IO_REQUEST {
                dwProtocol: protocol,
                cbPciLength: size_of::<SCARD_IO_REQUEST>() as DWORD,
            };
            // SAFETY: not null; valid for writes per the caller.
            unsafe { pioRecvPci.write_unaligned(pci) };
        }
        let data = response.get(..n).ok_or(Error::InternalError)?;
        // SAFETY: `pbRecvBuffer` is valid for `*pcbRecvLength` bytes and not null, and that
        // length is not `SCARD_AUTOALLOCATE` (refused above).
        unsafe { write_out(data, pbRecvBuffer, pcbRecvLength) }
    })
}

/// Sends a command to the reader (`SCardControl`). The virtual readers answer the
/// feature request (`CM_IOCTL_GET_FEATURE_REQUEST`) with no feature and support no other
/// code.
///
/// # Safety
/// `lpBytesReturned` is null or valid for writes; the buffers are as their lengths say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardControl(
    hCard: SCARDHANDLE,
    dwControlCode: DWORD,
    _pbSendBuffer: *const c_void,
    _cbSendLength: DWORD,
    _pbRecvBuffer: *mut c_void,
    _cbRecvLength: DWORD,
    lpBytesReturned: *mut DWORD,
) -> LONG {
    guard(|| {
        // SAFETY: null or valid for writes, per the caller.
        unsafe { write_opt(lpBytesReturned, 0) };
        with_card(hCard, |_, card| {
            if dwControlCode == CM_IOCTL_GET_FEATURE_REQUEST {
                return Ok(());
            }
            card.control(dwControlCode, &[], &mut []).map(|_| ())
        })
    })
}

/// The attributes the virtual readers answer, by `SCARD_ATTR_*` value.
const ATTRIBUTES: [Attribute; 10] = [
    Attribute::AtrString,
    Attribute::DeviceFriendlyName,
    Attribute::DeviceSystemName,
    Attribute::VendorName,
    Attribute::VendorIfdType,
    Attribute::VendorIfdVersion,
    Attribute::CurrentProtocolType,
    Attribute::MaxIfsd,
    Attribute::IccPresence,
    Attribute::ChannelId,
];

fn attribute(id: DWORD) -> Result<Attribute, Error> {
    ATTRIBUTES
        .iter()
        .copied()
        .find(|a| *a as DWORD == id)
        .ok_or(Error::UnsupportedFeature)
}

/// Reads a reader or card attribute (`SCardGetAttrib`); `SCARD_AUTOALLOCATE` supported.
///
/// # Safety
/// As `SCardListReaders` for the buffer pair.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardGetAttrib(
    hCard: SCARDHANDLE,
    dwAttrId: DWORD,
    pbAttr: *mut u8,
    pcbAttrLen: *mut DWORD,
) -> LONG {
    guard(|| {
        if pcbAttrLen.is_null() {
            return Err(Error::InvalidParameter);
        }
        let value = with_card(hCard, |_, card| {
            card.get_attribute_owned(attribute(dwAttrId)?)
        })?;
        // SAFETY: the pointers are as the caller promised.
        unsafe { write_out(&value, pbAttr, pcbAttrLen) }
    })
}

/// Sets an attribute (`SCardSetAttrib`): the virtual readers have none to set.
///
/// # Safety
/// `pbAttr` is null or valid for `cbAttrLen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardSetAttrib(
    hCard: SCARDHANDLE,
    dwAttrId: DWORD,
    pbAttr: *const u8,
    cbAttrLen: DWORD,
) -> LONG {
    guard(|| {
        // SAFETY: as the caller promised.
        let data = unsafe { bytes(pbAttr, cbAttrLen) }?;
        with_card(hCard, |_, card| {
            card.set_attribute(attribute(dwAttrId)?, data)
        })
    })
}
