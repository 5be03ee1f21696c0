//! The enrollment flow as a user runs it, with the `softcard` command line, OpenSSL as the
//! CA and OpenSC reading the result, on both profiles and both routes (the drop-in,
//! `softcard exec`; pcscd with vpcd, `softcard serve`, where the card is taken out of the
//! reader while `softcard` writes its image).
//!
//! `softcard enroll` makes a key and a CMC (or PKCS#10) request; `openssl cms -cmsout
//! -print` and `asn1parse` read the CMC, the PKCS#10 taken out of it passes `openssl req
//! -verify`, `openssl x509 -req` issues the certificate, which verifies the CMC's own
//! signature (`openssl cms -verify`); `softcard cert import` installs it, and OpenSC's
//! `pkcs15-tool --read-certificate` reads back the same DER, and `pkcs11-tool` signs with the
//! certified key. Each check has its failing twin (a flipped bit in a signature).
//!
//! A GIDS card is shared by softcard's enrollment client and OpenSC: containers made by one
//! are listed and used by the other, with the key map records (12 bytes each) both write.

use std::path::Path;

use softcard::gids::minidriver::{CONTAINER_DEFAULT, CONTAINER_VALID};
use softcard_enroll::minidriver::{KEYMAP_EXCHANGE, KEYMAP_RECORD_LEN, KeymapRecord};
use softcard_tests::clients::{Route, Session};
use softcard_tests::gids_image::GidsImage;
use softcard_tests::gids_opensc::{
    DEFAULT_PIN, check_signatures, dump, generate_key, read_certificate, read_public_key,
};
use softcard_tests::openssl::{self, Ca, path_str};

/// The subject every request asks for (RFC 4514 order).
const SUBJECT: &str = "CN=Jane Doe,O=Example";
/// The user principal name in the requests' subjectAltName.
const UPN: &str = "jane@example.com";

softcard_tests::on_both_routes!(
    windows_vsc_cmc_sha1_issued_by_openssl_and_read_by_opensc,
    piv_cmc_sha1_in_9a_issued_by_openssl_and_read_by_opensc,
    windows_vsc_pkcs10_issued_by_openssl_and_read_by_opensc,
    piv_pkcs10_in_9d_issued_by_openssl_and_read_by_opensc,
    gids_containers_of_softcard_and_opensc_side_by_side,
);

/// One enrollment: the card, the `softcard enroll` options, and where OpenSC finds the key.
struct Enrollment {
    profile: &'static str,
    /// The word in the drop-in reader's name.
    label: &'static str,
    seed: u64,
    /// `--container`; `None` for the automatic one.
    container: Option<&'static str>,
    format: &'static str,
    hash: &'static str,
    /// The container `softcard enroll` must report; `None` for a GUID (GIDS, automatic).
    expected_container: Option<&'static str>,
    /// The key's and certificate's PKCS#15 ID in OpenSC (GIDS: the container number; PIV:
    /// 01 for 9A, 03 for 9D).
    pkcs15_id: &'static str,
    /// How `openssl req -text` names the request's signature algorithm.
    signature_algorithm: &'static str,
}

fn windows_vsc_cmc_sha1_issued_by_openssl_and_read_by_opensc(route: Route) {
    enroll_issue_install_read(
        route,
        &Enrollment {
            profile: "windows-vsc",
            label: "GIDS",
            seed: 61,
            container: None,
            format: "cmc",
            hash: "sha1",
            expected_container: None,
            pkcs15_id: "00",
            signature_algorithm: "sha1WithRSAEncryption",
        },
    );
}

fn piv_cmc_sha1_in_9a_issued_by_openssl_and_read_by_opensc(route: Route) {
    enroll_issue_install_read(
        route,
        &Enrollment {
            profile: "piv",
            label: "PIV",
            seed: 62,
            container: Some("9A"),
            format: "cmc",
            hash: "sha1",
            expected_container: Some("9A"),
            pkcs15_id: "01",
            signature_algorithm: "sha1WithRSAEncryption",
        },
    );
}

fn windows_vsc_pkcs10_issued_by_openssl_and_read_by_opensc(route: Route) {
    enroll_issue_install_read(
        route,
        &Enrollment {
            profile: "windows-vsc",
            label: "GIDS",
            seed: 63,
            container: Some("jane-pkcs10"),
            format: "pkcs10",
            hash: "sha256",
            expected_container: Some("jane-pkcs10"),
            pkcs15_id: "00",
            signature_algorithm: "sha256WithRSAEncryption",
        },
    );
}

