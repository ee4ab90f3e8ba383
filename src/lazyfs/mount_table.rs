//! The kernel's table of mounts as lazyfs needs it: whether a path is a mount point (from
//! `/proc/self/mountinfo`) and a lazy unmount. Shared by the mount's own server and the
//! harness's side; it never mounts anything.

use std::path::Path;

/// Lazily unmount `mount` if something is mounted there.
pub fn detach(mount: &Path) -> bool {
    is_mounted(mount) && nix::mount::umount2(mount, nix::mount::MntFlags::MNT_DETACH).is_ok()
}

/// Whether `path` is a mount point (per `/proc/self/mountinfo`).
pub fn is_mounted(path: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = path.to_string_lossy();
    text.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|mount| unescape(mount) == want)
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    crate::escapes::unescape(field, b'\\', 3, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_fields_are_unescaped() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/x\"), r"/x\");
    }
}
