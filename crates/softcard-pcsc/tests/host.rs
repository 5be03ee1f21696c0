//! A host serving a registry over a Unix socket: its clients (contexts opened with
//! `Context::establish_on_host`, as each process under `softcard exec` opens them) share
//! one card, its transactions and its retry counter.

mod common;

use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{CHAIN_START, OTHER, SELECT_PIV, new_card, send};
use softcard::crypto::BackendKind;
use softcard_pcsc::host::{self, AddError, Host, HostHandle};
use softcard_pcsc::wire::{Op, Reader, Writer, read_frame};
use softcard_pcsc::{
    Context, Disposition, Error, Protocols, ReaderState, Registry, Scope, ShareMode, State,
};
use softcard_test_support::{apdu, piv};

const VERIFY_WRONG: &[u8] = apdu!("00 20 00 80 08 3030303030303030");

/// A host and the folder of its socket (dropped in this order: the host stops first).
struct Fixture {
    host: HostHandle,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new();
        reg.insert_card("softcard PIV 00 00", new_card()).unwrap();
        let host = Host::bind(&dir.path().join("host.sock"), reg, BackendKind::default())
            .unwrap()
            .spawn();
        Fixture { host, _dir: dir }
    }

    /// A client context, as one more process would open it.
    fn client(&self) -> Context {
        Context::establish_on_host(self.host.path(), Scope::User).unwrap()
    }

    fn connect(&self, ctx: &Context) -> softcard_pcsc::Card {
        let card = ctx
            .connect(c"softcard PIV 00 00", ShareMode::Shared, Protocols::ANY)
            .unwrap();
        assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
        card
    }
}

#[test]
fn clients_share_one_retry_counter() {
    let f = Fixture::new();
    let words: Vec<u16> = (0..5)
        .map(|_| {
            let ctx = f.client();
            let card = f.connect(&ctx);
            send(&card, VERIFY_WRONG).unwrap()
        })
        .collect();
    assert_eq!(words, [0x63C2, 0x63C1, 0x63C0, 0x6983, 0x6983]);
}

#[test]
fn readers_and_errors_cross_the_socket() {
    let f = Fixture::new();
    let ctx = f.client();
    assert_eq!(
        ctx.list_readers_owned().unwrap(),
        [c"softcard PIV 00 00".to_owned()]
    );
    assert_eq!(
        ctx.connect(c"nope", ShareMode::Shared, Protocols::ANY)
            .err(),
        Some(Error::UnknownReader)
    );
    let direct = ctx
        .connect(c"softcard PIV 00 00", ShareMode::Direct, Protocols::ANY)
        .unwrap();
    assert_eq!(
        direct.status2_owned().unwrap().protocol2(),
        None,
        "a direct connection has no protocol"
    );
    let card = f.connect(&ctx);
    let status = card.status2_owned().unwrap();
    assert_eq!(status.reader_names(), [c"softcard PIV 00 00".to_owned()]);
    assert_eq!(status.atr(), new_card().atr());
}

#[test]
fn a_transaction_excludes_other_clients_until_it_ends() {
    let f = Fixture::new();
    let (a_ctx, b_ctx) = (f.client(), f.client());
    let mut a = f.connect(&a_ctx);
    let b = f.connect(&b_ctx);
    let tx = a.transaction().unwrap();
    assert_eq!(send(&tx, CHAIN_START), Ok(0x9000));
    assert_eq!(send(&b, OTHER), Err(Error::SharingViolation));
    let (done_tx, done) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut b = b;
        let t = b.transaction().map(drop);
        done_tx.send(t).unwrap();
        b
    });
    assert!(
        done.recv_timeout(Duration::from_millis(300)).is_err(),
        "B's transaction began inside A's"
    );
    // A's chain is intact: B's command did not land inside it.
    assert_eq!(send(&tx, OTHER), Ok(0x6883));
    tx.end(Disposition::LeaveCard).unwrap();
    assert_eq!(done.recv_timeout(Duration::from_secs(5)), Ok(Ok(())));
    waiter.join().unwrap();
}

/// A client speaking the wire protocol itself, as a process does, so that its end can be
/// its socket closing (the process died) rather than a polite release.
struct RawClient(UnixStream);

impl RawClient {
    fn open(f: &Fixture) -> RawClient {
        RawClient(UnixStream::connect(f.host.path()).unwrap())
    }

    /// One request; the response's values after checking its success code.
    fn ask(&mut self, request: Writer) -> Vec<u8> {
        request.send(&mut self.0).unwrap();
        let body = read_frame(&mut self.0).unwrap().unwrap();
        assert_eq!(Reader::new(&body).result(), Ok(()), "{body:02X?}");
        body
    }

