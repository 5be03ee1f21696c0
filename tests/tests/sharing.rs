//! Several processes sharing one card: under one `softcard exec --image A [--image B]`
//! every process (children, grandchildren, forked children) sees ONE card per image, a
//! change one makes is what the next command of any other sees, transactions exclude the
//! other processes and threads (who wait), the PIN retry counter exists once. Two softcard
//! programs never serve one image: a second one is refused, and the one-shot CLI commands
//! that change an image are served by the softcard process holding it.
//!
//! The clients are real: pyscard (`tests/scripts/sharing_pyscard.py`), yubico-piv-tool,
//! OpenSC's tools and C programs built against the system's `<winscard.h>`
//! (`tests/scripts/sharing_*.c`). Processes under one exec hand over with files in the
//! test's folder; every run is bounded by `timeout`.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, MAX_BUFFER_SIZE, Protocols, Scope, ShareMode};
use softcard::gids::minidriver;
use softcard_test_support::verify_command;
use softcard_tests::card_image::ImageCard;
use softcard_tests::clients::{Output, opensc_pkcs11};
use softcard_tests::gids_image::GidsImage;
use softcard_tests::peer::{self, PeerStack, READER_0, VPCD_PORT};
use softcard_tests::programs::{self, PYTHON};
use softcard_tests::softcard_bin::{self, Serve};
use softcard_tests::wait;
use tempfile::TempDir;

/// Seconds one run under `softcard exec` may take before `timeout` ends it.
const RUN_LIMIT: &str = "60";
const OLD_PIN: &str = "12345678";
const NEW_PIN: &str = "87654321";
const SELECT_PIV: &[u8] = softcard_test_support::piv::SELECT;
/// VERIFY without data: 9000 while the PIN is verified, 63Cx (tries left) or 6983.
const PIN_STATUS: [u8; 4] = [0x00, 0x20, 0x00, 0x80];

/// Shell functions every script run under exec starts with: `await_file PATH` (waits at
/// most 60 s for PATH), `client ARGS` (the pyscard script).
const PRELUDE: &str = r#"
await_file() { i=0; while [ ! -e "$1" ]; do i=$((i+1)); if [ $i -gt 600 ]; then echo "timed out waiting for $1"; exit 3; fi; sleep 0.1; done; }
client() { "$PY" "$CLIENT" "$@"; }
"#;

/// Card images (`softcard init`, seeds 1, 2, ...) in a temporary folder, which is also
/// the folder the processes of a run hand over in (`$D`).
struct Cards {
    dir: TempDir,
    images: Vec<PathBuf>,
}

