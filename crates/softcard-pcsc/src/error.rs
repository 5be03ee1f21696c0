//! [`Error`]: the PC/SC result codes (`SCARD_E_*`, `SCARD_F_*`, `SCARD_W_*`, `SCARD_P_*`).

use core::fmt;

macro_rules! errors {
    ($($(#[$attr:meta])* $name:ident = $code:literal, $cname:literal, $text:literal;)*) => {
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

            /// The error's name in pcsc-lite's headers, e.g. `SCARD_E_COMM_DATA_LOST`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Error::$name => $cname,)*
                }
            }
        }
    };
}

errors! {
    InternalError = 0x8010_0001, "SCARD_F_INTERNAL_ERROR", "an internal consistency check failed";
    Cancelled = 0x8010_0002, "SCARD_E_CANCELLED", "the call was cancelled by Context::cancel";
    InvalidHandle = 0x8010_0003, "SCARD_E_INVALID_HANDLE", "the context or card handle is not valid";
    InvalidParameter = 0x8010_0004, "SCARD_E_INVALID_PARAMETER", "a parameter could not be used";
    InvalidTarget = 0x8010_0005, "SCARD_E_INVALID_TARGET", "the registry start-up data is missing or invalid";
    NoMemory = 0x8010_0006, "SCARD_E_NO_MEMORY", "not enough memory";
    WaitedTooLong = 0x8010_0007, "SCARD_F_WAITED_TOO_LONG", "an internal timer expired";
    InsufficientBuffer = 0x8010_0008, "SCARD_E_INSUFFICIENT_BUFFER", "the buffer is too small for the data";
    UnknownReader = 0x8010_0009, "SCARD_E_UNKNOWN_READER", "no reader has this name";
    Timeout = 0x8010_000A, "SCARD_E_TIMEOUT", "the timeout expired";
    SharingViolation = 0x8010_000B, "SCARD_E_SHARING_VIOLATION", "another connection holds the card";
    NoSmartcard = 0x8010_000C, "SCARD_E_NO_SMARTCARD", "there is no card in the reader";
    UnknownCard = 0x8010_000D, "SCARD_E_UNKNOWN_CARD", "the card name is not known";
    CantDispose = 0x8010_000E, "SCARD_E_CANT_DISPOSE", "the card cannot be disposed of as asked (or the context is still in use)";
    ProtoMismatch = 0x8010_000F, "SCARD_E_PROTO_MISMATCH", "none of the requested protocols is supported";
    NotReady = 0x8010_0010, "SCARD_E_NOT_READY", "the reader or card is not ready";
    InvalidValue = 0x8010_0011, "SCARD_E_INVALID_VALUE", "a parameter value could not be used";
    SystemCancelled = 0x8010_0012, "SCARD_E_SYSTEM_CANCELLED", "the system cancelled the call";
    CommError = 0x8010_0013, "SCARD_F_COMM_ERROR", "a communication error happened";
    UnknownError = 0x8010_0014, "SCARD_F_UNKNOWN_ERROR", "an error of unknown origin happened";
    InvalidAtr = 0x8010_0015, "SCARD_E_INVALID_ATR", "the ATR is not valid";
    NotTransacted = 0x8010_0016, "SCARD_E_NOT_TRANSACTED", "there is no transaction to end";
    ReaderUnavailable = 0x8010_0017, "SCARD_E_READER_UNAVAILABLE", "the reader is not available";
    Shutdown = 0x8010_0018, "SCARD_P_SHUTDOWN", "the call was stopped because the service is exiting";
    PciTooSmall = 0x8010_0019, "SCARD_E_PCI_TOO_SMALL", "the PCI receive buffer is too small";
    ReaderUnsupported = 0x8010_001A, "SCARD_E_READER_UNSUPPORTED", "the reader driver is not supported";
    DuplicateReader = 0x8010_001B, "SCARD_E_DUPLICATE_READER", "a reader with this name already exists";
    CardUnsupported = 0x8010_001C, "SCARD_E_CARD_UNSUPPORTED", "the card is not supported";
    NoService = 0x8010_001D, "SCARD_E_NO_SERVICE", "the smart card service is not running";
    ServiceStopped = 0x8010_001E, "SCARD_E_SERVICE_STOPPED", "the smart card service stopped";
    IccInstallation = 0x8010_0020, "SCARD_E_ICC_INSTALLATION", "no primary provider was found for the card";
    IccCreateorder = 0x8010_0021, "SCARD_E_ICC_CREATEORDER", "this order of object creation is not supported";
    UnsupportedFeature = 0x8010_001F, "SCARD_E_UNSUPPORTED_FEATURE", "the card or reader does not support this feature";
    DirNotFound = 0x8010_0023, "SCARD_E_DIR_NOT_FOUND", "the directory does not exist on the card";
    FileNotFound = 0x8010_0024, "SCARD_E_FILE_NOT_FOUND", "the file does not exist on the card";
    NoDir = 0x8010_0025, "SCARD_E_NO_DIR", "the path is not a directory";
    NoFile = 0x8010_0026, "SCARD_E_NO_FILE", "the path is not a file";
    NoAccess = 0x8010_0027, "SCARD_E_NO_ACCESS", "access to this file is denied";
    WriteTooMany = 0x8010_0028, "SCARD_E_WRITE_TOO_MANY", "the card has not enough memory for the data";
    BadSeek = 0x8010_0029, "SCARD_E_BAD_SEEK", "the file pointer could not be set";
    InvalidChv = 0x8010_002A, "SCARD_E_INVALID_CHV", "the PIN is wrong";
    UnknownResMng = 0x8010_002B, "SCARD_E_UNKNOWN_RES_MNG", "a layered component returned an unknown error";
    NoSuchCertificate = 0x8010_002C, "SCARD_E_NO_SUCH_CERTIFICATE", "the certificate does not exist";
    CertificateUnavailable = 0x8010_002D, "SCARD_E_CERTIFICATE_UNAVAILABLE", "the certificate could not be read";
    NoReadersAvailable = 0x8010_002E, "SCARD_E_NO_READERS_AVAILABLE", "there is no reader";
    CommDataLost = 0x8010_002F, "SCARD_E_COMM_DATA_LOST", "data were lost talking to the card; try again";
    NoKeyContainer = 0x8010_0030, "SCARD_E_NO_KEY_CONTAINER", "the key container does not exist";
    ServerTooBusy = 0x8010_0031, "SCARD_E_SERVER_TOO_BUSY", "the service is too busy";
    UnsupportedCard = 0x8010_0065, "SCARD_W_UNSUPPORTED_CARD", "the reader cannot talk to the card (ATR conflict)";
    UnresponsiveCard = 0x8010_0066, "SCARD_W_UNRESPONSIVE_CARD", "the card does not answer a reset";
    UnpoweredCard = 0x8010_0067, "SCARD_W_UNPOWERED_CARD", "the card is not powered";
    ResetCard = 0x8010_0068, "SCARD_W_RESET_CARD", "the card was reset: shared state is no longer valid; reconnect";
    RemovedCard = 0x8010_0069, "SCARD_W_REMOVED_CARD", "the card was removed";
    SecurityViolation = 0x8010_006A, "SCARD_W_SECURITY_VIOLATION", "access denied by a security rule";
    WrongChv = 0x8010_006B, "SCARD_W_WRONG_CHV", "the wrong PIN was given";
    ChvBlocked = 0x8010_006C, "SCARD_W_CHV_BLOCKED", "the PIN is blocked";
    Eof = 0x8010_006D, "SCARD_W_EOF", "end of the card file";
    CancelledByUser = 0x8010_006E, "SCARD_W_CANCELLED_BY_USER", "the user cancelled";
    CardNotAuthenticated = 0x8010_006F, "SCARD_W_CARD_NOT_AUTHENTICATED", "no PIN was presented";
    CacheItemNotFound = 0x8010_0070, "SCARD_W_CACHE_ITEM_NOT_FOUND", "the cache item does not exist";
    CacheItemStale = 0x8010_0071, "SCARD_W_CACHE_ITEM_STALE", "the cache item is too old";
    CacheItemTooBig = 0x8010_0072, "SCARD_W_CACHE_ITEM_TOO_BIG", "the cache item is too large";
}

impl Error {
    /// The `SCARD_*` code.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The error named `name` in pcsc-lite's headers (`SCARD_E_COMM_DATA_LOST`), if any;
    /// the case of the letters does not matter.
    pub fn from_name(name: &str) -> Option<Error> {
        Error::ALL
            .iter()
            .copied()
            .find(|e| e.name().eq_ignore_ascii_case(name))
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
