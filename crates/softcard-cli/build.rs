//! Builds the drop-in library (`softcard-pcsclite`'s `libpcsclite.so`) for the binary to
//! carry, so that `softcard exec` works wherever the binary is installed, with no other
//! file to copy (`cargo install softcard-cli`). Only with the `embedded-dropin` feature.
//!
//! The library comes from a second cargo run on the `softcard-pcsclite` package, in its own
//! target folder under `OUT_DIR` (the running cargo holds the main target folder's lock).
//! `softcard-pcsclite` tells where its package is through its `links` metadata
//! (`DEP_SOFTCARD_PCSCLITE_ROOT`):
//! - in a source checkout, that is the workspace member: it is built there, with the
//!   workspace's `Cargo.lock` (`--locked`) and profiles;
//! - from a registry (`cargo install softcard-cli`), it is an unpacked package: it is
//!   copied into `OUT_DIR` and built alone, with this package's `Cargo.lock`, the softcard
//!   crates it depends on taken from the same unpacked sources (`[patch]`), so the second
//!   run needs nothing the first did not fetch.
//!
//! The library is built with the same profile as the binary, for the same target, without
//! debug information, and without default features (no aws-lc): under `softcard exec` it is
//! a thin client of the host, which holds the cards and runs their keys on the backend
//! exec chose, so the library does no cryptography of its own. Every source file the library was built from (its dep-info)
//! is watched, so a change to any of them rebuilds it.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates the drop-in depends on that are published from this workspace, with it.
const SIBLINGS: [&str; 3] = ["softcard", "softcard-file", "softcard-pcsc"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_EMBEDDED_DROPIN").is_none() {
        return;
    }
    let out = PathBuf::from(var("OUT_DIR"));
    let root = PathBuf::from(var("DEP_SOFTCARD_PCSCLITE_ROOT"));
    let (manifest, locked) = if root.join("Cargo.toml.orig").exists() {
        (unpacked_copy(&root, &out), false)
    } else {
        (root.join("Cargo.toml"), true)
    };
    let target = var("TARGET");
    let target_dir = out.join("dropin-target");
    let release = var("PROFILE") == "release";
    let profile = if release { "RELEASE" } else { "DEV" };

    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "softcard-pcsclite", "--lib", "--no-default-features"])
        .args(["--target", &target])
        .arg("--target-dir")
        .arg(&target_dir)
        // What the outer run sets for this build script, and must not steer the inner one.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env(format!("CARGO_PROFILE_{profile}_STRIP"), "debuginfo")
        .env(format!("CARGO_PROFILE_{profile}_DEBUG"), "0");
    if release {
        cargo.arg("--release");
    }
    if locked {
        cargo.arg("--locked");
    }
    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the drop-in library: {e}"));
    assert!(
        status.success(),
        "building the drop-in library (softcard-pcsclite) failed"
    );

    let built = target_dir
        .join(&target)
        .join(if release { "release" } else { "debug" });
    let library = built.join("libpcsclite.so");
    std::fs::copy(&library, out.join("libpcsclite.so.1"))
        .unwrap_or_else(|e| panic!("{}: {e}", library.display()));
    for source in dep_info_sources(&built.join("libpcsclite.d")) {
        println!("cargo::rerun-if-changed={}", source.display());
    }
}

/// An environment variable cargo sets for build scripts.
fn var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// Copies the unpacked `softcard-pcsclite` package into `OUT_DIR`, as a workspace of its
/// own whose softcard dependencies are the unpacked packages beside it (same version), and
/// gives it this package's `Cargo.lock`. Returns the copy's manifest.
fn unpacked_copy(root: &Path, out: &Path) -> PathBuf {
    let copy = out.join("softcard-pcsclite");
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(root, &copy);
    let version = var("CARGO_PKG_VERSION");
    let registry = root.parent().expect("an unpacked package is in a folder");
    let mut manifest = std::fs::read_to_string(copy.join("Cargo.toml")).expect("read manifest");
    manifest.push_str("\n[workspace]\n\n[patch.crates-io]\n");
    for name in SIBLINGS {
        let sibling = registry.join(format!("{name}-{version}"));
        if sibling.join("Cargo.toml").exists() {
            let path = toml_string(&sibling);
            manifest.push_str(&format!("{name} = {{ path = {path} }}\n"));
        }
    }
    std::fs::write(copy.join("Cargo.toml"), manifest).expect("write manifest");
    let lock = Path::new(&var("CARGO_MANIFEST_DIR")).join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, copy.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    copy.join("Cargo.toml")
}

/// Copies a folder tree (regular files and folders).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("read folder entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        }
    }
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The source files a dep-info file names (lines `target: source source ...`, spaces in
/// names escaped with a backslash).
fn dep_info_sources(dep_info: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(dep_info).unwrap_or_default();
    let mut paths = Vec::new();
    for line in text.lines() {
        let Some((_, sources)) = line.split_once(": ") else {
            continue;
        };
        let mut current = OsString::new();
        let mut chars = sources.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    current.push(" ");
                    chars.next();
                }
                ' ' => {
                    if !current.is_empty() {
                        paths.push(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                other => current.push(other.to_string()),
            }
        }
        if !current.is_empty() {
            paths.push(PathBuf::from(current));
        }
    }
    paths
}
