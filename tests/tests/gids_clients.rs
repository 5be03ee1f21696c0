//! The Windows virtual smart card profile (`windows-vsc`, a GIDS card) driven by OpenSC's
//! tools, each flow on both routes: the daemonless drop-in (`softcard exec`) and pcscd with
//! vpcd (`softcard serve`; skipped, with a message, where pcscd cannot run).
//!
//! opensc-tool names the card and reads its ATR; gids-tool initializes a blank card,
//! changes the administrator key and unblocks the PIN; pkcs11-tool (OpenSC's PKCS#11
//! module) generates a key, signs, deciphers and stores a certificate, which OpenSSL checks;
//! pkcs15-tool lists what the card holds. What the clients write is read back from the
//! card image with softcard's own minidriver parsers, and again after a restart. Every
//! authentication has its failing twin: wrong PIN, wrong administrator key, blocked PIN.

use softcard::gids::minidriver::{
    CARDCF_DO, CONTAINER_DEFAULT, CONTAINER_VALID, CardCf, EVERYONE_READ_USER_WRITE_EF,
};
use softcard_tests::clients::{Route, Session};
use softcard_tests::gids_image::GidsImage;
use softcard_tests::gids_opensc::{
    DEFAULT_PIN, assert_pin_incorrect, check_decryption, check_signatures, colon_hex, dump,
    generate_key, gids_tool, hex_bytes, hex_lower, login, pin_status_in_image, pkcs11_as_user,
    read_certificate, read_public_key, reader, status_words, store_certificate, tries_left, verify,
};
use softcard_tests::openssl::{self, path_str};

/// The administrator key a card is created with (`tpmvscmgr ... /adminkey default`).
const DEFAULT_ADMIN_KEY: &str = "010203040506070801020304050607080102030405060708";
/// Another 3DES administrator key.
const OTHER_ADMIN_KEY: &str = "A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8";
/// The ATR of a Windows TPM virtual smart card, as OpenSC prints it.
const ATR: &str = "3b:8d:01:80:fb:a0:00:00:03:97:42:54:46:59:03:01:c8";
/// SELECT of the GIDS application (the AID prefix OpenSC uses).
const SELECT: &str = "00A4040009A0000003974254465900";

softcard_tests::on_both_routes!(
    opensc_names_the_card_and_reads_its_atr,
    gids_tool_initializes_a_blank_card,
    gids_tool_changes_the_admin_key,
    gids_tool_unblocks_a_blocked_pin,
    pkcs11_keys_sign_decrypt_and_certificates_survive_a_restart,
    pkcs11_changes_the_pin_and_deletes_a_key,
    pkcs11_imports_a_key_and_files_a_signing_certificate,
);

fn opensc_names_the_card_and_reads_its_atr(route: Route) {
    let Some(s) = Session::open_gids(route, 41, false, "gids: opensc-tool -n / -a") else {
        return;
    };
    let name = s.run("opensc-tool", &["-n"]).ok("opensc-tool -n");
    assert_eq!(name.stdout.trim(), "GIDS Smart Card");
    let atr = s.run("opensc-tool", &["-a"]).ok("opensc-tool -a");
    assert_eq!(atr.stdout.trim(), ATR);
    let mut image = GidsImage::load(s.image());
    assert_eq!(atr.stdout.trim(), colon_hex(image.atr()));

    // The token is named after the card and its PIN; the serial number is the cardid.
    let card_id = hex_lower(&image.card_id());
    let slots = s.pkcs11(&["--list-slots"]).ok("pkcs11-tool -L");
    let text = slots.stdout;
    for line in [
        format!("Slot 0 (0x0): {}", reader(route)),
        "token label        : GIDS card (UserPIN)".into(),
        "token manufacturer : www.mysmartlogon.com".into(),
        format!("serial num         : {}", &card_id[16..]),
    ] {
        assert!(text.contains(&line), "{line:?} in:\n{text}");
    }
    assert!(text.contains("PIN initialized"), "{text}");
    let dump = s.run("pkcs15-tool", &["--dump"]).ok("pkcs15-tool -D");
    assert!(
        dump.stdout.contains(&format!("Serial number  : {card_id}")),
        "{}",
        dump.stdout
    );
}

