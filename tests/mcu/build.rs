//! Puts the memory map of the target's chip where the runtime's linker script (`link.x`, from
//! cortex-m-rt or riscv-rt) looks for it: `memory.x` in a linker search path.

use std::path::PathBuf;

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let map = match arch.as_str() {
        "arm" => "memory/cortex-m.x",
        "riscv32" => "memory/riscv.x",
        // A host build (cargo check without --target): nothing to link for a chip.
        _ => return,
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(map, out.join("memory.x")).expect("copy the memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={map}");
    println!("cargo:rerun-if-changed=build.rs");
}