    /// A context and a connection to the card, with PIV selected.
    fn connect(&mut self) -> u64 {
        let ctx = Reader::values(&self.ask(Writer::request(Op::Establish).u8(0)))
            .u64()
            .unwrap();
        let out = self.ask(
            Writer::request(Op::Connect)
                .u64(ctx)
                .bytes(b"softcard PIV 00 00")
                .u8(ShareMode::Shared as u8)
                .u64(Protocols::T1.bits()),
        );
        let handle = Reader::values(&out).u64().unwrap();
        let out = self.ask(Writer::request(Op::Transmit).u64(handle).bytes(SELECT_PIV));
        assert!(
            Reader::values(&out)
                .bytes()
                .unwrap()
                .ends_with(&[0x90, 0x00])
        );
        handle
    }
}

const VERIFY_RIGHT: &[u8] = piv::VERIFY_DEFAULT_PIN;

#[test]
fn a_client_that_goes_away_gives_up_its_transaction() {
    let f = Fixture::new();
    let b_ctx = f.client();
    let b = f.connect(&b_ctx);
    let mut a = RawClient::open(&f);
    let handle = a.connect();
    a.ask(Writer::request(Op::Begin).u64(handle));
    assert_eq!(send(&b, OTHER), Err(Error::SharingViolation));
    // The process dies: its socket closes with the transaction open.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while send(&b, OTHER) == Err(Error::SharingViolation) {
        assert!(
            Instant::now() < deadline,
            "the transaction outlived its client"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_goes_away_leaves_a_card_others_use_and_resets_one_it_used_alone() {
    let f = Fixture::new();
    // Alone: the dead client's verified PIN must not survive it.
    let mut a = RawClient::open(&f);
    let handle = a.connect();
    let out = a.ask(
        Writer::request(Op::Transmit)
            .u64(handle)
            .bytes(VERIFY_RIGHT),
    );
    assert_eq!(Reader::values(&out).bytes().unwrap(), [0x90, 0x00]);
    drop(a);
    let ctx = f.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    let keeper = loop {
        let card = f.connect(&ctx);
        if send(&card, OTHER) == Ok(0x63C3) {
            break card;
        }
        assert!(Instant::now() < deadline, "the card was never reset");
        drop(card);
        thread::sleep(Duration::from_millis(20));
    };
    // Shared: another client's verified PIN stays, and it sees no reset.
    assert_eq!(send(&keeper, VERIFY_RIGHT), Ok(0x9000));
    let mut other = RawClient::open(&f);
    other.connect();
    drop(other);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(send(&keeper, OTHER), Ok(0x9000));
}

#[test]
fn stopping_a_host_does_not_wait_for_its_socket_file() {
    let f = Fixture::new();
    let Fixture { host, _dir: dir } = f;
    // The folder goes first (a cleaner ran): connecting to wake the host cannot work.
    drop(dir);
    let (done_tx, done) = mpsc::channel();
    thread::spawn(move || {
        drop(host);
        done_tx.send(()).unwrap();
    });
    assert!(
        done.recv_timeout(Duration::from_secs(5)).is_ok(),
        "stopping the host hung"
    );
}

#[test]
fn cancel_ends_a_wait_and_removal_reaches_every_client() {
    let f = Fixture::new();
    let ctx = f.client();
    let card = f.connect(&ctx);
    let mut rs = [ReaderState::new(c"softcard PIV 00 00", State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(rs[0].event_state().contains(State::PRESENT | State::INUSE));
    rs[0].sync_current_state();

    let waiting = ctx.clone();
    let mut watched = rs.clone();
    let t = thread::spawn(move || waiting.get_status_change(None, &mut watched));
    thread::sleep(Duration::from_millis(100));
    ctx.cancel().unwrap();
    assert_eq!(t.join().unwrap(), Err(Error::Cancelled));

    assert_eq!(
        ctx.get_status_change(Duration::from_millis(50), &mut rs),
        Err(Error::Timeout)
    );
    host::remove_card(f.host.path(), "softcard PIV 00 00").unwrap();
    ctx.get_status_change(Duration::from_secs(5), &mut rs)
        .unwrap();
    assert!(rs[0].event_state().contains(State::EMPTY), "{:?}", rs[0]);
    assert_eq!(send(&card, SELECT_PIV), Err(Error::RemovedCard));
    let listed = host::list(f.host.path()).unwrap();
    assert!(!listed[0].present);

    host::insert_card(f.host.path(), "softcard PIV 00 00").unwrap();
    assert_eq!(
        host::insert_card(f.host.path(), "softcard PIV 00 00"),
        Err(Error::UnknownReader),
        "no card is waiting to be put back"
    );
    let again = f.connect(&ctx);
    assert_eq!(
        send(&again, VERIFY_WRONG),
        Ok(0x63C2),
        "the same card is back"
    );
}

#[test]
fn nested_transactions_are_counted() {
    let f = Fixture::new();
    let (a_ctx, b_ctx) = (f.client(), f.client());
    let a = f.connect(&a_ctx);
    let b = f.connect(&b_ctx);
    // The C ABI's begin/end pairs, as libykpiv nests them.
    let mut a = a;
    std::mem::forget(a.transaction().unwrap());
    std::mem::forget(a.transaction().unwrap());
    a.end_transaction(Disposition::LeaveCard).unwrap();
    assert_eq!(send(&b, OTHER), Err(Error::SharingViolation), "still held");
    let mut b = b;
    assert_eq!(
        b.end_transaction(Disposition::LeaveCard),
        Err(Error::SharingViolation),
        "ending another handle's transaction"
    );
    a.end_transaction(Disposition::LeaveCard).unwrap();
    assert_eq!(send(&b, OTHER), Ok(0x63C3));
    assert_eq!(
        a.end_transaction(Disposition::LeaveCard),
        Err(Error::NotTransacted)
    );
}

#[test]
fn no_host_is_no_service() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Context::establish_on_host(&dir.path().join("none.sock"), Scope::User).err(),
        Some(Error::NoService)
    );
}

#[test]
fn images_attached_at_run_time_are_served_once_and_detached_with_their_lock() {
    let f = Fixture::new();
    let image = f._dir.path().join("gids.img");
    let mut card = softcard::Card::create_seeded(
        &softcard::CardOptions::new(softcard::Profile::WindowsVsc),
        3,
        Box::new(softcard_file::FileStorage::new(&image)),
    )
    .unwrap();
    card.reset();
    drop(card);
    let link = f._dir.path().join("link.img");
    std::os::unix::fs::symlink(&image, &link).unwrap();

    let reader = host::attach(f.host.path(), &image).unwrap().unwrap();
    assert_eq!(
        reader, "softcard GIDS 01 00",
        "numbered after the card already served"
    );
    let ctx = f.client();
    assert!(
        ctx.list_readers_owned()
            .unwrap()
            .contains(&c"softcard GIDS 01 00".to_owned())
    );
    let again = host::attach(f.host.path(), &link).unwrap();
    assert!(
        matches!(&again, Err(m) if m.contains("served already")),
        "the same image through a link: {again:?}"
    );
    let held = softcard_file::image_lock::holder(&image).expect("the host holds the image");
    assert_eq!(held.socket.as_deref(), Some(f.host.path()));

    host::detach(f.host.path(), &reader).unwrap();
    assert!(
        !ctx.list_readers_owned()
            .unwrap()
            .contains(&c"softcard GIDS 01 00".to_owned())
    );
    assert_eq!(
        softcard_file::image_lock::holder(&image),
        None,
        "the lock goes with it"
    );
    assert_eq!(
        host::detach(f.host.path(), &reader),
        Err(Error::UnknownReader)
    );
    let missing = f._dir.path().join("missing.img");
    assert!(matches!(
        Host::bind(
            &f._dir.path().join("other.sock"),
            Registry::new(),
            BackendKind::default()
        )
        .unwrap()
        .add_image(&missing),
        Err(AddError::Load(_))
    ));
}

/// A `yubikey` card sits in the reader a YubiKey 5 gets, numbered like the others, and
/// answers there as one: the Management application, then PIV with PIN 123456 (the wrong
/// PIN twin first).
#[test]
fn a_yubikey_card_is_served_in_a_yubikey_reader() {
    let f = Fixture::new();
    let image = f._dir.path().join("yubikey.img");
    drop(
        softcard::Card::create_seeded(
            &softcard::CardOptions::new(softcard::Profile::Yubikey),
            4,
            Box::new(softcard_file::FileStorage::new(&image)),
        )
        .unwrap(),
    );
    let reader = host::attach(f.host.path(), &image).unwrap().unwrap();
    assert_eq!(reader, "Yubico YubiKey OTP+FIDO+CCID 01 00");
    let ctx = f.client();
    let card = ctx
        .connect(
            c"Yubico YubiKey OTP+FIDO+CCID 01 00",
            ShareMode::Shared,
            Protocols::ANY,
        )
        .unwrap();
    let status = card.status2_owned().unwrap();
    assert_eq!(status.atr(), softcard::Profile::Yubikey.atr());
    assert_eq!(
        send(&card, apdu!("00 A4 04 00 08 A0 00 00 05 27 47 11 17 00")),
        Ok(0x9000)
    );
    assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
    assert_eq!(send(&card, piv::VERIFY_DEFAULT_PIN), Ok(0x63C2), "12345678");
    assert_eq!(
        send(&card, apdu!("00 20 00 80 08 31 32 33 34 35 36 FF FF")),
        Ok(0x9000)
    );
}
