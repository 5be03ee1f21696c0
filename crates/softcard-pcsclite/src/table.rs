//! The handle tables: `SCARDCONTEXT` and `SCARDHANDLE` values mapped to the in-process
//! API's [`Context`] and [`Card`], and the memory handed out with `SCARD_AUTOALLOCATE`.
//!
//! The tables' lock is never held across a call that can block (`SCardGetStatusChange`,
//! `SCardBeginTransaction`): the objects are cloned or shared out of the table first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use softcard_pcsc::{Card, Context, Error};

use crate::types::{DWORD, SCARDCONTEXT, SCARDHANDLE};

/// One connection and what the C API remembers about it.
pub struct CardEntry {
    /// The connection; `None` once disconnected.
    pub card: Option<Card>,
    /// The context it was opened in.
    pub context: SCARDCONTEXT,
    /// The active protocol (`SCARD_PROTOCOL_*`, 0 for none).
    pub protocol: DWORD,
    /// Whether this handle holds the reader's transaction.
    pub in_transaction: bool,
}

#[derive(Default)]
struct Tables {
    contexts: HashMap<SCARDCONTEXT, Context>,
    cards: HashMap<SCARDHANDLE, Arc<Mutex<CardEntry>>>,
    /// Buffers allocated for `SCARD_AUTOALLOCATE`, by address.
    memory: HashMap<usize, Box<[u8]>>,
}

fn tables() -> MutexGuard<'static, Tables> {
    static TABLES: OnceLock<Mutex<Tables>> = OnceLock::new();
    TABLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Locks a mutex, ignoring poisoning (a panic is already reported as an error code).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new handle value: never 0, never reused within the process, and different for
/// contexts and cards so that one passed for the other is rejected.
fn new_handle() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(0x0100_0001);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Registers a context and returns its handle.
pub fn add_context(ctx: Context) -> SCARDCONTEXT {
    let h = new_handle();
    tables().contexts.insert(h, ctx);
    h
}

/// The context behind a handle (a clone sharing it).
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn context(h: SCARDCONTEXT) -> Result<Context, Error> {
    tables()
        .contexts
        .get(&h)
        .cloned()
        .ok_or(Error::InvalidHandle)
}

/// Removes a context and the cards opened in it, and releases them (their connections
/// are reset, as pcsc-lite does).
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn remove_context(h: SCARDCONTEXT) -> Result<(), Error> {
    let mut t = tables();
    let ctx = t.contexts.remove(&h).ok_or(Error::InvalidHandle)?;
    let ids: Vec<SCARDHANDLE> = t
        .cards
        .iter()
        .filter(|(_, e)| lock(e).context == h)
        .map(|(id, _)| *id)
        .collect();
    let entries: Vec<_> = ids.iter().filter_map(|id| t.cards.remove(id)).collect();
    drop(t);
    for e in entries {
        // Dropping the card disconnects it with a reset.
        lock(&e).card.take();
    }
    drop(ctx);
    Ok(())
}

/// Registers a connection and returns its handle.
pub fn add_card(context: SCARDCONTEXT, card: Card, protocol: DWORD) -> SCARDHANDLE {
    let h = new_handle();
    let entry = CardEntry {
        card: Some(card),
        context,
        protocol,
        in_transaction: false,
    };
    tables().cards.insert(h, Arc::new(Mutex::new(entry)));
    h
}

/// The connection behind a handle.
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn card(h: SCARDHANDLE) -> Result<Arc<Mutex<CardEntry>>, Error> {
    tables().cards.get(&h).cloned().ok_or(Error::InvalidHandle)
}

/// Removes a connection from the table and gives it back.
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn remove_card(h: SCARDHANDLE) -> Result<Arc<Mutex<CardEntry>>, Error> {
    tables().cards.remove(&h).ok_or(Error::InvalidHandle)
}

/// Keeps a buffer until `SCardFreeMemory`; returns its address.
pub fn keep_memory(buf: Box<[u8]>) -> *mut u8 {
    let mut buf = buf;
    let ptr = buf.as_mut_ptr();
    tables().memory.insert(ptr as usize, buf);
    ptr
}

/// Frees a buffer given out by [`keep_memory`]; returns whether it was one.
pub fn free_memory(ptr: usize) -> bool {
    tables().memory.remove(&ptr).is_some()
}
