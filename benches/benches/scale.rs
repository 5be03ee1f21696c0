//! Scale and key generation, one mode per run, each printing one JSON object on standard
//! output (`scripts/bench-compare` collects them into `docs/perf-summary.json`). Not
//! criterion: these measure throughput of whole runs, resident memory, and spreads.
//!
//! ```text
//! cargo bench -p softcard-benches --bench scale -- MODE
//! ```
//!
//! - `keygen`: RSA-2048 key generation, 31 times each, interleaved: softcard's generator
//!   on each backend (`PrivateKey::generate`), aws-lc-rs's own (`KeyPair::generate`), and
//!   OpenSSL's (`Rsa::generate`). Median, quartiles, minimum and maximum.
//! - `threads-inprocess`: the in-process PC/SC API (softcard-pcsc), two PIV cards: one
//!   thread signing on one card against two threads each signing on its own card, as
//!   signatures per second, alternating five times; beside it, as a control, two busy
//!   loops against one in the same rounds (what the machine gives a second thread now).
//! - `threads-pcsc`: the same through the `pcsc` crate, over whatever `libpcsclite.so.1`
//!   is loaded (the drop-in, in process or under `softcard exec`): the first two PIV
//!   readers.
//! - `cards`: 1,000 PIV cards in one process (softcard-pcsc's registry), loaded from one
//!   provisioned image (an RSA-2048 key in slot 9A, on the default backend): the time to
//!   load them, the resident memory they add (also for 1,000 cards without a key), and
//!   the signature latency of card #1,000 against card #1, alternating.
//!
//! Every card signs PIV GENERAL AUTHENTICATE over the benchmarks' PKCS#1 v1.5 block after
//! one VERIFY, on the default backend (aws-lc).

use std::ffi::CString;
use std::time::Instant;

use serde_json::{Value, json};
use softcard::crypto::{BackendKind, KeyAlgorithm, PrivateKey};
use softcard::{Card, NoStorage, Profile};
use softcard_benches::{
    RSA2048_LEN, Transmit, apdu, backend_label, check_signature, digest_info, login_piv, piv_sign,
    pkcs1_block, provisioned_card,
};

const KEYGEN_RUNS: usize = 31;
const THREAD_SIGNS: usize = 500;
const THREAD_ROUNDS: usize = 5;
const CARDS: usize = 1000;

fn main() {
    let mode = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    let out = match mode.as_str() {
        "keygen" => keygen(),
        "threads-inprocess" => threads(&InProcess::open()),
        "threads-pcsc" => threads(&SystemPcsc::open()),
        "cards" => cards(),
        other => {
            eprintln!(
                "scale: unknown mode {other:?} (keygen, threads-inprocess, threads-pcsc, cards)"
            );
            std::process::exit(2);
        }
    };
    println!("{}", json!({ mode: out }));
}

/// Median, quartiles and extremes of `values` (sorted here), rounded to 3 decimals.
fn spread(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = (q * (values.len() - 1) as f64).round() as usize;
        (values[i] * 1000.0).round() / 1000.0
    };
    json!({ "median": at(0.5), "q1": at(0.25), "q3": at(0.75), "min": at(0.0), "max": at(1.0), "n": values.len() })
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn keygen() -> Value {
    let mut rng = softcard::seeded_rng(9);
    let mut names: Vec<String> = BackendKind::available()
        .into_iter()
        .map(|b| format!("softcard {}", backend_label(b)))
        .collect();
    names.push("aws-lc-rs KeyPair::generate".into());
    names.push("OpenSSL".into());
    let mut times = vec![Vec::new(); names.len()];
    for _ in 0..KEYGEN_RUNS {
        for (i, backend) in BackendKind::available().into_iter().enumerate() {
            let start = Instant::now();
            PrivateKey::generate(backend, KeyAlgorithm::Rsa2048, &mut rng).expect("keygen");
            times[i].push(ms_since(start));
        }
        let n = times.len();
        let start = Instant::now();
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("keygen");
        times[n - 2].push(ms_since(start));
        let start = Instant::now();
        openssl::rsa::Rsa::generate(2048).expect("keygen");
        times[n - 1].push(ms_since(start));
    }
    let mut out = serde_json::Map::new();
    for (name, t) in names.into_iter().zip(times) {
        out.insert(name, spread(t));
    }
    json!({ "unit": "ms", "results": out })
}

