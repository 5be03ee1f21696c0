//! Gives the shared library the file name clients ask for as its SONAME, and tells the
//! packages that depend on this one where its sources are (`links` metadata:
//! `DEP_SOFTCARD_PCSCLITE_ROOT`), so that `softcard-cli` can build the library to carry.

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libpcsclite.so.1");
    if let Some(root) = std::env::var_os("CARGO_MANIFEST_DIR") {
        println!("cargo::metadata=root={}", root.to_string_lossy());
    }
    println!("cargo::rerun-if-changed=build.rs");
}
