//! Helpers shared by the exported functions: panic containment, argument conversion.

use std::ffi::CStr;
use std::os::raw::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use softcard_pcsc::{Disposition, Error, ShareMode};

use crate::types::{DWORD, LONG, SCARD_F_INTERNAL_ERROR, SCARD_S_SUCCESS};

/// Runs the body of an exported function: its error becomes the `SCARD_*` code, and a
/// panic becomes `SCARD_F_INTERNAL_ERROR` instead of unwinding into C.
pub fn guard(body: impl FnOnce() -> Result<(), Error>) -> LONG {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SCARD_S_SUCCESS,
        Ok(Err(e)) => LONG::from(e.code()),
        Err(_) => SCARD_F_INTERNAL_ERROR,
    }
}

/// A share mode (`SCARD_SHARE_*`).
///
/// # Errors
/// [`Error::InvalidValue`] for another value.
pub fn share_mode(value: DWORD) -> Result<ShareMode, Error> {
    ShareMode::try_from(value)
}

/// A disposition (`SCARD_LEAVE_CARD` ... `SCARD_EJECT_CARD`).
///
/// # Errors
/// [`Error::InvalidValue`] for another value.
pub fn disposition(value: DWORD) -> Result<Disposition, Error> {
    Disposition::try_from(value)
}

/// A C string argument.
///
/// # Errors
/// `if_null` when the pointer is null.
///
/// # Safety
/// `s` is null or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn c_str<'a>(s: *const c_char, if_null: Error) -> Result<&'a CStr, Error> {
    if s.is_null() {
        return Err(if_null);
    }
    // SAFETY: not null and NUL-terminated, per the caller.
    Ok(unsafe { CStr::from_ptr(s) })
}

/// A byte-buffer argument.
///
/// # Errors
/// [`Error::InvalidParameter`] when the pointer is null (even for a zero length) or the
/// length is absurd.
///
/// # Safety
/// `ptr` is null or valid for `len` bytes of reads for `'a`.
pub unsafe fn bytes<'a>(ptr: *const u8, len: DWORD) -> Result<&'a [u8], Error> {
    let len = usize::try_from(len).map_err(|_| Error::InvalidParameter)?;
    if ptr.is_null() || len > isize::MAX as usize {
        return Err(Error::InvalidParameter);
    }
    // SAFETY: not null, valid for `len` bytes, per the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}