/// Two connected PIV cards, logged in, on some PC/SC API.
trait TwoCards: Sync {
    /// Signs `n` times on card `which` (0 or 1).
    fn sign_n(&self, which: usize, n: usize);
    fn label(&self) -> &'static str;
}

/// The processor time this process has used (all its threads, user and system), in
/// seconds, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which is in parentheses): utime is the 14th field
    // of the line, the 12th after `)`.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields[11] + fields[12]) / 100.0
}

/// Iterations of a busy loop (no memory, no locks) in `time`: the machine's control.
fn spin(time: std::time::Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < time {
        for _ in 0..1000 {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    n
}

fn threads(cards: &dyn TwoCards) -> Value {
    cards.sign_n(0, 10);
    cards.sign_n(1, 10);
    let mut ratios = Vec::new();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    let (mut cpu_one, mut cpu_two) = (Vec::new(), Vec::new());
    let mut control = Vec::new();
    for _ in 0..THREAD_ROUNDS {
        // What the machine gives two busy threads of this process against one, now.
        let slice = std::time::Duration::from_millis(200);
        let alone = spin(slice) as f64;
        let both = std::thread::scope(|s| {
            let a = s.spawn(|| spin(slice));
            let b = s.spawn(|| spin(slice));
            (a.join().expect("spin") + b.join().expect("spin")) as f64
        });
        control.push(both / alone);
        let (start, cpu) = (Instant::now(), cpu_seconds());
        cards.sign_n(0, THREAD_SIGNS);
        let single = THREAD_SIGNS as f64 / start.elapsed().as_secs_f64();
        cpu_one.push((cpu_seconds() - cpu) * 1e6 / THREAD_SIGNS as f64);
        let (start, cpu) = (Instant::now(), cpu_seconds());
        std::thread::scope(|s| {
            s.spawn(|| cards.sign_n(0, THREAD_SIGNS));
            s.spawn(|| cards.sign_n(1, THREAD_SIGNS));
        });
        let double = 2.0 * THREAD_SIGNS as f64 / start.elapsed().as_secs_f64();
        cpu_two.push((cpu_seconds() - cpu) * 1e6 / (2 * THREAD_SIGNS) as f64);
        one.push(single);
        two.push(double);
        ratios.push(double / single);
    }
    json!({
        "route": cards.label(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "signs_per_s_one_thread": spread(one),
        "signs_per_s_two_threads": spread(two),
        "ratio": spread(ratios),
        // Two busy loops against one in the same rounds: the most two threads could get.
        "control_ratio_busy_loops": spread(control),
        // Processor time of this process per signature: unchanged with two threads when
        // they do not wait on each other (for the drop-in under exec, the host's share is
        // in the other process).
        "cpu_us_per_sign_one_thread": spread(cpu_one),
        "cpu_us_per_sign_two_threads": spread(cpu_two),
    })
}

fn sign_command() -> Vec<u8> {
    apdu::piv_sign(&pkcs1_block(&digest_info(), RSA2048_LEN))
}

/// A PC/SC API's transmit: the response's length in the buffer.
type Send<C> = fn(&C, &[u8], &mut [u8]) -> Result<usize, String>;

/// A connected card of either PC/SC API (softcard-pcsc's, or the `pcsc` crate's over the
/// drop-in) behind a lock, with that API's transmit.
struct Locked<C> {
    card: std::sync::Mutex<C>,
    send: Send<C>,
}

impl<C> Locked<C> {
    fn new(card: C, send: Send<C>) -> Self {
        Locked {
            card: std::sync::Mutex::new(card),
            send,
        }
    }

    /// Sends `command` `n` times, each answered 9000.
    fn sign_n(&self, command: &[u8], n: usize) {
        let card = self.card.lock().expect("lock");
        let mut buffer = vec![0; softcard_pcsc::MAX_BUFFER_SIZE_EXTENDED];
        for _ in 0..n {
            let len = (self.send)(&card, command, &mut buffer).expect("transmit");
            assert!(buffer[..len].ends_with(&[0x90, 0x00]), "sign failed");
        }
    }
}

impl<C> Transmit for &Locked<C> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
        let mut buffer = vec![0; softcard_pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let card = self.card.lock().map_err(|e| e.to_string())?;
        let len = (self.send)(&card, apdu, &mut buffer)?;
        Ok(buffer[..len].to_vec())
    }
}

fn send_softcard(card: &softcard_pcsc::Card, apdu: &[u8], buf: &mut [u8]) -> Result<usize, String> {
    card.transmit(apdu, buf)
        .map(<[u8]>::len)
        .map_err(|e| e.to_string())
}

fn send_pcsc(card: &pcsc::Card, apdu: &[u8], buf: &mut [u8]) -> Result<usize, String> {
    card.transmit(apdu, buf)
        .map(<[u8]>::len)
        .map_err(|e| e.to_string())
}

struct InProcess {
    _ctx: softcard_pcsc::Context,
    cards: Vec<Locked<softcard_pcsc::Card>>,
    command: Vec<u8>,
}

impl InProcess {
    fn open() -> InProcess {
        use softcard_pcsc::{Context, Protocols, Registry, Scope, ShareMode};
        let ctx = Context::establish(Scope::User).expect("SCardEstablishContext");
        let cards = (0..2)
            .map(|i| {
                let (card, public) =
                    provisioned_card(Profile::Piv, BackendKind::default(), Box::new(NoStorage))
                        .expect("a card");
                let reader = format!("softcard scale {i}");
                Registry::global()
                    .insert_card(&reader, card)
                    .expect("insert");
                let name = CString::new(reader).expect("name");
                let card = ctx
                    .connect(&name, ShareMode::Shared, Protocols::ANY)
                    .expect("SCardConnect");
                let card = Locked::new(card, send_softcard);
                login_piv(&mut &card).expect("login");
                check_signature(
                    &public,
                    &piv_sign(&mut &card, &sign_command()).expect("sign"),
                )
                .expect("valid");
                card
            })
            .collect();
        InProcess {
            _ctx: ctx,
            cards,
            command: sign_command(),
        }
    }
}

impl TwoCards for InProcess {
    fn sign_n(&self, which: usize, n: usize) {
        self.cards[which].sign_n(&self.command, n);
    }
    fn label(&self) -> &'static str {
        "softcard-pcsc (in-process API)"
    }
}

struct SystemPcsc {
    cards: Vec<Locked<pcsc::Card>>,
    command: Vec<u8>,
    label: &'static str,
}

impl SystemPcsc {
    fn open() -> SystemPcsc {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("SCardEstablishContext");
        let mut names = vec![0; 4096];
        let readers: Vec<CString> = ctx
            .list_readers(&mut names)
            .expect("SCardListReaders")
            .map(CString::from)
            .collect();
        let mut cards = Vec::new();
        for reader in readers {
            // A context for each card, as pcsc-lite advises for threads: a context is one
            // connection (to pcscd, or to softcard's host), whose calls follow each other.
            let own = pcsc::Context::establish(pcsc::Scope::User).expect("SCardEstablishContext");
            let Ok(card) = own.connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            else {
                continue;
            };
            let card = Locked::new(card, send_pcsc);
            if login_piv(&mut &card).is_ok() && piv_sign(&mut &card, &sign_command()).is_ok() {
                cards.push(card);
            }
            if cards.len() == 2 {
                break;
            }
        }
        assert_eq!(
            cards.len(),
            2,
            "two PIV readers with a key in 9A are needed"
        );
        let label = if std::env::var_os("SOFTCARD_HOST").is_some() {
            "drop-in under softcard exec (host)"
        } else {
            "drop-in, in process"
        };
        SystemPcsc {
            cards,
            command: sign_command(),
            label,
        }
    }
}

impl TwoCards for SystemPcsc {
    fn sign_n(&self, which: usize, n: usize) {
        self.cards[which].sign_n(&self.command, n);
    }
    fn label(&self) -> &'static str {
        self.label
    }
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4.0
}

