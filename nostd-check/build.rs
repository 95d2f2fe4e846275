// The binary has no std, so rustc links it with `-nodefaultlibs`; libc's
// start-up code (which calls our `main`) and `abort`, `memcpy` and friends
// come from `-lc`.
fn main() {
    println!("cargo:rustc-link-arg-bins=-lc");
    println!("cargo:rerun-if-changed=build.rs");
}
