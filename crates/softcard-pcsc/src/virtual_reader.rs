//! [`VirtualReader`]: a test fixture in one expression, a reader holding a new card made to
//! order, reached through a pcsc-shaped [`Context`].

use std::ffi::{CStr, CString};

use softcard::{Card, CardOptions, MemoryStorage, Profile, Secret, Snapshot, crypto::BackendKind};

use crate::fault::Fault;
use crate::{Context, Error, Protocols, Registry, Scope, ShareMode, served_reader_name};

/// Why [`VirtualReaderBuilder::build`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The card could not be made: an option the card refuses (a PIN of the wrong
    /// length...), a snapshot that does not load, a backend not compiled in.
    Card(softcard::Error),
    /// The reader could not be added (a name taken in the registry, or not a valid name).
    Reader(Error),
    /// Two options that do not go together, named.
    Conflict(&'static str),
    /// The operating system's random generator failed (unseeded cards only).
    Random(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Card(e) => write!(f, "cannot make the card: {e}"),
            BuildError::Reader(e) => write!(f, "cannot add the reader: {e}"),
            BuildError::Conflict(what) => f.write_str(what),
            BuildError::Random(e) => write!(f, "no randomness for the card: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Card(e) => Some(e),
            BuildError::Reader(e) => Some(e),
            BuildError::Conflict(_) | BuildError::Random(_) => None,
        }
    }
}

/// Makes a [`VirtualReader`]; see [`VirtualReader`]. Unset options take the profile's
/// defaults ([`CardOptions`]); the profile defaults to [`Profile::Piv`], or
/// to the snapshot's.
#[derive(Debug, Default)]
#[must_use]
pub struct VirtualReaderBuilder {
    profile: Option<Profile>,
    pin: Option<Secret>,
    puk: Option<Secret>,
    admin_key: Option<(Secret, bool)>,
    serial: Option<u32>,
    backend: Option<BackendKind>,
    seed: Option<u64>,
    snapshot: Option<Snapshot>,
    name: Option<String>,
    registry: Option<Registry>,
    faults: Vec<Fault>,
}

impl VirtualReaderBuilder {
    /// The card's kind.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// The user PIN (ASCII digits on every profile softcard emulates).
    pub fn pin(mut self, pin: impl AsRef<[u8]>) -> Self {
        self.pin = Some(Secret::from_slice(pin.as_ref()));
        self
    }

    /// The PUK (PIV cards; a GIDS card refuses one).
    pub fn puk(mut self, puk: impl AsRef<[u8]>) -> Self {
        self.puk = Some(Secret::from_slice(puk.as_ref()));
        self
    }

    /// The management key (PIV) or administrator key (GIDS), raw bytes: 24 bytes are
    /// 3DES unless `aes`, 16/24/32 bytes with `aes` are AES.
    pub fn admin_key(mut self, key: impl AsRef<[u8]>, aes: bool) -> Self {
        self.admin_key = Some((Secret::from_slice(key.as_ref()), aes));
        self
    }

    /// The serial number (random, or from the seed, when unset).
    pub fn serial(mut self, serial: u32) -> Self {
        self.serial = Some(serial);
        self
    }

    /// The crypto backend the card's keys run on (default: the fastest compiled in).
    pub fn backend(mut self, backend: BackendKind) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Draws the card's randomness (serial number, generated keys, challenges) from `seed`
    /// ([`softcard::seeded_rng`]): the same seed gives the same card and the same keys
    /// every run. **Tests only**: the keys are predictable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Starts the card from a snapshot ([`Card::snapshot`], or an image file's bytes
    /// through [`Snapshot::from_image`]): its PINs, keys and objects. The PIN, PUK, key
    /// and serial are the snapshot's, so giving any of them as well is refused; a profile
    /// given must be the snapshot's.
    pub fn snapshot(mut self, snapshot: Snapshot) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// The reader's name (default: the one `softcard exec` gives a first card of the
    /// profile, `softcard PIV 00 00`, `softcard GIDS 00 00` or `Yubico YubiKey
    /// OTP+FIDO+CCID 00 00`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Injects a fault in the card's exchanges from the start (see [`crate::fault`]); a
    /// fault that names no reader is given this one, so that it touches no other reader
    /// of the registry. Repeat for several, in order.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Injects several faults ([`Self::fault`]): a plan read with
    /// [`crate::fault::parse_plan`], or [`crate::fault::LatencyProfile::faults`].
    pub fn faults(mut self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.faults.extend(faults);
        self
    }

    /// Adds the reader to `registry` instead of a new one of its own.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Adds the reader to [`Registry::global`], where [`Context::establish`] finds it.
    /// Give each test its own [`name`](Self::name): two readers of one name are refused.
    pub fn global(self) -> Self {
        self.registry(Registry::global())
    }

