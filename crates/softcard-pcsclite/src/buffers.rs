//! Variable-length results written the pcsc-lite way: a null buffer asks for the length,
//! `SCARD_AUTOALLOCATE` asks the library to allocate, a short buffer gets
//! `SCARD_E_INSUFFICIENT_BUFFER` with the length needed.

use softcard_pcsc::Error;

use crate::table;
use crate::types::{DWORD, SCARD_AUTOALLOCATE};

/// Writes `data` to the caller's buffer `buf` of `*len` bytes and sets `*len` to the length
/// of `data`.
///
/// - `buf` null: only the length is returned.
/// - `*len == SCARD_AUTOALLOCATE`: `buf` is really a `char **`; a buffer is allocated
///   (freed with `SCardFreeMemory`) and its address stored there.
///
/// # Errors
/// [`Error::InvalidParameter`] if `len` is null, or `buf` is null with
/// `SCARD_AUTOALLOCATE`; [`Error::InsufficientBuffer`] if `*len` is too small.
///
/// # Safety
/// `len` is null or valid for reads and writes; `buf` is null or valid for `*len` bytes of
/// writes (for a pointer write when `*len` is `SCARD_AUTOALLOCATE`).
pub unsafe fn write_out(data: &[u8], buf: *mut u8, len: *mut DWORD) -> Result<(), Error> {
    if len.is_null() {
        return Err(Error::InvalidParameter);
    }
    // SAFETY: `len` is not null and, per the caller, valid for reads.
    let given = unsafe { len.read() };
    let needed = data.len() as DWORD;
    if buf.is_null() {
        if given == SCARD_AUTOALLOCATE {
            return Err(Error::InvalidParameter);
        }
        // SAFETY: as above, valid for writes.
        unsafe { len.write(needed) };
        return Ok(());
    }
    if given == SCARD_AUTOALLOCATE {
        let mut copy = vec![0u8; data.len().max(1)].into_boxed_slice();
        copy.get_mut(..data.len())
            .ok_or(Error::InternalError)?
            .copy_from_slice(data);
        let ptr = table::keep_memory(copy);
        // SAFETY: with SCARD_AUTOALLOCATE the caller passes the address of a pointer.
        unsafe { buf.cast::<*mut u8>().write_unaligned(ptr) };
        // SAFETY: `len` is valid for writes.
        unsafe { len.write(needed) };
        return Ok(());
    }
    // SAFETY: `len` is valid for writes.
    unsafe { len.write(needed) };
    if given < needed {
        return Err(Error::InsufficientBuffer);
    }
    // SAFETY: `buf` is valid for `given >= needed` bytes of writes and cannot overlap our
    // own `data`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
    Ok(())
}

/// Writes `value` to `out` unless `out` is null.
///
/// # Safety
/// `out` is null or valid for writes.
pub unsafe fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: not null and, per the caller, valid for writes.
        unsafe { out.write(value) };
    }
}

/// A multi-string: each name NUL-terminated, then one more NUL.
pub fn multi_string<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        out.extend_from_slice(n);
        out.push(0);
    }
    out.push(0);
    out
}
