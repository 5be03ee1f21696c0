//! The handle tables: `SCARDCONTEXT` and `SCARDHANDLE` values mapped to the in-process
//! API's [`Context`] and [`Card`], and the memory handed out with `SCARD_AUTOALLOCATE`.
//!
//! Locks, and why nothing here can deadlock:
//! - the tables' lock is held only to look a handle up, insert or remove it: never while
//!   an entry is locked, and never across a call that can block (`SCardGetStatusChange`,
//!   `SCardBeginTransaction`): contexts are cloned and entries shared (`Arc`) out first;
//! - an entry's lock is held only across card calls that cannot block. A call that can
//!   wait for another connection (beginning or ending a transaction) borrows the
//!   connection out of its entry ([`CardEntry::lend`]) and makes the call unlocked; other
//!   calls on the same handle wait for it to come back (pcsc-lite serializes them too), and
//!   closing the handle meanwhile does not wait: the borrower disconnects it on return;
//! - a panic inside a card call leaves the connection in its entry, and poisoned locks are
//!   taken over ([`lock`]): the handle stays usable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError};

use softcard_pcsc::{Card, Context, Disposition, Error};

use crate::types::{DWORD, SCARDCONTEXT, SCARDHANDLE};

/// What the C API remembers about a connection.
pub struct Info {
    /// The active protocol (`SCARD_PROTOCOL_*`, 0 for none).
    pub protocol: DWORD,
}

/// Where a connection is.
enum Held {
    /// In its entry.
    Here(Card),
    /// Lent to a call that can block; it comes back when that call returns.
    Lent,
    /// Lent, and the handle was closed meanwhile: the borrower disconnects it with this
    /// disposition when its call returns.
    Closing(Disposition),
    /// Disconnected.
    Gone,
}

struct EntryState {
    card: Held,
    info: Info,
}

/// One connection (`SCARDHANDLE`) and what the C API remembers about it.
pub struct CardEntry {
    /// The context it was opened in (never changes: read without the lock).
    context: SCARDCONTEXT,
    state: Mutex<EntryState>,
    /// Notified when a lent connection comes back or is closed.
    returned: Condvar,
}

impl CardEntry {
    /// The state once no call has the connection out: calls on one handle wait for the
    /// blocking call that borrowed it.
    fn available(&self) -> MutexGuard<'_, EntryState> {
        let mut st = lock(&self.state);
        while matches!(st.card, Held::Lent) {
            st = self
                .returned
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st
    }

    /// Runs `f`, a call that does not block, on the connection, in place (a panic in `f`
    /// leaves it there).
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] once closed, and those of `f`.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut Info, &mut Card) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut st = self.available();
        let EntryState { card, info } = &mut *st;
        match card {
            Held::Here(card) => f(info, card),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Takes the connection out for a call that can block; give it back with
    /// [`Loan::give_back`] (dropping the loan, as a panic does, gives it back too).
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] once closed.
    pub fn lend(&self) -> Result<Loan<'_>, Error> {
        let mut st = self.available();
        match std::mem::replace(&mut st.card, Held::Lent) {
            Held::Here(card) => Ok(Loan {
                entry: self,
                card: Some(card),
            }),
            other => {
                st.card = other;
                Err(Error::InvalidHandle)
            }
        }
    }

    /// Closes the connection with `disposition`; when it is lent, its borrower does that
    /// when its call returns, and this does not wait.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] when already closed, and those of [`Card::disconnect`].
    pub fn close(&self, disposition: Disposition) -> Result<(), Error> {
        let mut st = lock(&self.state);
        let result = match std::mem::replace(&mut st.card, Held::Gone) {
            Held::Here(card) => {
                drop(st);
                card.disconnect(disposition).map_err(|(_card, e)| e)
            }
            Held::Lent => {
                st.card = Held::Closing(disposition);
                drop(st);
                Ok(())
            }
            closing @ Held::Closing(_) => {
                st.card = closing;
                return Err(Error::InvalidHandle);
            }
            Held::Gone => return Err(Error::InvalidHandle),
        };
        self.returned.notify_all();
        result
    }

    /// Closes the connection as releasing its context does
    /// ([`Card::disconnect_released`]); a lent one is left as it is when its call returns.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] when already closed.
    pub fn close_released(&self) -> Result<(), Error> {
        let mut st = lock(&self.state);
        match std::mem::replace(&mut st.card, Held::Gone) {
            Held::Here(card) => {
                drop(st);
                let result = card.disconnect_released().map_err(|(_card, e)| e);
                self.returned.notify_all();
                result
            }
            other => {
                st.card = other;
                drop(st);
                self.close(Disposition::LeaveCard)
            }
        }
    }

    /// Puts a lent connection back, or disconnects it if the handle was closed meanwhile.
    fn put_back(&self, card: Card) -> Result<(), Error> {
        let mut st = lock(&self.state);
        let result = match st.card {
            Held::Closing(disposition) => {
                st.card = Held::Gone;
                drop(st);
                // Disconnecting also gives up a transaction the call may have got.
                let _ = card.disconnect(disposition);
                Err(Error::InvalidHandle)
            }
            _ => {
                st.card = Held::Here(card);
                drop(st);
                Ok(())
            }
        };
        self.returned.notify_all();
        result
    }
}