fn piv_pkcs10_in_9d_issued_by_openssl_and_read_by_opensc(route: Route) {
    enroll_issue_install_read(
        route,
        &Enrollment {
            profile: "piv",
            label: "PIV",
            seed: 64,
            container: None,
            format: "pkcs10",
            hash: "sha1",
            expected_container: Some("9D"),
            pkcs15_id: "03",
            signature_algorithm: "sha1WithRSAEncryption",
        },
    );
}

/// `softcard enroll IMAGE ARGS --out OUT` (PEM) on the session's card; returns the
/// container it names.
fn enroll(s: &mut Session, args: &[&str], out: &Path) -> String {
    let image = path_str(s.image()).to_string();
    let all = [
        &["enroll", image.as_str()][..],
        args,
        &["--out", path_str(out)],
    ]
    .concat();
    let run = s.softcard(&all).ok("softcard enroll");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("container: "))
        .unwrap_or_else(|| panic!("no container named by softcard enroll:\n{}", run.text()))
        .to_string()
}

/// Whether `name` is an automatic GIDS container name, `{8-4-4-4-12}` upper-case hex.
fn is_guid(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) else {
        return false;
    };
    let groups: Vec<_> = inner.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12]
        && inner
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('A'..='F').contains(&c))
}

/// A copy of `file` with one bit of its last byte flipped (inside the final signature).
fn flip_last_bit(file: &Path, out: &Path) {
    let mut bytes = std::fs::read(file).expect("read");
    *bytes.last_mut().expect("not empty") ^= 1;
    std::fs::write(out, bytes).expect("write");
}

