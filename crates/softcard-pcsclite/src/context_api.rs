//! The exported context functions: establish, release, readers, status change, memory.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::time::Duration;

use softcard_pcsc::{Context, Error, ReaderState, Scope, State};

use crate::buffers::{multi_string, write_out};
use crate::ffi::{c_str, guard};
use crate::images;
use crate::table;
use crate::types::{
    DWORD, INFINITE, LONG, MAX_ATR_SIZE, PCSCLITE_MAX_READERS_CONTEXTS, SCARD_READERSTATE,
    SCARDCONTEXT,
};

/// The only reader group.
const DEFAULT_GROUP: &[u8] = b"SCard$DefaultReaders";

/// Opens a context (`SCardEstablishContext`) on the host's cards (see [`crate::host`]);
/// without a host, the first call in a process loads the card images named in
/// `SOFTCARD_IMAGES`. A host that is gone gives `SCARD_E_NO_SERVICE`, as pcsc-lite does
/// without pcscd.
///
/// # Safety
/// `phContext` is null or valid for writes; the reserved pointers are not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardEstablishContext(
    dwScope: DWORD,
    _pvReserved1: *const c_void,
    _pvReserved2: *const c_void,
    phContext: *mut SCARDCONTEXT,
) -> LONG {
    guard(|| {
        if phContext.is_null() {
            return Err(Error::InvalidParameter);
        }
        let scope = Scope::try_from(dwScope)?;
        let ctx = match crate::host::socket() {
            Some(socket) => Context::establish_on_host(socket, scope)?,
            None => images::registry().establish(scope)?,
        };
        let h = table::add_context(ctx);
        // SAFETY: not null and valid for writes, per the caller.
        unsafe { phContext.write(h) };
        Ok(())
    })
}

/// Releases a context and the connections opened in it (`SCardReleaseContext`).
#[unsafe(no_mangle)]
pub extern "C" fn SCardReleaseContext(hContext: SCARDCONTEXT) -> LONG {
    guard(|| table::remove_context(hContext))
}

/// Whether a context handle is valid (`SCardIsValidContext`).
#[unsafe(no_mangle)]
pub extern "C" fn SCardIsValidContext(hContext: SCARDCONTEXT) -> LONG {
    guard(|| table::context(hContext)?.is_valid())
}

/// Lists the reader groups (`SCardListReaderGroups`): `SCard$DefaultReaders` only.
///
/// # Safety
/// `pcchGroups` is null or valid for reads and writes; `mszGroups` is null, valid for
/// `*pcchGroups` bytes, or with `SCARD_AUTOALLOCATE` the address of a `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardListReaderGroups(
    hContext: SCARDCONTEXT,
    mszGroups: *mut c_char,
    pcchGroups: *mut DWORD,
) -> LONG {
    guard(|| {
        table::context(hContext)?;
        let groups = multi_string([DEFAULT_GROUP]);
        // SAFETY: the pointers are as the caller promised.
        unsafe { write_out(&groups, mszGroups.cast(), pcchGroups) }
    })
}

/// Lists the readers (`SCardListReaders`) as a multi-string: names, each NUL-terminated,
/// then one more NUL. The group argument is ignored (there is one group).
///
/// # Safety
/// `pcchReaders` is null or valid for reads and writes; `mszReaders` is null, valid for
/// `*pcchReaders` bytes, or with `SCARD_AUTOALLOCATE` the address of a `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardListReaders(
    hContext: SCARDCONTEXT,
    _mszGroups: *const c_char,
    mszReaders: *mut c_char,
    pcchReaders: *mut DWORD,
) -> LONG {
    guard(|| {
        let ctx = table::context(hContext)?;
        if pcchReaders.is_null() {
            return Err(Error::InvalidParameter);
        }
        let names = ctx.list_readers_owned()?;
        if names.is_empty() {
            return Err(Error::NoReadersAvailable);
        }
        let list = multi_string(names.iter().map(|n| n.as_bytes()));
        // SAFETY: the pointers are as the caller promised.
        unsafe { write_out(&list, mszReaders.cast(), pcchReaders) }
    })
}

