//! A daemonless libpcsclite: C and Python programs use softcard virtual cards through
//! the PC/SC C API, with no pcscd.
//!
//! The crate builds `libpcsclite.so` (SONAME `libpcsclite.so.1`) exporting pcsc-lite's
//! whole client API with its Linux ABI (`DWORD` and `LONG` are 8 bytes on x86_64):
//! `SCardEstablishContext` ... `SCardSetAttrib`, `SCardFreeMemory`,
//! `pcsc_stringify_error` and the `g_rgSCardT0Pci`, `g_rgSCardT1Pci`, `g_rgSCardRawPci`
//! objects. Put it first on the library path as `libpcsclite.so.1` (or name it in
//! OpenSC's `provider_library`); `softcard exec` does both.
//!
//! Under `softcard exec` (or with `SOFTCARD_HOST`) the library is a thin client of the
//! process that hosts the cards: every process shares one card per image, its
//! transactions and its retry counter, as pcscd's clients do (see [`host`]). Otherwise
//! the cards come from the images named in `SOFTCARD_IMAGES` (paths separated by `:`),
//! loaded on the first `SCardEstablishContext` and locked for this process; see
//! [`images`] for the reader names and what happens to an image that cannot be loaded.
//! Changes are written back to the images. Their keys run on the crypto backend
//! `SOFTCARD_BACKEND` names (`aws-lc`, the default, or `rustcrypto`); under a host, on the
//! host's (`softcard exec --backend`, which sets `SOFTCARD_BACKEND` for its program).
//!
//! The library holds no card logic: it maps the C handles to the in-process API of
//! `softcard-pcsc`. Every exported function catches panics and returns
//! `SCARD_F_INTERNAL_ERROR`; null pointers and short buffers get
//! `SCARD_E_INVALID_PARAMETER` and `SCARD_E_INSUFFICIENT_BUFFER`.

#![allow(non_snake_case)]

mod buffers;
pub mod card_api;
pub mod context_api;
mod ffi;
pub mod host;
pub mod images;
mod table;
pub mod text;
pub mod types;

use std::os::raw::c_char;

use types::LONG;

/// A sentence describing a `SCARD_*` code (`pcsc_stringify_error`). The text lives as
/// long as the process.
#[unsafe(no_mangle)]
pub extern "C" fn pcsc_stringify_error(pcscError: LONG) -> *const c_char {
    std::panic::catch_unwind(|| text::error_text_c(pcscError)).unwrap_or(c"internal error".as_ptr())
}

#[cfg(test)]
mod tests;