fn gids_tool_initializes_a_blank_card(route: Route) {
    let Some(s) = Session::open_gids(route, 42, true, "gids: gids-tool -X") else {
        return;
    };
    // Blank: no PIN, and OpenSC finds no PKCS#15 application to bind to.
    assert_eq!(
        status_words(&s, &[SELECT, &verify(DEFAULT_PIN)]),
        ["9000", "6A88"]
    );
    s.run("pkcs15-tool", &["--dump"])
        .fails("pkcs15-tool -D on a blank card");

    let serial = "00112233445566778899AABBCCDDEEFF";
    let init = [
        "-X",
        "--pin",
        "24682468",
        "--serial-number",
        serial,
        "--admin-key",
        OTHER_ADMIN_KEY,
    ];
    gids_tool(&s, &init).ok("gids-tool -X");
    // Initializing again fails (gids-tool 0.23 exits 0 all the same: the message tells),
    // and changes nothing: the serial number and PIN checked below are the first ones.
    let again = [
        "-X",
        "--pin",
        "99999999",
        "--serial-number",
        "FFEEDDCCBBAA99887766554433221100",
        "--admin-key",
        DEFAULT_ADMIN_KEY,
    ];
    let out = gids_tool(&s, &again);
    assert!(
        out.stderr.contains("SC_CARDCTL_GIDS_INITIALIZE, *) failed"),
        "gids-tool -X on an initialized card:\n{}",
        out.text()
    );

    let dump = s.run("pkcs15-tool", &["--dump"]).ok("pkcs15-tool -D");
    let want = format!("Serial number  : {}", serial.to_lowercase());
    assert!(dump.stdout.contains(&want), "{}", dump.stdout);
    assert!(!dump.stdout.contains("Private RSA Key"), "{}", dump.stdout);
    assert_eq!(GidsImage::load(s.image()).card_id(), hex_bytes(serial));

    // The PIN set by gids-tool, and its failing twin.
    login(&s, DEFAULT_PIN).fails("login with a PIN the card was not given");
    assert_eq!(tries_left(&s), 2);
    login(&s, "24682468").ok("login with the new PIN");
    assert_eq!(tries_left(&s), 3);
    // The administrator key set by gids-tool, and its failing twin.
    let change = |old, new| ["-C", "--admin-key", old, "--new-admin-key", new];
    gids_tool(&s, &change(DEFAULT_ADMIN_KEY, DEFAULT_ADMIN_KEY))
        .fails("the default administrator key on a card given another");
    gids_tool(&s, &change(OTHER_ADMIN_KEY, OTHER_ADMIN_KEY)).ok("the new administrator key");
}

fn gids_tool_changes_the_admin_key(route: Route) {
    let Some(s) = Session::open_gids(route, 43, false, "gids: gids-tool -C") else {
        return;
    };
    let change = |old, new| ["-C", "--admin-key", old, "--new-admin-key", new];
    gids_tool(&s, &change(OTHER_ADMIN_KEY, OTHER_ADMIN_KEY)).fails("a wrong administrator key");
    gids_tool(&s, &change(DEFAULT_ADMIN_KEY, OTHER_ADMIN_KEY)).ok("gids-tool -C");
    gids_tool(&s, &change(DEFAULT_ADMIN_KEY, DEFAULT_ADMIN_KEY))
        .fails("the old administrator key after the change");
    // The new key authenticates: changing it back works, and then the old one does again.
    gids_tool(&s, &change(OTHER_ADMIN_KEY, DEFAULT_ADMIN_KEY)).ok("the new administrator key");
    gids_tool(&s, &change(OTHER_ADMIN_KEY, OTHER_ADMIN_KEY))
        .fails("the replaced administrator key");
    gids_tool(&s, &change(DEFAULT_ADMIN_KEY, DEFAULT_ADMIN_KEY)).ok("the restored key");
}

fn gids_tool_unblocks_a_blocked_pin(route: Route) {
    let Some(s) = Session::open_gids(route, 44, false, "gids: gids-tool -U") else {
        return;
    };
    let wrong = verify("87878787");
    assert_eq!(
        status_words(&s, &[SELECT, &wrong, &wrong, &wrong, &verify(DEFAULT_PIN)]),
        ["9000", "63C2", "63C1", "63C0", "6983"]
    );
    assert_eq!(tries_left(&s), 0);
    assert_eq!(pin_status_in_image(s.image()), (0, 3));
    login(&s, DEFAULT_PIN).fails("login with a blocked PIN");

    let unblock = |key| ["-U", "--admin-key", key, "--pin", "13571357"];
    gids_tool(&s, &unblock(OTHER_ADMIN_KEY)).fails("unblock with a wrong administrator key");
    assert_eq!(
        status_words(&s, &[SELECT, &verify(DEFAULT_PIN)]),
        ["9000", "6983"]
    );
    assert_eq!(pin_status_in_image(s.image()), (0, 3));

    let out = gids_tool(&s, &unblock(DEFAULT_ADMIN_KEY)).ok("gids-tool -U");
    assert!(
        out.stdout.contains("Unblock PIN done successfully"),
        "{}",
        out.text()
    );
    assert_eq!(tries_left(&s), 3);
    assert_eq!(pin_status_in_image(s.image()), (3, 3));
    login(&s, DEFAULT_PIN).fails("login with the PIN replaced by the unblock");
    login(&s, "13571357").ok("login with the PIN set by the unblock");
    assert_eq!(tries_left(&s), 3);
}