    /// Makes the card and puts it in its reader.
    ///
    /// # Errors
    /// [`BuildError::Card`] for an option the card refuses or a snapshot that does not
    /// load (or of another profile), [`BuildError::Conflict`] for a snapshot given with a
    /// PIN, PUK, key or serial, [`BuildError::Reader`] ([`Error::DuplicateReader`]) for a
    /// name the registry has already.
    pub fn build(self) -> Result<VirtualReader, BuildError> {
        let card = self.card()?;
        let name = self
            .name
            .unwrap_or_else(|| served_reader_name(card.profile(), 0));
        let registry = self.registry.unwrap_or_default();
        registry.add_reader(&name).map_err(BuildError::Reader)?;
        let c_name =
            CString::new(name.clone()).map_err(|_| BuildError::Reader(Error::InvalidParameter))?;
        if let Err(e) = registry.insert_card(&name, card) {
            let _ = registry.remove_reader(&name);
            return Err(BuildError::Reader(e));
        }
        registry.inject_all(self.faults.into_iter().map(|f| match f.reader {
            Some(_) => f,
            None => f.on_reader(name.clone()),
        }));
        Ok(VirtualReader {
            registry,
            name: c_name,
        })
    }

    fn card(&self) -> Result<Card, BuildError> {
        let rng: Box<dyn softcard::crypto::CardRng> = match self.seed {
            Some(seed) => Box::new(softcard::seeded_rng(seed)),
            None => Box::new(softcard_file::os_rng().map_err(BuildError::Random)?),
        };
        let storage = Box::new(MemoryStorage::new());
        let backend = self.backend.unwrap_or_default();
        let Some(snapshot) = &self.snapshot else {
            let mut opts = CardOptions::new(self.profile.unwrap_or(Profile::Piv));
            opts.pin = self.pin.clone();
            opts.puk = self.puk.clone();
            if let Some((key, aes)) = &self.admin_key {
                opts.admin_key = Some(key.clone());
                opts.admin_key_aes = *aes;
            }
            opts.serial = self.serial;
            opts.backend = backend;
            return Card::create(&opts, rng, storage).map_err(BuildError::Card);
        };
        if self.pin.is_some() || self.puk.is_some() || self.admin_key.is_some() {
            return Err(BuildError::Conflict(
                "a snapshot carries its own PIN, PUK and keys: give either the snapshot or them",
            ));
        }
        if self.serial.is_some() {
            return Err(BuildError::Conflict(
                "a snapshot carries its own serial number: give either the snapshot or a serial",
            ));
        }
        let card = Card::load(snapshot.image(), rng, storage, backend).map_err(BuildError::Card)?;
        match self.profile {
            Some(p) if p != card.profile() => Err(BuildError::Card(softcard::Error::Image(
                softcard::ImageError::Corrupt(format!(
                    "the snapshot is of a {} card, not {p}",
                    card.profile()
                )),
            ))),
            _ => Ok(card),
        }
    }
}

/// A reader with a card in it, made by [`VirtualReader::builder`]: a test fixture in one
/// expression. Dropping it takes the reader (and its card) out of its registry.
///
/// ```
/// use softcard::Profile;
/// use softcard_pcsc::{Protocols, ShareMode, VirtualReader, MAX_BUFFER_SIZE};
///
/// let reader = VirtualReader::builder().profile(Profile::Piv).pin("123456").seed(42).build()?;
/// let ctx = reader.establish()?;
/// let card = ctx.connect(reader.name(), ShareMode::Shared, Protocols::ANY)?;
/// let mut buf = [0; MAX_BUFFER_SIZE];
/// let select_piv = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
/// assert!(card.transmit(&select_piv, &mut buf)?.ends_with(&[0x90, 0x00]));
/// let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF];
/// assert_eq!(card.transmit(&verify, &mut buf)?, [0x90, 0x00]);
/// let wrong = [0x00, 0x20, 0x00, 0x80, 0x08, b'6', b'5', b'4', b'3', b'2', b'1', 0xFF, 0xFF];
/// assert_eq!(card.transmit(&wrong, &mut buf)?, [0x63, 0xC2]); // two tries left
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With faults (see [`crate::fault`]; they fire in the order given): the first
/// transmission fails with `SCARD_E_COMM_DATA_LOST`, the next SELECT is answered 6A82,
/// then the card answers:
///
/// ```
/// use softcard::Profile;
/// use softcard_pcsc::fault::{Fault, Pattern};
/// use softcard_pcsc::{Error, VirtualReader, MAX_BUFFER_SIZE};
///
/// let reader = VirtualReader::builder()
///     .profile(Profile::Piv)
///     .seed(42)
///     .fault("fail error=SCARD_E_COMM_DATA_LOST".parse()?)
///     .fault(Fault::answer(Pattern::Ins(0xA4), 0x6A82))
///     .build()?;
/// let card = reader.connect()?;
/// let mut buf = [0; MAX_BUFFER_SIZE];
/// let select_piv = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
/// assert_eq!(card.transmit(&select_piv, &mut buf), Err(Error::CommDataLost));
/// assert_eq!(card.transmit(&select_piv, &mut buf)?, [0x6A, 0x82]);
/// assert!(card.transmit(&select_piv, &mut buf)?.ends_with(&[0x90, 0x00]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Each reader lives in a registry of its own by default, so tests running in parallel
/// threads do not see each other's cards; [`VirtualReaderBuilder::global`] puts it in
/// [`Registry::global`] instead, for code that calls [`Context::establish`] itself (code
/// written for the `pcsc` crate). The reader is taken away when the handle is dropped.
#[derive(Debug)]
pub struct VirtualReader {
    registry: Registry,
    name: CString,
}

