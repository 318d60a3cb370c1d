//! Tauri's build step; it embeds the built UI, so the UI must be built first.

fn main() {
    let manifest = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let index = manifest.join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !index.exists() {
        // tauri's own error for a missing frontendDist does not say what to do.
        panic!(
            "\n\nswitchyard-desktop embeds the built UI, and {} is missing:\n  \
             build the UI first: cd ui && npm ci && npm run build\n\n",
            index.display()
        );
    }
    // The UI's one command gets an `allow-api` permission, granted in capabilities/main.json;
    // with an app manifest no other app command is reachable from the window.
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(&["api"]));
    tauri_build::try_build(attributes).expect("tauri's build step");
}
