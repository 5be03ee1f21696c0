//! The PC/SC value types: scopes, share modes, protocols, dispositions, state and status
//! flags, attributes and size limits, with the numeric values of pcsc-lite.

use std::ffi::CStr;

use bitflags::bitflags;

/// The integer type of PC/SC flags (`DWORD`; `unsigned long` in pcsc-lite on Linux).
pub type Dword = std::os::raw::c_ulong;

bitflags! {
    /// Reader state flags of [`ReaderState`](crate::ReaderState) (`SCARD_STATE_*`). The
    /// high 16 bits of an event state carry the reader's event counter.
    #[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Clone, Copy)]
    pub struct State: Dword {
        /// The caller does not know the state (`SCARD_STATE_UNAWARE`).
        const UNAWARE = 0x0000;
        /// Ignore this reader (`SCARD_STATE_IGNORE`).
        const IGNORE = 0x0001;
        /// The state differs from the current state given (`SCARD_STATE_CHANGED`).
        const CHANGED = 0x0002;
        /// No such reader (`SCARD_STATE_UNKNOWN`).
        const UNKNOWN = 0x0004;
        /// The state cannot be read (`SCARD_STATE_UNAVAILABLE`).
        const UNAVAILABLE = 0x0008;
        /// No card in the reader (`SCARD_STATE_EMPTY`).
        const EMPTY = 0x0010;
        /// A card is in the reader (`SCARD_STATE_PRESENT`).
        const PRESENT = 0x0020;
        /// The card's ATR matches a searched one (`SCARD_STATE_ATRMATCH`).
        const ATRMATCH = 0x0040;
        /// The card is held exclusively (`SCARD_STATE_EXCLUSIVE`).
        const EXCLUSIVE = 0x0080;
        /// The card is connected to (`SCARD_STATE_INUSE`).
        const INUSE = 0x0100;
        /// The card does not answer (`SCARD_STATE_MUTE`).
        const MUTE = 0x0200;
        /// The card is not powered (`SCARD_STATE_UNPOWERED`).
        const UNPOWERED = 0x0400;
    }
}

bitflags! {
    /// Card status flags returned by [`Card::status2`](crate::Card::status2)
    /// (pcsc-lite's `SCARD_UNKNOWN` ... `SCARD_SPECIFIC`).
    #[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Clone, Copy)]
    pub struct Status: Dword {
        /// Unknown state.
        const UNKNOWN = 0x0001;
        /// No card.
        const ABSENT = 0x0002;
        /// A card is present.
        const PRESENT = 0x0004;
        /// A card is in position.
        const SWALLOWED = 0x0008;
        /// The card is powered.
        const POWERED = 0x0010;
        /// The card is ready for a protocol negotiation.
        const NEGOTIABLE = 0x0020;
        /// A protocol has been chosen.
        const SPECIFIC = 0x0040;
    }
}

bitflags! {
    /// A set of transmission protocols (`SCARD_PROTOCOL_*`).
    #[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Clone, Copy)]
    pub struct Protocols: Dword {
        /// No protocol.
        const UNDEFINED = 0x0000;
        /// T=0.
        const T0 = 0x0001;
        /// T=1.
        const T1 = 0x0002;
        /// Raw (pcsc-lite's value).
        const RAW = 0x0004;
        /// T=0 or T=1.
        const ANY = 0x0001 | 0x0002;
    }
}

/// Scope of a context (`SCARD_SCOPE_*`). Every scope sees the same virtual readers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `SCARD_SCOPE_USER`.
    User = 0,
    /// `SCARD_SCOPE_TERMINAL`.
    Terminal = 1,
    /// `SCARD_SCOPE_SYSTEM`.
    System = 2,
    /// `SCARD_SCOPE_GLOBAL`.
    Global = 3,
}

/// How a connection shares the card (`SCARD_SHARE_*`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareMode {
    /// No other connection may exist (`SCARD_SHARE_EXCLUSIVE`).
    Exclusive = 1,
    /// Other shared connections may exist (`SCARD_SHARE_SHARED`).
    Shared = 2,
    /// A connection to the reader, with or without a card (`SCARD_SHARE_DIRECT`).
    Direct = 3,
}

/// One transmission protocol (`SCARD_PROTOCOL_*`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// T=0.
    T0 = 0x0001,
    /// T=1: what the virtual cards speak.
    T1 = 0x0002,
    /// Raw.
    RAW = 0x0004,
}

/// What happens to the card when a connection or transaction ends (`SCARD_*_CARD`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Nothing (`SCARD_LEAVE_CARD`).
    LeaveCard = 0,
    /// Warm reset: the card's volatile (security) state is cleared (`SCARD_RESET_CARD`).
    ResetCard = 1,
    /// Power off (`SCARD_UNPOWER_CARD`).
    UnpowerCard = 2,
    /// Eject; a virtual reader powers the card off (`SCARD_EJECT_CARD`).
    EjectCard = 3,
}

/// The C values of [`Scope`], [`ShareMode`] and [`Disposition`]: `TryFrom<Dword>`
/// refuses any other value with [`Error::InvalidValue`](crate::Error::InvalidValue), as
/// pcsc-lite does.
macro_rules! from_c_value {
    ($($ty:ident: $($v:ident)*;)*) => {$(
        impl TryFrom<Dword> for $ty {
            type Error = crate::Error;

            fn try_from(value: Dword) -> Result<Self, crate::Error> {
                [$($ty::$v),*]
                    .into_iter()
                    .find(|v| *v as Dword == value)
                    .ok_or(crate::Error::InvalidValue)
            }
        }
    )*};
}

