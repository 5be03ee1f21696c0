//! The seed's flow with a CA over HTTP, as a user runs it: `softcard ca serve` (HTTPS,
//! basic authentication) and `softcard enroll --ca`, on both profiles and both routes (the
//! drop-in, `softcard exec`; pcscd with vpcd, `softcard serve`). OpenSC then reads the
//! issued certificate back (`pkcs15-tool --read-certificate`), the same DER as the CA's
//! `certnew.cer`, chained to the CA by `openssl verify`, and its key signs a challenge
//! through OpenSC's PKCS#11 module that OpenSSL verifies with the certificate's key (and
//! refuses over another message). A wrong password is refused first, with the card left
//! as it was.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use softcard_tests::clients::{Route, Session};
use softcard_tests::gids_opensc::{check_signatures, read_certificate};
use softcard_tests::openssl::{self, path_str};
use softcard_tests::softcard_bin;

softcard_tests::on_both_routes!(
    windows_vsc_enrolled_through_the_ca_is_read_by_opensc,
    piv_enrolled_through_the_ca_is_read_by_opensc,
);

/// `softcard ca serve` on a free loopback port, stopped when dropped.
struct CaServer {
    child: Child,
    url: String,
    state: PathBuf,
}

impl CaServer {
    fn start(dir: &Path, password_file: &Path) -> CaServer {
        let state = dir.join("ca-state");
        let mut child = Command::new(softcard_bin::path())
            .args(["ca", "serve", "--listen", "127.0.0.1:0", "--user", "jane"])
            .arg("--state")
            .arg(&state)
            .arg("--password-file")
            .arg(password_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("softcard ca serve starts");
        let mut url = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut url)
            .expect("the URL");
        CaServer {
            child,
            url: url.trim().to_owned(),
            state,
        }
    }
}

impl Drop for CaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The arguments as `&str`.
fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn windows_vsc_enrolled_through_the_ca_is_read_by_opensc(route: Route) {
    enroll_through_the_ca(route, "windows-vsc", "GIDS", 71, "00");
}

fn piv_enrolled_through_the_ca_is_read_by_opensc(route: Route) {
    enroll_through_the_ca(route, "piv", "PIV", 72, "03");
}

/// Enrolls the session's card through `softcard ca serve`; `pkcs15_id` is where OpenSC
/// finds the key (GIDS: container 0; PIV: 03 for 9D).
fn enroll_through_the_ca(route: Route, profile: &str, label: &str, seed: u64, pkcs15_id: &str) {
    let test = format!("enroll --ca {profile} ({route:?})");
    let Some(mut s) = Session::open_profile(route, profile, label, seed, &test) else {
        return;
    };
    let dir = s.path("");
    let password = s.path("password");
    std::fs::write(&password, "jane's secret\n").expect("write");
    let wrong = s.path("wrong");
    std::fs::write(&wrong, "guess\n").expect("write");
    let ca = CaServer::start(&dir, &password);
    let ca_cert = ca.state.join("ca.crt");
    let image = path_str(s.image()).to_owned();
    let enroll = |password: &Path| {
        vec![
            "enroll".to_owned(),
            image.clone(),
            "--ca".into(),
            ca.url.clone(),
            "--ca-cert".into(),
            path_str(&ca_cert).into(),
            "--user".into(),
            "jane".into(),
            "--password-file".into(),
            path_str(password).into(),
            "--subject".into(),
            "CN=Jane Doe,O=Example".into(),
            "--upn".into(),
            "jane@example.com".into(),
        ]
    };

    // The twin first: a wrong password is refused before the card is touched.
    let before = std::fs::read(s.image()).expect("read");
    let refused = s
        .softcard(&args(&enroll(&wrong)))
        .fails("softcard enroll --ca with a wrong password");
    assert!(
        refused.stderr.contains("HTTP 401") && !refused.stderr.contains("guess"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(s.image()).expect("read"), before);

    let done = s
        .softcard(&args(&enroll(&password)))
        .ok("softcard enroll --ca");
    let container = done
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("container: "))
        .unwrap_or_else(|| panic!("no container in:\n{}", done.text()))
        .to_owned();
    let request_id = done
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("request: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no request in:\n{}", done.text()))
        .to_owned();

    // OpenSC reads back what the CA issued; it chains to the CA.
    let issued_pem = s.path("issued.pem");
    s.softcard(&[
        "cert",
        "export",
        &image,
        "--container",
        &container,
        "--out",
        path_str(&issued_pem),
    ])
    .ok("softcard cert export");
    let issued = openssl::certificate_der(&dir, &issued_pem, &s.path("issued.der"));
    assert_eq!(read_certificate(&s, pkcs15_id, "issued"), issued);
    openssl::run(
        &dir,
        &[
            "verify",
            "-CAfile",
            path_str(&ca_cert),
            path_str(&issued_pem),
        ],
    )
    .ok("openssl verify");
    let listed = softcard_bin::run(&["ca", "list", "--state", path_str(&ca.state)]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{request_id}\t")) && l.contains("SmartcardUser")),
        "request {request_id} in the CA's list:\n{listed}"
    );

    // The certified key signs through OpenSC; OpenSSL verifies with the certificate's key.
    let public_pem = s.path("issued.pub.pem");
    std::fs::write(&public_pem, openssl::public_key_of(&dir, &issued_pem)).expect("write");
    check_signatures(&s, pkcs15_id, &public_pem);
}