/// Frees a buffer this library allocated for `SCARD_AUTOALLOCATE` (`SCardFreeMemory`).
/// A null pointer is accepted; a pointer the library did not give out is refused with
/// `SCARD_E_INVALID_PARAMETER` rather than freed.
#[unsafe(no_mangle)]
pub extern "C" fn SCardFreeMemory(_hContext: SCARDCONTEXT, pvMem: *const c_void) -> LONG {
    guard(|| {
        if pvMem.is_null() || table::free_memory(pvMem as usize) {
            Ok(())
        } else {
            Err(Error::InvalidParameter)
        }
    })
}

/// Makes the context's pending `SCardGetStatusChange` return `SCARD_E_CANCELLED`
/// (`SCardCancel`).
#[unsafe(no_mangle)]
pub extern "C" fn SCardCancel(hContext: SCARDCONTEXT) -> LONG {
    guard(|| table::context(hContext)?.cancel())
}

/// Waits until a reader's state differs from the caller's (`SCardGetStatusChange`), for
/// at most `dwTimeout` milliseconds (`INFINITE`: no limit). The event states (with the
/// event counter in their high 16 bits) and ATRs are written back, also on timeout.
///
/// # Safety
/// `rgReaderStates` is null or valid for reads and writes of `cReaders` structures whose
/// `szReader` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn SCardGetStatusChange(
    hContext: SCARDCONTEXT,
    dwTimeout: DWORD,
    rgReaderStates: *mut SCARD_READERSTATE,
    cReaders: DWORD,
) -> LONG {
    guard(|| {
        let ctx = table::context(hContext)?;
        if cReaders > PCSCLITE_MAX_READERS_CONTEXTS {
            return Err(Error::InvalidValue);
        }
        if cReaders > 0 && rgReaderStates.is_null() {
            return Err(Error::InvalidParameter);
        }
        let states: &mut [SCARD_READERSTATE] = if cReaders == 0 {
            &mut []
        } else {
            // SAFETY: not null, `cReaders` (at most 16) structures, per the caller.
            unsafe { std::slice::from_raw_parts_mut(rgReaderStates, cReaders as usize) }
        };
        let mut watched = Vec::with_capacity(states.len());
        for s in states.iter() {
            // SAFETY: a NUL-terminated string or null, per the caller.
            let name = unsafe { c_str(s.szReader, Error::InvalidValue) }?;
            let mut current = s.dwCurrentState;
            if name == softcard_pcsc::PNP_NOTIFICATION() && current >> 16 == 0 {
                // pcsc-lite reports the notification reader as changed only when the
                // reader count changes during the call (pcsc_scan passes UNAWARE each
                // time and would rescan for ever otherwise): start from today's count.
                current |= (ctx.list_readers_owned()?.len() as DWORD & 0xFFFF) << 16;
            }
            watched.push(ReaderState::new(
                CString::from(name),
                State::from_bits_retain(current),
            ));
        }
        let timeout = (dwTimeout != INFINITE).then(|| Duration::from_millis(dwTimeout));
        let result = ctx.get_status_change(timeout, &mut watched);
        if matches!(result, Ok(()) | Err(Error::Timeout)) {
            for (s, w) in states.iter_mut().zip(&watched) {
                s.dwEventState = w.event_state().bits() | (DWORD::from(w.event_count()) << 16);
                let atr = w.atr();
                let n = atr.len().min(MAX_ATR_SIZE);
                s.rgbAtr = [0; MAX_ATR_SIZE];
                if let (Some(dst), Some(src)) = (s.rgbAtr.get_mut(..n), atr.get(..n)) {
                    dst.copy_from_slice(src);
                }
                s.cbAtr = n as DWORD;
            }
        }
        result
    })
}
