//! The compiler checks that the API mirrors the `pcsc` crate 2.x: each line below fails
//! to build if a name or a signature drifts. With `--features real-pcsc` the same lines are
//! checked against the real `pcsc` crate too, and its enums and flags are compared with
//! softcard's, value by value and variant by variant, so the two cannot drift apart.

// Spelling the signatures out in full is the point here.
#![allow(clippy::type_complexity, clippy::extra_unused_lifetimes)]

/// The signature checks, for the crate `$api` whose `DWORD` is `$dword`.
macro_rules! signatures {
    ($module:ident, $api:ident, $dword:ty) => {
        #[allow(dead_code)]
        mod $module {
            use std::ffi::{CStr, CString};
            use std::time::Duration;

            use ::$api::{
                Attribute, Card, CardStatus, CardStatusOwned, Context, Disposition, Error,
                Protocol, Protocols, ReaderNames, ReaderState, Scope, ShareMode, State, Status,
                Transaction,
            };

            type Dword = $dword;
            const _: fn(Scope) -> Result<Context, Error> = Context::establish;
            const _: fn(Context) -> Result<(), (Context, Error)> = Context::release;
            const _: fn(&Context) -> Result<(), Error> = Context::is_valid;
            const _: fn(&Context) -> Result<(), Error> = Context::cancel;
            const _: for<'b> fn(&Context, &'b mut [u8]) -> Result<ReaderNames<'b>, Error> =
                Context::list_readers;
            const _: fn(&Context) -> Result<usize, Error> = Context::list_readers_len;
            const _: fn(&Context) -> Result<Vec<CString>, Error> = Context::list_readers_owned;
            const _: fn(&Context, &CStr, ShareMode, Protocols) -> Result<Card, Error> =
                Context::connect;
            const _: fn(&Context, Option<Duration>, &mut [ReaderState]) -> Result<(), Error> =
                Context::get_status_change::<Option<Duration>>;
            const _: fn(&Context, Duration, &mut [ReaderState]) -> Result<(), Error> =
                Context::get_status_change::<Duration>;

            const _: for<'a> fn(&'a mut Card) -> Result<Transaction<'a>, Error> = Card::transaction;
            const _: for<'a> fn(&'a mut Card) -> Result<Transaction<'a>, (&'a mut Card, Error)> =
                Card::transaction2;
            const _: fn(&mut Card, ShareMode, Protocols, Disposition) -> Result<(), Error> =
                Card::reconnect;
            const _: fn(Card, Disposition) -> Result<(), (Card, Error)> = Card::disconnect;
            const _: fn(&Card) -> Result<(usize, usize), Error> = Card::status2_len;
            #[allow(deprecated)]
            const _: fn(&Card) -> Result<(Status, Protocol), Error> = Card::status;
            const _: fn(&CardStatusOwned) -> Protocol = CardStatusOwned::protocol;
            const _: fn(&CardStatusOwned) -> Option<Protocol> = CardStatusOwned::protocol2;
            const _: fn(&CardStatusOwned) -> &[u8] = CardStatusOwned::atr;
            const _: fn(&CardStatusOwned) -> &[CString] = CardStatusOwned::reader_names;
            const _: fn(&CardStatusOwned) -> Status = CardStatusOwned::status;
            const _: for<'n, 'a> fn(
                &Card,
                &'n mut [u8],
                &'a mut [u8],
            ) -> Result<CardStatus<'n, 'a>, Error> = Card::status2;
            const _: fn(&Card) -> Result<CardStatusOwned, Error> = Card::status2_owned;
            const _: for<'b> fn(&Card, Attribute, &'b mut [u8]) -> Result<&'b [u8], Error> =
                Card::get_attribute;
            const _: fn(&Card, Attribute) -> Result<usize, Error> = Card::get_attribute_len;
            const _: fn(&Card, Attribute) -> Result<Vec<u8>, Error> = Card::get_attribute_owned;
            const _: fn(&Card, Attribute, &[u8]) -> Result<(), Error> = Card::set_attribute;
            const _: for<'b> fn(&Card, &[u8], &'b mut [u8]) -> Result<&'b [u8], Error> =
                Card::transmit;
            const _: for<'b> fn(&Card, &[u8], &'b mut [u8]) -> Result<&'b [u8], (Error, usize)> =
                Card::transmit2;
            const _: for<'b> fn(&Card, Dword, &[u8], &'b mut [u8]) -> Result<&'b [u8], Error> =
                Card::control;

            #[allow(dead_code)]
            fn transaction_signatures<'t>() {
                let _: fn(Transaction<'t>, Disposition) -> Result<(), (Transaction<'t>, Error)> =
                    Transaction::<'t>::end;
                let _: fn(
                    &mut Transaction<'t>,
                    ShareMode,
                    Protocols,
                    Disposition,
                ) -> Result<(), Error> = Transaction::<'t>::reconnect;
                let _: for<'a> fn(&'a Transaction<'t>) -> &'a Card =
                    <Transaction<'t> as std::ops::Deref>::deref;
            }

            const _: fn(CString, State) -> ReaderState = ReaderState::new::<CString>;
            const _: fn(&'static CStr, State) -> ReaderState = ReaderState::new::<&'static CStr>;
            const _: fn(&ReaderState) -> &CStr = ReaderState::name;
            const _: fn(&ReaderState) -> &[u8] = ReaderState::atr;
            const _: fn(&ReaderState) -> State = ReaderState::current_state;
            const _: fn(&ReaderState) -> State = ReaderState::event_state;
            const _: fn(&ReaderState) -> u32 = ReaderState::event_count;
            const _: fn(&mut ReaderState) = ReaderState::sync_current_state;

            const _: fn() -> &'static CStr = ::$api::PNP_NOTIFICATION;
            const _: fn(Dword) -> Dword = ::$api::ctl_code;
            const _: usize =
                ::$api::MAX_ATR_SIZE + ::$api::MAX_BUFFER_SIZE + ::$api::MAX_BUFFER_SIZE_EXTENDED;
        }
    };
}