/// Loads `CARDS` cards from `image` into `registry` (readers `prefix NNNN`); returns the
/// milliseconds it took and the KiB of resident memory it added per card.
fn load_many(registry: &softcard_pcsc::Registry, image: &[u8], prefix: &str) -> (f64, f64) {
    let before = rss_kib();
    let start = Instant::now();
    for i in 0..CARDS {
        let card = Card::load(
            image,
            Box::new(softcard::seeded_rng(i as u64)),
            Box::new(NoStorage),
            BackendKind::default(),
        )
        .expect("load");
        registry
            .insert_card(&format!("{prefix} {i:04}"), card)
            .expect("insert");
    }
    let ms = ms_since(start);
    (ms, (rss_kib() - before) / CARDS as f64)
}

fn cards() -> Value {
    use softcard_pcsc::{Context, Protocols, Registry, Scope, ShareMode};
    let (card, public) =
        provisioned_card(Profile::Piv, BackendKind::default(), Box::new(NoStorage))
            .expect("a card");
    let with_key = card.image().expect("image");
    drop(card);
    let blank = Card::create_seeded(
        &softcard::CardOptions::new(Profile::Piv),
        1,
        Box::new(NoStorage),
    )
    .expect("a card")
    .image()
    .expect("image");

    let registry = Registry::global();
    let (blank_ms, blank_kib) = load_many(registry, &blank, "softcard blank");
    let (keyed_ms, keyed_kib) = load_many(registry, &with_key, "softcard keyed");

    let ctx = Context::establish(Scope::User).expect("SCardEstablishContext");
    let command = sign_command();
    let connect = |i: usize| {
        let name = CString::new(format!("softcard keyed {i:04}")).expect("name");
        let card = Locked::new(
            ctx.connect(&name, ShareMode::Shared, Protocols::ANY)
                .expect("SCardConnect"),
            send_softcard,
        );
        login_piv(&mut &card).expect("login");
        check_signature(&public, &piv_sign(&mut &card, &command).expect("sign")).expect("valid");
        card
    };
    let first = connect(0);
    let last = connect(CARDS - 1);
    let mut times = [Vec::new(), Vec::new()];
    let mut buffer = vec![0; softcard_pcsc::MAX_BUFFER_SIZE_EXTENDED];
    for round in 0..10 {
        // Alternate which card goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for slot in order {
            let card = [&first, &last][slot].card.lock().expect("lock");
            for _ in 0..20 {
                let start = Instant::now();
                card.transmit(&command, &mut buffer).expect("sign");
                times[slot].push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let [t1, t1000] = times;
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(&t1000) / median(&t1);
    json!({
        "cards": CARDS,
        "backend": BackendKind::default().name(),
        "load_ms_total_with_key": (keyed_ms * 10.0).round() / 10.0,
        "load_us_per_card_with_key": (keyed_ms * 1000.0 / CARDS as f64).round(),
        "rss_kib_per_card_with_rsa2048_key": (keyed_kib * 10.0).round() / 10.0,
        "load_ms_total_without_key": (blank_ms * 10.0).round() / 10.0,
        "rss_kib_per_card_without_key": (blank_kib * 10.0).round() / 10.0,
        "sign_us_card_1": spread(t1),
        "sign_us_card_1000": spread(t1000),
        "ratio_1000_vs_1": (ratio * 1000.0).round() / 1000.0,
    })
}
