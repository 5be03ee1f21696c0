//! Software keys and OpenSSL helpers for the tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts;
use softcard_enroll::{EnrollError, HashAlg, PublicKey, RequestSigner};

/// A scratch directory, removed at the end of the test.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Scratch(tempfile::tempdir().expect("temporary directory"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write");
        p
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }

    /// Runs `openssl args...` in this directory.
    pub fn openssl(&self, args: &[&str]) -> Output {
        softcard_test_support::openssl::run(self.0.path(), args)
    }

    /// Runs openssl and insists on success; returns stdout as text.
    pub fn openssl_ok(&self, args: &[&str]) -> String {
        let out = self.openssl(args);
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `openssl req -in DER_FILE -inform DER -verify -noout EXTRA...`, insisting that the
    /// signature verifies: OpenSSL 3.0 exits 0 on a bad signature too, only its message
    /// tells ("verify OK" or "verify failure"). Returns stdout as text.
    pub fn verified_request(&self, der: &Path, extra: &[&str]) -> String {
        let path = der.to_str().expect("UTF-8 path");
        let mut args = vec!["req", "-in", path, "-inform", "DER", "-verify", "-noout"];
        args.extend_from_slice(extra);
        let out = self.openssl(&args);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.contains("verify OK") && !said.contains("failure"),
            "openssl {args:?}: {said}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new private key made by OpenSSL, as PKCS#8 DER in `name`.
    pub fn genkey(&self, name: &str, algorithm: &[&str]) -> Vec<u8> {
        let pem = format!("{name}.pem");
        let mut args = vec!["genpkey", "-out", &pem];
        args.extend_from_slice(algorithm);
        self.openssl_ok(&args);
        self.openssl_ok(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", &pem, "-outform", "DER", "-out", name,
        ]);
        self.read(name)
    }

    /// A self-signed test CA (`ca.key`, `ca.pem`).
    pub fn make_ca(&self) {
        let out = softcard_test_support::openssl::self_signed(
            self.0.path(),
            "ca.key",
            "/CN=Test CA",
            "ca.pem",
            &["-days", "2"],
        );
        assert!(
            out.status.success(),
            "openssl req -x509 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Issues `out` (PEM) from the request `csr` (DER) with the test CA, copying the
    /// requested extensions and adding a subjectKeyIdentifier.
    pub fn issue(&self, csr: &Path, out: &str) {
        let ext = self.write("ski.ext", b"subjectKeyIdentifier=hash\n");
        self.openssl_ok(&[
            "x509",
            "-req",
            "-in",
            path_str(csr),
            "-inform",
            "DER",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "1",
            "-copy_extensions",
            "copyall",
            "-extfile",
            path_str(&ext),
            "-out",
            out,
        ]);
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// An RSA key in software.
pub struct SoftRsa {
    key: rsa::PrivateKey,
    public: PublicKey,
}

impl SoftRsa {
    pub fn from_pkcs8(der: &[u8]) -> Self {
        let key = rsa::PrivateKey::from_pkcs8_der(der).expect("RSA PKCS#8");
        let public = PublicKey::Rsa {
            n: trim(&key.n_bytes()),
            e: trim(&key.e_bytes()),
        };
        SoftRsa { key, public }
    }
}

fn trim(b: &[u8]) -> Vec<u8> {
    b.iter().skip_while(|&&x| x == 0).copied().collect()
}

impl RequestSigner for SoftRsa {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError> {
        // What a card-backed signer does: hash and DigestInfo on the host, the private
        // operation (with PKCS#1 v1.5 padding) on the key.
        let digest_info = hash.digest_info(&hash.digest(message));
        self.key
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
            .map_err(|e| EnrollError::Signer(e.to_string().into()))
    }
}

/// A P-256 key in software.
pub struct SoftP256 {
    key: p256::ecdsa::SigningKey,
    public: PublicKey,
}

impl SoftP256 {
    pub fn from_pkcs8(der: &[u8]) -> Self {
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).expect("P-256 PKCS#8");
        let point = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        SoftP256 {
            key,
            public: PublicKey::P256 { point },
        }
    }
}

impl RequestSigner for SoftP256 {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&mut self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>, EnrollError> {
        let digest = hash.digest(message);
        let signature: p256::ecdsa::DerSignature = self
            .key
            .sign_prehash(&digest)
            .map_err(|e| EnrollError::Signer(e.to_string().into()))?;
        Ok(signature.as_bytes().to_vec())
    }
}

/// The content of the `index`-th element of a DER SEQUENCE (or any constructed value).
pub fn nth_child(der: &[u8], index: usize) -> &[u8] {
    let (_, content) = header(der);
    let mut rest = content;
    for _ in 0..index {
        let (h, c) = header(rest);
        rest = &rest[h + c.len()..];
    }
    let (h, c) = header(rest);
    &rest[..h + c.len()]
}

/// Header length and content of the first TLV of `der` (definite lengths only).
pub fn header(der: &[u8]) -> (usize, &[u8]) {
    let first = der[1];
    let (h, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        (
            2 + n,
            der[2..2 + n]
                .iter()
                .fold(0, |a, &b| (a << 8) | usize::from(b)),
        )
    };
    (h, &der[h..h + len])
}
