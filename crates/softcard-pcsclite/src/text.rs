//! `pcsc_stringify_error`: a sentence for each `SCARD_*` code.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::sync::OnceLock;

use softcard_pcsc::Error;

use crate::types::{LONG, SCARD_E_UNEXPECTED, SCARD_S_SUCCESS};

/// The text for a code, as `pcsc_stringify_error` returns it: the meaning, then the
/// code's pcsc-lite name in parentheses, e.g. `"the timeout expired (SCARD_E_TIMEOUT)"`.
pub fn error_text(code: LONG) -> String {
    if code == SCARD_S_SUCCESS {
        return "success (SCARD_S_SUCCESS)".to_owned();
    }
    if code == SCARD_E_UNEXPECTED {
        // pcsc-lite gives 0x8010001F two names, SCARD_E_UNEXPECTED and
        // SCARD_E_UNSUPPORTED_FEATURE, and this text.
        return "Feature not supported.".to_owned();
    }
    match u32::try_from(code).ok().and_then(Error::from_code) {
        Some(e) => format!("{} ({})", e.description(), c_name(e)),
        None => format!("unknown PC/SC error 0x{:08X}", code as u64 & 0xFFFF_FFFF),
    }
}

/// The pcsc-lite macro name of an error, made from the variant name
/// (`InsufficientBuffer` -> `SCARD_E_INSUFFICIENT_BUFFER`).
fn c_name(e: Error) -> String {
    let code = e.code();
    let class = match code {
        0x8010_0001 | 0x8010_0007 | 0x8010_0013 | 0x8010_0014 => "F",
        0x8010_0018 => "P",
        c if c >= 0x8010_0065 => "W",
        _ => "E",
    };
    let variant = format!("{e:?}");
    let mut name = format!("SCARD_{class}_");
    for (i, ch) in variant.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(ch.to_ascii_uppercase());
    }
    name
}

/// The text for a code as a C string that lives as long as the process. Known codes are
/// built once; the first unknown codes are kept too, later ones get a generic text.
pub fn error_text_c(code: LONG) -> *const c_char {
    static TEXTS: OnceLock<std::sync::Mutex<HashMap<LONG, &'static CStr>>> = OnceLock::new();
    let texts = TEXTS.get_or_init(Default::default);
    let mut map = texts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= 1024 && !map.contains_key(&code) {
        return c"unknown PC/SC error".as_ptr();
    }
    let text = map.entry(code).or_insert_with(|| {
        let s = CString::new(error_text(code)).unwrap_or_default();
        Box::leak(s.into_boxed_c_str())
    });
    text.as_ptr()
}
