//! The server over plain HTTP, spoken to with raw requests: basic authentication and its
//! failing twins, an oversized body refused with 413 while the server keeps serving,
//! unknown pages and methods, and a PKCS#10 issued through `certfnsh.asp` and fetched
//! back through `certnew.cer`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use softcard::crypto::{BackendKind, KeyAlgorithm, PrivateKey};
use softcard_ca::{Credentials, Server, ServerOptions, State, Template};
use softcard_enroll::{KeySigner, Request, RequestFormat, RequestOptions};
use zeroize::Zeroizing;

const AUTH: &str = "Authorization: Basic amFuZTpwdw==\r\n"; // jane:pw

fn start(dir: &std::path::Path) -> SocketAddr {
    let mut rng = softcard::seeded_rng(1);
    let state = State::open_or_create(dir, "CN=Test CA", Template::builtin(), &mut rng).unwrap();
    let server = Server::bind(
        state,
        ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            https: false,
            credentials: Some(Credentials::new("jane", Zeroizing::new("pw".into()))),
            log: true,
        },
    )
    .unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());
    addr
}

/// Sends `head` (request line and headers, without the blank line) and `body`; returns
/// the status and the whole response.
fn send(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("{head}Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text:?}"));
    (status, text)
}

fn get(addr: SocketAddr, path: &str, auth: &str) -> (u16, String) {
    send(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}"),
        b"",
    )
}

#[test]
fn the_pages_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(dir.path());

    // Authentication: none, a wrong password, another user, then the right one.
    let (status, text) = get(addr, "/certsrv/", "");
    assert_eq!(status, 401);
    assert!(text.contains("WWW-Authenticate: Basic realm=\"softcard ca\""));
    assert_eq!(
        get(addr, "/certsrv/", "Authorization: Basic amFuZTpwdXg=\r\n").0,
        401
    ); // jane:pux
    assert_eq!(
        get(addr, "/certsrv/", "Authorization: Basic am9objpwdw==\r\n").0,
        401
    ); // john:pw
    assert_eq!(
        get(addr, "/certsrv/", "Authorization: Basic !!!\r\n").0,
        401
    );
    let (status, text) = get(addr, "/certsrv/", AUTH);
    assert_eq!(status, 200);
    assert!(text.contains("Request a certificate"));

    // Pages and methods.
    assert_eq!(get(addr, "/certsrv/nothing.asp", AUTH).0, 404);
    assert_eq!(get(addr, "/certsrv/certfnsh.asp", AUTH).0, 405);
    let (_, form) = get(addr, "/certsrv/certrqxt.asp", AUTH);
    assert!(
        form.contains("name=\"CertRequest\"") && form.contains("CertificateTemplate:SmartcardUser")
    );
    let (_, carc) = get(addr, "/certsrv/certcarc.asp", AUTH);
    assert!(carc.contains("var nRenewals=0;"));

    // A 10 MB body: 413, and the server still answers.
    let head = format!("POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: x\r\n{AUTH}");
    let (status, _) = send(addr, &head, &vec![b'A'; 10 * 1024 * 1024]);
    assert_eq!(status, 413);
    let (status, text) = get(addr, "/certsrv/certnew.cer?ReqID=CACert&Enc=b64", AUTH);
    assert_eq!(status, 200);
    assert!(text.contains("Content-Type: application/pkix-cert"));
    assert!(text.contains("-----BEGIN CERTIFICATE-----\r\n"));

    // A PKCS#10 through the form, issued, fetched in DER and as a chain.
    let key = PrivateKey::generate(
        BackendKind::RustCrypto,
        KeyAlgorithm::Rsa2048,
        &mut softcard::seeded_rng(2),
    )
    .unwrap();
    let mut signer = KeySigner::new(&key, softcard::seeded_rng(3));
    let options = RequestOptions::smartcard_user("CN=Jane Doe");
    let pem = Request::build(RequestFormat::Pkcs10, &options, &mut signer)
        .unwrap()
        .to_pem();
    let encoded: String = pem
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = format!(
        "Mode=newreq&CertRequest={encoded}&CertAttrib=CertificateTemplate%3AUser%0D%0A&TargetStoreFlags=0&SaveCert=yes"
    );
    let (status, page) = send(addr, &head, body.as_bytes());
    assert_eq!(status, 200);
    assert!(page.contains("Certificate Issued"), "{page}");
    assert!(page.contains("certnew.cer?ReqID=1&amp;Enc=b64"));
    let (_, der) = get(addr, "/certsrv/certnew.cer?ReqID=1&Enc=bin", AUTH);
    assert!(der.contains("Content-Type: application/pkix-cert"));
    let (_, p7b) = get(addr, "/certsrv/certnew.p7b?ReqID=1&Enc=b64", AUTH);
    assert!(
        p7b.contains("application/x-pkcs7-certificates") && p7b.contains("-----BEGIN PKCS7-----")
    );
    // An unknown request: an HTML page with the disposition message, no certificate.
    let (_, none) = get(addr, "/certsrv/certnew.cer?ReqID=99&Enc=b64", AUTH);
    assert!(
        none.contains("Content-Type: text/html")
            && none.contains("Disposition message:</td>\r\n\t\tno request 99")
    );
}
