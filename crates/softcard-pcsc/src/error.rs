//! [`Error`]: the PC/SC result codes (`SCARD_E_*`, `SCARD_F_*`, `SCARD_W_*`, `SCARD_P_*`).

use core::fmt;

macro_rules! errors {
    ($($(#[$attr:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        /// A PC/SC error; the discriminant is the `SCARD_*` code of pcsc-lite.
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Error {
            $(#[doc = $text] $(#[$attr])* $name = $code,)*
        }

        impl Error {
            /// Every error, in code order.
            pub const ALL: &'static [Error] = &[$(Error::$name,)*];

            /// One sentence saying what the error means.
            pub fn description(self) -> &'static str {
                match self {
                    $(Error::$name => $text,)*
                }
            }
        }
    };
}

errors! {
    InternalError = 0x8010_0001, "an internal consistency check failed";
    Cancelled = 0x8010_0002, "the call was cancelled by Context::cancel";
    InvalidHandle = 0x8010_0003, "the context or card handle is not valid";
    InvalidParameter = 0x8010_0004, "a parameter could not be used";
    InvalidTarget = 0x8010_0005, "the registry start-up data is missing or invalid";
    NoMemory = 0x8010_0006, "not enough memory";
    WaitedTooLong = 0x8010_0007, "an internal timer expired";
    InsufficientBuffer = 0x8010_0008, "the buffer is too small for the data";
    UnknownReader = 0x8010_0009, "no reader has this name";
    Timeout = 0x8010_000A, "the timeout expired";
    SharingViolation = 0x8010_000B, "another connection holds the card";
    NoSmartcard = 0x8010_000C, "there is no card in the reader";
    UnknownCard = 0x8010_000D, "the card name is not known";
    CantDispose = 0x8010_000E, "the card cannot be disposed of as asked (or the context is still in use)";
    ProtoMismatch = 0x8010_000F, "none of the requested protocols is supported";
    NotReady = 0x8010_0010, "the reader or card is not ready";
    InvalidValue = 0x8010_0011, "a parameter value could not be used";
    SystemCancelled = 0x8010_0012, "the system cancelled the call";
    CommError = 0x8010_0013, "a communication error happened";
    UnknownError = 0x8010_0014, "an error of unknown origin happened";
    InvalidAtr = 0x8010_0015, "the ATR is not valid";
    NotTransacted = 0x8010_0016, "there is no transaction to end";
    ReaderUnavailable = 0x8010_0017, "the reader is not available";
    Shutdown = 0x8010_0018, "the call was stopped because the service is exiting";
    PciTooSmall = 0x8010_0019, "the PCI receive buffer is too small";
    ReaderUnsupported = 0x8010_001A, "the reader driver is not supported";
    DuplicateReader = 0x8010_001B, "a reader with this name already exists";
    CardUnsupported = 0x8010_001C, "the card is not supported";
    NoService = 0x8010_001D, "the smart card service is not running";
    ServiceStopped = 0x8010_001E, "the smart card service stopped";
    IccInstallation = 0x8010_0020, "no primary provider was found for the card";
    IccCreateorder = 0x8010_0021, "this order of object creation is not supported";
    UnsupportedFeature = 0x8010_001F, "the card or reader does not support this feature";
    DirNotFound = 0x8010_0023, "the directory does not exist on the card";
    FileNotFound = 0x8010_0024, "the file does not exist on the card";
    NoDir = 0x8010_0025, "the path is not a directory";
    NoFile = 0x8010_0026, "the path is not a file";
    NoAccess = 0x8010_0027, "access to this file is denied";
    WriteTooMany = 0x8010_0028, "the card has not enough memory for the data";
    BadSeek = 0x8010_0029, "the file pointer could not be set";
    InvalidChv = 0x8010_002A, "the PIN is wrong";
    UnknownResMng = 0x8010_002B, "a layered component returned an unknown error";
    NoSuchCertificate = 0x8010_002C, "the certificate does not exist";
    CertificateUnavailable = 0x8010_002D, "the certificate could not be read";
    NoReadersAvailable = 0x8010_002E, "there is no reader";
    CommDataLost = 0x8010_002F, "data were lost talking to the card; try again";
    NoKeyContainer = 0x8010_0030, "the key container does not exist";
    ServerTooBusy = 0x8010_0031, "the service is too busy";
    UnsupportedCard = 0x8010_0065, "the reader cannot talk to the card (ATR conflict)";
    UnresponsiveCard = 0x8010_0066, "the card does not answer a reset";
    UnpoweredCard = 0x8010_0067, "the card is not powered";
    ResetCard = 0x8010_0068, "the card was reset: shared state is no longer valid; reconnect";
    RemovedCard = 0x8010_0069, "the card was removed";
    SecurityViolation = 0x8010_006A, "access denied by a security rule";
    WrongChv = 0x8010_006B, "the wrong PIN was given";
    ChvBlocked = 0x8010_006C, "the PIN is blocked";
    Eof = 0x8010_006D, "end of the card file";
    CancelledByUser = 0x8010_006E, "the user cancelled";
    CardNotAuthenticated = 0x8010_006F, "no PIN was presented";
    CacheItemNotFound = 0x8010_0070, "the cache item does not exist";
    CacheItemStale = 0x8010_0071, "the cache item is too old";
    CacheItemTooBig = 0x8010_0072, "the cache item is too large";
}

impl Error {
    /// The `SCARD_*` code.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The error with this `SCARD_*` code, if any.
    pub fn from_code(code: u32) -> Option<Error> {
        Error::ALL.iter().copied().find(|e| e.code() == code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for Error {}
