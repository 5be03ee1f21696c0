//! The host side of the client tests, done by the `openssl` command: certificates for
//! keys generated on the card, signature verification, encryption to a card's key.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::clients::Output;

/// Runs `openssl ARGS` in `dir`.
///
/// # Panics
/// If openssl cannot be started.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
        .into()
}

/// A certificate `CN=<cn>` for the public key in `public_pem` (a key that lives on the
/// card), issued by a throw-away P-256 CA kept in `dir`. Returns the PEM file's path.
///
/// # Panics
/// If openssl fails.
pub fn certificate_for(dir: &Path, public_pem: &Path, cn: &str) -> PathBuf {
    let ca = dir.join("ca.key");
    if !ca.exists() {
        run(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                path_str(&ca),
            ],
        )
        .ok("openssl genpkey");
    }
    let out = dir.join(format!("{cn}.crt.pem"));
    run(
        dir,
        &[
            "x509",
            "-new",
            "-subj",
            &format!("/CN={cn}"),
            "-key",
            path_str(&ca),
            "-force_pubkey",
            path_str(public_pem),
            "-days",
            "30",
            "-out",
            path_str(&out),
        ],
    )
    .ok("openssl x509 -new");
    out
}

/// The public key (PEM) of a certificate in PEM.
///
/// # Panics
/// If openssl fails.
pub fn public_key_of(dir: &Path, cert_pem: &Path) -> String {
    run(
        dir,
        &["x509", "-in", path_str(cert_pem), "-noout", "-pubkey"],
    )
    .ok("openssl x509 -pubkey")
    .stdout
}

/// Whether `signature` over `data` verifies with `public_pem` as SHA-256 with the key's
/// scheme (PKCS#1 v1.5 for RSA, DER ECDSA for EC).
pub fn verify_sha256(dir: &Path, public_pem: &Path, data: &Path, signature: &Path) -> bool {
    run(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            path_str(public_pem),
            "-signature",
            path_str(signature),
            path_str(data),
        ],
    )
    .stdout
    .contains("Verified OK")
}

/// Whether `signature` verifies over the given input as is (`pkeyutl -verify`): for RSA a
/// PKCS#1 v1.5 signature of `input` without DigestInfo, for EC a DER ECDSA signature of
/// the digest `input`.
pub fn verify_raw(dir: &Path, public_pem: &Path, input: &Path, signature: &Path) -> bool {
    run(
        dir,
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            path_str(public_pem),
            "-in",
            path_str(input),
            "-sigfile",
            path_str(signature),
        ],
    )
    .stdout
    .contains("Signature Verified Successfully")
}

/// Encrypts `plain` to the RSA key in `public_pem` (PKCS#1 v1.5) into `cipher`.
///
/// # Panics
/// If openssl fails.
pub fn encrypt_rsa(dir: &Path, public_pem: &Path, plain: &Path, cipher: &Path) {
    run(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            path_str(public_pem),
            "-in",
            path_str(plain),
            "-out",
            path_str(cipher),
        ],
    )
    .ok("openssl pkeyutl -encrypt");
}

/// An ECDSA signature `r ‖ s` (two equal halves, as PKCS#11 returns it) in DER
/// (`SEQUENCE { INTEGER r, INTEGER s }`), as openssl verifies it. Short forms only:
/// enough for P-256 and P-384.
pub fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::new();
    for half in [r, s] {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len());
        let mut int = half[start..].to_vec();
        if int.first().is_none_or(|&b| b & 0x80 != 0) {
            int.insert(0, 0);
        }
        body.push(0x02);
        body.push(u8::try_from(int.len()).expect("short INTEGER"));
        body.extend_from_slice(&int);
    }
    let mut der = vec![0x30, u8::try_from(body.len()).expect("short SEQUENCE")];
    der.extend_from_slice(&body);
    der
}

/// A throw-away certification authority run by openssl in a folder: an RSA-2048 key and
/// a self-signed certificate (`openssl req -x509`), issuing with `openssl x509 -req`.
pub struct Ca {
    dir: PathBuf,
    key: PathBuf,
    cert: PathBuf,
}

impl Ca {
    /// Makes the CA's key and certificate (`ca.key`, `ca.pem`) in `dir`.
    ///
    /// # Panics
    /// If openssl fails.
    pub fn new(dir: &Path) -> Ca {
        let key = dir.join("ca.key");
        let cert = dir.join("ca.pem");
        let args = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ];
        let names = ["-subj", "/CN=softcard test CA", "-keyout", path_str(&key)];
        run(
            dir,
            &[&args[..], &names, &["-out", path_str(&cert)]].concat(),
        )
        .ok("openssl req -x509 (the CA)");
        Ca {
            dir: dir.to_path_buf(),
            key,
            cert,
        }
    }

    /// The CA's certificate (PEM).
    pub fn certificate(&self) -> &Path {
        &self.cert
    }

    /// Issues a certificate (PEM, written to `out`) for the PKCS#10 request in DER,
    /// `openssl x509 -req`: the request's extensions are copied (UPN, key usage, extended
    /// key usages, template), with the subject key identifier a CMC signer is found by.
    ///
    /// # Panics
    /// If openssl fails.
    pub fn issue(&self, request_der: &Path, serial: u32, out: &Path) {
        let ext = self.dir.join("issue.ext");
        std::fs::write(
            &ext,
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .expect("write the extension file");
        let serial = serial.to_string();
        let request = [
            "x509",
            "-req",
            "-inform",
            "DER",
            "-in",
            path_str(request_der),
        ];
        let ca = ["-CA", path_str(&self.cert), "-CAkey", path_str(&self.key)];
        let what = [
            "-set_serial",
            &serial,
            "-days",
            "30",
            "-copy_extensions",
            "copyall",
        ];
        let rest = ["-extfile", path_str(&ext), "-out", path_str(out)];
        run(&self.dir, &[&request[..], &ca, &what, &rest].concat()).ok("openssl x509 -req");
    }
}