signatures!(softcard, softcard_pcsc, softcard_pcsc::Dword);
#[cfg(feature = "real-pcsc")]
signatures!(real_pcsc, pcsc, pcsc::ffi::DWORD);

use softcard_pcsc::{
    Attribute, Card, Context, Disposition, Error, Protocol, Protocols, ReaderState, ShareMode,
    State, Status,
};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<Context>();
    assert_send_sync::<Card>();
    assert_send_sync::<ReaderState>();
    assert_send_sync::<softcard_pcsc::Registry>();
}

#[test]
fn codes_are_pcsc_lite_values() {
    assert_eq!(Error::SharingViolation as u32, 0x8010_000B);
    assert_eq!(Error::ResetCard as u32, 0x8010_0068);
    assert_eq!(Error::RemovedCard as u32, 0x8010_0069);
    assert_eq!(Error::NoReadersAvailable as u32, 0x8010_002E);
    assert_eq!(Error::from_code(0x8010_000A), Some(Error::Timeout));
    assert_eq!(Error::from_code(0x1234), None);
    assert_eq!(State::PRESENT.bits(), 0x20);
    assert_eq!(Status::POWERED.bits(), 0x10);
    assert_eq!(Protocols::ANY.bits(), 3);
    assert_eq!(Protocol::T1 as u32, 2);
    assert_eq!(ShareMode::Exclusive as u32, 1);
    assert_eq!(Disposition::UnpowerCard as u32, 2);
    assert_eq!(Attribute::AtrString as u32, 0x0009_0303);
    assert_eq!(
        (Attribute::AtrString as u32) >> 16,
        softcard_pcsc::AttributeClass::IccState as u32
    );
    assert_eq!(Attribute::DeviceFriendlyName as u32, 0x7FFF_0003);
    assert_eq!(
        softcard_pcsc::PNP_NOTIFICATION().to_bytes(),
        br"\\?PnP?\Notification"
    );
    assert_eq!(softcard_pcsc::ctl_code(3400), 0x4200_0D48);
}