fn enroll_issue_install_read(route: Route, e: &Enrollment) {
    let test = format!("enroll {} {} ({route:?})", e.profile, e.format);
    let Some(mut s) = Session::open_profile(route, e.profile, e.label, e.seed, &test) else {
        return;
    };
    let dir = s.path("");

    // softcard enroll: the key is made on the card, the request signed by it.
    let req_pem = s.path("req.pem");
    let mut args = vec!["--format", e.format, "--hash", e.hash];
    args.extend(["--subject", SUBJECT, "--upn", UPN]);
    if let Some(c) = e.container {
        args.extend(["--container", c]);
    }
    let container = enroll(&mut s, &args, &req_pem);
    match e.expected_container {
        Some(want) => assert_eq!(container, want),
        None => assert!(is_guid(&container), "an automatic name: {container}"),
    }
    let pem = std::fs::read_to_string(&req_pem).expect("the request");
    let label = if e.format == "cmc" {
        "CMS"
    } else {
        "CERTIFICATE REQUEST"
    };
    assert!(
        pem.starts_with(&format!("-----BEGIN {label}-----\n")),
        "{pem}"
    );
    // The DER inside the PEM, byte for byte (asn1parse writes what it parsed).
    let req_der = s.path("req.der");
    let to_der = ["asn1parse", "-inform", "PEM", "-in", path_str(&req_pem)];
    openssl::run(
        &dir,
        &[&to_der[..], &["-noout", "-out", path_str(&req_der)]].concat(),
    )
    .ok("openssl asn1parse -out");

    // The PKCS#10: the request itself, or the one inside the CMC.
    let inner = s.path("inner.der");
    if e.format == "cmc" {
        let print = ["cms", "-cmsout", "-print", "-inform", "DER", "-in"];
        let printed = openssl::run(&dir, &[&print[..], &[path_str(&req_der)]].concat())
            .ok("openssl cms -cmsout -print")
            .stdout;
        let digest = format!("algorithm: {} (1.3.14.3.2.26)", e.hash);
        for want in [
            "contentType: pkcs7-signedData (1.2.840.113549.1.7.2)",
            "eContentType: id-cct-PKIData (1.3.6.1.5.5.7.12.2)",
            "d.subjectKeyIdentifier:",
            "object: messageDigest (1.2.840.113549.1.9.4)",
            &digest,
        ] {
            assert!(printed.contains(want), "{want:?} in:\n{printed}");
        }
        openssl::cmc_request(&dir, &req_der, &inner);
    } else {
        std::fs::copy(&req_der, &inner).expect("copy");
    }
    let verify = ["req", "-verify", "-noout", "-inform", "DER", "-in"];
    let verified =
        openssl::run(&dir, &[&verify[..], &[path_str(&inner)]].concat()).ok("openssl req -verify");
    assert!(verified.text().contains("verify OK"), "{}", verified.text());
    // The twin. OpenSSL 3.0's `req -verify` exits 0 whether or not the signature
    // verifies: its message tells.
    let tampered = s.path("inner-tampered.der");
    flip_last_bit(&inner, &tampered);
    let refused = openssl::run(&dir, &[&verify[..], &[path_str(&tampered)]].concat()).text();
    assert!(
        refused.contains("verify failure") && !refused.contains("verify OK"),
        "openssl req -verify of a request with a flipped signature bit:\n{refused}"
    );
    let text = ["req", "-text", "-noout", "-inform", "DER", "-in"];
    let text = openssl::run(&dir, &[&text[..], &[path_str(&inner)]].concat())
        .ok("openssl req -text")
        .stdout;
    for want in [
        "Subject: O = Example, CN = Jane Doe",
        "othername: UPN::jane@example.com",
        "Microsoft Smartcard Login",
        "TLS Web Client Authentication",
        "Public-Key: (2048 bit)",
        e.signature_algorithm,
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }

    // A CA run by openssl issues the certificate, which also verifies the CMC's signature
    // (the signer is found by its subject key identifier).
    let ca = Ca::new(&dir);
    let cert_pem = s.path("issued.pem");
    ca.issue(&inner, 0x5EED, &cert_pem);
    let chain = ["verify", "-CAfile", path_str(ca.certificate())];
    openssl::run(&dir, &[&chain[..], &[path_str(&cert_pem)]].concat()).ok("openssl verify");
    if e.format == "cmc" {
        let cms = ["cms", "-verify", "-inform", "DER", "-purpose", "any"];
        let with = ["-CAfile", path_str(ca.certificate()), "-certfile"];
        let checked = s.path("pkidata-verified.der");
        let out = ["-out", path_str(&checked), "-in"];
        let cms_verify = |cmc: &Path| {
            let args = [
                &cms[..],
                &with,
                &[path_str(&cert_pem)],
                &out,
                &[path_str(cmc)],
            ];
            openssl::run(&dir, &args.concat())
        };
        cms_verify(&req_der).ok("openssl cms -verify");
        assert_eq!(
            std::fs::read(&checked).expect("verified content"),
            std::fs::read(s.path("pkidata.der")).expect("PKIData"),
            "the verified content is the PKIData the request was taken from"
        );
        let tampered = s.path("req-tampered.der");
        flip_last_bit(&req_der, &tampered);
        cms_verify(&tampered).fails("openssl cms -verify of a CMC with a flipped signature bit");
    }

    // softcard cert import installs it; OpenSC reads the same certificate back.
    let image = path_str(s.image()).to_string();
    let import = ["cert", "import", &image, "--container", &container];
    let imported = s
        .softcard(&[&import[..], &[path_str(&cert_pem)]].concat())
        .ok("softcard cert import");
    assert!(imported.stdout.contains(&container), "{}", imported.stdout);
    let issued = openssl::certificate_der(&dir, &cert_pem, &s.path("issued.der"));
    assert_eq!(read_certificate(&s, e.pkcs15_id, "issued"), issued);
    let fingerprint = |pem: &Path| {
        let args = ["x509", "-noout", "-fingerprint", "-sha256", "-in"];
        openssl::run(&dir, &[&args[..], &[path_str(pem)]].concat())
            .ok("openssl x509 -fingerprint")
            .stdout
    };
    assert_eq!(
        fingerprint(&s.path("read-issued.pem")),
        fingerprint(&cert_pem)
    );

    // The card signs with the certified key (OpenSC's PKCS#11 module; openssl verifies
    // with the certificate's public key).
    let public_pem = s.path("issued.pub.pem");
    std::fs::write(&public_pem, openssl::public_key_of(&dir, &cert_pem)).expect("write");
    check_signatures(&s, e.pkcs15_id, &public_pem);
}