/// A certificate in PEM as DER (`openssl x509 -outform DER`, also written to `der`).
///
/// # Panics
/// If openssl fails.
pub fn certificate_der(dir: &Path, pem: &Path, der: &Path) -> Vec<u8> {
    let args = ["x509", "-in", path_str(pem), "-outform", "DER", "-out"];
    run(dir, &[&args[..], &[path_str(der)]].concat()).ok("openssl x509 -outform DER");
    std::fs::read(der).expect("the certificate in DER")
}

/// One line of `openssl asn1parse`: where an object starts, how deep it is, the lengths
/// of its header and contents, and what openssl says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asn1Item {
    /// Offset of the object's first byte.
    pub offset: usize,
    /// Nesting depth (`d=`).
    pub depth: usize,
    /// Header length (`hl=`).
    pub header: usize,
    /// Contents length (`l=`).
    pub len: usize,
    /// The rest of the line (`cons: SEQUENCE`, `prim: OBJECT :sha1`...).
    pub what: String,
}

impl Asn1Item {
    /// The bytes of the whole object (header and contents) in `der`.
    pub fn slice<'a>(&self, der: &'a [u8]) -> &'a [u8] {
        &der[self.offset..self.offset + self.header + self.len]
    }
}

/// `openssl asn1parse -inform DER -in FILE`, parsed.
///
/// # Panics
/// If openssl fails or prints a line it cannot read.
pub fn asn1parse(dir: &Path, der: &Path) -> Vec<Asn1Item> {
    let out = run(dir, &["asn1parse", "-inform", "DER", "-in", path_str(der)]).ok("asn1parse");
    out.stdout
        .lines()
        .map(|line| parse_asn1_line(line).unwrap_or_else(|| panic!("asn1parse line {line:?}")))
        .collect()
}

/// One line of `openssl asn1parse`: `OFFSET:d=D  hl=H l=  L cons: WHAT`.
fn parse_asn1_line(line: &str) -> Option<Asn1Item> {
    let (offset, rest) = line.split_once(':')?;
    let field = |key: &str| -> Option<usize> {
        let after = rest.split(key).nth(1)?.trim_start();
        after
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let (_, what) = rest.split_once(" l=")?;
    let what = what.trim_start_matches(|c: char| c == ' ' || c.is_ascii_digit());
    Some(Asn1Item {
        offset: offset.trim().parse().ok()?,
        depth: field("d=")?,
        header: field("hl=")?,
        len: field(" l=")?,
        what: what.trim().to_string(),
    })
}

/// Takes the PKCS#10 request out of a CMC full PKI request in DER (RFC 5272: SignedData
/// whose eContent is a PKIData with the request in `reqSequence`, `[0]
/// TaggedCertificationRequest { bodyPartID, certificationRequest }`) with
/// `openssl asn1parse`, and writes it to `out` in DER.
///
/// # Panics
/// If the structure is not found or openssl fails.
pub fn cmc_request(dir: &Path, cmc_der: &Path, out: &Path) {
    // SignedData's eContent: the OCTET STRING inside `[0]` of encapContentInfo (depth 5).
    let outer = asn1parse(dir, cmc_der);
    let econtent = outer
        .iter()
        .find(|i| i.depth == 5 && i.what.contains("OCTET STRING"))
        .unwrap_or_else(|| panic!("no eContent in {outer:#?}"));
    let pkidata = dir.join("pkidata.der");
    let offset = econtent.offset.to_string();
    let args = ["asn1parse", "-inform", "DER", "-in", path_str(cmc_der)];
    let strparse = ["-strparse", &offset, "-noout", "-out", path_str(&pkidata)];
    run(dir, &[&args[..], &strparse].concat()).ok("openssl asn1parse -strparse");
    // PKIData { controlSequence, reqSequence, cmsSequence, otherMsgSequence }: the request
    // is the SEQUENCE after bodyPartID in the first `[0]` of reqSequence.
    let items = asn1parse(dir, &pkidata);
    let sequences: Vec<_> = items.iter().filter(|i| i.depth == 1).collect();
    let req_sequence = sequences
        .get(1)
        .unwrap_or_else(|| panic!("no reqSequence in {items:#?}"));
    let end = req_sequence.offset + req_sequence.header + req_sequence.len;
    let inside: Vec<_> = items
        .iter()
        .filter(|i| i.offset > req_sequence.offset && i.offset < end)
        .collect();
    assert!(
        inside
            .first()
            .is_some_and(|i| i.depth == 2 && i.what.contains("cont [ 0 ]")),
        "reqSequence holds a TaggedCertificationRequest: {inside:#?}"
    );
    let request = inside
        .iter()
        .find(|i| i.depth == 3 && i.what.contains("SEQUENCE"))
        .unwrap_or_else(|| panic!("no certificationRequest in {inside:#?}"));
    let bytes = std::fs::read(&pkidata).expect("PKIData");
    std::fs::write(out, request.slice(&bytes)).expect("write the request");
}

/// A path as `&str` (the tests' temporary paths are UTF-8).
///
/// # Panics
/// If it is not UTF-8.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
