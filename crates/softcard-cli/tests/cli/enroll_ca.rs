//! `softcard enroll --ca` against `softcard ca serve` (HTTPS, basic authentication): the
//! certificate issued and installed on both profiles and checked by OpenSSL, a pending
//! request retrieved after `softcard ca approve`, a denied one, the enrollment agent's
//! flow and its refusals, and each bad input (wrong or missing password, nothing
//! listening, an untrusted certificate, a page that is no certsrv answer) refused before
//! the card is touched.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::{ok, path_in, softcard, text};

/// The password `softcard ca serve` lets in, for user `jane`.
const PASSWORD: &str = "correct horse";

/// A `softcard ca serve` on a free loopback port, stopped when dropped.
struct CaServer {
    child: Child,
    url: String,
    state: PathBuf,
    password_file: String,
}

impl CaServer {
    fn start(dir: &Path) -> CaServer {
        let state = dir.join("ca-state");
        let password_file = path_in(dir, "ca-password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("write");
        let mut child = Command::new(env!("CARGO_BIN_EXE_softcard"))
            .args(["ca", "serve", "--state"])
            .arg(&state)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--user",
                "jane",
                "--password-file",
            ])
            .arg(&password_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("softcard ca serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the URL");
        let url = line.trim().to_owned();
        assert!(url.starts_with("https://127.0.0.1:"), "{url:?}");
        CaServer {
            child,
            url,
            state,
            password_file,
        }
    }

    /// The CA's certificate: the trust anchor of its HTTPS and of what it issues.
    fn ca_cert(&self) -> String {
        self.state
            .join("ca.crt")
            .to_str()
            .expect("UTF-8")
            .to_owned()
    }

    /// `softcard enroll IMAGE --ca URL --ca-cert ... --user jane --password-file ... ARGS`.
    fn enroll(&self, image: &str, args: &[&str]) -> Output {
        let ca_cert = self.ca_cert();
        let base = [
            "enroll",
            image,
            "--ca",
            &self.url,
            "--ca-cert",
            &ca_cert,
            "--user",
            "jane",
            "--password-file",
            &self.password_file,
        ];
        softcard(&[&base[..], args].concat())
    }
}

impl Drop for CaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn new_card(dir: &Path, name: &str, profile: &str) -> String {
    let image = path_in(dir, name);
    ok(&["init", &image, "--profile", profile]);
    image
}

/// The JSON `softcard enroll --json` printed.
fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

/// The certificate of `container`, exported to `out` (PEM).
fn export(image: &str, container: &str, out: &str) {
    ok(&[
        "cert",
        "export",
        image,
        "--container",
        container,
        "--out",
        out,
    ]);
}