/// A connection taken out of its entry by [`CardEntry::lend`].
pub struct Loan<'a> {
    entry: &'a CardEntry,
    /// `Some` until given back.
    card: Option<Card>,
}

impl Loan<'_> {
    /// The connection.
    ///
    /// # Errors
    /// [`Error::InternalError`] (not reached: the loan holds it until given back).
    pub fn card(&mut self) -> Result<&mut Card, Error> {
        self.card.as_mut().ok_or(Error::InternalError)
    }

    /// Puts the connection back in its entry.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] when the handle was closed meanwhile (the connection is
    /// disconnected now).
    pub fn give_back(mut self) -> Result<(), Error> {
        match self.card.take() {
            Some(card) => self.entry.put_back(card),
            None => Err(Error::InternalError),
        }
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = self.entry.put_back(card);
        }
    }
}

#[derive(Default)]
struct Tables {
    /// The fork generation the handles belong to (see [`forks`]).
    generation: u64,
    contexts: HashMap<SCARDCONTEXT, Context>,
    cards: HashMap<SCARDHANDLE, Arc<CardEntry>>,
    /// Buffers allocated for `SCARD_AUTOALLOCATE`, by address.
    memory: HashMap<usize, Box<[u8]>>,
}

/// The handle tables of this process. In a child forked after handles were opened, the
/// parent's handles are not the child's: the tables start empty there, so the child's
/// calls on them get `SCARD_E_INVALID_HANDLE`, as with pcsc-lite, instead of acting on a
/// copy of the card or on the parent's host connection. (The parent's entries are left
/// alone, never closed from the child.)
fn tables() -> MutexGuard<'static, Tables> {
    static TABLES: OnceLock<Mutex<Tables>> = OnceLock::new();
    let generation = forks();
    let mut t = TABLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if t.generation != generation {
        let parents = std::mem::take(&mut *t);
        std::mem::forget(parents);
        t.generation = generation;
    }
    t
}

/// How many times this process is a forked child of the one that first used the tables:
/// counted by a `pthread_atfork` child handler, so that no call pays a `getpid` system
/// call to notice a fork.
fn forks() -> u64 {
    static FORKS: AtomicU64 = AtomicU64::new(0);
    static REGISTER: Once = Once::new();
    extern "C" fn in_child() {
        FORKS.fetch_add(1, Ordering::SeqCst);
    }
    REGISTER.call_once(|| {
        // SAFETY: `in_child` takes no argument and only updates an atomic, which is safe
        // in a child between fork and exec; the handler stays valid for the process's
        // lifetime (a static function).
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    FORKS.load(Ordering::SeqCst)
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
/// are reset, as pcsc-lite does). A connection blocked in a transaction wait is not
/// waited for: it is disconnected when that call returns.
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn remove_context(h: SCARDCONTEXT) -> Result<(), Error> {
    let mut t = tables();
    let ctx = t.contexts.remove(&h).ok_or(Error::InvalidHandle)?;
    let ids: Vec<SCARDHANDLE> = t
        .cards
        .iter()
        .filter(|(_, e)| e.context == h)
        .map(|(id, _)| *id)
        .collect();
    let entries: Vec<_> = ids.iter().filter_map(|id| t.cards.remove(id)).collect();
    drop(t);
    for e in entries {
        let _ = e.close_released();
    }
    drop(ctx);
    Ok(())
}

/// Registers a connection opened in `context` and returns its handle.
///
/// # Errors
/// [`Error::InvalidHandle`] when the context was released meanwhile (the connection is
/// closed).
pub fn add_card(context: SCARDCONTEXT, card: Card, protocol: DWORD) -> Result<SCARDHANDLE, Error> {
    let h = new_handle();
    let entry = Arc::new(CardEntry {
        context,
        state: Mutex::new(EntryState {
            card: Held::Here(card),
            info: Info { protocol },
        }),
        returned: Condvar::new(),
    });
    let mut t = tables();
    if !t.contexts.contains_key(&context) {
        drop(t);
        // Dropping the last reference disconnects with a reset, outside the lock.
        drop(entry);
        return Err(Error::InvalidHandle);
    }
    t.cards.insert(h, entry);
    Ok(h)
}

/// The connection behind a handle.
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn card(h: SCARDHANDLE) -> Result<Arc<CardEntry>, Error> {
    tables().cards.get(&h).cloned().ok_or(Error::InvalidHandle)
}

/// Removes a connection from the table and gives it back.
///
/// # Errors
/// [`Error::InvalidHandle`].
pub fn remove_card(h: SCARDHANDLE) -> Result<Arc<CardEntry>, Error> {
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