impl Cards {
    fn new(profiles: &[&str]) -> Cards {
        let dir = tempfile::tempdir().expect("temporary folder");
        let images = profiles
            .iter()
            .enumerate()
            .map(|(i, profile)| {
                let image = dir.path().join(format!("card{i}.img"));
                softcard_bin::init(&image, profile, i as u64 + 1);
                image
            })
            .collect();
        Cards { dir, images }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn image(&self, i: usize) -> &Path {
        &self.images[i]
    }

    /// `softcard exec --image ... --` (the program follows), in the folder.
    fn exec(&self) -> Command {
        let mut c = Command::new(softcard_bin::path());
        c.arg("exec");
        for image in &self.images {
            c.arg("--image").arg(image);
        }
        c.arg("--")
            .env_remove("LD_LIBRARY_PATH")
            .env("HOME", self.dir.path())
            .env("D", self.dir.path())
            .env("PY", PYTHON)
            .env("CLIENT", programs::script("sharing_pyscard.py"))
            .current_dir(self.dir.path());
        c
    }

    /// Runs `sh -c PRELUDE+SCRIPT` under one `softcard exec`, bounded by `timeout`, with
    /// extra environment variables.
    fn run_sh_env(&self, script: &str, env: &[(&str, &Path)]) -> Output {
        let mut c = self.exec();
        c.args(["timeout", RUN_LIMIT, "sh", "-c"])
            .arg(format!("{PRELUDE}\n{script}"));
        for (k, v) in env {
            c.env(k, v);
        }
        Output::from(c.output().expect("run softcard exec"))
    }

    fn run_sh(&self, script: &str) -> Output {
        self.run_sh_env(script, &[])
    }

    /// A file the processes of a run wrote.
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

/// The status words printed on lines `PREFIX XXXX` (hex), in order.
fn status_words(text: &str, prefix: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter_map(|rest| u16::from_str_radix(rest.trim().get(..4)?, 16).ok())
        .collect()
}

/// The one status word printed on a line `PREFIX XXXX`.
fn status_word(text: &str, prefix: &str) -> u16 {
    match status_words(text, prefix)[..] {
        [sw] => sw,
        ref other => panic!("want one `{prefix} XXXX` line, found {other:04X?} in:\n{text}"),
    }
}

/// Asserts that a status word is `want`, showing both in hex.
#[track_caller]
fn assert_sw(got: u16, want: u16, what: &str) {
    assert!(got == want, "{what}: SW {got:04X}, want {want:04X}");
}

/// The PIV application of an image, loaded in memory and selected.
fn piv_image(image: &Path) -> ImageCard {
    let mut card = ImageCard::load(image);
    let (_, sw) = card.transmit(SELECT_PIV);
    assert_sw(sw, 0x9000, "SELECT PIV in the image");
    card
}

/// The content of PIV data object 5FC1xx in an image (inside its `53`), if any.
fn piv_object(image: &Path, tag: u8) -> Option<Vec<u8>> {
    let (data, sw) = piv_image(image).transmit(&[
        0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, tag, 0x00,
    ]);
    if sw != 0x9000 {
        return None;
    }
    let (tlv, _) = softcard::tlv::parse_one(&data).expect("53 { content }");
    Some(tlv.value.to_vec())
}

// 1. A/B on PIV.

#[test]
fn piv_a_pin_change_and_a_key_made_by_one_process_are_seen_by_another_holding_the_card() {
    let cards = Cards::new(&["piv"]);
    let out = cards.run_sh(&format!(
        r#"
client hold-verify "$D" {OLD_PIN} > "$D/a.out" 2>&1 & a=$!
await_file "$D/a-ready"
yubico-piv-tool -r softcard -a change-pin -P {OLD_PIN} -N {NEW_PIN} || echo "B: change-pin failed"
yubico-piv-tool -r softcard -a generate -s 9e -A ECCP256 -o "$D/9e.pem" || echo "B: generate failed"
touch "$D/b-done"
wait $a; echo "A exited $?"
"#
    ));
    let a = cards.read("a.out");
    let text = format!("{}\nA:\n{a}", out.text());
    assert!(out.success, "the run failed:\n{text}");
    assert!(!text.contains("B: "), "process B failed:\n{text}");
    assert!(text.contains("A exited 0"), "{text}");
    assert_sw(status_word(&a, "A: SELECT"), 0x9000, &text);
    let sw = status_word(&a, "A: VERIFY");
    assert!(
        sw & 0xFFF0 == 0x63C0,
        "process A, connected before B changed the PIN, verified the OLD PIN with {sw:04X}: \
         it must see B's change (63Cx)\n{text}"
    );

    let mut card = piv_image(cards.image(0));
    let (_, sw) = card.transmit(&verify_command(NEW_PIN.as_bytes()));
    assert_sw(sw, 0x9000, "the image takes B's new PIN");
    let (meta, sw) = card.transmit(&[0x00, 0xF7, 0x00, 0x9E, 0x00]);
    assert_sw(
        sw,
        0x9000,
        &format!("GET METADATA of slot 9E in the image: {sw:04X}"),
    );
    let der = cards.path("9e.der");
    let st = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(cards.path("9e.pem"))
        .arg("-out")
        .arg(&der)
        .status()
        .expect("run openssl");
    assert!(st.success(), "openssl pkey on B's public key");
    let der = std::fs::read(&der).expect("B's public key");
    let point = &der[der.len() - 65..];
    assert!(
        meta.windows(point.len()).any(|w| w == point),
        "the key in slot 9E of the image is not the one B generated: metadata {meta:02X?}, B's point {point:02X?}"
    );
}

// 2. A/B on GIDS.

#[test]
fn gids_a_key_generated_by_one_process_is_seen_by_another_and_stays_on_the_card() {
    let cards = Cards::new(&["windows-vsc"]);
    let module = opensc_pkcs11();
    let out = cards.run_sh(&format!(
        r#"
client hold-gids "$D" > "$D/a.out" 2>&1 & a=$!
await_file "$D/a-ready"
pkcs11-tool --module {module} --login --pin {OLD_PIN} --keypairgen --key-type rsa:2048 --label shared || echo "B: keypairgen failed"
touch "$D/b-done"
wait $a; echo "A exited $?"
"#
    ));
    let a = cards.read("a.out");
    let text = format!("{}\nA:\n{a}", out.text());
    assert!(out.success, "the run failed:\n{text}");
    assert!(!text.contains("B: "), "process B failed:\n{text}");
    assert!(text.contains("A exited 0"), "{text}");
    assert_sw(status_word(&a, "A: SELECT"), 0x9000, &text);
    let line = a
        .lines()
        .find_map(|l| l.strip_prefix("A: CMAPFILE "))
        .unwrap_or_else(|| panic!("no CMAPFILE line:\n{text}"));
    let (sw, hex) = line.split_once(' ').unwrap_or((line, ""));
    assert_eq!(sw, "9000", "A's GET DATA of the container map:\n{text}");
    let bytes = softcard_test_support::hex::parse(hex.trim()).expect("hex");
    let (tlv, _) = softcard::tlv::parse_one(&bytes).expect("DF23 { cmapfile }");
    let seen: Vec<_> = minidriver::parse_cmapfile(tlv.value)
        .into_iter()
        .filter(|r| r.is_valid())
        .map(|r| (r.name, r.sig_key_bits.max(r.kx_key_bits)))
        .collect();
    assert!(
        seen.iter()
            .any(|(name, bits)| name == "shared" && *bits == 2048),
        "process A, connected before B generated the key, reads containers {seen:?}: \
         it must see B's `shared` RSA-2048 container\n{text}"
    );
    assert_sw(status_word(&a, "A: VERIFY"), 0x9000, &text);

    let records: Vec<_> = GidsImage::load(cards.image(0))
        .containers()
        .into_iter()
        .filter(|r| r.is_valid())
        .map(|r| r.name)
        .collect();
    assert_eq!(records, ["shared"], "the containers in the image");
    let listed = cards.run_sh("pkcs15-tool --list-keys");
    assert!(
        listed.success && listed.text().contains("shared"),
        "a later exec lists the key:\n{}",
        listed.text()
    );
}

// 3. The PIN retry counter exists once.

#[test]
fn five_clients_share_three_pin_tries_and_a_management_key_write_does_not_restore_them() {
    let cards = Cards::new(&["piv"]);
    let out = cards.run_sh(
        r#"
pids=""
for i in 1 2 3 4 5; do client wrong-pins "$D" $i 2 > "$D/p$i.out" 2>&1 & pids="$pids $!"; done
client mgmt-put "$D" > "$D/m.out" 2>&1 & m=$!
for i in 1 2 3 4 5; do await_file "$D/ready-$i"; done
await_file "$D/ready-mgmt"
touch "$D/go"
for p in $pids; do wait $p || echo "a wrong-pins client exited $?"; done
touch "$D/pins-done"
wait $m || echo "the management-key client exited $?"
client pin-status
"#,
    );
    let clients: String = (1..=5)
        .map(|i| format!("client {i}:\n{}", cards.read(&format!("p{i}.out"))))
        .collect();
    let m = cards.read("m.out");
    let text = format!("{}\n{clients}\nmanagement-key client:\n{m}", out.text());
    assert!(
        out.success && !text.contains("exited"),
        "the run failed:\n{text}"
    );
    let mut counts = BTreeMap::new();
    for sw in status_words(&clients, "VERIFY") {
        *counts.entry(format!("{sw:04X}")).or_insert(0) += 1;
    }
    let want: BTreeMap<String, i32> = [("63C2", 1), ("63C1", 1), ("63C0", 1), ("6983", 7)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(
        counts, want,
        "10 wrong VERIFYs by 5 processes on one card must use up 3 tries in all\n{text}"
    );
    assert_sw(status_word(&m, "M: AUTHENTICATE"), 0x9000, &text);
    assert_sw(status_word(&m, "M: PUT DATA"), 0x9000, &text);
    assert_sw(
        status_word(&m, "M: PIN STATUS"),
        0x6983,
        &format!(
            "the PIN stays blocked after a management-key write by a client connected early\n{text}"
        ),
    );
    assert_sw(
        status_word(&out.stdout, "PIN STATUS"),
        0x6983,
        &format!("a later client finds the PIN blocked\n{text}"),
    );
    let (_, sw) = piv_image(cards.image(0)).transmit(&PIN_STATUS);
    assert_sw(
        sw,
        0x6983,
        &format!("the PIN is blocked in the image\n{text}"),
    );
    assert_eq!(
        piv_object(cards.image(0), 0x0D).as_deref(),
        Some(&b"written without the PIN"[..]),
        "the management-key client's object is in the image"
    );
}

// 4. Transactions exclude other processes and threads.

#[test]
fn transactions_of_two_processes_with_two_threads_each_never_interleave() {
    const ROUNDS: u32 = 40;
    let cards = Cards::new(&["piv"]);
    let prog = programs::compile_c(
        "sharing_transactions.c",
        &cards.path("sharing_transactions"),
        &["-lcrypto", "-lpthread"],
    );
    let started = Instant::now();
    let out = cards.run_sh_env(
        &format!(
            r#"
"$PROG" 0 {ROUNDS} & a=$!
"$PROG" 1 {ROUNDS} & b=$!
wait $a; echo "process 0 exited $?"
wait $b; echo "process 1 exited $?"
"#
        ),
        &[("PROG", &prog)],
    );
    let elapsed = started.elapsed();
    let text = out.text();
    assert!(
        out.success,
        "the run failed (exit 124: a deadlock, cut by timeout after {elapsed:?}):\n{text}"
    );
    assert!(
        !text.contains("FAILED"),
        "interleaved or failed steps:\n{text}"
    );
    for p in 0..2 {
        assert!(text.contains(&format!("process {p} exited 0")), "{text}");
        for t in 0..2 {
            let line = format!("worker {p}.{t}: {ROUNDS} transactions, 0 errors");
            assert!(text.contains(&line), "no `{line}`:\n{text}");
        }
    }
    let content = piv_object(cards.image(0), 0x0D).expect("the counter object in the image");
    assert_eq!(content.len(), 300, "counter object size");
    let counter = u32::from_be_bytes([content[0], content[1], content[2], content[3]]);
    assert_eq!(
        counter,
        4 * ROUNDS,
        "2 processes x 2 threads x {ROUNDS} read-increment-write transactions on one card \
         must leave the counter at {}\n{text}",
        4 * ROUNDS
    );
    assert!(
        content[4..].iter().all(|b| u32::from(*b) == counter & 0xFF),
        "the counter object is torn: {content:02X?}"
    );
}

// 5. pcsc-lite client semantics, through C programs.

/// Runs `sharing_abi MODE $D` for each mode, all at once, under one `softcard exec` on a
/// PIV image; asserts that each printed "MODE: all checks passed" and nothing failed.
fn abi_checks(modes: &[&str]) {
    let cards = Cards::new(&["piv"]);
    let prog = programs::compile_c("sharing_abi.c", &cards.path("sharing_abi"), &[]);
    let mut script = String::from("pids=\"\"\n");
    for m in modes {
        script.push_str(&format!(
            "\"$PROG\" {m} \"$D\" > \"$D/{m}.out\" 2>&1 & pids=\"$pids $!\"\n"
        ));
    }
    script.push_str("for p in $pids; do wait $p; done\n");
    let out = cards.run_sh_env(&script, &[("PROG", &prog)]);
    let mut text = out.text();
    for m in modes {
        text.push_str(&format!("\n{m}:\n{}", cards.read(&format!("{m}.out"))));
    }
    assert!(out.success, "the run failed:\n{text}");
    for m in modes {
        assert!(
            cards
                .read(&format!("{m}.out"))
                .contains(&format!("{m}: all checks passed")),
            "{m} did not pass:\n{text}"
        );
    }
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn nested_transactions_are_counted_and_another_process_waits_for_the_last_end() {
    abi_checks(&["nested-holder", "nested-waiter"]);
}

#[test]
fn a_forked_child_gets_invalid_handle_for_its_parents_handle() {
    abi_checks(&["fork"]);
}

#[test]
fn a_forked_child_under_exec_shares_the_card() {
    abi_checks(&["fork-shares"]);
}

/// Without a host (the drop-in put on the library path by hand, `SOFTCARD_IMAGES` naming
/// the image), a forked child gets no reader instead of a copy of its parent's card.
#[test]
fn a_forked_child_without_a_host_gets_no_copy_of_the_card() {
    let cards = Cards::new(&["piv"]);
    let prog = programs::compile_c("sharing_abi.c", &cards.path("sharing_abi"), &[]);
    let lib = cards.path("lib");
    std::fs::create_dir(&lib).unwrap();
    std::os::unix::fs::symlink(
        softcard_bin::path().with_file_name("libpcsclite.so"),
        lib.join("libpcsclite.so.1"),
    )
    .unwrap();
    let out = Output::from(
        Command::new("timeout")
            .arg(RUN_LIMIT)
            .arg(&prog)
            .args(["fork-alone"])
            .arg(cards.path(""))
            .env("LD_LIBRARY_PATH", &lib)
            .env("SOFTCARD_IMAGES", cards.image(0))
            .env_remove("SOFTCARD_HOST")
            .output()
            .expect("run the C program"),
    );
    let text = out.text();
    assert!(
        out.success && text.contains("fork-alone: all checks passed"),
        "{text}"
    );
    assert!(
        text.contains("which this one was forked from"),
        "the child is told why: {text}"
    );
}

#[test]
fn releasing_a_context_with_a_card_connected_does_not_reset_the_card_for_others() {
    abi_checks(&["verify-hold", "release"]);
}

#[test]
fn ending_a_transaction_another_handle_holds_is_a_sharing_violation() {
    abi_checks(&["end-other"]);
}

#[test]
fn share_direct_reports_no_protocol() {
    abi_checks(&["share-direct"]);
}

#[test]
fn stringify_names_feature_not_supported() {
    abi_checks(&["stringify"]);
}

#[test]
fn a_program_that_clears_its_environment_still_sees_the_readers() {
    abi_checks(&["clearenv"]);
}

// 6. The exec lifecycle: signals are forwarded, the temporary folder removed.

/// The `sleep 37` processes started by `softcard exec` with `TMPDIR=tmp`.
fn sleepers(tmp: &Path) -> Vec<u32> {
    let marker = format!("TMPDIR={}\0", tmp.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            cmdline == b"sleep\x0037\x00"
                && environ
                    .windows(marker.len())
                    .any(|w| w == marker.as_bytes())
        })
        .collect()
}

/// The `softcard-exec-*` entries left in `tmp`.
fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("softcard-exec-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that no `sleep 37` of this test survives and no temporary folder is left
/// (killing the survivors it finds, so that the test leaves nothing running).
fn assert_cleaned_up(tmp: &Path, what: &str) {
    let gone = wait::until(Duration::from_secs(5), || {
        (sleepers(tmp).is_empty() && leftovers(tmp).is_empty()).then_some(())
    });
    let (alive, left) = (sleepers(tmp), leftovers(tmp));
    for pid in &alive {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(
        gone.is_some(),
        "{what}: `sleep 37` processes left running: {alive:?}; `softcard-exec-*` folders left in $TMPDIR: {left:?}"
    );
}

#[test]
fn exec_under_timeout_ends_its_command_and_removes_its_folder() {
    let cards = Cards::new(&["piv"]);
    let tmp = cards.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let started = Instant::now();
    let status = Command::new("timeout")
        .arg("2")
        .arg(softcard_bin::path())
        .args(["exec", "--image"])
        .arg(cards.image(0))
        .args(["--", "sleep", "37"])
        .env("TMPDIR", &tmp)
        .status()
        .expect("run timeout softcard exec");
    let elapsed = started.elapsed();
    assert_cleaned_up(&tmp, "timeout 2 softcard exec -- sleep 37");
    assert_eq!(status.code(), Some(124), "timeout's exit code");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// A command that leaves a process running, as a daemon that forks away does: exec keeps
/// serving the card until that process ends too (it does not fall through to the system's
/// PC/SC), says why it waits, then exits with the command's code and cleans up.
#[test]
fn exec_serves_what_its_command_leaves_running() {
    let cards = Cards::new(&["piv"]);
    let tmp = cards.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = cards
        .exec()
        .args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg("( sleep 1; pcsc_scan -r > \"$D/late.out\" 2>&1 ) > /dev/null 2>&1 & exit 3")
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .expect("run softcard exec");
    let late = cards.read("late.out");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the command's exit code\n{stderr}"
    );
    assert!(
        late.contains("softcard PIV 00 00"),
        "the process left running still sees the card:\n{late}"
    );
    assert!(
        stderr.contains("left processes running"),
        "says why it waits: {stderr}"
    );
    assert_cleaned_up(
        &tmp,
        "softcard exec -- (a command leaving a process running)",
    );
}

/// Starts `softcard exec --image IMG -- sleep 37` with `TMPDIR=tmp`, waits until the sleep
/// runs, sends `signal` to softcard alone, and checks that softcard ends (the signal
/// forwarded to `sleep`, which it ended: exit code 128 + `number`) and cleans up.
fn signal_reaches_the_command(signal: &str, number: i32) {
    let cards = Cards::new(&["piv"]);
    let tmp = cards.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child: Child = Command::new(softcard_bin::path())
        .args(["exec", "--image"])
        .arg(cards.image(0))
        .args(["--", "sleep", "37"])
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .spawn()
        .expect("start softcard exec");
    let started = wait::until(Duration::from_secs(20), || {
        (!sleepers(&tmp).is_empty()).then_some(())
    });
    assert!(
        started.is_some(),
        "`sleep 37` never started under softcard exec"
    );
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status();
    let status = wait::until(Duration::from_secs(10), || child.try_wait().ok().flatten());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_cleaned_up(&tmp, &format!("SIG{signal} to softcard exec"));
    let status = status.unwrap_or_else(|| panic!("softcard exec still ran 10 s after SIG{signal}"));
    assert_eq!(
        status.code(),
        Some(128 + number),
        "softcard exec ends with its command's status (killed by SIG{signal}): {status}"
    );
}

#[test]
fn sighup_to_exec_is_forwarded_and_the_folder_removed() {
    signal_reaches_the_command("HUP", 1);
}

#[test]
fn sigterm_to_exec_alone_is_forwarded_and_the_folder_removed() {
    signal_reaches_the_command("TERM", 15);
}

// 7. One-shot CLI commands are served by the softcard process holding the image.

/// `softcard pin change IMAGE --pin OLD --new NEW`.
fn pin_change(image: &Path) -> Output {
    Output::from(softcard_bin::run(&[
        "pin",
        "change",
        image.to_str().expect("UTF-8 path"),
        "--pin",
        OLD_PIN,
        "--new",
        NEW_PIN,
    ]))
}

#[test]
fn pin_change_while_serve_holds_the_image_is_seen_through_pcscd_and_kept() {
    let Some(_stack) = PeerStack::acquire("pin_change_while_serve_holds_the_image") else {
        return;
    };
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let mut serve = Serve::start(
        &[image],
        &format!("127.0.0.1:{VPCD_PORT}"),
        &cards.path("serve.log"),
    );
    assert!(
        peer::wait_reader_present(READER_0, Duration::from_secs(20)),
        "no card in {READER_0}: {}",
        serve.log()
    );
    let ctx = Context::establish(Scope::User).expect("pcscd context");
    let mut card = ctx
        .connect(
            &CString::new(READER_0).unwrap(),
            ShareMode::Shared,
            Protocols::ANY,
        )
        .expect("connect through pcscd");
    // A reset by another client (SCARD_W_RESET_CARD) is answered as a client of a shared
    // card must: reconnect, select again, retry.
    let mut send = |apdu: &[u8]| -> u16 {
        let mut buf = [0u8; MAX_BUFFER_SIZE];
        let r = match card.transmit(apdu, &mut buf).map(<[u8]>::to_vec) {
            Err(pcsc::Error::ResetCard) => {
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                    .expect("reconnect after a reset");
                card.transmit(SELECT_PIV, &mut buf)
                    .expect("SELECT after a reset");
                card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
            }
            r => r,
        }
        .expect("transmit through pcscd");
        u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
    };
    assert_sw(send(SELECT_PIV), 0x9000, "SELECT PIV through pcscd");
    assert_sw(send(&PIN_STATUS), 0x63C3, "fresh card");

    let changed = pin_change(image);
    assert!(
        changed.success,
        "softcard pin change while serve holds the image (PID {}): {}",
        std::process::id(),
        changed.text()
    );
    assert_sw(
        send(&verify_command(NEW_PIN.as_bytes())),
        0x9000,
        &format!(
            "the served card takes the new PIN at once\nserve log:\n{}",
            serve.log()
        ),
    );
    assert_sw(
        send(&verify_command(OLD_PIN.as_bytes())),
        0x63C2,
        "the old PIN is wrong now",
    );
    assert_sw(
        send(&verify_command(NEW_PIN.as_bytes())),
        0x9000,
        "the new PIN again",
    );
    drop(card);
    assert!(serve.stop(), "serve stops cleanly: {}", serve.log());
    let (_, sw) = piv_image(image).transmit(&verify_command(NEW_PIN.as_bytes()));
    assert_sw(sw, 0x9000, "after serve stopped, the image has the new PIN");
}

#[test]
fn pin_change_while_exec_holds_the_image_is_seen_by_its_clients_and_kept() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let mut exec = cards.exec();
    exec.args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg(format!(
            "{PRELUDE}\nclient hold-verify \"$D\" {NEW_PIN} > \"$D/a.out\" 2>&1"
        ))
        .stdin(Stdio::null());
    let mut child = exec.spawn().expect("start softcard exec");
    let ready = wait::until(Duration::from_secs(30), || {
        cards.path("a-ready").exists().then_some(())
    });
    let changed = ready.map(|()| pin_change(image));
    std::fs::write(cards.path("b-done"), b"").unwrap();
    let status = child.wait().expect("wait for softcard exec");
    let a = cards.read("a.out");
    assert!(
        ready.is_some(),
        "the client under exec never got ready:\n{a}"
    );
    let changed = changed.unwrap();
    assert!(
        changed.success,
        "softcard pin change while exec (PID {}) holds the image: {}",
        child.id(),
        changed.text()
    );
    assert!(status.success(), "softcard exec: {status}\n{a}");
    assert_sw(
        status_word(&a, "A: VERIFY"),
        0x9000,
        &format!("a client connected under exec before the change verifies the new PIN\n{a}"),
    );
    let (_, sw) = piv_image(image).transmit(&verify_command(NEW_PIN.as_bytes()));
    assert_sw(sw, 0x9000, "after exec ended, the image has the new PIN");
}

#[test]
fn wrong_pins_through_the_holder_spend_the_one_retry_counter() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let mut exec = cards.exec();
    exec.args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg(format!(
            "{PRELUDE}
touch \"$D/held\"; await_file \"$D/done\""
        ))
        .stdin(Stdio::null());
    let mut child = exec.spawn().expect("start softcard exec");
    let held = wait::until(Duration::from_secs(30), || {
        cards.path("held").exists().then_some(())
    });
    let wrong = |_| {
        Output::from(softcard_bin::run(&[
            "pin",
            "change",
            image.to_str().expect("UTF-8 path"),
            "--pin",
            "00000000",
            "--new",
            NEW_PIN,
        ]))
    };
    let attempts: Vec<Output> = held
        .map(|()| (0..2).map(wrong).collect())
        .unwrap_or_default();
    std::fs::write(cards.path("done"), b"").unwrap();
    let status = child.wait().expect("wait for softcard exec");
    assert!(held.is_some(), "the command under exec never ran");
    assert!(status.success(), "softcard exec: {status}");
    for (attempt, tries) in attempts.iter().zip(["63C2", "63C1"]) {
        assert!(
            !attempt.success && attempt.text().contains(tries),
            "a wrong PIN through the holder must fail with {tries}: {}",
            attempt.text()
        );
    }
    let (_, sw) = piv_image(image).transmit(&verify_command(OLD_PIN.as_bytes()));
    assert_sw(sw, 0x9000, "the right PIN still works, and was not changed");
    let (_, sw) = piv_image(image).transmit(&[0x00, 0x20, 0x00, 0x80]);
    assert_sw(
        sw,
        0x63C1,
        "the image keeps the two tries spent through the holder",
    );
}

/// `softcard ctl` takes the card out of its reader and puts it back while a client holds a
/// connection: the client sees the reader go EMPTY and come back (status change), its old
/// connection gets SCARD_W_REMOVED_CARD, and the card put back is the same card.
#[test]
fn ctl_removes_and_inserts_a_card_every_client_sees_it() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let softcard = softcard_bin::path();
    let mut exec = cards.exec();
    exec.args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg(format!(
            "{PRELUDE}\nclient watch-removal \"$D\" > \"$D/w.out\" 2>&1 & w=$!\n\
             await_file \"$D/watching\"\n\
             \"$SOFTCARD\" ctl remove \"softcard PIV 00 00\" > \"$D/ctl.out\" 2>&1\n\
             await_file \"$D/saw-empty\"\n\
             \"$SOFTCARD\" ctl list >> \"$D/ctl.out\" 2>&1\n\
             \"$SOFTCARD\" ctl insert \"softcard PIV 00 00\" >> \"$D/ctl.out\" 2>&1\n\
             touch \"$D/inserted\"; await_file \"$D/outside-done\"; wait $w"
        ))
        .env("SOFTCARD", softcard)
        .stdin(Stdio::null());
    let mut child = exec.spawn().expect("start softcard exec");
    // From outside the exec, the host is found through the image.
    let inserted = wait::until(Duration::from_secs(30), || {
        cards.path("inserted").exists().then_some(())
    });
    let outside = Output::from(softcard_bin::run(&[
        "ctl",
        "list",
        "--json",
        "--image",
        image.to_str().expect("UTF-8 path"),
    ]));
    let twice = Output::from(softcard_bin::run(&[
        "ctl",
        "insert",
        "--image",
        image.to_str().expect("UTF-8 path"),
    ]));
    std::fs::write(cards.path("outside-done"), b"").unwrap();
    let status = child.wait().expect("wait for softcard exec");
    let (w, ctl) = (cards.read("w.out"), cards.read("ctl.out"));
    let all = format!("client:\n{w}\nctl:\n{ctl}");
    assert!(inserted.is_some() && status.success(), "{status}\n{all}");
    assert!(
        w.contains("W: VERIFY 9000") && w.contains("W: reader EMPTY"),
        "{all}"
    );
    assert!(
        w.contains("transmit on the old connection: 0x80100069"),
        "SCARD_W_REMOVED_CARD on the old connection\n{all}"
    );
    assert!(
        w.contains("W: reader PRESENT") && w.contains("W: SELECT again 9000"),
        "{all}"
    );
    assert!(
        w.contains("W: PIN STATUS 63C3"),
        "the same card, its PIN logged out by the removal\n{all}"
    );
    assert!(
        ctl.contains("softcard PIV 00 00\tempty"),
        "ctl list while out\n{all}"
    );
    assert!(ctl.contains("card inserted"), "{all}");
    assert!(
        outside.success && outside.text().contains("\"present\": true"),
        "ctl list --image from outside the exec: {}",
        outside.text()
    );
    assert!(
        !twice.success && twice.text().contains("no card was taken out"),
        "inserting a card that is in: {}",
        twice.text()
    );
}

/// `softcard ctl attach` serves one more image in a running exec (its clients see the new
/// reader; an image another process holds is refused naming it), `ctl detach` takes the
/// reader away and gives the image back (another exec can then serve it).
#[test]
fn ctl_attaches_and_detaches_images_at_run_time() {
    let cards = Cards::new(&["piv", "windows-vsc"]);
    let (first, second) = (cards.image(0), cards.image(1));
    let mut exec = Command::new(softcard_bin::path());
    exec.args(["exec", "--image"])
        .arg(first)
        .args(["--", "timeout", RUN_LIMIT, "sh", "-c"])
        .arg(
            "\"$SOFTCARD\" ctl attach \"$SECOND\" > \"$D/attach.out\" 2>&1\n\
             pcsc_scan -r > \"$D/scan1.out\" 2>&1\n\
             touch \"$D/attached\"; while [ ! -e \"$D/checked\" ]; do sleep 0.05; done\n\
             \"$SOFTCARD\" ctl detach \"softcard GIDS 01 00\" > \"$D/detach.out\" 2>&1\n\
             pcsc_scan -r > \"$D/scan2.out\" 2>&1\n\
             touch \"$D/detached\"; while [ ! -e \"$D/done\" ]; do sleep 0.05; done",
        )
        .env("SOFTCARD", softcard_bin::path())
        .env("SECOND", second)
        .env("D", cards.path(""))
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null());
    let mut child = exec.spawn().expect("start softcard exec");
    let attached = wait::until(Duration::from_secs(30), || {
        cards.path("attached").exists().then_some(())
    });
    // While attached, a second exec on the image is refused naming the first.
    let second_exec = Output::from(
        Command::new(softcard_bin::path())
            .args(["exec", "--image"])
            .arg(second)
            .args(["--", "true"])
            .output()
            .expect("run a second exec"),
    );
    std::fs::write(cards.path("checked"), b"").unwrap();
    let detached = wait::until(Duration::from_secs(30), || {
        cards.path("detached").exists().then_some(())
    });
    // Detached, the image is free again.
    let third_exec = Output::from(
        Command::new(softcard_bin::path())
            .args(["exec", "--image"])
            .arg(second)
            .args(["--", "true"])
            .output()
            .expect("run a third exec"),
    );
    std::fs::write(cards.path("done"), b"").unwrap();
    let status = child.wait().expect("wait for softcard exec");
    let all = format!(
        "attach: {}\nscan1: {}\ndetach: {}\nscan2: {}",
        cards.read("attach.out"),
        cards.read("scan1.out"),
        cards.read("detach.out"),
        cards.read("scan2.out")
    );
    assert!(
        attached.is_some() && detached.is_some() && status.success(),
        "{status}\n{all}"
    );
    assert!(
        cards
            .read("attach.out")
            .contains("softcard GIDS 01 00: serving"),
        "{all}"
    );
    assert!(
        cards.read("scan1.out").contains("softcard GIDS 01 00"),
        "{all}"
    );
    assert!(
        !cards.read("scan2.out").contains("softcard GIDS 01 00"),
        "{all}"
    );
    assert!(
        cards.read("scan2.out").contains("softcard PIV 00 00"),
        "{all}"
    );
    assert!(
        !second_exec.success && second_exec.text().contains(&child.id().to_string()),
        "a second exec while attached names the holder: {}",
        second_exec.text()
    );
    assert!(
        third_exec.success,
        "after detach the image is free: {}",
        third_exec.text()
    );
}

/// `softcard enroll` and `softcard sign` on an image that exec holds are served by exec: the
/// key is made on the held card and signs there (openssl verifies the signature with the
/// request's key); a wrong PIN through the holder signs nothing.
#[test]
fn enroll_and_sign_while_exec_holds_the_image_are_served_by_it() {
    let cards = Cards::new(&["windows-vsc"]);
    let image = cards.image(0).to_str().expect("UTF-8 path").to_owned();
    let mut exec = cards.exec();
    exec.args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg(format!(
            "{PRELUDE}\ntouch \"$D/held\"; await_file \"$D/done\""
        ))
        .stdin(Stdio::null());
    let mut child = exec.spawn().expect("start softcard exec");
    let held = wait::until(Duration::from_secs(30), || {
        cards.path("held").exists().then_some(())
    });
    let path = |name: &str| cards.path(name).to_str().expect("UTF-8 path").to_owned();
    std::fs::write(cards.path("data"), b"signed through the holder").unwrap();
    let enroll = Output::from(softcard_bin::run(&[
        "enroll",
        &image,
        "--format",
        "pkcs10",
        "--subject",
        "/CN=Held",
        "--out",
        &path("req.pem"),
        "--json",
    ]));
    let text = enroll.text();
    let container = text
        .split("\"container\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let sign = |pin: &str, out: &str| {
        Output::from(softcard_bin::run(&[
            "sign",
            &image,
            "--container",
            &container,
            "--pin",
            pin,
            "--in",
            &path("data"),
            "--out",
            &path(out),
        ]))
    };
    let wrong = sign("00000000", "wrong.sig");
    let right = sign("12345678", "data.sig");
    std::fs::write(cards.path("done"), b"").unwrap();
    let status = child.wait().expect("wait for softcard exec");
    assert!(
        held.is_some() && status.success(),
        "softcard exec: {status}"
    );
    assert!(
        enroll.success && !container.is_empty(),
        "enroll through the holder: {text}"
    );
    assert!(
        !wrong.success && wrong.text().contains("63C2") && !cards.path("wrong.sig").exists(),
        "a wrong PIN through the holder: {}",
        wrong.text()
    );
    assert!(right.success, "sign through the holder: {}", right.text());
    let public = Command::new("openssl")
        .args([
            "req",
            "-in",
            &path("req.pem"),
            "-pubkey",
            "-noout",
            "-out",
            &path("pub.pem"),
        ])
        .status()
        .expect("run openssl req");
    assert!(public.success());
    let verify = Output::from(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", &path("pub.pem"), "-signature"])
            .arg(cards.path("data.sig"))
            .arg(cards.path("data"))
            .output()
            .expect("run openssl dgst"),
    );
    assert!(
        verify.success && verify.text().contains("Verified OK"),
        "the signature made through the holder, checked with the request's key: {}",
        verify.text()
    );
    let info = Output::from(softcard_bin::run(&["info", &image]));
    assert!(
        info.text().contains(&container),
        "after exec: the key's container is in the image:\n{}",
        info.text()
    );
}

// 8. Refusals.

/// Asserts that a softcard run failed and that its message names `needles` (each: any
/// of the alternatives).
fn assert_refused(out: &Output, what: &str, needles: &[&[&str]]) {
    let text = out.text();
    assert!(
        !out.success,
        "{what} must be refused, but succeeded:\n{text}"
    );
    for alternatives in needles {
        assert!(
            alternatives.iter().any(|n| text.contains(n)),
            "{what}: the message names none of {alternatives:?}:\n{text}"
        );
    }
}

const TWICE: &[&str] = &["twice", "more than once", "same image", "same card"];

#[test]
fn exec_refuses_one_image_given_twice() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0).to_str().unwrap();
    let out = Output::from(
        Command::new("timeout")
            .args(["20"])
            .arg(softcard_bin::path())
            .args(["exec", "--image", image, "--image", image, "--", "true"])
            .output()
            .unwrap(),
    );
    assert_refused(
        &out,
        "softcard exec --image X --image X",
        &[&[image], TWICE],
    );
}

