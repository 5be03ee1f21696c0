//! The libpcsclite drop-in (`softcard-pcsclite`) driven by real clients, with no pcscd:
//! pcsc_scan, opensc-tool, pkcs11-tool, yubico-piv-tool, pyscard, a C program built
//! against the system headers and a program using the Rust `pcsc` crate.
//!
//! Needs the workspace built first (`cargo build --workspace --bins --lib`): the library
//! and the `softcard` binary are taken from the target folder of this test executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use softcard::crypto::BackendKind;
use softcard_file::FileStorage;
use softcard_tests::programs;
use tempfile::TempDir;

/// The target folder holding this test's build (`target/debug`), honouring
/// `CARGO_TARGET_DIR` since it is found from the running executable.
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn built(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins --lib` first",
        path.display()
    );
    path
}

/// A folder with the drop-in as `libpcsclite.so.1` and card images made by `softcard init`.
struct Setup {
    dir: TempDir,
    images: Vec<PathBuf>,
}

impl Setup {
    fn new(profiles: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(built("libpcsclite.so"), dir.path().join("libpcsclite.so.1"))
            .unwrap();
        let images = profiles
            .iter()
            .enumerate()
            .map(|(i, profile)| {
                let image = dir.path().join(format!("card{i}.img"));
                let out = Command::new(built("softcard"))
                    .args(["init", "--profile", profile, "--seed", &(i + 1).to_string()])
                    .arg(&image)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "softcard init: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                image
            })
            .collect();
        Setup { dir, images }
    }

    fn images_var(&self) -> String {
        self.images
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// A command run with the drop-in first on the library path.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("timeout");
        c.arg("120")
            .arg(program)
            .env("LD_LIBRARY_PATH", self.dir.path())
            .env("SOFTCARD_IMAGES", self.images_var())
            .env_remove("OPENSC_CONF")
            .env("HOME", self.dir.path());
        c
    }

    /// A command run through `softcard exec`.
    fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new(built("softcard"));
        c.arg("exec");
        for image in &self.images {
            c.arg("--image").arg(image);
        }
        c.arg("--")
            .arg("timeout")
            .arg("120")
            .args(args)
            .env_remove("LD_LIBRARY_PATH")
            .env("HOME", self.dir.path());
        c
    }
}

fn run(mut c: Command) -> (String, String) {
    let out: Output = c.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// The ATR of an image's card, as OpenSC prints it (`3b:8d:...`).
fn atr_of(image: &Path) -> Vec<u8> {
    FileStorage::load_card(image, BackendKind::default(), None)
        .unwrap()
        .atr()
        .to_vec()
}

#[test]
fn pcsc_scan_lists_the_readers() {
    let setup = Setup::new(&["piv", "windows-vsc"]);
    let mut c = setup.command("pcsc_scan");
    c.arg("-r");
    let (stdout, _) = run(c);
    assert!(stdout.contains("0: softcard PIV 00 00"), "{stdout}");
    assert!(stdout.contains("1: softcard GIDS 01 00"), "{stdout}");
}

#[test]
fn a_bad_image_is_named_on_stderr_and_its_reader_left_out() {
    let mut setup = Setup::new(&["piv"]);
    let bad = setup.dir.path().join("bad.img");
    std::fs::write(&bad, b"not a card image").unwrap();
    setup.images.insert(0, bad);
    let mut c = setup.command("pcsc_scan");
    c.arg("-r");
    let (stdout, stderr) = run(c);
    assert!(
        stderr.contains("bad.img") && stderr.contains("not offered"),
        "{stderr}"
    );
    assert!(stdout.contains("softcard PIV 01 00"), "{stdout}");
    assert!(
        !stdout.contains(" 00 00"),
        "no reader for the bad image: {stdout}"
    );
}

#[test]
fn opensc_tool_shows_the_reader_and_the_atr() {
    let setup = Setup::new(&["piv"]);
    let mut c = setup.command("opensc-tool");
    c.arg("-l");
    let (stdout, _) = run(c);
    assert!(stdout.contains("softcard PIV 00 00"), "{stdout}");
    let mut c = setup.command("opensc-tool");
    c.arg("-a");
    let (stdout, _) = run(c);
    let expected = atr_of(&setup.images[0])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(stdout.trim(), expected);
}

#[test]
fn pyscard_selects_piv() {
    let setup = Setup::new(&["piv"]);
    let mut c = setup.command(programs::PYTHON);
    c.arg(programs::script("dropin_pyscard.py"));
    let (stdout, _) = run(c);
    assert!(stdout.contains("reader: softcard PIV 00 00"), "{stdout}");
    assert!(stdout.contains("SW 9000"), "{stdout}");
}

#[test]
fn c_program_checks_the_abi_edge_cases() {
    let setup = Setup::new(&["piv"]);
    let exe = programs::compile_c("dropin_abi.c", &setup.dir.path().join("dropin_abi"), &[]);
    let (stdout, _) = run(setup.command(&exe));
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(stdout.contains("SW 9000"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn rust_pcsc_crate_selects_and_transmits() {
    let setup = Setup::new(&["piv"]);
    let client = built("dropin-pcsc-client");
    let (stdout, _) = run(setup.command(&client));
    assert!(stdout.contains("reader: softcard PIV 00 00"), "{stdout}");
    assert!(stdout.contains("SW 9000"), "{stdout}");
    let atr: String = atr_of(&setup.images[0])
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(stdout.contains(&format!("ATR {atr}")), "{stdout}");
}

#[test]
fn exec_serves_yubico_piv_tool_and_keeps_changes() {
    let setup = Setup::new(&["piv"]);
    let (stdout, _) = run(setup.exec(&["yubico-piv-tool", "-r", "softcard", "-a", "status"]));
    assert!(stdout.contains("PIN tries left:\t3"), "{stdout}");
    // A wrong PIN in one process is remembered by the image the next process loads.
    let out = setup
        .exec(&[
            "yubico-piv-tool",
            "-r",
            "softcard",
            "-a",
            "verify-pin",
            "-P",
            "99999999",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong PIN is refused");
    let (stdout, _) = run(setup.exec(&["yubico-piv-tool", "-r", "softcard", "-a", "status"]));
    assert!(stdout.contains("PIN tries left:\t2"), "{stdout}");
}

#[test]
fn exec_serves_pkcs11_tool_through_opensc_provider_library() {
    let setup = Setup::new(&["piv"]);
    // LD_LIBRARY_PATH cleared inside: OpenSC finds the drop-in through OPENSC_CONF alone.
    let (stdout, _) = run(setup.exec(&[
        "sh",
        "-c",
        "LD_LIBRARY_PATH= pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so -L",
    ]));
    assert!(stdout.contains("softcard PIV 00 00"), "{stdout}");
    assert!(stdout.contains("token label"), "{stdout}");
}

#[test]
fn exec_propagates_the_exit_code() {
    let setup = Setup::new(&["piv"]);
    let status = setup
        .exec(&["sh", "-c", "test -n \"$SOFTCARD_HOST\" && exit 7"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
}

/// An image encrypted at rest, served by the drop-in in process (the passphrase from
/// `SOFTCARD_PASSPHRASE_FILE`) and by `softcard exec` (from `SOFTCARD_PASSPHRASE`, which the
/// program exec starts does not get): yubico-piv-tool verifies the PIN on both routes, the
/// image stays encrypted, and without the passphrase, or with a wrong one, no reader is
/// offered and the message says why without showing it.
#[test]
fn an_encrypted_image_is_served_with_its_passphrase_only() {
    let setup = Setup::new(&[]);
    let image = setup.dir.path().join("sealed.img");
    let pass = setup.dir.path().join("pass");
    let wrong = setup.dir.path().join("wrong");
    std::fs::write(&pass, "s3cret words\n").unwrap();
    std::fs::write(&wrong, "other words\n").unwrap();
    let mut init = Command::new(built("softcard"));
    init.args([
        "init",
        "--profile",
        "piv",
        "--seed",
        "9",
        "--passphrase-file",
    ])
    .arg(&pass)
    .arg(&image);
    run(init);
    let setup = Setup {
        images: vec![image.clone()],
        ..setup
    };

    let verify = [
        "yubico-piv-tool",
        "-r",
        "softcard",
        "-a",
        "verify-pin",
        "-P",
        "12345678",
    ];
    let mut c = setup.command(verify[0]);
    c.args(&verify[1..]).env("SOFTCARD_PASSPHRASE_FILE", &pass);
    let (_, stderr) = run(c);
    assert!(stderr.contains("Successfully verified PIN"), "{stderr}");

    let mut c = setup.exec(&[
        "sh",
        "-c",
        "env | grep -c '^SOFTCARD_PASSPHRASE=' ; exec \"$@\"",
        "sh",
    ]);
    c.args(verify).env("SOFTCARD_PASSPHRASE", "s3cret words");
    let (stdout, stderr) = run(c);
    assert_eq!(
        stdout.trim(),
        "0",
        "the program does not get the passphrase"
    );
    assert!(stderr.contains("Successfully verified PIN"), "{stderr}");
    let bytes = std::fs::read(&image).unwrap();
    assert!(bytes.starts_with(b"SOFTSEAL"), "still encrypted");

    for (var, value) in [
        ("SOFTCARD_PASSPHRASE_FILE", wrong.as_os_str()),
        ("SOFTCARD_NO_PASSPHRASE", wrong.as_os_str()),
    ] {
        let mut c = setup.command("pcsc_scan");
        c.arg("-r")
            .env(var, value)
            .env_remove("SOFTCARD_PASSPHRASE");
        let out = c.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !stdout.contains("softcard PIV"),
            "{var}: no reader: {stdout}"
        );
        assert!(
            stderr.contains("passphrase") && stderr.contains("sealed.img"),
            "{var}: {stderr}"
        );
        assert!(!stderr.contains("other words"), "never shown: {stderr}");
    }
    let mut c = setup.exec(&["true"]);
    c.env_remove("SOFTCARD_PASSPHRASE")
        .env("SOFTCARD_PASSPHRASE_FILE", &wrong);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("passphrase is wrong"), "{stderr}");
    assert_eq!(
        std::fs::read(&image).unwrap(),
        bytes,
        "failures change nothing"
    );
}

#[test]
fn a_backend_name_the_build_cannot_honour_is_named_and_no_card_served() {
    let setup = Setup::new(&["piv"]);
    let mut c = setup.command("pcsc_scan");
    c.arg("-r").env("SOFTCARD_BACKEND", "openssl");
    let out = c.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("SOFTCARD_BACKEND") && stderr.contains("unknown backend"),
        "{stderr}"
    );
    assert!(!stdout.contains("softcard PIV"), "no reader: {stdout}");
}

/// `softcard exec [--backend B]` running `sh -c SCRIPT` with `$IMG` the image and `$SC`
/// the softcard binary.
fn exec_script(setup: &Setup, backend: Option<&str>, script: &str) -> (String, String) {
    let mut c = Command::new(built("softcard"));
    c.arg("exec");
    if let Some(b) = backend {
        c.args(["--backend", b]);
    }
    c.arg("--image")
        .arg(&setup.images[0])
        .args(["--", "timeout", "120", "sh", "-c", script])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("SOFTCARD_BACKEND")
        .env("IMG", &setup.images[0])
        .env("SC", built("softcard"))
        .env("HOME", setup.dir.path());
    run(c)
}

#[test]
fn exec_serves_its_cards_on_its_backend_and_one_shot_commands_follow_or_are_refused() {
    let setup = Setup::new(&["piv"]);
    let default = BackendKind::default().name();
    // Without --backend: the default, told to the program; `info` on the held image names
    // the holder's backend even when the caller's environment says nothing.
    let (stdout, _) = exec_script(
        &setup,
        None,
        r#"echo "env=$SOFTCARD_BACKEND"; env -u SOFTCARD_BACKEND "$SC" info --json "$IMG""#,
    );
    assert!(stdout.contains(&format!("env={default}")), "{stdout}");
    assert!(
        stdout.contains(&format!("\"backend\": \"{default}\"")),
        "{stdout}"
    );

    let script = r#"
echo "env=$SOFTCARD_BACKEND"
env -u SOFTCARD_BACKEND "$SC" info --json "$IMG"
"$SC" pin verify "$IMG" && echo "verify ok"
"$SC" pin verify --backend "$OTHER" "$IMG"; echo "other exit $?"
"$SC" info --backend "$OTHER" "$IMG"; echo "info other exit $?"
"#;
    if default == "rustcrypto" {
        // A pure-Rust build has one backend: nothing to refuse.
        return;
    }
    let other = "rustcrypto";
    let script = script.replace("$OTHER", default);
    let (stdout, stderr) = exec_script(&setup, Some(other), &script);
    assert!(stdout.contains(&format!("env={other}")), "{stdout}");
    assert!(
        stdout.contains(&format!("\"backend\": \"{other}\"")),
        "info names the holder's backend:\n{stdout}"
    );
    assert!(stdout.contains("verify ok"), "{stdout}\n{stderr}");
    assert!(stdout.contains("other exit 2"), "{stdout}\n{stderr}");
    assert!(stdout.contains("info other exit 2"), "{stdout}\n{stderr}");
    let refusal = format!("runs its cards on the {other} backend; --backend {default}");
    assert_eq!(
        stderr.matches(&refusal).count(),
        2,
        "both refusals name the holder's backend:\n{stderr}"
    );
}