from_c_value! {
    Scope: User Terminal System Global;
    ShareMode: Exclusive Shared Direct;
    Disposition: LeaveCard ResetCard UnpowerCard EjectCard;
}

/// The class of an [`Attribute`] (`SCARD_CLASS_*`, its high 16 bits).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeClass {
    /// Vendor information.
    VendorInfo = 1,
    /// Communication definitions.
    Communications = 2,
    /// Protocol definitions.
    Protocol = 3,
    /// Power management.
    PowerMgmt = 4,
    /// Security assurance.
    Security = 5,
    /// Mechanical characteristics.
    Mechanical = 6,
    /// Vendor-specific.
    VendorDefined = 7,
    /// Interface device protocol options.
    IfdProtocol = 8,
    /// Card state.
    IccState = 9,
    /// System-specific (pcsc-lite's value).
    System = 0x7fff,
}

macro_rules! attributes {
    ($($(#[$doc:meta])* $name:ident = $class:literal, $tag:literal;)*) => {
        /// A reader or card attribute (`SCARD_ATTR_*`) for
        /// [`Card::get_attribute`](crate::Card::get_attribute).
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Attribute {
            $($(#[$doc])* $name = ($class << 16) | $tag,)*
        }
    };
}

attributes! {
    /// Vendor name.
    VendorName = 1, 0x0100;
    /// Vendor-given reader type.
    VendorIfdType = 1, 0x0101;
    /// Vendor-given reader version.
    VendorIfdVersion = 1, 0x0102;
    /// Reader serial number.
    VendorIfdSerialNo = 1, 0x0103;
    /// Channel identifier.
    ChannelId = 2, 0x0110;
    /// Asynchronous protocols supported.
    AsyncProtocolTypes = 3, 0x0120;
    /// Default clock rate.
    DefaultClk = 3, 0x0121;
    /// Maximum clock rate.
    MaxClk = 3, 0x0122;
    /// Default data rate.
    DefaultDataRate = 3, 0x0123;
    /// Maximum data rate.
    MaxDataRate = 3, 0x0124;
    /// Maximum IFSD.
    MaxIfsd = 3, 0x0125;
    /// Synchronous protocols supported.
    SyncProtocolTypes = 3, 0x0126;
    /// Power management support.
    PowerMgmtSupport = 4, 0x0131;
    /// User to card authentication device.
    UserToCardAuthDevice = 5, 0x0140;
    /// User authentication input device.
    UserAuthInputDevice = 5, 0x0142;
    /// Mechanical characteristics.
    Characteristics = 6, 0x0150;
    /// Current protocol.
    CurrentProtocolType = 8, 0x0201;
    /// Current clock.
    CurrentClk = 8, 0x0202;
    /// Current F.
    CurrentF = 8, 0x0203;
    /// Current D.
    CurrentD = 8, 0x0204;
    /// Current N.
    CurrentN = 8, 0x0205;
    /// Current W.
    CurrentW = 8, 0x0206;
    /// Current IFSC.
    CurrentIfsc = 8, 0x0207;
    /// Current IFSD.
    CurrentIfsd = 8, 0x0208;
    /// Current BWT.
    CurrentBwt = 8, 0x0209;
    /// Current CWT.
    CurrentCwt = 8, 0x020a;
    /// Current EBC encoding.
    CurrentEbcEncoding = 8, 0x020b;
    /// Extended BWT.
    ExtendedBwt = 8, 0x020c;
    /// Card presence.
    IccPresence = 9, 0x0300;
    /// Card interface status.
    IccInterfaceStatus = 9, 0x0301;
    /// Current I/O state.
    CurrentIoState = 9, 0x0302;
    /// The card's ATR.
    AtrString = 9, 0x0303;
    /// Card type per ATR.
    IccTypePerAtr = 9, 0x0304;
    /// Escape: reset.
    EscReset = 7, 0xA000;
    /// Escape: cancel.
    EscCancel = 7, 0xA003;
    /// Escape: authentication request.
    EscAuthrequest = 7, 0xA005;
    /// Maximum input.
    Maxinput = 7, 0xA007;
    /// Device unit.
    DeviceUnit = 0x7fff, 0x0001;
    /// Device in use.
    DeviceInUse = 0x7fff, 0x0002;
    /// The reader's name.
    DeviceFriendlyName = 0x7fff, 0x0003;
    /// The reader's system name.
    DeviceSystemName = 0x7fff, 0x0004;
    /// Suppress T=1 IFS request.
    SupressT1IfsRequest = 0x7fff, 0x0007;
}

/// Longest ATR.
pub const MAX_ATR_SIZE: usize = 33;
/// Buffer size for a short APDU and its response.
pub const MAX_BUFFER_SIZE: usize = 264;
/// Buffer size for an extended APDU and its response.
pub const MAX_BUFFER_SIZE_EXTENDED: usize = 4 + 3 + (1 << 16) + 3 + 2;

/// The special reader name whose state changes when readers are added or removed
/// (`\\?PnP?\Notification`).
#[allow(non_snake_case)]
pub fn PNP_NOTIFICATION() -> &'static CStr {
    c"\\\\?PnP?\\Notification"
}

/// A reader control code (`SCARD_CTL_CODE`, pcsc-lite's definition).
pub const fn ctl_code(code: Dword) -> Dword {
    0x4200_0000 + code
}