fn pkcs11_keys_sign_decrypt_and_certificates_survive_a_restart(route: Route) {
    let Some(mut s) = Session::open_gids(route, 45, false, "gids: pkcs11-tool keys") else {
        return;
    };
    let empty = dump(&s);
    assert!(empty.contains("PIN [UserPIN]"), "{empty}");
    for absent in ["Private RSA Key", "Public RSA Key", "X.509 Certificate"] {
        assert!(!empty.contains(absent), "{empty}");
    }
    assert!(GidsImage::load(s.image()).containers().is_empty());

    generate_key(&s, 2048, "k1");
    // OpenSC's container: a cmapfile record named after the key, holding a 2048-bit
    // key exchange key, valid and default; softcard's minidriver parser reads it.
    let containers = GidsImage::load(s.image()).containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let c = &containers[0];
    assert_eq!(c.name, "k1");
    assert_eq!(c.flags, CONTAINER_VALID | CONTAINER_DEFAULT);
    assert_eq!((c.sig_key_bits, c.kx_key_bits), (0, 2048));
    let listed = dump(&s);
    for want in [
        "Private RSA Key [k1]",
        "Public RSA Key [k1]",
        "ModLength      : 2048",
        "Key ref        : 129 (0x81)",
        "MD:guid",
    ] {
        assert!(listed.contains(want), "{want:?} in:\n{listed}");
    }

    let public_pem = read_public_key(&s, "00");
    check_signatures(&s, "00", &public_pem);
    check_decryption(&s, "00", &public_pem);

    // The wrong-PIN twin: the login fails, one try is gone, the right PIN restores them.
    let message = s.path("message.txt");
    let wrong = ["--login", "--pin", "11111111", "--sign", "--id", "00"];
    let message = ["-m", "SHA256-RSA-PKCS", "-i", path_str(&message)];
    let wrong = [&wrong[..], &message].concat();
    let failed = s
        .pkcs11(&wrong)
        .fails("pkcs11-tool --sign with a wrong PIN");
    assert_pin_incorrect(&failed);
    assert_eq!(tries_left(&s), 2);
    assert_eq!(pin_status_in_image(s.image()), (2, 3));
    login(&s, DEFAULT_PIN).ok("login");
    assert_eq!(tries_left(&s), 3);

    // A certificate for the card's key, stored next to it (the key's PKCS#15 ID is its
    // container number) and read back.
    let cert = store_certificate(&s, &public_pem, "k1", "00");
    assert_eq!(read_certificate(&s, "00", "before"), cert);
    let in_image = GidsImage::load(s.image()).file("mscp", "kxc00");
    assert_eq!(in_image.as_deref(), Some(&cert[..]), "mscp/kxc00 holds it");
    let listed = dump(&s);
    assert!(listed.contains("X.509 Certificate [k1]"), "{listed}");

    // A new process serving the image answers the same.
    s.restart();
    assert_eq!(dump(&s), listed);
    assert_eq!(read_certificate(&s, "00", "after"), cert);
    check_signatures(&s, "00", &public_pem);
}

