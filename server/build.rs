//! Reads the browser bundle's name (`output-name` of `[[workspace.metadata.leptos]]` in the
//! workspace's Cargo.toml, where `scripts/build.sh` and cargo-leptos read it) so the server serves
//! the files they wrote without the name being written twice.

use std::path::Path;

fn main() {
    // Read when the script runs (not `env!`, which would freeze the path of wherever the
    // script was compiled).
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let manifest = Path::new(&dir).join("../Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    let name = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("output-name"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .find(|value| !value.is_empty());
    match name {
        Some(name) => println!("cargo:rustc-env=EVENTIDE_BUNDLE_NAME={name}"),
        None => panic!(
            "no output-name in [[workspace.metadata.leptos]] of {}",
            manifest.display()
        ),
    }
}