#[test]
fn every_error_has_a_distinct_code_and_a_description() {
    let mut codes: Vec<u32> = Error::ALL.iter().map(|e| e.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Error::ALL.len());
    assert!(Error::ALL.iter().all(|e| !e.to_string().is_empty()));
}

/// softcard's types against the real `pcsc` crate's, value by value.
#[cfg(feature = "real-pcsc")]
mod same_as_the_pcsc_crate {
    /// A test that `softcard_pcsc::$ty` and `pcsc::$ty` have the same variants (each
    /// conversion is an exhaustive `match`: a variant one crate has and the other lacks
    /// does not compile) with the same values, except the variants listed after
    /// `values differ:`, whose values are known to differ (and must still differ).
    macro_rules! same_enum {
        ($test:ident: $ty:ident => $($v:ident),* $(; values differ: $($d:ident),*)? $(,)?) => {
            #[test]
            fn $test() {
                fn to_pcsc(x: softcard_pcsc::$ty) -> pcsc::$ty {
                    match x {
                        $(softcard_pcsc::$ty::$v => pcsc::$ty::$v,)*
                        $($(softcard_pcsc::$ty::$d => pcsc::$ty::$d,)*)?
                    }
                }
                fn from_pcsc(x: pcsc::$ty) -> softcard_pcsc::$ty {
                    match x {
                        $(pcsc::$ty::$v => softcard_pcsc::$ty::$v,)*
                        $($(pcsc::$ty::$d => softcard_pcsc::$ty::$d,)*)?
                    }
                }
                for (ours, theirs) in [$((softcard_pcsc::$ty::$v, pcsc::$ty::$v)),*] {
                    let (a, b) = (ours as u32, theirs as u32);
                    assert_eq!(a, b, "{ours:?}: softcard_pcsc {a:#x}, pcsc {b:#x}");
                    assert_eq!(to_pcsc(ours), theirs);
                    assert_eq!(from_pcsc(theirs), ours);
                }
                // Pinned, so that a fixed `pcsc` crate shows up.
                $(for (ours, theirs) in [$((softcard_pcsc::$ty::$d, pcsc::$ty::$d)),*] {
                    let (a, b) = (ours as u32, theirs as u32);
                    assert_ne!(a, b, "{ours:?}: the pcsc crate now agrees ({a:#x})");
                    assert_eq!(to_pcsc(ours), theirs);
                    assert_eq!(from_pcsc(theirs), ours);
                })?
            }
        };
    }

    /// A test that the flags `softcard_pcsc::$ty` and `pcsc::$ty` have the same names, bits
    /// and union.
    macro_rules! same_flags {
        ($test:ident: $ty:ident => $($f:ident),* $(,)?) => {
            #[test]
            fn $test() {
                $(
                    let (a, b) = (softcard_pcsc::$ty::$f.bits(), pcsc::$ty::$f.bits());
                    assert_eq!(a, b, "{}: softcard_pcsc {a:#x}, pcsc {b:#x}", stringify!($f));
                )*
                assert_eq!(softcard_pcsc::$ty::all().bits(), pcsc::$ty::all().bits());
            }
        };
    }