/// Checks that the certificate installed in `container` chains to the CA, and that the
/// card's key signs a challenge its public key verifies; returns `openssl x509 -text`.
fn check_installed(dir: &Path, ca: &CaServer, image: &str, container: &str) -> String {
    let cert = path_in(dir, "installed.pem");
    export(image, container, &cert);
    let verified = openssl(dir, &["verify", "-CAfile", &ca.ca_cert(), &cert]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    let challenge = path_in(dir, "challenge");
    std::fs::write(&challenge, b"a logon challenge").expect("write");
    let sig = path_in(dir, "challenge.sig");
    ok(&[
        "sign",
        image,
        "--container",
        container,
        "--in",
        &challenge,
        "--out",
        &sig,
    ]);
    let public = openssl(dir, &["x509", "-in", &cert, "-noout", "-pubkey"]);
    let public_pem = path_in(dir, "public.pem");
    std::fs::write(&public_pem, &public.stdout).expect("write");
    let dgst = [
        "dgst",
        "-sha256",
        "-verify",
        &public_pem,
        "-signature",
        &sig,
    ];
    let good = openssl(dir, &[&dgst[..], &[challenge.as_str()]].concat());
    assert!(good.status.success(), "{}", text(&good.stdout));
    std::fs::write(&challenge, b"another challenge").expect("write");
    let bad = openssl(dir, &[&dgst[..], &[challenge.as_str()]].concat());
    assert!(
        !bad.status.success(),
        "a signature of another message is refused"
    );
    text(&openssl(dir, &["x509", "-in", &cert, "-noout", "-text"]).stdout)
}

#[test]
fn enroll_ca_issues_and_installs_on_both_profiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    for (profile, container) in [("windows-vsc", None), ("piv", Some("9D"))] {
        let image = new_card(dir.path(), &format!("{profile}.img"), profile);
        let out = ca.enroll(
            &image,
            &[
                "--subject",
                "CN=Jane Doe,O=Example",
                "--upn",
                "jane@example.com",
                "--json",
            ],
        );
        assert!(out.status.success(), "{profile}: {}", text(&out.stderr));
        let result = json(&out);
        assert_eq!(result["status"], "issued", "{result}");
        assert_eq!(result["template"], "SmartcardUser");
        assert_eq!(result["format"], "Cmc");
        assert!(result["request_id"].as_u64().is_some(), "{result}");
        let name = result["container"].as_str().expect("container").to_owned();
        if let Some(want) = container {
            assert_eq!(name, want);
        } else {
            assert!(name.starts_with('{') && name.len() == 38, "a GUID: {name}");
        }
        let shown = check_installed(dir.path(), &ca, &image, &name);
        for want in [
            "Subject: O = Example, CN = Jane Doe",
            "Microsoft Smartcard Login",
            "TLS Web Client Authentication",
            "Public-Key: (2048 bit)",
        ] {
            assert!(shown.contains(want), "{profile}: {want:?} in {shown}");
        }
    }
    // A PKCS#10 request with SHA-256, and the request written beside.
    let image = new_card(dir.path(), "p10.img", "windows-vsc");
    let req = path_in(dir.path(), "p10.pem");
    let out = ca.enroll(
        &image,
        &["--request", "pkcs10", "--hash", "sha256", "--out", &req],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("issued by https://127.0.0.1:"), "{said}");
    assert!(
        said.contains("friendly name: Smartcard Certificate"),
        "{said}"
    );
    let printed = openssl(dir.path(), &["req", "-in", &req, "-noout", "-text"]);
    assert!(text(&printed.stdout).contains("sha256WithRSAEncryption"));
}

#[test]
fn a_pending_request_is_retrieved_after_approval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    let image = new_card(dir.path(), "card.img", "windows-vsc");
    let out = ca.enroll(&image, &["--template", "SmartcardUserApproval", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let result = json(&out);
    assert_eq!(result["status"], "pending");
    let id = result["request_id"].as_u64().expect("id").to_string();
    let container = result["container"].as_str().expect("container").to_owned();
    assert!(text(&out.stderr).contains(&format!("--retrieve {id}")));
    let listed = ok(&["cert", "list", &image]);
    assert!(listed.contains(&container), "the key waits: {listed}");

    // Asked again before approval: still pending, nothing installed.
    let again = ca.enroll(&image, &["--retrieve", &id]);
    assert_eq!(again.status.code(), Some(3), "{}", text(&again.stderr));
    let state = ca.state.to_str().expect("UTF-8");
    ok(&["ca", "approve", "--state", state, &id]);
    let retrieved = ca.enroll(&image, &["--retrieve", &id, "--json"]);
    assert!(retrieved.status.success(), "{}", text(&retrieved.stderr));
    assert_eq!(json(&retrieved)["container"], container.as_str());
    check_installed(dir.path(), &ca, &image, &container);

    // --retrieve takes no option of a new request, and a certificate for no key on the
    // card is refused.
    for option in [
        &["--subject", "CN=x"][..],
        &["--der"],
        &["--on-behalf-of", "x"],
    ] {
        let refused = ca.enroll(&image, &[&["--retrieve", id.as_str()][..], option].concat());
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{option:?}: {}",
            text(&refused.stderr)
        );
    }
    let other = new_card(dir.path(), "other.img", "windows-vsc");
    let before = std::fs::read(&other).expect("read");
    let foreign = ca.enroll(&other, &["--retrieve", &id]);
    assert!(!foreign.status.success());
    assert!(
        text(&foreign.stderr).contains("certifies no key on this card"),
        "{}",
        text(&foreign.stderr)
    );
    assert_eq!(std::fs::read(&other).expect("read"), before);
}

