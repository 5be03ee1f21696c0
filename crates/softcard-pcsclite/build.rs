//! Gives the shared library the file name clients ask for as its SONAME.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpcsclite.so.1");
}