    same_enum!(scope: Scope => User, Terminal, System, Global);
    same_enum!(share_mode: ShareMode => Exclusive, Shared, Direct);
    same_enum!(protocol: Protocol => T0, T1, RAW);
    same_enum!(disposition: Disposition => LeaveCard, ResetCard, UnpowerCard, EjectCard);
    // pcsc-sys 1.3 defines SCARD_CLASS_SYSTEM as 0 where pcsc-lite's reader.h has 0x7fff;
    // softcard follows pcsc-lite (`codes_are_pcsc_lite_values` pins it), so the system
    // class and its attributes differ from the `pcsc` crate's values by design.
    same_enum!(attribute_class: AttributeClass =>
        VendorInfo, Communications, Protocol, PowerMgmt, Security, Mechanical, VendorDefined,
        IfdProtocol, IccState;
        values differ: System
    );
    same_enum!(attribute: Attribute =>
        VendorName, VendorIfdType, VendorIfdVersion, VendorIfdSerialNo, ChannelId,
        AsyncProtocolTypes, DefaultClk, MaxClk, DefaultDataRate, MaxDataRate, MaxIfsd,
        SyncProtocolTypes, PowerMgmtSupport, UserToCardAuthDevice, UserAuthInputDevice,
        Characteristics, CurrentProtocolType, CurrentClk, CurrentF, CurrentD, CurrentN,
        CurrentW, CurrentIfsc, CurrentIfsd, CurrentBwt, CurrentCwt, CurrentEbcEncoding,
        ExtendedBwt, IccPresence, IccInterfaceStatus, CurrentIoState, AtrString, IccTypePerAtr,
        EscReset, EscCancel, EscAuthrequest, Maxinput;
        values differ: DeviceUnit, DeviceInUse, DeviceFriendlyName, DeviceSystemName,
        SupressT1IfsRequest
    );
    same_enum!(error: Error =>
        InternalError, Cancelled, InvalidHandle, InvalidParameter, InvalidTarget, NoMemory,
        WaitedTooLong, InsufficientBuffer, UnknownReader, Timeout, SharingViolation, NoSmartcard,
        UnknownCard, CantDispose, ProtoMismatch, NotReady, InvalidValue, SystemCancelled,
        CommError, UnknownError, InvalidAtr, NotTransacted, ReaderUnavailable, Shutdown,
        PciTooSmall, ReaderUnsupported, DuplicateReader, CardUnsupported, NoService,
        ServiceStopped, IccInstallation, IccCreateorder, UnsupportedFeature, DirNotFound,
        FileNotFound, NoDir, NoFile, NoAccess, WriteTooMany, BadSeek, InvalidChv, UnknownResMng,
        NoSuchCertificate, CertificateUnavailable, NoReadersAvailable, CommDataLost,
        NoKeyContainer, ServerTooBusy, UnsupportedCard, UnresponsiveCard, UnpoweredCard,
        ResetCard, RemovedCard, SecurityViolation, WrongChv, ChvBlocked, Eof, CancelledByUser,
        CardNotAuthenticated, CacheItemNotFound, CacheItemStale, CacheItemTooBig
    );
    same_flags!(state: State =>
        UNAWARE, IGNORE, CHANGED, UNKNOWN, UNAVAILABLE, EMPTY, PRESENT, ATRMATCH, EXCLUSIVE,
        INUSE, MUTE, UNPOWERED
    );
    same_flags!(status: Status =>
        UNKNOWN, ABSENT, PRESENT, SWALLOWED, POWERED, NEGOTIABLE, SPECIFIC
    );
    same_flags!(protocols: Protocols => UNDEFINED, T0, T1, RAW, ANY);

    #[test]
    fn constants_and_helpers() {
        assert_eq!(softcard_pcsc::MAX_ATR_SIZE, pcsc::MAX_ATR_SIZE);
        assert_eq!(softcard_pcsc::MAX_BUFFER_SIZE, pcsc::MAX_BUFFER_SIZE);
        assert_eq!(
            softcard_pcsc::MAX_BUFFER_SIZE_EXTENDED,
            pcsc::MAX_BUFFER_SIZE_EXTENDED
        );
        assert_eq!(softcard_pcsc::PNP_NOTIFICATION(), pcsc::PNP_NOTIFICATION());
        for code in [0, 1, 3400, 0xFFFF] {
            assert_eq!(softcard_pcsc::ctl_code(code), pcsc::ctl_code(code));
        }
    }
}