fn pkcs11_changes_the_pin_and_deletes_a_key(route: Route) {
    let Some(s) = Session::open_gids(route, 46, false, "gids: pkcs11-tool pin and delete") else {
        return;
    };
    let cardcf = |s: &Session| {
        let bytes = GidsImage::load(s.image())
            .get_data(EVERYONE_READ_USER_WRITE_EF, CARDCF_DO)
            .expect("cardcf");
        CardCf::parse(&bytes).expect("cardcf parses")
    };
    let fresh = cardcf(&s);
    generate_key(&s, 1024, "a");
    generate_key(&s, 2048, "b");
    let names = |s: &Session| -> Vec<(String, u8, u16)> {
        let records = GidsImage::load(s.image()).containers();
        records
            .into_iter()
            .map(|r| (r.name, r.flags, r.kx_key_bits))
            .collect()
    };
    let default = CONTAINER_VALID | CONTAINER_DEFAULT;
    assert_eq!(
        names(&s),
        [
            ("a".into(), default, 1024),
            ("b".into(), CONTAINER_VALID, 2048)
        ]
    );
    let after_generation = cardcf(&s);
    assert!(
        after_generation.containers > fresh.containers,
        "{after_generation:?}"
    );

    // Deleting the first key removes its key file and clears its cmapfile record; the
    // second key still signs, with its own key.
    pkcs11_as_user(&s, &["--delete-object", "--type", "privkey", "--id", "00"])
        .ok("pkcs11-tool --delete-object --type privkey");
    assert_eq!(
        names(&s),
        [(String::new(), 0, 0), ("b".into(), CONTAINER_VALID, 2048)]
    );
    assert!(cardcf(&s).containers > after_generation.containers);
    let mut image = GidsImage::load(s.image());
    // GET DATA of a key file's public key: `70 { 84 01 kid, A5 { 7F49 80 } }`.
    let mut public_key_sw = |kid: u8| {
        let apdu = [0x00, 0xCB, 0x3F, 0xFF, 0x0A, 0x70, 0x08, 0x84, 0x01, kid];
        image
            .transmit(&[&apdu[..], &[0xA5, 0x03, 0x7F, 0x49, 0x80, 0x00]].concat())
            .1
    };
    assert_ne!(public_key_sw(0x81), 0x9000, "key 81 deleted");
    assert_eq!(public_key_sw(0x82), 0x9000, "key 82 kept");
    let listed = dump(&s);
    assert!(listed.contains("Private RSA Key [b]"), "{listed}");
    assert!(!listed.contains("Private RSA Key [a]"), "{listed}");
    let public_pem = read_public_key(&s, "01");
    check_signatures(&s, "01", &public_pem);

    // CHANGE REFERENCE DATA: the wrong old PIN fails and costs a try, the right one works.
    let change = |old, new| ["--login", "--pin", old, "--change-pin", "--new-pin", new];
    let failed = s
        .pkcs11(&change("87878787", "24242424"))
        .fails("change with a wrong PIN");
    assert_pin_incorrect(&failed);
    assert_eq!(tries_left(&s), 2);
    s.pkcs11(&change(DEFAULT_PIN, "24242424"))
        .ok("pkcs11-tool --change-pin");
    assert_eq!(tries_left(&s), 3);
    login(&s, DEFAULT_PIN).fails("login with the replaced PIN");
    login(&s, "24242424").ok("login with the new PIN");
}

fn pkcs11_imports_a_key_and_files_a_signing_certificate(route: Route) {
    let Some(s) = Session::open_gids(route, 47, false, "gids: pkcs11-tool import") else {
        return;
    };
    let dir = s.path("");
    // A key made by openssl, imported (PUT DATA of the private key); OpenSC files it as
    // a signature key.
    let key_pem = s.path("imported.pem");
    let key_der = s.path("imported.der");
    let rsa = [
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
    ];
    openssl::run(
        &dir,
        &[&["genpkey"], &rsa[..], &[path_str(&key_pem)]].concat(),
    )
    .ok("genpkey");
    let to_der = ["pkey", "-in", path_str(&key_pem), "-outform", "DER", "-out"];
    openssl::run(&dir, &[&to_der[..], &[path_str(&key_der)]].concat()).ok("openssl pkey");
    let import = ["--write-object", path_str(&key_der), "--type", "privkey"];
    pkcs11_as_user(&s, &[&import[..], &["--label", "imported"]].concat())
        .ok("pkcs11-tool --write-object --type privkey");
    let public_pem = s.path("imported.pub.pem");
    let pubout = ["pkey", "-in", path_str(&key_pem), "-pubout", "-out"];
    openssl::run(&dir, &[&pubout[..], &[path_str(&public_pem)]].concat()).ok("pkey -pubout");
    check_signatures(&s, "00", &public_pem);

    // A key generated for signing only, and its certificate in `mscp/ksc01`.
    let generate = [
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--label",
        "signer",
    ];
    pkcs11_as_user(&s, &[&generate[..], &["--usage-sign"]].concat())
        .ok("pkcs11-tool --keypairgen --usage-sign");
    let records = GidsImage::load(s.image()).containers();
    let sizes: Vec<_> = records
        .iter()
        .map(|r| (r.name.as_str(), r.sig_key_bits, r.kx_key_bits))
        .collect();
    assert_eq!(sizes, [("imported", 2048, 0), ("signer", 2048, 0)]);
    let signer_pem = read_public_key(&s, "01");
    let cert = store_certificate(&s, &signer_pem, "signer", "01");
    assert_eq!(read_certificate(&s, "01", "signer"), cert);
    let stored = GidsImage::load(s.image()).file("mscp", "ksc01");
    assert_eq!(stored.as_deref(), Some(&cert[..]), "mscp/ksc01 holds it");

    // Deleting the certificate removes the file; the key stays.
    pkcs11_as_user(&s, &["--delete-object", "--type", "cert", "--id", "01"])
        .ok("pkcs11-tool --delete-object --type cert");
    assert_eq!(GidsImage::load(s.image()).file("mscp", "ksc01"), None);
    let listed = dump(&s);
    assert!(!listed.contains("X.509 Certificate"), "{listed}");
    assert!(listed.contains("Private RSA Key [signer]"), "{listed}");
}
