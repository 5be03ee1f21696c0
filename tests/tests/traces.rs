//! APDU traces and snapshots from the command line, with yubico-piv-tool as the client:
//! a run recorded under `softcard exec --trace`, shown, compared with `trace diff`,
//! replayed to the same command with the same output, a changed command caught by the
//! replay; no PIN, PUK, management key or private key in a default trace; a PIN blocked
//! and given back by `softcard snapshot restore`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::time::Duration;

use softcard_tests::peer::{self, PeerStack, READER_0, VPCD_PORT};
use softcard_tests::softcard_bin::{self, Serve};
use tempfile::TempDir;

const PIN: &str = "12345678";
const PUK: &str = "12345678";
const MGM_KEY: &str = "010203040506070801020304050607080102030405060708";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Standard output followed by standard error (yubico-piv-tool uses both).
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn ok(self, what: &str) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "{what}:\n{}{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

struct Dir {
    dir: TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A new PIV image `name` made from `seed`.
    fn image(&self, name: &str, seed: u64) -> PathBuf {
        let image = self.path(name);
        softcard_bin::init(&image, "piv", seed);
        image
    }

    /// `softcard ARGS`.
    fn softcard(&self, args: &[&str]) -> Run {
        Command::new(softcard_bin::path())
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .expect("run softcard")
            .into()
    }

