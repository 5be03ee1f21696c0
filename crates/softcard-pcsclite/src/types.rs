//! The C types and constants of the libpcsclite ABI on Linux (`wintypes.h`, `pcsclite.h`).
//!
//! pcsc-lite defines `DWORD` as `unsigned long` and `LONG` as `long`: 8 bytes each on
//! x86_64 Linux, unlike Windows. The layouts below are checked against the installed
//! headers by the crate's tests.

#![allow(non_camel_case_types, non_snake_case)]

use std::os::raw::{c_char, c_long, c_uchar, c_ulong, c_void};

/// `DWORD`: `unsigned long`.
pub type DWORD = c_ulong;
/// `LONG`: `long`; every function returns one of the `SCARD_*` codes in it.
pub type LONG = c_long;
/// `SCARDCONTEXT`: a context handle.
pub type SCARDCONTEXT = c_long;
/// `SCARDHANDLE`: a card connection handle.
pub type SCARDHANDLE = c_long;

/// Longest ATR (`MAX_ATR_SIZE`).
pub const MAX_ATR_SIZE: usize = 33;

/// `SCARD_READERSTATE`: one reader watched by `SCardGetStatusChange`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SCARD_READERSTATE {
    /// The reader's name (read by the library).
    pub szReader: *const c_char,
    /// The caller's data, untouched.
    pub pvUserData: *mut c_void,
    /// The state the caller knows (`SCARD_STATE_*`, event counter in the high 16 bits).
    pub dwCurrentState: DWORD,
    /// The state found (written by the library).
    pub dwEventState: DWORD,
    /// Length of the ATR in `rgbAtr`.
    pub cbAtr: DWORD,
    /// The card's ATR.
    pub rgbAtr: [c_uchar; MAX_ATR_SIZE],
}

/// `SCARD_IO_REQUEST`: protocol control information for `SCardTransmit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SCARD_IO_REQUEST {
    /// The protocol (`SCARD_PROTOCOL_*`).
    pub dwProtocol: DWORD,
    /// The length of this structure plus any protocol data following it.
    pub cbPciLength: DWORD,
}

/// `SCARD_S_SUCCESS`.
pub const SCARD_S_SUCCESS: LONG = 0;
/// `SCARD_F_INTERNAL_ERROR`: also what a call that panicked returns.
pub const SCARD_F_INTERNAL_ERROR: LONG = 0x8010_0001;
/// `SCARD_E_INVALID_HANDLE`.
pub const SCARD_E_INVALID_HANDLE: LONG = 0x8010_0003;
/// `SCARD_E_INVALID_PARAMETER`.
pub const SCARD_E_INVALID_PARAMETER: LONG = 0x8010_0004;
/// `SCARD_E_INSUFFICIENT_BUFFER`.
pub const SCARD_E_INSUFFICIENT_BUFFER: LONG = 0x8010_0008;
/// `SCARD_E_INVALID_VALUE`.
pub const SCARD_E_INVALID_VALUE: LONG = 0x8010_0011;
/// `SCARD_E_NO_READERS_AVAILABLE`.
pub const SCARD_E_NO_READERS_AVAILABLE: LONG = 0x8010_002E;
/// `SCARD_E_UNEXPECTED` (pcsc-lite has it; the in-process API does not).
pub const SCARD_E_UNEXPECTED: LONG = 0x8010_001F;

/// `SCARD_AUTOALLOCATE`: as a length, asks the library to allocate the output buffer
/// (freed with `SCardFreeMemory`).
pub const SCARD_AUTOALLOCATE: DWORD = DWORD::MAX;
/// `INFINITE`: a `SCardGetStatusChange` timeout that never expires.
pub const INFINITE: DWORD = 0xFFFF_FFFF;
/// `PCSCLITE_MAX_READERS_CONTEXTS`: the most reader states one call may watch.
pub const PCSCLITE_MAX_READERS_CONTEXTS: DWORD = 16;

/// `SCARD_PROTOCOL_T0`.
pub const SCARD_PROTOCOL_T0: DWORD = 0x0001;
/// `SCARD_PROTOCOL_T1`.
pub const SCARD_PROTOCOL_T1: DWORD = 0x0002;
/// `SCARD_PROTOCOL_RAW` (pcsc-lite's value; Windows uses 0x10000).
pub const SCARD_PROTOCOL_RAW: DWORD = 0x0004;
/// `SCARD_PROTOCOL_T15`.
pub const SCARD_PROTOCOL_T15: DWORD = 0x0008;

/// `SCARD_CTL_CODE(3400)`: `CM_IOCTL_GET_FEATURE_REQUEST` (PC/SC part 10 reader features).
pub const CM_IOCTL_GET_FEATURE_REQUEST: DWORD = 0x4200_0000 + 3400;

const PCI_LEN: DWORD = std::mem::size_of::<SCARD_IO_REQUEST>() as DWORD;

/// The PCI of T=0 (`SCARD_PCI_T0`).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static g_rgSCardT0Pci: SCARD_IO_REQUEST = SCARD_IO_REQUEST {
    dwProtocol: SCARD_PROTOCOL_T0,
    cbPciLength: PCI_LEN,
};

/// The PCI of T=1 (`SCARD_PCI_T1`).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static g_rgSCardT1Pci: SCARD_IO_REQUEST = SCARD_IO_REQUEST {
    dwProtocol: SCARD_PROTOCOL_T1,
    cbPciLength: PCI_LEN,
};

/// The PCI of the raw protocol (`SCARD_PCI_RAW`).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static g_rgSCardRawPci: SCARD_IO_REQUEST = SCARD_IO_REQUEST {
    dwProtocol: SCARD_PROTOCOL_RAW,
    cbPciLength: PCI_LEN,
};

/// Maps a pcsc-lite protocol mask to the in-process API's (whose RAW bit differs).
pub fn protocols_from_c(mask: DWORD) -> softcard_pcsc::Protocols {
    let mut p = softcard_pcsc::Protocols::from_bits_truncate(
        mask & (SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1),
    );
    if mask & SCARD_PROTOCOL_RAW != 0 {
        p |= softcard_pcsc::Protocols::RAW;
    }
    p
}

/// Maps an active protocol to pcsc-lite's value (`SCARD_PROTOCOL_UNDEFINED` for none).
pub fn protocol_to_c(p: Option<softcard_pcsc::Protocol>) -> DWORD {
    match p {
        None => 0,
        Some(softcard_pcsc::Protocol::T0) => SCARD_PROTOCOL_T0,
        Some(softcard_pcsc::Protocol::T1) => SCARD_PROTOCOL_T1,
        Some(softcard_pcsc::Protocol::RAW) => SCARD_PROTOCOL_RAW,
    }
}