#[test]
fn exec_refuses_an_image_and_a_link_to_it() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let link = cards.path("link.img");
    std::os::unix::fs::symlink(image, &link).unwrap();
    let out = Output::from(
        Command::new("timeout")
            .args(["20"])
            .arg(softcard_bin::path())
            .args(["exec", "--image"])
            .arg(&link)
            .arg("--image")
            .arg(image)
            .args(["--", "true"])
            .output()
            .unwrap(),
    );
    assert_refused(
        &out,
        "softcard exec --image LINK --image X",
        &[&["card0.img"], TWICE],
    );
}

#[test]
fn a_second_exec_or_serve_on_a_held_image_is_refused_naming_the_holder() {
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    let mut holder = cards.exec();
    holder
        .args(["timeout", RUN_LIMIT, "sh", "-c"])
        .arg(format!(
            "{PRELUDE}\ntouch \"$D/held\"; await_file \"$D/stop\""
        ))
        .stdin(Stdio::null());
    let mut holder = holder.spawn().expect("start the holding softcard exec");
    let pid = holder.id().to_string();
    let held = wait::until(Duration::from_secs(20), || {
        cards.path("held").exists().then_some(())
    });
    // A listener nobody answers: a refused serve never gets to it, a serve that runs
    // waits there until `timeout` ends it (exit 124).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let second_exec = held.map(|()| {
        Output::from(
            Command::new("timeout")
                .arg("20")
                .arg(softcard_bin::path())
                .args(["exec", "--image"])
                .arg(image)
                .args(["--", "true"])
                .output()
                .unwrap(),
        )
    });
    let serve = held.map(|()| {
        Output::from(
            Command::new("timeout")
                .arg("5")
                .arg(softcard_bin::path())
                .args(["serve", "--vpcd", &addr, "--image"])
                .arg(image)
                .output()
                .unwrap(),
        )
    });
    std::fs::write(cards.path("stop"), b"").unwrap();
    let status = holder.wait().expect("wait for the holder");
    assert!(held.is_some(), "the holding exec never ran its command");
    assert!(status.success(), "the holding exec: {status}");
    assert_refused(
        &second_exec.unwrap(),
        "a second softcard exec on a held image",
        &[&[&pid]],
    );
    assert_refused(
        &serve.unwrap(),
        "softcard serve on a held image",
        &[&[&pid]],
    );
}

