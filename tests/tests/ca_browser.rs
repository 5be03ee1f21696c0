//! The Web Enrollment pages of `softcard ca serve` used as a person uses them, in Debian's
//! chromium (headless) driven by Selenium from PyPI, over HTTPS with basic authentication
//! (a wrong password first, refused):
//! the seed's steps (Request a certificate, advanced certificate request, the CMC request
//! `softcard enroll` wrote pasted in, the Smartcard User template, Submit) and both
//! downloads from the issued page, whose certificate holds the card's key: a signature by
//! the card verifies with it in openssl. Screenshots of the pages go to
//! `SOFTCARD_ENROLLMENT_SCREENSHOTS` when set (docs/img holds the ones docs/enrollment.md
//! shows), else to a temporary folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use softcard_tests::ca_serve::{serve, softcard, venv};
use softcard_tests::install::skip;
use softcard_tests::openssl::{self, path_str};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

#[test]
fn chromium_enrolls_through_the_web_pages() {
    let python = venv().join("bin/python");
    let selenium = python.exists()
        && Command::new(&python)
            .args(["-c", "import selenium"])
            .status()
            .is_ok_and(|s| s.success());
    let missing = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} is not installed (scripts/install-deps.sh installs it)"))
        .or_else(|| {
            (!selenium).then(|| {
                format!(
                    "no venv with selenium at {} (scripts/install-deps.sh makes it)",
                    venv().display()
                )
            })
        });
    if skip("ca_browser", missing) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let state = path("state");
    std::fs::write(path("password"), "s3cret-pw\n").unwrap();

    // The card's key and its CMC request (SHA-1), as the seed's step 7 sets them.
    let image = path("card.img");
    softcard(&["init", "--profile", "windows-vsc", path_str(&image)]);
    let request = path("request.pem");
    let made = softcard(&[
        "enroll",
        path_str(&image),
        "--subject",
        "CN=Jane Doe",
        "--upn",
        "jane@example.test",
        "--out",
        path_str(&request),
        "--json",
    ]);
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    let container = made["container"].as_str().expect("container in --json");

    let (_serve, line) = serve(&[
        "--state",
        path_str(&state),
        "--listen",
        "127.0.0.1:0",
        "--user",
        "jane",
        "--password-file",
        path_str(&path("password")),
    ]);
    let url = line.trim();
    assert!(
        url.starts_with("https://"),
        "first line is not the https URL: {url:?}"
    );

    let shots = std::env::var_os("SOFTCARD_ENROLLMENT_SCREENSHOTS")
        .map_or_else(|| path("shots"), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    let downloads = path("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ca/browser_enroll.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([url, "jane", "s3cret-pw", CHROMIUM, CHROMEDRIVER])
        .arg(state.join("tls.crt"))
        .arg(&request)
        .arg("SmartcardUser")
        .arg(&shots)
        .arg(&downloads)
        .output()
        .expect("run the browser script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 8);
    for name in ["welcome", "request", "advanced", "submit", "issued"] {
        let found = std::fs::read_dir(&shots)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("enrollment-") && n.ends_with(&format!("-{name}.png"))
            })
            .unwrap_or_else(|| panic!("no screenshot of the {name} page"));
        let png = std::fs::read(found.path()).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
    }

    // Both downloads are the one certificate, issued for the SmartcardUser template.
    let pem = downloads.join("certnew-b64.cer");
    let der = openssl::certificate_der(dir.path(), &pem, &path("from-pem.der"));
    assert_eq!(std::fs::read(downloads.join("certnew.cer")).unwrap(), der);
    let text = openssl::run(
        dir.path(),
        &["x509", "-in", path_str(&pem), "-noout", "-text"],
    )
    .ok("openssl x509 -text")
    .stdout;
    assert!(text.contains("Microsoft Smartcard Login"), "{text}");
    assert!(text.contains("S.m.a.r.t.c.a.r.d.U.s.e.r"), "{text}");
    assert!(text.contains("UPN::jane@example.test"), "{text}");

    // It holds the card's key: the card signs a challenge, openssl verifies with it.
    let public = path("public.pem");
    std::fs::write(&public, openssl::public_key_of(dir.path(), &pem)).unwrap();
    let challenge = path("challenge");
    std::fs::write(&challenge, b"browser enrollment challenge").unwrap();
    let signature = path("signature");
    softcard(&[
        "sign",
        path_str(&image),
        "--container",
        container,
        "--in",
        path_str(&challenge),
        "--out",
        path_str(&signature),
    ]);
    assert!(openssl::verify_sha256(
        dir.path(),
        &public,
        &challenge,
        &signature
    ));
    // "Install this certificate": the card takes it into the container (`cert import`
    // checks it against the container's key) and gives it back as downloaded.
    let der_download = downloads.join("certnew.cer");
    softcard(&[
        "cert",
        "import",
        path_str(&image),
        "--container",
        container,
        path_str(&der_download),
    ]);
    let exported = path("exported.cer");
    softcard(&[
        "cert",
        "export",
        path_str(&image),
        "--container",
        container,
        "--out",
        path_str(&exported),
    ]);
    assert_eq!(
        openssl::certificate_der(dir.path(), &exported, &path("exported.der")),
        der
    );
    // The twin: another signature does not verify.
    let mut bad = std::fs::read(&signature).unwrap();
    bad[10] ^= 1;
    std::fs::write(&signature, bad).unwrap();
    assert!(!openssl::verify_sha256(
        dir.path(),
        &public,
        &challenge,
        &signature
    ));
}
