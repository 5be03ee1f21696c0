//! Injected faults as real clients see them, through the drop-in (`softcard exec`) and
//! through pcscd (`softcard serve` and vpcd): pyscard sees a failed transmission, an
//! injected status word, a removal reaching a client waiting in SCardGetStatusChange and
//! a power cycle; OpenSC's tools report a removed card, a failing reader and a status
//! word; yubico-piv-tool's `test-signature` fails on an injected 6982 and succeeds after.
//! Faults come from `--faults FILE` and from `softcard ctl` on the running host. Each
//! fault has its twin: a pattern that does not match leaves the command alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use softcard_tests::clients::{Output, opensc_pkcs11};
use softcard_tests::peer::{PeerStack, READER_0, VPCD_PORT};
use softcard_tests::softcard_bin::{self, Serve};
use softcard_tests::{openssl, programs};

const PIN: &str = "12345678";
const DROPIN_READER: &str = "softcard PIV 00 00";
const SIGN_6982: &str = "answer op=sign sw=6982\n";

/// How a client reaches the card.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    DropIn,
    Pcscd,
}

/// A card image in a folder, and the shell that runs client scripts against it.
struct Card {
    dir: tempfile::TempDir,
    image: PathBuf,
}

impl Card {
    fn new(seed: u64) -> Card {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("piv.img");
        softcard_bin::init(&image, "piv", seed);
        Card { dir, image }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// The script's output and the files it wrote, for a failure's message.
    fn report(&self, out: &Output, files: &[&str]) -> String {
        let files: String = files
            .iter()
            .map(|f| format!("--- {f}\n{}", self.read(f)))
            .collect();
        format!("{}\n{files}", out.text())
    }

    /// Runs `sh -ec SCRIPT` with the card: under `softcard exec OPTIONS` (drop-in), or
    /// directly with pcscd's reader (`softcard serve` runs meanwhile). The script gets `$R`
    /// (the reader), `$CTL` (`softcard ctl --image IMAGE`), `$SOFTCARD`, `$IMAGE`, `$M`
    /// (OpenSC's PKCS#11 module).
    fn script(&self, route: Route, exec_options: &[&str], script: &str) -> Output {
        let softcard = softcard_bin::path();
        let mut c = match route {
            Route::DropIn => {
                let mut c = Command::new(softcard);
                c.arg("exec")
                    .arg("--image")
                    .arg(&self.image)
                    .args(exec_options)
                    .arg("--");
                c.env("R", DROPIN_READER).env_remove("LD_LIBRARY_PATH");
                c
            }
            Route::Pcscd => {
                let mut c = Command::new("env");
                c.env("R", READER_0)
                    .env("PCSCD", "1")
                    .env("OPENSC_CONF", self.path("opensc.conf"));
                std::fs::write(self.path("opensc.conf"), "app default {}\n").unwrap();
                c
            }
        };
        c.args(["timeout", "60", "sh", "-ec", script])
            .env("SOFTCARD", softcard)
            .env(
                "CTL",
                format!(
                    "{} ctl --image {}",
                    softcard.display(),
                    self.image.display()
                ),
            )
            .env("IMAGE", &self.image)
            .env("M", opensc_pkcs11())
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        Output::from(c.output().unwrap())
    }

    /// Serves the image into pcscd's reader (with `options`), waiting for the card.
    fn serve(&self, options: &[&str]) -> Serve {
        let log = self.path("serve.log");
        let serve = Serve::start_with(
            &[&self.image],
            &format!("127.0.0.1:{VPCD_PORT}"),
            &log,
            options,
        );
        assert!(
            softcard_tests::peer::wait_reader_present(READER_0, Duration::from_secs(20)),
            "no card in {READER_0}:\n{}",
            serve.log()
        );
        serve
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The stack for `route`: pcscd's needs its lock; `None` when it cannot run here.
fn stack(route: Route, test: &str) -> Option<Option<PeerStack>> {
    match route {
        Route::DropIn => Some(None),
        Route::Pcscd => PeerStack::acquire(test).map(Some),
    }
}

/// The line of the pyscard script's output that starts with `step`.
fn step<'a>(out: &'a str, step: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(step).map(str::trim))
        .collect()
}

fn pyscard_sees_each_fault(route: Route) {
    let Some(_stack) = stack(route, "pyscard sees each fault") else {
        return;
    };
    let card = Card::new(71);
    let _serve = (route == Route::Pcscd).then(|| card.serve(&[]));
    let script = format!(
        "{} {} \"$R\" \"$SOFTCARD\" --image \"$IMAGE\"",
        programs::PYTHON,
        arg(&programs::script("faults_pyscard.py")),
    );
    let out = card.script(route, &[], &script).ok("the pyscard script");
    let o = out.stdout.as_str();
    let all = out.text();
    // The card answered before and after each fault.
    assert_eq!(step(o, "select:"), ["9000", "9000", "9000"], "{all}");
    assert_eq!(step(o, "next transmit:"), ["9000"], "{all}");
    // The twin: a pattern for another AID leaves the SELECT alone.
    assert_eq!(step(o, "unmatched pattern:"), ["9000"], "{all}");
    assert_eq!(step(o, "injected sw:"), ["6A82"], "{all}");
    assert_eq!(step(o, "after the injected sw:"), ["9000"], "{all}");
    assert_eq!(
        step(o, "waiting client saw:"),
        ["EMPTY", "PRESENT"],
        "{all}"
    );
    assert_eq!(
        step(o, "handle after removal:"),
        ["SCARD_W_REMOVED_CARD"],
        "{all}"
    );
    assert_eq!(step(o, "reconnect:"), ["SCARD_S_SUCCESS"], "{all}");
    match route {
        Route::DropIn => {
            // The chosen error, as the client library returns it.
            assert_eq!(
                step(o, "failed transmit:"),
                ["SCARD_E_COMM_DATA_LOST"],
                "{all}"
            );
            assert_eq!(step(o, "after the failure:"), ["PRESENT"], "{all}");
            // A reset is no reader event: the handle sees it.
            assert_eq!(
                step(o, "status change after reset:"),
                ["SCARD_E_TIMEOUT"],
                "{all}"
            );
            assert_eq!(
                step(o, "handle after reset:"),
                ["SCARD_W_RESET_CARD"],
                "{all}"
            );
        }
        Route::Pcscd => {
            // vpcd carries no error code: the connection closes with the command, and
            // pcscd gives its client a response without a status word.
            assert_eq!(step(o, "failed transmit:"), ["no status word"], "{all}");
            // pcscd's driver interface cannot report a reset: a removal and an insertion.
            assert_eq!(step(o, "status change after reset:"), ["EMPTY"], "{all}");
            assert_eq!(
                step(o, "handle after reset:"),
                ["SCARD_W_REMOVED_CARD"],
                "{all}"
            );
        }
    }
}

#[test]
fn pyscard_sees_each_fault_through_the_drop_in() {
    pyscard_sees_each_fault(Route::DropIn);
}

#[test]
fn pyscard_sees_each_fault_through_pcscd() {
    pyscard_sees_each_fault(Route::Pcscd);
}

/// OpenSC's tools: opensc-tool shows the injected status word (and, for the twin, the
/// card's own), reports a reader whose transmissions fail; pkcs11-tool and opensc-tool
/// report the removed card.
fn opensc_reports_each_fault(route: Route) {
    let Some(_stack) = stack(route, "OpenSC reports each fault") else {
        return;
    };
    let card = Card::new(72);
    let _serve = (route == Route::Pcscd).then(|| card.serve(&[]));
    let select = "00 A4 04 00 05 A0 00 00 03 08";
    let wait_card = "for i in $(seq 100); do opensc-tool -r \"$R\" -a >/dev/null 2>&1 && break; sleep 0.2; done";
    let wait_empty = "for i in $(seq 100); do opensc-tool -r \"$R\" -a >/dev/null 2>&1 || break; sleep 0.2; done";
    let script = format!(
        "$CTL fault 'answer prefix=00a4040005a000000397 sw=6a82'\n\
         opensc-tool -r \"$R\" -s '{select}' > twin.out 2>&1\n\
         $CTL clear-faults\n\
         $CTL fault 'answer prefix=00a4040005a000000308 sw=6a82'\n\
         opensc-tool -r \"$R\" -s '{select}' > sw.out 2>&1\n\
         $CTL fault 'fail count=always error=SCARD_F_COMM_ERROR'\n\
         opensc-tool -r \"$R\" -s '{select}' > fail.out 2>&1 || echo $? > fail.rc\n\
         $CTL clear-faults\n\
         [ -z \"$PCSCD\" ] || {{ {wait_empty}; }}\n\
         {wait_card}\n\
         opensc-tool -r \"$R\" -s '{select}' > after.out 2>&1\n\
         $CTL remove\n\
         {wait_empty}\n\
         opensc-tool -r \"$R\" -a > removed.out 2>&1 || echo $? > removed.rc\n\
         pkcs11-tool --module \"$M\" -L > slots.out 2>&1\n\
         $CTL insert\n\
         {wait_card}\n\
         opensc-tool -r \"$R\" -a > inserted.out 2>&1\n"
    );
    let out = card.script(route, &[], &script);
    let all = card.report(
        &out,
        &[
            "twin.out",
            "sw.out",
            "fail.out",
            "fail.rc",
            "after.out",
            "removed.out",
            "removed.rc",
            "slots.out",
            "inserted.out",
        ],
    );
    assert!(out.success, "{all}");
    assert!(
        card.read("twin.out").contains("SW1=0x90, SW2=0x00"),
        "{all}"
    );
    assert!(card.read("sw.out").contains("SW1=0x6A, SW2=0x82"), "{all}");
    assert!(
        !card.read("fail.rc").trim().is_empty(),
        "opensc-tool succeeded:\n{all}"
    );
    assert!(!card.read("fail.out").contains("SW1="), "{all}");
    assert!(
        card.read("after.out").contains("SW1=0x90, SW2=0x00"),
        "{all}"
    );
    assert!(
        card.read("removed.out").contains("Card not present"),
        "{all}"
    );
    assert!(card.read("slots.out").contains("(empty)"), "{all}");
    assert!(card.read("inserted.out").contains("3b:8d:80:01"), "{all}");
}

#[test]
fn opensc_reports_each_fault_through_the_drop_in() {
    opensc_reports_each_fault(Route::DropIn);
}

#[test]
fn opensc_reports_each_fault_through_pcscd() {
    opensc_reports_each_fault(Route::Pcscd);
}

/// A key and certificate in slot 9A, made with yubico-piv-tool through the drop-in.
fn key_in_9a(card: &Card) -> PathBuf {
    let public = card.path("9a.pub.pem");
    card.script(
        Route::DropIn,
        &[],
        &format!(
            "yubico-piv-tool -r softcard -a generate -s 9a -A RSA2048 -o {}",
            arg(&public)
        ),
    )
    .ok("generate 9a");
    let cert = openssl::certificate_for(card.dir.path(), &public, "fault9a");
    card.script(
        Route::DropIn,
        &[],
        &format!(
            "yubico-piv-tool -r softcard -a import-certificate -s 9a -i {}",
            arg(&cert)
        ),
    )
    .ok("import 9a");
    cert
}

/// yubico-piv-tool's `test-signature` fails on an injected 6982 (from `--faults FILE`)
/// and succeeds after it; a fault on decryptions (the twin) leaves signatures alone.
fn yubico_test_signature_fails_once(route: Route) {
    let Some(_stack) = stack(route, "yubico test-signature and an injected 6982") else {
        return;
    };
    let card = Card::new(73);
    let cert = key_in_9a(&card);
    let faults = card.path("sign.faults");
    std::fs::write(
        &faults,
        format!("# the next signature is refused\n{SIGN_6982}"),
    )
    .unwrap();
    let faults_option = ["--faults", arg(&faults)];
    let _serve = (route == Route::Pcscd).then(|| card.serve(&faults_option));
    let sign = format!(
        "yubico-piv-tool -r \"$R\" -a verify-pin -P {PIN} -a test-signature -s 9a -i {}",
        arg(&cert)
    );
    let script = format!(
        "{sign} > first.out 2>&1 || echo $? > first.rc\n\
         {sign} > second.out 2>&1\n\
         $CTL fault 'answer op=decrypt sw=6982'\n\
         {sign} > twin.out 2>&1\n\
         $CTL faults > left.out\n"
    );
    let exec_options: &[&str] = match route {
        Route::DropIn => &faults_option,
        Route::Pcscd => &[],
    };
    let out = card.script(route, exec_options, &script);
    let all = card.report(
        &out,
        &[
            "first.out",
            "first.rc",
            "second.out",
            "twin.out",
            "left.out",
        ],
    );
    assert!(out.success, "{all}");
    assert!(
        !card.read("first.rc").trim().is_empty(),
        "the first signature succeeded:\n{all}"
    );
    assert!(
        !card
            .read("first.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
    assert!(
        card.read("second.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
    assert!(
        card.read("twin.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
    assert_eq!(
        card.read("left.out").trim(),
        "answer op=decrypt sw=6982 times=1",
        "{all}"
    );
}

#[test]
fn yubico_test_signature_fails_once_through_the_drop_in() {
    yubico_test_signature_fails_once(Route::DropIn);
}

#[test]
fn yubico_test_signature_fails_once_through_pcscd() {
    yubico_test_signature_fails_once(Route::Pcscd);
}

/// The card pulled out in the middle of a signature, from `--faults FILE`: yubico-piv-tool's
/// `test-signature` fails, the card comes back by itself after the file's delay, and the
/// same command then succeeds. The twin: the first run of a file whose removal matches no
/// command signs.
fn yubico_test_signature_with_the_card_pulled_out(route: Route) {
    let Some(_stack) = stack(route, "yubico test-signature and a card pulled out") else {
        return;
    };
    let card = Card::new(75);
    let cert = key_in_9a(&card);
    let faults = card.path("pull.faults");
    std::fs::write(
        &faults,
        "# pulled out on the next signature, back 1.5 s later
         remove op=sign back=1500ms
",
    )
    .unwrap();
    let faults_option = ["--faults", arg(&faults)];
    let _serve = (route == Route::Pcscd).then(|| card.serve(&faults_option));
    let sign = format!(
        "yubico-piv-tool -r \"$R\" -a verify-pin -P {PIN} -a test-signature -s 9a -i {}",
        arg(&cert)
    );
    let script = format!(
        "{sign} > first.out 2>&1 || echo $? > first.rc\n\
         $CTL faults > left.out\n\
         sleep 5\n\
         {sign} > second.out 2>&1\n\
         $CTL fault 'remove op=keygen'\n\
         {sign} > twin.out 2>&1\n"
    );
    let exec_options: &[&str] = match route {
        Route::DropIn => &faults_option,
        Route::Pcscd => &[],
    };
    let out = card.script(route, exec_options, &script);
    let all = card.report(
        &out,
        &[
            "first.out",
            "first.rc",
            "left.out",
            "second.out",
            "twin.out",
        ],
    );
    assert!(out.success, "{all}");
    assert!(
        !card.read("first.rc").trim().is_empty(),
        "the first signature succeeded:\n{all}"
    );
    assert!(
        !card
            .read("first.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
    // The removal fired once and is gone.
    assert_eq!(card.read("left.out").trim(), "", "{all}");
    assert!(
        card.read("second.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
    assert!(
        card.read("twin.out")
            .contains("Successful RSA verification"),
        "{all}"
    );
}

#[test]
fn yubico_test_signature_with_the_card_pulled_out_through_the_drop_in() {
    yubico_test_signature_with_the_card_pulled_out(Route::DropIn);
}

#[test]
fn yubico_test_signature_with_the_card_pulled_out_through_pcscd() {
    yubico_test_signature_with_the_card_pulled_out(Route::Pcscd);
}

/// A faults file that does not parse is refused before the program runs, naming the
/// line; `ctl fault` refuses a bad line the same way and injects nothing.
#[test]
fn bad_fault_lines_are_refused_with_their_line() {
    let card = Card::new(74);
    let faults = card.path("bad.faults");
    std::fs::write(&faults, "answer ins=87 sw=6982\nlatency sign=soon\n").unwrap();
    let out = card.script(Route::DropIn, &["--faults", arg(&faults)], "touch ran");
    assert!(!out.success);
    assert!(out.stderr.contains("bad.faults: line 2:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\"soon\" is not a duration"),
        "{}",
        out.stderr
    );
    assert!(!card.path("ran").exists());

    let out = card.script(
        Route::DropIn,
        &[],
        "$CTL fault 'answer op=sign sw=6982' 'fail error=SCARD_E_BOGUS' 2> err.out || true\n\
         $CTL faults > left.out",
    );
    assert!(out.success, "{}", out.text());
    assert!(
        card.read("err.out").contains("line 2:"),
        "{}",
        card.read("err.out")
    );
    assert!(
        card.read("err.out").contains("SCARD_E_BOGUS"),
        "{}",
        card.read("err.out")
    );
    assert_eq!(
        card.read("left.out"),
        "",
        "a refused line injected something"
    );
}

/// Latency: `--faults` with `latency verify-pin=...` makes yubico-piv-tool's PIN
/// verification take at least that long (never asserted as an upper bound).
#[test]
fn latency_from_a_faults_file_is_applied() {
    let card = Card::new(75);
    let faults = card.path("slow.faults");
    std::fs::write(&faults, "latency verify-pin=700ms\n").unwrap();
    let out = card.script(
        Route::DropIn,
        &["--faults", arg(&faults), "--trace", "run.trace"],
        &format!("yubico-piv-tool -r softcard -a verify-pin -P {PIN}"),
    );
    assert!(out.success, "{}", out.text());
    let trace = softcard_pcsc::trace::Trace::parse(&card.read("run.trace")).unwrap();
    // Each VERIFY's answer left the card at least 700 ms after the command reached it:
    // the next command's time is later still.
    let times: Vec<(u64, bool)> = trace
        .exchanges
        .iter()
        .map(|x| (x.time.0, x.command.to_string().starts_with("00200080")))
        .collect();
    let verifies = times
        .windows(2)
        .filter(|w| w[0].1)
        .map(|w| w[1].0 - w[0].0)
        .collect::<Vec<_>>();
    assert!(!verifies.is_empty(), "{}", card.read("run.trace"));
    assert!(verifies.iter().all(|&us| us >= 700_000), "{verifies:?}");
}