#[test]
fn a_read_only_image_is_refused_for_writing_not_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let cards = Cards::new(&["piv"]);
    let image = cards.image(0);
    std::fs::set_permissions(image, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(image).unwrap();
    let out = pin_change(image);
    let after = std::fs::read(image).unwrap();
    let mode = std::fs::metadata(image).unwrap().permissions().mode() & 0o777;
    assert_refused(
        &out,
        "softcard pin change on a read-only (0444) image",
        &[
            &["card0.img"],
            &["read-only", "read only", "not writable", "write-protected"],
        ],
    );
    assert!(before == after, "the read-only image was rewritten");
    assert_eq!(mode, 0o444, "the image's mode");
}

// 9. Stress: random transactions on two cards; nothing acknowledged is lost.

#[test]
fn four_processes_writing_at_random_on_two_cards_lose_nothing_acknowledged() {
    const SECONDS: u32 = 10;
    const PROCESSES: u32 = 4;
    let cards = Cards::new(&["piv", "windows-vsc"]);
    let out = cards.run_sh(&format!(
        r#"
pids=""
for i in $(seq 0 {last}); do client stress "$D" $i {SECONDS} & pids="$pids $!"; done
for p in $pids; do wait $p || echo "a stress client exited $?"; done
"#,
        last = PROCESSES - 1
    ));
    let text = out.text();
    assert!(
        out.success && !text.contains("exited"),
        "the run failed:\n{text}"
    );
    let mut piv = piv_image(cards.image(0));
    let mut gids = GidsImage::load(cards.image(1));
    let (_, sw) =
        gids.transmit(&[&[0x00, 0x20, 0x00, 0x80, 0x08][..], OLD_PIN.as_bytes()].concat());
    assert_sw(sw, 0x9000, "VERIFY in the GIDS image");
    let mut lost = Vec::new();
    // Summed over the processes: writes acknowledged, refused, transactions.
    let mut totals = [0u64; 3];
    for p in 0..PROCESSES {
        let report = cards.read(&format!("stress-{p}.txt"));
        let counts = report
            .lines()
            .find_map(|l| l.strip_prefix("counts ")?.split(" refusals ").next())
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .unwrap_or_else(|| panic!("process {p} reported no counts:\n{report}"));
        for (total, name) in totals.iter_mut().zip(["acked", "refused", "transactions"]) {
            *total += counts[name].as_u64().unwrap_or_default();
        }
        assert!(
            !report.contains("mismatch"),
            "process {p} read back other values inside its own transactions:\n{report}"
        );
        let acked: Vec<(&str, &str)> = report
            .lines()
            .filter_map(|l| l.strip_prefix("acked ")?.split_once(' '))
            .collect();
        for card in ["piv:", "gids:"] {
            assert!(
                acked.iter().any(|(k, _)| k.starts_with(card)),
                "process {p} got no write acknowledged on {card}:\n{report}"
            );
        }
        for (key, value) in acked {
            let found = if let Some(tag) = key.strip_prefix("piv:") {
                let tag = u8::from_str_radix(tag, 16).expect("hex tag");
                let (data, sw) = piv.transmit(&[
                    0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, tag, 0x00,
                ]);
                (sw == 0x9000).then(|| {
                    String::from_utf8_lossy(data.get(2..).unwrap_or_default()).into_owned()
                })
            } else {
                let dobj =
                    u16::from_str_radix(key.trim_start_matches("gids:"), 16).expect("hex DO");
                gids.get_data(0xA013, dobj)
                    .ok()
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            };
            if found.as_deref() != Some(value) {
                lost.push(format!("{key}: acknowledged {value}, image has {found:?}"));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "last acknowledged values missing from the images:\n{}\nrun:\n{text}",
        lost.join("\n")
    );
    let [acked, refused, transactions] = totals;
    eprintln!(
        "stress: {PROCESSES} processes, {SECONDS} s: {acked} writes acknowledged, {refused} \
         refused, {transactions} transactions; none lost"
    );
}
