//! ABI and behaviour tests, calling the exported functions in-process.

use std::ffi::CStr;
use std::mem::{offset_of, size_of};
use std::ptr::{null, null_mut};
use std::sync::mpsc;
use std::time::Duration;

use softcard::{Card, CardOptions, NoStorage, Profile};
use softcard_pcsc::Registry;

use crate::card_api::*;
use crate::context_api::*;
use crate::pcsc_stringify_error;
use crate::types::*;

const INSUFFICIENT: LONG = 0x8010_0008;
const INVALID_PARAMETER: LONG = 0x8010_0004;

#[test]
fn struct_layouts_match_pcsc_lite_on_linux_x86_64() {
    assert_eq!(size_of::<DWORD>(), 8);
    assert_eq!(size_of::<LONG>(), 8);
    assert_eq!(size_of::<SCARD_IO_REQUEST>(), 16);
    assert_eq!(size_of::<SCARD_READERSTATE>(), 80);
    assert_eq!(offset_of!(SCARD_READERSTATE, pvUserData), 8);
    assert_eq!(offset_of!(SCARD_READERSTATE, dwCurrentState), 16);
    assert_eq!(offset_of!(SCARD_READERSTATE, dwEventState), 24);
    assert_eq!(offset_of!(SCARD_READERSTATE, cbAtr), 32);
    assert_eq!(offset_of!(SCARD_READERSTATE, rgbAtr), 40);
    assert_eq!(
        g_rgSCardT1Pci,
        SCARD_IO_REQUEST {
            dwProtocol: 2,
            cbPciLength: 16
        }
    );
    assert_eq!(g_rgSCardT0Pci.dwProtocol, 1);
    assert_eq!(g_rgSCardRawPci.dwProtocol, 4);
}