#[test]
fn a_denied_request_names_the_disposition_and_the_key_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    let image = new_card(dir.path(), "card.img", "piv");
    let out = ca.enroll(&image, &["--template", "NoSuchTemplate"]);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(said.contains("the CA denied the request"), "{said}");
    assert!(said.contains("NoSuchTemplate"), "the CA's message: {said}");
    assert!(
        said.contains("the key created in container 9D stays on the card, without a certificate"),
        "{said}"
    );
}

/// A loopback server that answers every request with `answer`, once per connection,
/// for `connections` connections.
fn one_page_server(body: &'static str, connections: usize) -> String {
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/certsrv", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn bad_ca_input_leaves_the_card_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    let image = new_card(dir.path(), "card.img", "windows-vsc");
    let before = std::fs::read(&image).expect("read");
    let ca_cert = ca.ca_cert();
    let wrong = path_in(dir.path(), "wrong-password");
    std::fs::write(&wrong, "guess\n").expect("write");
    let self_signed = path_in(dir.path(), "other.pem");
    let made = openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-subj",
            "/CN=other",
            "-days",
            "1",
            "-out",
            &self_signed,
        ],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("https://{}/certsrv", l.local_addr().expect("addr"))
    };
    let garbage = one_page_server("<html><head><title>Router login</title></head></html>", 2);
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "--ca",
                &ca.url,
                "--ca-cert",
                &ca_cert,
                "--user",
                "jane",
                "--password-file",
                &wrong,
            ],
            "refused the user name or password (HTTP 401)",
        ),
        (
            &["--ca", &ca.url, "--ca-cert", &ca_cert],
            "asks for a user name and password (HTTP 401)",
        ),
        (
            &[
                "--ca",
                &ca.url,
                "--ca-cert",
                &self_signed,
                "--user",
                "jane",
                "--password-file",
                &ca.password_file,
            ],
            "TLS failure",
        ),
        (
            &["--ca", &closed, "--ca-cert", &ca_cert],
            "connection was refused",
        ),
        (
            &["--ca", &garbage],
            "not a Web Enrollment answer: \"Router login\"",
        ),
        (
            &["--ca", "ftp://127.0.0.1/certsrv"],
            "neither https nor http",
        ),
    ];
    for (args, want) in cases {
        let out = softcard(&[&["enroll", image.as_str()][..], args].concat());
        let said = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(said.contains(want), "{args:?}: {want:?} in {said}");
        assert!(
            !said.contains(PASSWORD) && !said.contains("guess"),
            "{said}"
        );
        assert_eq!(
            std::fs::read(&image).expect("read"),
            before,
            "{args:?} left the card as it was"
        );
    }
}

/// The enrollment agent's card: a key and a certificate from `template`.
fn agent_card(dir: &Path, ca: &CaServer, name: &str, template: &str) -> (String, String) {
    let image = new_card(dir, name, "piv");
    let out = ca.enroll(
        &image,
        &[
            "--template",
            template,
            "--container",
            "9A",
            "--subject",
            "CN=Agent",
            "--json",
        ],
    );
    assert!(out.status.success(), "{template}: {}", text(&out.stderr));
    (
        image,
        json(&out)["container"]
            .as_str()
            .expect("container")
            .to_owned(),
    )
}

