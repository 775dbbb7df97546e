//! Who wrote a temporary upload file: its name says which process on which machine, so that a
//! leftover of a process that died here can be swept at once instead of after the age margin.
//!
//! The name is `<TEMP_PREFIX><machine>-<pid>-<n>`. `<machine>` is a hash of this boot's
//! `boot_id` and of the PID namespace: two names with the same one were written under the same
//! kernel, where a PID means the same process for both — so "that PID is not running" proves
//! the writer gone. Another machine (or container) sharing the folder has another tag, and its
//! files are judged by lock and age alone.

use std::path::Path;
use std::sync::OnceLock;

use md5::{Digest, Md5};

use super::path::TEMP_PREFIX;

/// The name of this process's `n`th temporary file.
pub fn temp_name(n: u64) -> String {
    name_for(std::process::id(), n)
}

/// The name process `pid` of this machine gives its `n`th temporary file.
pub fn name_for(pid: u32, n: u64) -> String {
    format!("{TEMP_PREFIX}{}-{pid}-{n}", machine())
}

/// True when the temporary file `name` was written by a process of this machine that is no
/// longer running. False whenever that cannot be known (another machine, an older name, no
/// `/proc`): the caller then waits out the age margin.
pub fn writer_is_gone(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let mut parts = rest.split('-');
    let (Some(tag), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    tag == machine() && tag != UNKNOWN && pid != std::process::id() && !running(pid)
}

/// The tag of a machine whose identity could not be read: never matched.
const UNKNOWN: &str = "x";

/// This kernel boot and PID namespace, as 12 hex digits.
fn machine() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
        let pid_ns = std::fs::read_link("/proc/self/ns/pid");
        let (Ok(boot), Ok(pid_ns)) = (boot, pid_ns) else {
            return UNKNOWN.to_string();
        };
        let mut md5 = Md5::new();
        md5.update(boot.trim());
        md5.update(pid_ns.as_os_str().as_encoded_bytes());
        let digest: [u8; 16] = md5.finalize().into();
        crate::http::encode::hex(&digest[..6])
    })
}

fn running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_verdicts() {
        let mine = temp_name(7);
        assert!(mine.starts_with(TEMP_PREFIX));
        assert!(!writer_is_gone(&mine), "this process is running");
        let tag = machine();
        // PID 0 is never a process of ours; u32::MAX is never running.
        let dead = format!("{TEMP_PREFIX}{tag}-{}-0", u32::MAX);
        assert!(writer_is_gone(&dead) || tag == UNKNOWN);
        let rows = [
            format!("{TEMP_PREFIX}1-0"),
            format!("{TEMP_PREFIX}0123456789ab-{}-0", u32::MAX),
            format!("{TEMP_PREFIX}{tag}-1-0"),
            format!("{TEMP_PREFIX}{tag}-notapid-0"),
            "plain.txt".to_string(),
        ];
        for name in rows {
            // Older names, other machines, a running PID 1, garbage: not provably gone.
            assert!(!writer_is_gone(&name), "{name}");
        }
    }
}