/// The same figures as the installed C headers compute them.
#[test]
fn struct_layouts_match_the_installed_headers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("layout.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <stddef.h>\n#include <winscard.h>\nint main(void) {\n\
         printf(\"%zu %zu %zu %zu %zu %zu %zu %zu %zu\", sizeof(DWORD), sizeof(LONG),\n\
         sizeof(SCARD_IO_REQUEST), sizeof(SCARD_READERSTATE), offsetof(SCARD_READERSTATE, pvUserData),\n\
         offsetof(SCARD_READERSTATE, dwCurrentState), offsetof(SCARD_READERSTATE, dwEventState),\n\
         offsetof(SCARD_READERSTATE, cbAtr), offsetof(SCARD_READERSTATE, rgbAtr));\n return 0; }\n",
    )
    .unwrap();
    let exe = dir.path().join("layout");
    let status = std::process::Command::new("cc")
        .args(["-I/usr/include/PCSC", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("a C compiler");
    assert!(status.success());
    let out = std::process::Command::new(&exe).output().unwrap();
    let expected = [
        size_of::<DWORD>(),
        size_of::<LONG>(),
        size_of::<SCARD_IO_REQUEST>(),
        size_of::<SCARD_READERSTATE>(),
        offset_of!(SCARD_READERSTATE, pvUserData),
        offset_of!(SCARD_READERSTATE, dwCurrentState),
        offset_of!(SCARD_READERSTATE, dwEventState),
        offset_of!(SCARD_READERSTATE, cbAtr),
        offset_of!(SCARD_READERSTATE, rgbAtr),
    ]
    .map(|n| n.to_string())
    .join(" ");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn stringify_names_the_code() {
    let text = |code| {
        // SAFETY: the returned pointer is a NUL-terminated string living for the process.
        unsafe { CStr::from_ptr(pcsc_stringify_error(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(text(0), "success (SCARD_S_SUCCESS)");
    assert_eq!(
        text(INSUFFICIENT),
        "the buffer is too small for the data (SCARD_E_INSUFFICIENT_BUFFER)"
    );
    assert!(text(0x8010_0069).ends_with("(SCARD_W_REMOVED_CARD)"));
    assert!(text(0x8010_0001).ends_with("(SCARD_F_INTERNAL_ERROR)"));
    assert!(text(0x8010_002E).ends_with("(SCARD_E_NO_READERS_AVAILABLE)"));
    assert_eq!(text(0x1234), "unknown PC/SC error 0x00001234");
    assert_eq!(
        pcsc_stringify_error(0x8010_000A),
        pcsc_stringify_error(0x8010_000A),
        "one text per code"
    );
}

/// A context with a PIV card in the reader `name` of the process-wide registry.
fn context_with_card(name: &str) -> SCARDCONTEXT {
    let card =
        Card::create_seeded(&CardOptions::new(Profile::Piv), 7, Box::new(NoStorage)).unwrap();
    Registry::global().insert_card(name, card).unwrap();
    let mut ctx = 0;
    // SAFETY: a valid out pointer.
    let rv = unsafe { SCardEstablishContext(2, null(), null(), &mut ctx) };
    assert_eq!(rv, 0);
    ctx
}

fn reader_list(ctx: SCARDCONTEXT) -> Vec<u8> {
    let mut len: DWORD = 0;
    // SAFETY: a null buffer asks for the length.
    let rv = unsafe { SCardListReaders(ctx, null(), null_mut(), &mut len) };
    assert_eq!(rv, 0);
    let mut buf = vec![0u8; len as usize];
    // SAFETY: `buf` holds `len` bytes.
    let rv = unsafe { SCardListReaders(ctx, null(), buf.as_mut_ptr().cast(), &mut len) };
    assert_eq!(rv, 0);
    assert_eq!(len as usize, buf.len());
    buf
}

#[test]
fn reader_list_is_a_double_nul_terminated_multi_string() {
    let ctx = context_with_card("Test Reader A");
    let list = reader_list(ctx);
    assert!(list.ends_with(b"\0\0"), "{list:?}");
    let needle = b"Test Reader A\0";
    assert!(list.windows(needle.len()).any(|w| w == needle), "{list:?}");
    assert_eq!(SCardReleaseContext(ctx), 0);
}

#[test]
fn short_buffers_null_pointers_and_autoallocate() {
    let ctx = context_with_card("Test Reader B");
    let full = reader_list(ctx);
    let mut small = [0u8; 4];
    let mut len: DWORD = small.len() as DWORD;
    // SAFETY: `small` holds `len` bytes.
    let rv = unsafe { SCardListReaders(ctx, null(), small.as_mut_ptr().cast(), &mut len) };
    assert_eq!(rv, INSUFFICIENT);
    assert_eq!(len as usize, full.len(), "the length needed is returned");
    // SAFETY: a null length pointer is refused without being read.
    let rv = unsafe { SCardListReaders(ctx, null(), null_mut(), null_mut()) };
    assert_eq!(rv, INVALID_PARAMETER);
    // SAFETY: as above.
    let rv = unsafe { SCardEstablishContext(0, null(), null(), null_mut()) };
    assert_eq!(rv, INVALID_PARAMETER);

    let mut out: *mut u8 = null_mut();
    let mut len = SCARD_AUTOALLOCATE;
    // SAFETY: with SCARD_AUTOALLOCATE the buffer argument is the address of a pointer.
    let rv = unsafe { SCardListReaders(ctx, null(), (&raw mut out).cast(), &mut len) };
    assert_eq!(rv, 0);
    // SAFETY: the library allocated `len` bytes at `out`.
    let got = unsafe { std::slice::from_raw_parts(out, len as usize) };
    assert_eq!(got, full.as_slice());
    assert_eq!(SCardFreeMemory(ctx, out.cast()), 0);
    assert_eq!(
        SCardFreeMemory(ctx, out.cast()),
        INVALID_PARAMETER,
        "a second free is refused"
    );
    assert_eq!(SCardReleaseContext(ctx), 0);
    assert_eq!(SCardIsValidContext(ctx), 0x8010_0003);
}

#[test]
fn connect_transmit_status_and_transactions() {
    let ctx = context_with_card("Test Reader C");
    let (mut card, mut proto) = (0, 0);
    // SAFETY: valid string and out pointers.
    let rv = unsafe { SCardConnect(ctx, c"Test Reader C".as_ptr(), 2, 3, &mut card, &mut proto) };
    assert_eq!(rv, 0);
    assert_eq!(proto, SCARD_PROTOCOL_T1);
    // SAFETY: unknown reader name, valid pointers.
    let rv = unsafe { SCardConnect(ctx, c"No Such Reader".as_ptr(), 2, 3, &mut 0, &mut 0) };
    assert_eq!(rv, 0x8010_0009);

    assert_eq!(SCardBeginTransaction(card), 0);
    let select = [
        0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
    ];
    let mut resp = [0u8; 258];
    let mut len = resp.len() as DWORD;
    // SAFETY: buffers as their lengths say.
    let rv = unsafe {
        SCardTransmit(
            card,
            &g_rgSCardT1Pci,
            select.as_ptr(),
            select.len() as DWORD,
            null_mut(),
            resp.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!(rv, 0);
    assert!(len >= 2);
    assert_eq!(resp[len as usize - 2..len as usize], [0x90, 0x00]);
    let mut tiny = [0u8; 1];
    let mut tiny_len: DWORD = 1;
    // SAFETY: as above.
    let rv = unsafe {
        SCardTransmit(
            card,
            &g_rgSCardT1Pci,
            select.as_ptr(),
            select.len() as DWORD,
            null_mut(),
            tiny.as_mut_ptr(),
            &mut tiny_len,
        )
    };
    assert_eq!(rv, INSUFFICIENT);
    assert_eq!(tiny_len, len);
    // SAFETY: null send PCI is refused without being read.
    let rv = unsafe {
        SCardTransmit(
            card,
            null(),
            select.as_ptr(),
            14,
            null_mut(),
            resp.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!(rv, INVALID_PARAMETER);
    // SCARD_AUTOALLOCATE is refused before the card sees the command: a wrong VERIFY sent
    // that way spends no PIN try.
    let transmit = |apdu: &[u8], len: &mut DWORD, out: *mut u8| {
        // SAFETY: buffers as their lengths say (or the address of a pointer with
        // SCARD_AUTOALLOCATE, which is refused before use).
        unsafe {
            SCardTransmit(
                card,
                &g_rgSCardT1Pci,
                apdu.as_ptr(),
                apdu.len() as DWORD,
                null_mut(),
                out,
                len,
            )
        }
    };
    let wrong_pin = [
        0x00, 0x20, 0x00, 0x80, 0x08, b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0',
    ];
    let mut auto = SCARD_AUTOALLOCATE;
    let mut ptr: *mut u8 = null_mut();
    let out = (&raw mut ptr).cast::<u8>();
    assert_eq!(transmit(&wrong_pin, &mut auto, out), INVALID_PARAMETER);
    let mut len = resp.len() as DWORD;
    assert_eq!(
        transmit(&[0x00, 0x20, 0x00, 0x80], &mut len, resp.as_mut_ptr()),
        0
    );
    assert_eq!(resp[..len as usize], [0x63, 0xC3], "no try spent");
    assert_eq!(SCardEndTransaction(card, 0), 0);
    assert_eq!(
        SCardEndTransaction(card, 0),
        0x8010_0016,
        "no transaction to end"
    );

    let (mut state, mut protocol) = (0, 0);
    let mut atr: *mut u8 = null_mut();
    let mut atr_len = SCARD_AUTOALLOCATE;
    let mut name_len: DWORD = 0;
    // SAFETY: out pointers valid; the name buffer is null (length only).
    let rv = unsafe {
        SCardStatus(
            card,
            null_mut(),
            &mut name_len,
            &mut state,
            &mut protocol,
            (&raw mut atr).cast(),
            &mut atr_len,
        )
    };
    assert_eq!(rv, 0);
    assert_eq!(name_len as usize, "Test Reader C".len() + 2);
    assert_eq!(protocol, SCARD_PROTOCOL_T1);
    assert_ne!(state & 0x0004, 0, "present");
    // SAFETY: allocated by the library with `atr_len` bytes.
    let atr_bytes = unsafe { std::slice::from_raw_parts(atr, atr_len as usize) };
    assert_eq!(atr_bytes.first(), Some(&0x3B));
    assert_eq!(SCardFreeMemory(ctx, atr.cast()), 0);

    let mut rs = SCARD_READERSTATE {
        szReader: c"Test Reader C".as_ptr(),
        pvUserData: null_mut(),
        dwCurrentState: 0,
        dwEventState: 0,
        cbAtr: 0,
        rgbAtr: [0; MAX_ATR_SIZE],
    };
    // SAFETY: one valid reader state.
    assert_eq!(unsafe { SCardGetStatusChange(ctx, 0, &mut rs, 1) }, 0);
    assert_ne!(rs.dwEventState & 0x0020, 0, "present");
    assert_ne!(rs.dwEventState & 0x0002, 0, "changed");
    assert_eq!(
        &rs.rgbAtr[..rs.cbAtr as usize],
        atr_bytes_owned(ctx, card).as_slice()
    );
    // SAFETY: a null array with a count is refused.
    let rv = unsafe { SCardGetStatusChange(ctx, 0, null_mut(), 1) };
    assert_eq!(rv, INVALID_PARAMETER);

    assert_eq!(SCardDisconnect(card, 0), 0);
    assert_eq!(SCardDisconnect(card, 0), 0x8010_0003, "the handle is gone");
    assert_eq!(SCardReleaseContext(ctx), 0);
}

fn atr_bytes_owned(_ctx: SCARDCONTEXT, card: SCARDHANDLE) -> Vec<u8> {
    let mut atr = [0u8; MAX_ATR_SIZE];
    let mut len = atr.len() as DWORD;
    // SAFETY: `atr` holds `len` bytes; the other outputs are null.
    let rv = unsafe {
        SCardStatus(
            card,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            atr.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!(rv, 0);
    atr[..len as usize].to_vec()
}

#[test]
fn invalid_handles_and_values_are_refused() {
    assert_eq!(SCardReleaseContext(0), 0x8010_0003);
    assert_eq!(SCardBeginTransaction(12345), 0x8010_0003);
    // SAFETY: the out pointer is valid.
    let rv = unsafe { SCardEstablishContext(9, null(), null(), &mut 0) };
    assert_eq!(rv, 0x8010_0011);
    let ctx = context_with_card("Test Reader D");
    // SAFETY: a null reader name is refused without being read.
    let rv = unsafe { SCardConnect(ctx, null(), 2, 3, &mut 0, &mut 0) };
    assert_eq!(rv, 0x8010_0009);
    // SAFETY: valid pointers, bad share mode.
    let rv = unsafe { SCardConnect(ctx, c"Test Reader D".as_ptr(), 7, 3, &mut 0, &mut 0) };
    assert_eq!(rv, 0x8010_0011);
    assert_eq!(SCardReleaseContext(ctx), 0);
}

/// A new context.
fn new_context() -> SCARDCONTEXT {
    let mut ctx = 0;
    // SAFETY: a valid out pointer.
    let rv = unsafe { SCardEstablishContext(2, null(), null(), &mut ctx) };
    assert_eq!(rv, 0);
    ctx
}

/// Connects to `reader` in `ctx` (shared, T=0 or T=1).
fn connect(ctx: SCARDCONTEXT, reader: &CStr) -> SCARDHANDLE {
    let (mut card, mut proto) = (0, 0);
    // SAFETY: a valid string and out pointers.
    let rv = unsafe { SCardConnect(ctx, reader.as_ptr(), 2, 3, &mut card, &mut proto) };
    assert_eq!(rv, 0);
    card
}

/// Runs `f` on a new thread; its result arrives on the returned channel.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// How long a call that should not block may take (generous for a loaded machine).
const PROMPT: Duration = Duration::from_secs(10);

/// Long enough for a thread to reach its blocking call.
const SETTLE: Duration = Duration::from_millis(300);

/// The audit's deadlock: B waits in `SCardBeginTransaction(h2)` while h1 holds the
/// transaction, C releases an unrelated context, and A's `SCardEndTransaction(h1)` must
/// still go through (it used to wait for the table lock C held while C waited for h2).
#[test]
fn a_blocked_begin_transaction_blocks_no_other_handle_or_context() {
    let reader = c"Test Reader E";
    let ctx = context_with_card("Test Reader E");
    let h1 = connect(ctx, reader);
    let h2 = connect(ctx, reader);
    let other = new_context();

    assert_eq!(SCardBeginTransaction(h1), 0);
    let b = spawn(move || SCardBeginTransaction(h2));
    std::thread::sleep(SETTLE);
    assert!(b.try_recv().is_err(), "B waits for h1's transaction");
    let c = spawn(move || SCardReleaseContext(other));
    std::thread::sleep(SETTLE);
    let a = spawn(move || SCardEndTransaction(h1, 0));

    let ended = a.recv_timeout(PROMPT);
    let released = c.recv_timeout(PROMPT);
    if ended.is_err() || released.is_err() {
        // Unstick the threads (removing the card wakes B) so the other tests can run.
        let _ = Registry::global().remove_card("Test Reader E");
        panic!("deadlock: end transaction {ended:?}, release context {released:?}");
    }
    assert_eq!(ended, Ok(0));
    assert_eq!(released, Ok(0));
    assert_eq!(b.recv_timeout(PROMPT), Ok(0), "B gets the transaction");
    assert_eq!(SCardEndTransaction(h2, 0), 0);
    assert_eq!(SCardDisconnect(h1, 0), 0);
    assert_eq!(SCardDisconnect(h2, 0), 0);
    assert_eq!(SCardReleaseContext(ctx), 0);
}

/// Releasing the context (or disconnecting the handle) of a connection blocked in
/// `SCardBeginTransaction` does not wait for it: the waiting call fails once it wakes and
/// the connection is closed then, giving up the transaction it got.
#[test]
fn closing_a_handle_blocked_in_begin_transaction_does_not_wait() {
    let reader = c"Test Reader F";
    let ctx = context_with_card("Test Reader F");
    let ctx2 = new_context();
    let h1 = connect(ctx, reader);
    let h2 = connect(ctx2, reader);
    let h3 = connect(ctx, reader);
    assert_eq!(SCardBeginTransaction(h1), 0);
    let b2 = spawn(move || SCardBeginTransaction(h2));
    let b3 = spawn(move || SCardBeginTransaction(h3));
    std::thread::sleep(SETTLE);

    let released = spawn(move || SCardReleaseContext(ctx2)).recv_timeout(PROMPT);
    let disconnected = spawn(move || SCardDisconnect(h3, 0)).recv_timeout(PROMPT);
    if released.is_err() || disconnected.is_err() {
        let _ = Registry::global().remove_card("Test Reader F");
        panic!("blocked: release context {released:?}, disconnect {disconnected:?}");
    }
    assert_eq!(released, Ok(0));
    assert_eq!(disconnected, Ok(0));
    assert_eq!(SCardBeginTransaction(h2), 0x8010_0003, "h2 is gone");

    assert_eq!(SCardEndTransaction(h1, 0), 0);
    assert_eq!(b2.recv_timeout(PROMPT), Ok(0x8010_0003));
    assert_eq!(b3.recv_timeout(PROMPT), Ok(0x8010_0003));
    // The closed handles gave the transaction back; the released context left the card
    // as it was, since h1 (another context) still uses it: no SCARD_W_RESET_CARD.
    assert_eq!(
        spawn(move || SCardBeginTransaction(h1)).recv_timeout(PROMPT),
        Ok(0)
    );
    assert_eq!(SCardEndTransaction(h1, 0), 0);
    assert_eq!(SCardDisconnect(h1, 0), 0);
    assert_eq!(SCardReleaseContext(ctx), 0);
}

/// A handle whose transaction was lost to a removal ends it at once: it does not wait for
/// (nor end) the transaction another handle holds since.
#[test]
fn ending_a_lost_transaction_does_not_wait_for_the_new_holder() {
    let name = "Test Reader H";
    let reader = c"Test Reader H";
    let ctx = context_with_card(name);
    let h1 = connect(ctx, reader);
    let h2 = connect(ctx, reader);
    assert_eq!(SCardBeginTransaction(h1), 0);
    let card = Registry::global().remove_card(name).unwrap();
    Registry::global().insert_card(name, card).unwrap();
    let mut proto = 0;
    for h in [h1, h2] {
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { SCardReconnect(h, 2, 3, 0, &mut proto) }, 0);
    }
    assert_eq!(
        spawn(move || SCardBeginTransaction(h2)).recv_timeout(PROMPT),
        Ok(0)
    );
    let ended = spawn(move || SCardEndTransaction(h1, 0)).recv_timeout(PROMPT);
    if ended.is_err() {
        let _ = Registry::global().remove_card(name);
        panic!("SCardEndTransaction of a lost transaction waited");
    }
    assert_eq!(
        ended,
        Ok(0x8010_000B),
        "SCARD_E_SHARING_VIOLATION: the transaction is h2's"
    );
    // h1 holds none; h2 still holds its own.
    assert_eq!(SCardEndTransaction(h1, 0), 0x8010_000B);
    assert_eq!(SCardEndTransaction(h2, 0), 0);
    assert_eq!(
        SCardEndTransaction(h2, 0),
        0x8010_0016,
        "SCARD_E_NOT_TRANSACTED"
    );
    assert_eq!(
        SCardEndTransaction(h1, 0),
        0x8010_0016,
        "SCARD_E_NOT_TRANSACTED"
    );
    assert_eq!(SCardDisconnect(h1, 0), 0);
    assert_eq!(SCardDisconnect(h2, 0), 0);
    assert_eq!(SCardReleaseContext(ctx), 0);
}

/// A panic inside a card call is reported as `SCARD_F_INTERNAL_ERROR` and leaves the
/// handle usable.
#[test]
fn a_panic_in_a_card_call_leaves_the_handle_usable() {
    let ctx = context_with_card("Test Reader G");
    let h = connect(ctx, c"Test Reader G");
    let rv = crate::ffi::guard(|| with_card(h, |_, _| -> Result<(), _> { panic!("test") }));
    assert_eq!(rv, SCARD_F_INTERNAL_ERROR);
    assert_eq!(atr_bytes_owned(ctx, h).first(), Some(&0x3B));
    assert_eq!(SCardBeginTransaction(h), 0);
    assert_eq!(SCardEndTransaction(h, 0), 0);
    assert_eq!(SCardDisconnect(h, 0), 0);
    assert_eq!(SCardReleaseContext(ctx), 0);
}
