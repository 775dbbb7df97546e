//! litmus 0.13, the public WebDAV conformance suite, against this build (issue 11): all five
//! suites (`basic copymove props locks http`), 104 tests, must pass with no warning. The
//! work is `tests/litmus.sh` (it installs the Debian package `litmus` when missing, as root);
//! this test runs it on the binary `cargo test` just built, so CI runs it.

use std::process::Command;

#[test]
fn litmus_passes_every_suite_with_no_warning() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/litmus.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("SHELF_BIN", env!("CARGO_BIN_EXE_shelf"))
        .env_remove("TESTS")
        .output()
        .expect("run tests/litmus.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tests/litmus.sh failed:\n{text}");
    assert!(
        text.contains("litmus: 104 passed, 0 failed"),
        "not every litmus test ran and passed:\n{text}"
    );
}
