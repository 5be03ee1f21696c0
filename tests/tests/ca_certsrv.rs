//! `softcard ca serve` driven by the Python `certsrv` package from PyPI (unmodified, in
//! the venv `scripts/install-deps.sh` makes), over HTTPS with the CA's certificate as the
//! client's trust anchor: `get_cert` with softcard-made CMC and PKCS#10 requests,
//! `get_ca_cert`, `get_chain`, a pending request approved with `softcard ca approve`
//! then `get_existing_cert`, a request denied with `softcard ca deny`, denials by policy
//! (unknown template, malformed base64, bad signature, ASN.1 garbage) raising
//! `RequestDeniedException` with the CA's message, a 10 MB body refused with 413, and a
//! wrong password refused with 401.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;

use softcard_tests::ca_serve::{serve, softcard, venv};
use softcard_tests::install::skip;
use softcard_tests::softcard_bin;

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

    let (_serve, line) = serve(&[
        "--state",
        &state,
        "--listen",
        "127.0.0.1:0",
        "--user",
        "jane",
        "--password-file",
        &text(&path("password")),
    ]);
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

    // The manager's commands refuse what they cannot do, and say why.
    let refused = |args: &[&str]| {
        let out = Command::new(softcard_bin::path())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "softcard {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&["ca", "approve", "--state", &state, "1"]);
    assert!(
        err.contains("request 1 is not pending (it is issued)"),
        "{err}"
    );
    let err = refused(&["ca", "deny", "--state", &state, "999"]);
    assert!(err.contains("no request 999"), "{err}");
    let err = refused(&["ca", "list", "--state", &text(&path("nowhere"))]);
    assert!(err.contains("is not a CA state directory"), "{err}");

    // --http: plain HTTP on the same state, open without --user.
    let (_http, line) = serve(&["--http", "--state", &state]);
    let addr = line
        .trim()
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/certsrv/"))
        .unwrap_or_else(|| panic!("first line is not the http URL: {line:?}"));
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /certsrv/certnew.cer?ReqID=1&Enc=b64 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("-----BEGIN CERTIFICATE-----"), "{answer}");

    // --templates: the form offers exactly the file's templates; a bad file is refused.
    let templates = path("templates.json");
    std::fs::write(
        &templates,
        r#"[{"name": "OnlyThis", "display_name": "Only this", "ekus": ["1.3.6.1.5.5.7.3.2"],
            "key_usage": ["digitalSignature"], "upn": false, "min_key_bits": 2048,
            "validity_days": 7}]"#,
    )
    .unwrap();
    let other = text(&path("other-state"));
    let (_templated, line) = serve(&[
        "--http",
        "--state",
        &other,
        "--templates",
        &text(&templates),
    ]);
    let addr = line
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches("/certsrv/");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /certsrv/certrqxt.asp HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut form = String::new();
    stream.read_to_string(&mut form).unwrap();
    assert!(
        form.contains("value=\"CertificateTemplate:OnlyThis\""),
        "{form}"
    );
    assert!(!form.contains("SmartcardUser"), "{form}");
    std::fs::write(&templates, r#"[{"name": "X", "ekus": ["not an oid"]}]"#).unwrap();
    let err = refused(&[
        "ca",
        "serve",
        "--http",
        "--state",
        &other,
        "--templates",
        &text(&templates),
    ]);
    assert!(err.contains("templates file"), "{err}");
}