fn gids_containers_of_softcard_and_opensc_side_by_side(route: Route) {
    let test = format!("gids: softcard enroll and pkcs11-tool ({route:?})");
    let Some(mut s) = Session::open_gids(route, 65, false, &test) else {
        return;
    };
    let dir = s.path("");
    let pkcs10 = ["--format", "pkcs10", "--subject"];
    let first_req = s.path("first.pem");
    let first = enroll(&mut s, &[&pkcs10[..], &["CN=first"]].concat(), &first_req);
    generate_key(&s, 2048, "x");
    let second_req = s.path("second.pem");
    let second = enroll(&mut s, &[&pkcs10[..], &["CN=second"]].concat(), &second_req);
    assert!(is_guid(&first) && is_guid(&second) && first != second);

    // On the card: three containers in cmapfile, and a 12-byte key map record for each
    // (OpenSC and Windows read a record at 1 + 12 * index).
    let mut image = GidsImage::load(s.image());
    let records: Vec<_> = image
        .containers()
        .into_iter()
        .map(|r| (r.name, r.flags, r.kx_key_bits))
        .collect();
    let valid = CONTAINER_VALID;
    assert_eq!(
        records,
        [
            (first.clone(), valid | CONTAINER_DEFAULT, 2048),
            ("x".into(), valid, 2048),
            (second.clone(), valid, 2048),
        ]
    );
    let keymap = image.keymap(DEFAULT_PIN.as_bytes());
    assert_eq!(keymap.len(), 1 + 3 * KEYMAP_RECORD_LEN, "{keymap:02X?}");
    assert_eq!(keymap[0], 1, "key map version");
    for (index, record) in (0u16..).zip(keymap[1..].chunks(KEYMAP_RECORD_LEN)) {
        let want = KeymapRecord {
            state: 1,
            algid: record[4],
            keytype: KEYMAP_EXCHANGE,
            keyref: 0xB081 + index,
        };
        assert_eq!(record, want.encode(), "key map record {index}");
    }
    assert!(
        keymap[1..]
            .chunks(KEYMAP_RECORD_LEN)
            .all(|r| r[4] == keymap[5]),
        "one algorithm for three RSA-2048 keys: {keymap:02X?}"
    );

    // OpenSC lists the three keys, each with its own key reference and ID.
    let listed = dump(&s);
    let x = "x".to_string();
    let containers = [
        (&first, "00", "129 (0x81)"),
        (&x, "01", "130 (0x82)"),
        (&second, "02", "131 (0x83)"),
    ];
    for (name, id, key_ref) in &containers {
        let block = listed
            .split("\n\n")
            .find(|b| b.starts_with(&format!("Private RSA Key [{name}]")))
            .unwrap_or_else(|| panic!("no private key {name} in:\n{listed}"));
        for want in [
            format!("ID             : {id}"),
            format!("Key ref        : {key_ref}"),
        ] {
            assert!(block.contains(&want), "{want:?} in:\n{block}");
        }
    }

    // pkcs11-tool signs with each key; a container softcard made holds the key its
    // request carries.
    for (name, id, _) in &containers {
        let public_pem = read_public_key(&s, id);
        let request = [(&first, &first_req), (&second, &second_req)];
        if let Some((_, req)) = request.iter().find(|(n, _)| n == name) {
            let args = ["req", "-pubkey", "-noout", "-in", path_str(req)];
            let requested = openssl::run(&dir, &args).ok("openssl req -pubkey").stdout;
            let read = std::fs::read_to_string(&public_pem).expect("public key");
            assert_eq!(read, requested, "the key of {name}");
        }
        check_signatures(&s, id, &public_pem);
    }

    // softcard sees OpenSC's container too, and signs with its key.
    let image = path_str(s.image()).to_string();
    let list = s
        .softcard(&["cert", "list", &image])
        .ok("softcard cert list");
    for name in [&first, "x", &second] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} "))),
            "{name} in:\n{}",
            list.stdout
        );
    }
    let message = s.path("message.txt");
    std::fs::write(&message, b"softcard signs with OpenSC's key\n").expect("write");
    let signature = s.path("x.sig");
    let sign = [
        "sign",
        &image,
        "--container",
        "x",
        "--in",
        path_str(&message),
    ];
    s.softcard(&[&sign[..], &["--out", path_str(&signature)]].concat())
        .ok("softcard sign --container x");
    let x_public = s.path("01.pub.pem");
    assert!(openssl::verify_sha256(
        &dir, &x_public, &message, &signature
    ));
}
