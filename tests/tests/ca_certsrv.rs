//! `softcard ca serve` driven by the Python `certsrv` package from PyPI (unmodified, in
//! the venv `scripts/install-deps.sh` makes), over HTTPS with the CA's certificate as the
//! client's trust anchor: `get_cert` with softcard-made CMC and PKCS#10 requests,
//! `get_ca_cert`, `get_chain`, a pending request approved with `softcard ca approve`
//! then `get_existing_cert`, a request denied with `softcard ca deny`, denials by policy
//! (unknown template, malformed base64, bad signature, ASN.1 garbage) raising
//! `RequestDeniedException` with the CA's message, a 10 MB body refused with 413, and a
//! wrong password refused with 401.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use softcard_tests::install::skip;
use softcard_tests::softcard_bin;

/// The venv with `certsrv` (`SOFTCARD_CERTSRV_VENV`, else the folder install-deps uses).
fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOFTCARD_CERTSRV_VENV") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("softcard-certsrv-venv")
}

/// `softcard ca serve`, killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn softcard(args: &[&str]) -> String {
    let out = Command::new(softcard_bin::path())
        .args(args)
        .output()
        .expect("run softcard");
    assert!(
        out.status.success(),
        "softcard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_certsrv_package_enrolls_against_softcard_ca() {
    let python = venv().join("bin/python");
    let missing = (!python.exists()).then(|| {
        format!(
            "no certsrv venv at {} (scripts/install-deps.sh makes it)",
            venv().display()
        )
    });
    if skip("ca_certsrv", missing) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let text = |p: &Path| p.to_str().unwrap().to_string();
    let state = text(&path("state"));
    std::fs::write(path("password"), "s3cret-pw\n").unwrap();

    // The requests: a card's key, CMC with SHA-1 (the seed's) and PKCS#10 with SHA-256.
    let image = text(&path("card.img"));
    softcard(&["init", "--profile", "windows-vsc", &image]);
    let cmc = text(&path("cmc.pem"));
    let p10 = text(&path("p10.pem"));
    softcard(&[
        "enroll",
        &image,
        "--subject",
        "CN=Jane Doe",
        "--upn",
        "jane@example.test",
        "--out",
        &cmc,
    ]);
    softcard(&[
        "enroll",
        &image,
        "--format",
        "pkcs10",
        "--hash",
        "sha256",
        "--subject",
        "CN=Jane Doe",
        "--out",
        &p10,
    ]);

    let mut child = Command::new(softcard_bin::path())
        .args(["ca", "serve", "--state", &state, "--listen", "127.0.0.1:0"])
        .args([
            "--user",
            "jane",
            "--password-file",
            &text(&path("password")),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softcard ca serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serve = Serve(child);
    let url = line.trim();
    let server = url
        .strip_prefix("https://")
        .and_then(|u| u.strip_suffix("/certsrv/"))
        .unwrap_or_else(|| panic!("first line is not the https URL: {url:?}"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ca/certsrv_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([
            server,
            &format!("{state}/ca.crt"),
            "jane",
            "s3cret-pw",
            &cmc,
            &p10,
        ])
        .arg(softcard_bin::path())
        .arg(&state)
        // requests lets these override the client's own trust anchor (`cafile`).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("run the certsrv client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "certsrv client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 12);

    // The database as `softcard ca list` shows it.
    let list = softcard(&["ca", "list", "--state", &state]);
    let issued = list.lines().filter(|l| l.contains("\tissued\t")).count();
    let denied = list.lines().filter(|l| l.contains("\tdenied\t")).count();
    assert_eq!((issued, denied), (3, 5), "{list}");
}
