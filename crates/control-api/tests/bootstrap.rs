//! The generated gRPC code is checked in (`src/generated/`), so building needs neither
//! `protoc` nor a code generator. This test regenerates it from `proto/` with protox (a
//! pure-Rust protobuf compiler) and fails when the checked-in copy is stale, after
//! writing the fresh one: run it (or `cargo xtask proto`) and commit the result.

use std::path::{Path, PathBuf};

const PROTO: &str = "proto/switchyard/control/v1/control.proto";
const GENERATED: &str = "switchyard.control.v1.rs";

#[test]
fn generated_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("a temporary directory");
    let fds =
        protox::compile([root.join(PROTO)], [root.join("proto")]).expect("the .proto compiles");
    tonic_prost_build::configure()
        .out_dir(out.path())
        .emit_rerun_if_changed(false)
        .compile_fds(fds)
        .expect("code generation");
    let fresh = std::fs::read_to_string(out.path().join(GENERATED)).expect("generated code");
    let fresh = format!(
        "// Generated from proto/ by tests/bootstrap.rs (`cargo xtask proto`); do not edit.\n{fresh}"
    );
    let checked_in: PathBuf = root.join("src/generated").join(GENERATED);
    let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
    if current != fresh {
        std::fs::write(&checked_in, &fresh).expect("write the generated code");
        panic!(
            "{} was stale and has been regenerated; review and commit it",
            checked_in.display()
        );
    }
}
