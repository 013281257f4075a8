//! Link every program with user.ld: a static ET_EXEC at Linux's classic
//! i386 address, one PT_LOAD per permission (see the script).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let script = format!("{dir}/user.ld");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rustc-link-arg-bins=-T{script}");
    // Not position independent, no dynamic section, no build-id note.
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=--build-id=none");
    // Every input section must be placed by the script: a section it does
    // not name would land wherever the linker guesses, perhaps in a
    // segment with the wrong permissions.
    println!("cargo:rustc-link-arg-bins=--orphan-handling=error");
}
