//! `softcard-bench-card DIR`: writes the two card images the out-of-process benchmarks
//! use, `DIR/piv.card` (RSA-2048 key in slot 9A) and `DIR/gids.card` (RSA-2048 key 81),
//! both with the default PIN 12345678. Keys come from a fixed seed: benchmarks only.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use softcard::Profile;
use softcard::crypto::BackendKind;
use softcard_benches::provisioned_card;
use softcard_file::FileStorage;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: softcard-bench-card DIR");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("softcard-bench-card: {}: {e}", dir.display());
        std::process::exit(1);
    }
    for (profile, file) in [
        (Profile::Piv, "piv.card"),
        (Profile::WindowsVsc, "gids.card"),
    ] {
        let path = dir.join(file);
        let _ = std::fs::remove_file(&path);
        let storage = Box::new(FileStorage::new(&path));
        if let Err(e) = provisioned_card(profile, BackendKind::RustCrypto, storage) {
            eprintln!("softcard-bench-card: {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{}", path.display());
    }
}