#[test]
fn an_enrollment_agent_enrolls_on_behalf_of_a_user_and_others_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    let (agent, _) = agent_card(dir.path(), &ca, "agent.img", "EnrollmentAgent");
    let user = new_card(dir.path(), "user.img", "windows-vsc");
    let request = path_in(dir.path(), "obo.der");
    let out = ca.enroll(
        &user,
        &[
            "--on-behalf-of",
            "jane@example.com",
            "--agent-image",
            &agent,
            "--subject",
            "CN=Jane Doe",
            "--out",
            &request,
            "--der",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let container = json(&out)["container"]
        .as_str()
        .expect("container")
        .to_owned();
    let shown = check_installed(dir.path(), &ca, &user, &container);
    assert!(shown.contains("Subject: CN = Jane Doe"), "{shown}");
    assert!(
        shown.contains("jane@example.com"),
        "the UPN of the user: {shown}"
    );
    let printed = openssl(
        dir.path(),
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", &request,
        ],
    );
    let printed = text(&printed.stdout);
    assert!(printed.contains("d.issuerAndSerialNumber:"), "{printed}");
    assert!(
        printed.contains("CN=Agent"),
        "the agent's certificate inside: {printed}"
    );

    // The same request with one bit of the agent's signature flipped: the CA denies it.
    let mut tampered = std::fs::read(&request).expect("read");
    *tampered.last_mut().expect("bytes") ^= 1;
    let answer = post_request(&ca, &tampered);
    assert!(answer.contains("Certificate Request Denied"), "{answer}");
    assert!(answer.contains("The disposition message is"), "{answer}");

    // An agent whose certificate lacks the Certificate Request Agent usage is refused.
    let (plain, plain_container) = agent_card(dir.path(), &ca, "plain.img", "User");
    let other = new_card(dir.path(), "other.img", "windows-vsc");
    let refused = ca.enroll(
        &other,
        &[
            "--on-behalf-of",
            "jane@example.com",
            "--agent-image",
            &plain,
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr)
            .contains("no container whose certificate has the Certificate Request Agent usage"),
        "{}",
        text(&refused.stderr)
    );
    let denied = ca.enroll(
        &other,
        &[
            "--on-behalf-of",
            "jane@example.com",
            "--agent-image",
            &plain,
            "--agent-container",
            &plain_container,
        ],
    );
    assert_eq!(denied.status.code(), Some(1));
    let said = text(&denied.stderr);
    assert!(said.contains("the CA denied the request"), "{said}");
    assert!(said.contains("not valid for the requested usage"), "{said}");
    // PKCS#10 cannot carry the agent's signature.
    let p10 = ca.enroll(
        &other,
        &[
            "--on-behalf-of",
            "x@example.com",
            "--agent-image",
            &agent,
            "--format",
            "pkcs10",
        ],
    );
    assert_eq!(p10.status.code(), Some(2), "{}", text(&p10.stderr));
}

/// Posts a DER request to certfnsh.asp as a browser's form does (Python's standard
/// library, so that the bytes are exactly these); returns the page.
fn post_request(ca: &CaServer, der: &[u8]) -> String {
    let script = r#"
import base64, ssl, sys, urllib.parse, urllib.request
url, cafile, password, der = sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin.buffer.read()
form = urllib.parse.urlencode({"Mode": "newreq", "CertRequest": base64.b64encode(der).decode(),
    "CertAttrib": "CertificateTemplate:SmartcardUser\r\n", "TargetStoreFlags": "0", "SaveCert": "yes"}).encode()
auth = base64.b64encode(("jane:" + password).encode()).decode()
request = urllib.request.Request(url.rstrip("/") + "/certfnsh.asp", data=form, headers={"Authorization": "Basic " + auth})
with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=cafile)) as answer:
    sys.stdout.write(answer.read().decode())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &ca.url, &ca.ca_cert(), PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(der)
        .expect("write");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn the_password_comes_from_the_environment_or_is_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CaServer::start(dir.path());
    let image = new_card(dir.path(), "card.img", "piv");
    let ca_cert = ca.ca_cert();
    let base = [
        "enroll",
        &image,
        "--ca",
        &ca.url,
        "--ca-cert",
        &ca_cert,
        "--user",
        "jane",
    ];
    let before = std::fs::read(&image).expect("read");
    let missing = softcard(&base);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("SOFTCARD_CA_PASSWORD"),
        "{}",
        text(&missing.stderr)
    );
    let wrong = path_in(dir.path(), "wrong");
    std::fs::write(&wrong, "nope").expect("write");
    let refused = super::softcard_env(&base, &[("SOFTCARD_CA_PASSWORD_FILE", wrong.as_str())]);
    assert!(
        text(&refused.stderr).contains("HTTP 401"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(std::fs::read(&image).expect("read"), before);
    let issued = super::softcard_env(&base, &[("SOFTCARD_CA_PASSWORD", PASSWORD)]);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    assert!(text(&issued.stdout).contains("installed on the card"));
}
