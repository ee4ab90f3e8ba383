//! Where the tests find the shared real histories (`shared/histories`), shared by the
//! test files that read them.

use std::path::{Path, PathBuf};

/// Where the shared histories live: `../../shared/histories` from this crate in the main
/// checkout; from a worktree nested one level deeper, the nearest ancestor holding
/// `shared/histories`.
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/histories");

/// The shared histories' folder, or `None` (saying the test is skipped) where there is none.
pub fn shared() -> Option<PathBuf> {
    let found = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/histories"))
        .find(|dir| dir.is_dir());
    if found.is_none() {
        eprintln!(
            "skipping: shared histories not found at {SHARED} or in any folder above \
             the crate (expected shared/histories/etcd-jepsen/ and shared/histories/kv/, \
             each with its VERDICTS)"
        );
    }
    found
}