impl VirtualReader {
    /// A builder with every option unset.
    pub fn builder() -> VirtualReaderBuilder {
        VirtualReaderBuilder::default()
    }

    /// The reader's name, as [`Context::connect`] takes it.
    pub fn name(&self) -> &CStr {
        &self.name
    }

    /// The registry the reader is in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Opens a context that sees the reader (`SCardEstablishContext`).
    ///
    /// # Errors
    /// As [`Registry::establish`].
    pub fn establish(&self) -> Result<Context, Error> {
        self.registry.establish(Scope::User)
    }

    /// Opens a context and connects to the card, shared, on any protocol.
    ///
    /// # Errors
    /// As [`Context::connect`]: [`Error::NoSmartcard`] after the card was taken out.
    pub fn connect(&self) -> Result<crate::Card, Error> {
        self.establish()?
            .connect(&self.name, ShareMode::Shared, Protocols::ANY)
    }

    /// Runs `f` on the card itself (to inspect it, or change it behind the connections'
    /// backs).
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] after the card was taken out.
    pub fn with_card<R>(&self, f: impl FnOnce(&mut Card) -> R) -> Result<R, Error> {
        self.registry.with_card(self.reader(), f)
    }

    /// A snapshot of the card's whole state, to start another reader from
    /// ([`VirtualReaderBuilder::snapshot`]) or to put back with [`Self::restore`].
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] after the card was taken out; [`Error::InternalError`] if the
    /// card's state cannot be encoded.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        self.with_card(|c| c.snapshot().map_err(|_| Error::InternalError))?
    }

    /// Puts the card back to a snapshot's state, as after a power cycle: open
    /// connections get [`Error::ResetCard`] once.
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] after the card was taken out; [`Error::InvalidValue`] for a
    /// snapshot of another profile or that does not decode (the card is left as it was).
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), Error> {
        self.with_card(|c| c.restore(snapshot).map_err(|_| Error::InvalidValue))??;
        self.registry
            .dispose(self.reader(), crate::Disposition::ResetCard)
    }

    /// Injects a fault in the card's exchanges now ([`VirtualReaderBuilder::fault`]).
    pub fn inject(&self, fault: Fault) {
        let fault = match fault.reader {
            Some(_) => fault,
            None => fault.on_reader(self.reader()),
        };
        self.registry.inject(fault);
    }

    /// Pulls the card out as a user would ([`Registry::eject`]): every connection sees
    /// the removal; [`Self::reinsert`] puts it back.
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] if it is out already.
    pub fn eject(&self) -> Result<(), Error> {
        self.registry.eject(self.reader())
    }

    /// Puts back the card [`Self::eject`] took out: every client sees the insertion.
    ///
    /// # Errors
    /// [`Error::UnknownReader`] when no card was taken out.
    pub fn reinsert(&self) -> Result<(), Error> {
        self.registry.reinsert(self.reader())
    }

    /// Power-cycles the card ([`Registry::power_cycle`]): its security state is gone and
    /// connections get [`Error::ResetCard`] until they reconnect.
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] if the card is out.
    pub fn power_cycle(&self) -> Result<(), Error> {
        self.registry.power_cycle(self.reader())
    }

    /// Takes the card out and gives it to the caller (open connections get
    /// [`Error::RemovedCard`]); the reader stays.
    ///
    /// # Errors
    /// [`Error::NoSmartcard`] if it is out already.
    pub fn remove_card(&self) -> Result<Card, Error> {
        self.registry.remove_card(self.reader())
    }

    /// Puts a card (the one taken out, or another) into the reader.
    ///
    /// # Errors
    /// None in practice: the name is valid.
    pub fn insert_card(&self, card: Card) -> Result<(), Error> {
        self.registry.insert_card(self.reader(), card).map(drop)
    }

    fn reader(&self) -> &str {
        // Made from a `String` in `build`.
        self.name.to_str().unwrap_or_default()
    }
}

impl Drop for VirtualReader {
    fn drop(&mut self) {
        let name = self.reader().to_owned();
        let _ = self.registry.remove_reader(&name);
    }
}
