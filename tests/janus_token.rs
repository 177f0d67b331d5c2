//! A Janus that requires API tokens: callcast gets in with one (given in
//! the environment, so it never shows on a command line) and is refused
//! without.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::janus::{JanusNet, ROOM};
use common::*;

const SECRET: &str = "token-signing-secret";

/// A Janus signed token: `expiry,janus,plugin:base64(HMAC-SHA1(secret))`.
fn signed_token() -> String {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let data = format!("{expiry},janus,janus.plugin.videoroom");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf %s '{data}' | openssl dgst -sha1 -hmac '{SECRET}' -binary | base64"
        ))
        .output()
        .expect("openssl runs");
    assert!(out.status.success());
    format!("{data}:{}", String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn callcast_joins_with_a_token_and_is_refused_without() {
    let net = JanusNet::start_with_token_auth(SECRET);
    let dir = tempfile::tempdir().unwrap();
    let token = signed_token();

    let without = dir.path().join("without.mp4");
    let args = net.join_args_in(ROOM, &without, 30);
    let out = net
        .callcast(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "no token must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("room connection failed"), "{stderr}");

    let _alice = net.loadgen_with(
        ROOM,
        &["--participants", "1"],
        &[("CALLCAST_JANUS_TOKEN", &token)],
    );
    let mp4 = dir.path().join("with.mp4");
    let args = net.join_args_in(ROOM, &mp4, 8);
    let mut cmd = net.callcast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.env("CALLCAST_JANUS_TOKEN", &token);
    let join = Demo::spawn(cmd);
    assert_eq!(join.wait(Duration::from_secs(30)), 0);
    assert_eq!(participants_at(&mp4, 6.0, 1), [Some(0)]);
}