    /// `softcard exec OPTIONS -- sh -c SCRIPT`, the script running yubico-piv-tool.
    fn exec(&self, options: &[&str], script: &str) -> Run {
        let mut args = vec!["exec"];
        args.extend_from_slice(options);
        args.extend_from_slice(&["--", "timeout", "120", "sh", "-ec", script]);
        self.softcard(&args)
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `yubico-piv-tool -r softcard ARGS` as a shell command line.
fn yubico(args: &str) -> String {
    format!("yubico-piv-tool -r softcard {args}")
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_yubico_run_is_recorded_shown_replayed_and_a_changed_command_is_caught() {
    let d = Dir::new();
    let image = d.image("piv.img", 41);
    let trace = d.path("run.trace");
    let script = format!(
        "{}; {}",
        yubico("-a status"),
        yubico(&format!("-a verify-pin -P {PIN}"))
    );
    let recorded = d
        .exec(&["--image", arg(&image), "--trace", arg(&trace)], &script)
        .ok("the recorded run");
    assert!(
        recorded.stdout.contains("PIN tries left:\t3"),
        "{}",
        recorded.stdout
    );
    assert!(
        recorded.text().contains("Successfully verified PIN"),
        "{}",
        recorded.text()
    );

    let text = read(&trace);
    assert!(
        text.starts_with("softcard-trace 2 secrets=redacted\n"),
        "{text}"
    );
    assert!(text.contains("reader 0 piv softcard PIV 00 00"), "{text}");
    assert!(
        text.contains("00200080 08 <redacted 8 bytes> -> 9000"),
        "{text}"
    );
    assert!(!text.contains(&hex(PIN)), "a PIN in the trace:\n{text}");

    let shown = d.softcard(&["trace", "show", arg(&trace)]).ok("trace show");
    let lines: Vec<&str> = shown.stdout.lines().collect();
    assert_eq!(lines.len(), text.lines().count() - 2, "{}", shown.stdout);
    for words in [
        "[softcard PIV 00 00] SELECT PIV (a000000308) -> 9000 success",
        "VERIFY PIN (status) -> 63C3 verification failed, 3 tries left",
        "GET VERSION (Yubico) -> 9000 success, 3 bytes",
        "GET DATA 5FC102, 5 bytes -> 9000 success",
        "-> 6A82 file or application not found",
        "VERIFY PIN, 8 bytes redacted -> 9000 success",
    ] {
        assert!(
            shown.stdout.contains(words),
            "{words:?} not in:\n{}",
            shown.stdout
        );
    }

    // The same command on the trace gets the same answers, printed the same way.
    let replayed = d
        .exec(&["--replay", arg(&trace)], &script)
        .ok("the replayed run");
    assert_eq!(replayed.stdout, recorded.stdout);
    assert_eq!(replayed.stderr, recorded.stderr);

    // Another action: caught, both commands printed, exec fails.
    let changed = format!(
        "{}; {}",
        yubico("-a status"),
        yubico(&format!("-a change-pin -P {PIN} -N 11223344"))
    );
    let caught = d.exec(&["--replay", arg(&trace)], &changed);
    assert_ne!(caught.code, Some(0), "{}", caught.stderr);
    assert!(
        caught.stderr.contains(
            "expected [softcard PIV 00 00] 00200080 08 <redacted 8 bytes>, \
             got [softcard PIV 00 00] 00240080 10 <redacted 16 bytes>"
        ),
        "{}",
        caught.stderr
    );
    assert!(
        !caught.stderr.contains(&hex("11223344")),
        "{}",
        caught.stderr
    );
    // A client that stops early deviates too.
    let short = d.exec(&["--replay", arg(&trace)], &yubico("-a status"));
    assert_ne!(short.code, Some(0));
    assert!(
        short.stderr.contains("the client sent no more commands"),
        "{}",
        short.stderr
    );

    // With --trace-secrets the PIN is in the trace, and another PIN is caught.
    let image2 = d.image("piv2.img", 41);
    let clear = d.path("clear.trace");
    d.exec(
        &[
            "--image",
            arg(&image2),
            "--trace",
            arg(&clear),
            "--trace-secrets",
        ],
        &script,
    )
    .ok("the run recorded with secrets");
    let clear_text = read(&clear);
    assert!(clear_text.starts_with("softcard-trace 2 secrets=clear\n"));
    assert!(
        clear_text.contains(&format!("00200080 08 {} -> 9000", hex(PIN))),
        "{clear_text}"
    );
    let other_pin = format!(
        "{}; {}",
        yubico("-a status"),
        yubico("-a verify-pin -P 87654321")
    );
    let caught = d.exec(&["--replay", arg(&clear)], &other_pin);
    assert_ne!(caught.code, Some(0));
    assert!(
        caught.stderr.contains(&format!(
            "expected [softcard PIV 00 00] 00200080 08 {}, got [softcard PIV 00 00] 00200080 08 {}",
            hex(PIN),
            hex("87654321")
        )),
        "{}",
        caught.stderr
    );
}

/// `softcard serve --trace`: what pcscd's clients send through vpcd is recorded, redacted;
/// `softcard serve --replay` answers the same command from the trace and catches another.
#[test]
fn serve_records_what_pcscd_clients_send() {
    let Some(_stack) = PeerStack::acquire("serve_records_what_pcscd_clients_send") else {
        return;
    };
    let d = Dir::new();
    let image = d.image("served.img", 45);
    let trace = d.path("served.trace");
    let mut serve = Serve::start_with(
        &[&image],
        &format!("127.0.0.1:{VPCD_PORT}"),
        &d.path("serve.log"),
        &["--trace", arg(&trace)],
    );
    assert!(
        peer::wait_reader_present(READER_0, Duration::from_secs(20)),
        "no card in {READER_0}: {}",
        serve.log()
    );
    let out: Run = Command::new("timeout")
        .args([
            "120",
            "yubico-piv-tool",
            "-r",
            READER_0,
            "-a",
            "verify-pin",
            "-P",
            PIN,
        ])
        .output()
        .unwrap()
        .into();
    let out = out.ok("verify-pin through pcscd");
    assert!(
        out.text().contains("Successfully verified PIN"),
        "{}",
        out.text()
    );
    assert!(
        serve.stop(),
        "softcard serve did not stop cleanly: {}",
        serve.log()
    );
    let text = read(&trace);
    assert!(text.contains("reader 0 piv softcard PIV 00 00"), "{text}");
    assert!(
        text.contains("00200080 08 <redacted 8 bytes> -> 9000"),
        "{text}"
    );
    assert!(!text.contains(&hex(PIN)), "{text}");

    // `serve --replay`: the same command through pcscd gets the recorded answers; another
    // one is caught, and serve reports it when stopped, exiting non-zero.
    let verify = ["-a", "verify-pin", "-P", PIN];
    let change = ["-a", "change-pin", "-P", PIN, "-N", "11223344"];
    for (action, deviates) in [(&verify[..], false), (&change[..], true)] {
        // pcscd must have seen the previous card go before the next one comes.
        assert!(
            peer::wait_reader_empty(READER_0, Duration::from_secs(20)),
            "the previous card stayed"
        );
        let mut serve = Serve::start_with(
            &[],
            &format!("127.0.0.1:{VPCD_PORT}"),
            &d.path("replay.log"),
            &["--replay", arg(&trace)],
        );
        assert!(
            peer::wait_reader_present(READER_0, Duration::from_secs(20)),
            "no card in {READER_0}: {}",
            serve.log()
        );
        let run: Run = Command::new("timeout")
            .args(["120", "yubico-piv-tool", "-r", READER_0])
            .args(action)
            .output()
            .unwrap()
            .into();
        let clean = serve.stop();
        let log = serve.log();
        if deviates {
            assert!(!clean, "a deviating replay ended cleanly: {log}");
            assert!(log.contains("replay deviates"), "{log}");
            assert!(log.contains("got [softcard PIV 00 00] 00240080"), "{log}");
        } else {
            assert!(clean, "{log}");
            assert_eq!(run.stdout, out.stdout, "{}", run.text());
        }
    }
    assert!(
        peer::wait_reader_empty(READER_0, Duration::from_secs(20)),
        "the replayed card stayed"
    );
}

#[test]
fn trace_diff_ignores_times_and_names_the_first_difference() {
    let d = Dir::new();
    let script = format!(
        "{}; {}",
        yubico("-a status"),
        yubico(&format!("-a verify-pin -P {PIN}"))
    );
    let mut traces = Vec::new();
    for (i, script) in [
        script.clone(),
        script,
        format!(
            "{}; {} || true",
            yubico("-a status"),
            yubico("-a verify-pin -P 99999999")
        ),
    ]
    .iter()
    .enumerate()
    {
        let image = d.image(&format!("c{i}.img"), 42);
        let trace = d.path(&format!("t{i}.trace"));
        d.exec(&["--image", arg(&image), "--trace", arg(&trace)], script)
            .ok("a recorded run");
        traces.push(trace);
    }
    assert_ne!(read(&traces[0]), read(&traces[1]), "the times differ");
    let same = d.softcard(&["trace", "diff", arg(&traces[0]), arg(&traces[1])]);
    assert_eq!(same.code, Some(0), "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.starts_with("same "), "{}", same.stdout);

    let differ = d.softcard(&["trace", "diff", arg(&traces[0]), arg(&traces[2])]);
    assert_eq!(differ.code, Some(1), "{}{}", differ.stdout, differ.stderr);
    // Exchanges count from 1, events (power-on...) aside.
    let n = softcard_pcsc::trace::Trace::parse(&read(&traces[0]))
        .unwrap()
        .exchanges
        .iter()
        .position(|x| x.command.to_string().starts_with("00200080 08"))
        .unwrap()
        + 1;
    assert!(
        differ.stdout.starts_with(&format!("exchange {n} differs:")),
        "{}",
        differ.stdout
    );
    assert!(
        differ
            .stdout
            .contains("VERIFY PIN, 8 bytes redacted -> 9000 success"),
        "{}",
        differ.stdout
    );
    assert!(
        differ
            .stdout
            .contains("VERIFY PIN, 8 bytes redacted -> 63C2 verification failed, 2 tries left"),
        "{}",
        differ.stdout
    );
    let bad = d.softcard(&["trace", "diff", arg(&traces[0]), arg(&d.path("c0.img"))]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("c0.img"), "{}", bad.stderr);
}

/// The secret sweep on traces: a session that uses the PIN, the PUK, the management key
/// (authentication: its witness and response; setting a new one) and imports a private key leaves none of them
/// in a default trace; with --trace-secrets each of them is found (the sweep can see).
#[test]
fn a_default_trace_holds_no_pin_puk_management_key_or_private_key() {
    let d = Dir::new();
    let key = d.path("key.pem");
    let out = Command::new("openssl")
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = Command::new("openssl")
        .args(["ec", "-noout", "-text", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let private: String = text
        .split("priv:")
        .nth(1)
        .and_then(|t| t.split("pub:").next())
        .unwrap()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let private = private.trim_start_matches("00").to_lowercase();
    assert_eq!(private.len(), 64, "{text}");

    let new_mgm = "0f0e0d0c0b0a09080706050403020100a1a2a3a4a5a6a7a8";
    let script = [
        yubico(&format!("-a verify-pin -P {PIN}")),
        yubico(&format!("-a change-pin -P {PIN} -N 24682468")),
        yubico(&format!("-a change-puk -P {PUK} -N 13571357")),
        format!("{} || true", yubico("-a verify-pin -P 00000000")),
        yubico("-a unblock-pin -P 13571357 -N 97531975"),
        yubico(&format!(
            "--key={MGM_KEY} -a import-key -s 9a -i {}",
            arg(&key)
        )),
        yubico(&format!("--key={MGM_KEY} -a set-mgm-key -n {new_mgm}")),
        yubico(&format!("--key={new_mgm} -a set-chuid")),
    ]
    .join("; ");
    let secrets = [
        ("PIN", hex(PIN)),
        ("new PIN", hex("24682468")),
        ("new PUK", hex("13571357")),
        ("unblocked PIN", hex("97531975")),
        ("new management key", new_mgm.to_string()),
    ];
    // Any 8 consecutive bytes of the private scalar.
    let windows: Vec<&str> = (0..=private.len() - 16)
        .step_by(2)
        .map(|i| &private[i..i + 16])
        .collect();
    for (secrets_on, name) in [(false, "default"), (true, "clear")] {
        let image = d.image(&format!("{name}.img"), 43);
        let trace = d.path(&format!("{name}.trace"));
        let mut options = vec!["--image", arg(&image), "--trace", arg(&trace)];
        if secrets_on {
            options.push("--trace-secrets");
        }
        d.exec(&options, &script).ok("the session");
        let raw = read(&trace);
        // The management key never crosses the wire; the authentication's witness and
        // response (which depend on it) do.
        let auth: Vec<&str> = raw.lines().filter(|l| l.contains(" 0087039b ")).collect();
        assert!(auth.len() >= 4, "{raw}");
        for line in auth {
            assert_eq!(
                !line.contains("<redacted"),
                secrets_on,
                "management-key authentication in the {name} trace: {line}"
            );
        }
        let text = raw.replace(' ', "");
        for (what, value) in &secrets {
            assert_eq!(
                text.contains(value.as_str()),
                secrets_on,
                "{what} ({value}) in the {name} trace"
            );
        }
        assert_eq!(
            windows.iter().any(|w| text.contains(w)),
            secrets_on,
            "private key bytes in the {name} trace"
        );
        if !secrets_on {
            let shown = d.softcard(&["trace", "show", arg(&trace)]).ok("trace show");
            for words in [
                "CHANGE REFERENCE DATA PUK, 16 bytes redacted",
                "RESET RETRY COUNTER PIN, 16 bytes redacted",
                "GENERAL AUTHENTICATE management key",
                "IMPORT KEY (Yubico)",
                "bytes redacted -> 9000 success",
                "SET MANAGEMENT KEY (Yubico)",
            ] {
                assert!(
                    shown.stdout.contains(words),
                    "{words:?} not in:\n{}",
                    shown.stdout
                );
            }
        }
    }
}

#[test]
fn a_snapshot_gives_back_a_blocked_pin_and_a_held_image_is_refused() {
    let d = Dir::new();
    let image = d.image("piv.img", 44);
    let snap = d.path("fresh.snapshot");
    d.softcard(&["snapshot", "save", arg(&image), arg(&snap)])
        .ok("snapshot save");
    let block = format!(
        "for i in 1 2 3; do {} || true; done; {}",
        yubico("-a verify-pin -P 00000000"),
        yubico("-a status")
    );
    let blocked = d
        .exec(&["--image", arg(&image)], &block)
        .ok("blocking the PIN");
    assert!(
        blocked.stdout.contains("PIN tries left:\t0"),
        "{}",
        blocked.stdout
    );
    let verify = yubico(&format!("-a verify-pin -P {PIN}"));
    let refused = d.exec(&["--image", arg(&image)], &verify);
    assert_ne!(refused.code, Some(0), "a blocked PIN verified");

    // While an exec holds the image, restore is refused and the image is unchanged.
    let before = std::fs::read(&image).unwrap();
    let softcard = softcard_bin::path().to_str().unwrap().to_string();
    let held = d.exec(
        &["--image", arg(&image)],
        &format!("{softcard} snapshot restore {} {}", arg(&image), arg(&snap)),
    );
    assert_ne!(held.code, Some(0));
    assert!(held.stderr.contains("piv.img"), "{}", held.stderr);
    assert_eq!(std::fs::read(&image).unwrap(), before);
    // A file that is not a snapshot is refused, the image unchanged.
    std::fs::write(d.path("junk"), b"not an image").unwrap();
    let junk = d.softcard(&["snapshot", "restore", arg(&image), arg(&d.path("junk"))]);
    assert_ne!(junk.code, Some(0));
    assert!(junk.stderr.contains("not a card image"), "{}", junk.stderr);
    assert_eq!(std::fs::read(&image).unwrap(), before);

    d.softcard(&["snapshot", "restore", arg(&image), arg(&snap)])
        .ok("snapshot restore");
    let back = d
        .exec(
            &["--image", arg(&image)],
            &format!("{}; {verify}", yubico("-a status")),
        )
        .ok("the PIN after the restore");
    assert!(
        back.stdout.contains("PIN tries left:\t3"),
        "{}",
        back.stdout
    );
    assert!(
        back.text().contains("Successfully verified PIN"),
        "{}",
        back.text()
    );
}
