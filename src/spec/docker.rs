//! The docker cluster of a run (`--target docker`): its compose project name and its subnet,
//! derived from the store folder and the test's name, so two runs (or two checkouts' test
//! suites) with different stores or names never share containers or addresses.
//!
//! The derivation is a hash (FNV-1a, stable across builds) of the store's absolute path and
//! the name: the project is `faultline-<8 hex digits>`, the subnet one of the 8192 /24s
//! `10.216.0.0` … `10.247.255.0` (clear of the local namespaces' `10.213` and the former
//! fixed `10.215.0.0/24`). A subnet another docker network already holds is skipped for the
//! next one in order, so the choice depends only on the store, the name and the networks
//! that exist; the cluster's own network (an earlier run of the same store and name, left
//! running) keeps its subnet.
//!
//! Runs that start at once ([`choose`]) would not see each other's networks, which exist only
//! once each brings its cluster up: each claims its subnet in the cache folder
//! (`docker/claims/<project>`, under a file lock), and a claim younger than
//! [`CLAIM_LIFETIME`] counts as a network that exists.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Second octets of the subnets the clusters use: 10.216 … 10.247.
const SECOND_OCTETS: std::ops::RangeInclusive<u32> = 216..=247;

/// One run's docker cluster: its compose project and the first three octets of its /24.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerProject {
    /// The compose project name (`-p`); containers are `<project>-n1` ….
    pub project: String,
    /// The subnet's first three octets, e.g. `10.231.17`.
    pub prefix: String,
}

impl DockerProject {
    /// The project of the cluster of `name`'s runs in `store`, on a subnet no network in
    /// `taken` (each `(network name, subnet)`) holds, but the cluster's own.
    pub fn derive(store: &Path, name: &str, taken: &[(String, String)]) -> DockerProject {
        let store = absolute(store);
        let mut key = store.to_string_lossy().into_owned().into_bytes();
        key.push(0);
        key.extend_from_slice(name.as_bytes());
        let hash = fnv1a(&key);
        let project = format!("faultline-{:08x}", hash as u32);
        let own_network = format!("{project}_faultline");
        let in_range = |prefix: &str| {
            let octets: Vec<u32> = prefix.split('.').filter_map(|o| o.parse().ok()).collect();
            octets.len() == 3 && octets[0] == 10 && SECOND_OCTETS.contains(&octets[1])
        };
        let own = taken.iter().find_map(|(network, subnet)| {
            let prefix = subnet.strip_suffix(".0/24")?;
            (*network == own_network && in_range(prefix)).then(|| prefix.to_string())
        });
        if let Some(prefix) = own {
            return DockerProject { project, prefix };
        }
        let slots = (SECOND_OCTETS.end() - SECOND_OCTETS.start() + 1) * 256;
        let first = ((hash >> 32) % u64::from(slots)) as u32;
        let prefix_of =
            |slot: u32| format!("10.{}.{}", SECOND_OCTETS.start() + slot / 256, slot % 256);
        let prefix = (0..slots)
            .map(|k| prefix_of((first + k) % slots))
            .find(|prefix| {
                let subnet = format!("{prefix}.0/24");
                !taken
                    .iter()
                    .any(|(network, s)| *s == subnet && *network != own_network)
            })
            .unwrap_or_else(|| prefix_of(first));
        DockerProject { project, prefix }
    }

    /// The address of node `i` (1-based): `.11` … `.15`.
    pub fn node_addr(&self, i: usize) -> String {
        format!("{}.{}", self.prefix, 10 + i)
    }

    /// The subnet, `10.a.b.0/24`.
    pub fn subnet(&self) -> String {
        format!("{}.0/24", self.prefix)
    }
}

/// `path` made absolute (and canonical when it exists), so `store` and `./store` agree.
fn absolute(path: &Path) -> std::path::PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// How long a run's claim of its subnet holds off others: the time from choosing the subnet
/// to the cluster's network existing (a first image build included), with room to spare.
pub const CLAIM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The project of the cluster of `name`'s runs in `store`, on a subnet that neither a docker
/// network nor another run's recent claim holds; claims it. Runs choose one at a time (a
/// lock on the cache folder); a cache that cannot be written only loses the claim.
pub fn choose(store: &Path, name: &str) -> DockerProject {
    let dir = crate::spec::ssh::cache_dir().join("docker").join("claims");
    let _turn = crate::spec::ssh::lock_cache(&dir)
        .map_err(|e| tracing::warn!("no claim on a subnet: {e:#}"))
        .ok();
    let mut taken = existing_networks();
    // The project does not depend on the subnets taken; its own claim holds nothing off.
    let own = DockerProject::derive(store, name, &[]).project;
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let claimer = entry.file_name().to_string_lossy().into_owned();
        if !claimer.starts_with("faultline-") || claimer == own {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok());
        if age.is_none_or(|age| age > CLAIM_LIFETIME) {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if let Ok(prefix) = std::fs::read_to_string(entry.path()) {
            taken.push((
                format!("{claimer}_faultline"),
                format!("{}.0/24", prefix.trim()),
            ));
        }
    }
    let project = DockerProject::derive(store, name, &taken);
    // Written whole under the lock, and anew: the claim lasts from this choice.
    let _ = std::fs::write(dir.join(&project.project), &project.prefix);
    project
}

/// The 64-bit FNV-1a hash of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The docker networks that exist, with their IPv4 subnets (nothing when docker is not
/// there: the cluster's own start then says so).
pub fn existing_networks() -> Vec<(String, String)> {
    let Ok(out) = Command::new("docker")
        .args(["network", "ls", "--format", "{{.Name}}"])
        .output()
    else {
        return Vec::new();
    };
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let Ok(out) = Command::new("docker")
        .args(["network", "inspect", "--format"])
        .arg("{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}")
        .args(&names)
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            words
                .map(move |subnet| (name.clone(), subnet.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_store_and_name_give_the_same_cluster_and_others_differ() {
        let a = DockerProject::derive(Path::new("/srv/a/store"), "reference-register", &[]);
        let again = DockerProject::derive(Path::new("/srv/a/store"), "reference-register", &[]);
        assert_eq!(a, again);
        assert!(
            a.project.starts_with("faultline-") && a.project.len() == 18,
            "{a:?}"
        );
        let other_store =
            DockerProject::derive(Path::new("/srv/b/store"), "reference-register", &[]);
        let other_name = DockerProject::derive(Path::new("/srv/a/store"), "etcd-register", &[]);
        for other in [&other_store, &other_name] {
            assert_ne!(a.project, other.project);
            assert_ne!(a.prefix, other.prefix);
        }
        // A relative store is the same store as its absolute path.
        let here = std::env::current_dir().unwrap().join("some-store");
        assert_eq!(
            DockerProject::derive(Path::new("some-store"), "x", &[]),
            DockerProject::derive(&here, "x", &[])
        );
    }

    #[test]
    fn subnets_stay_in_their_range_and_skip_other_networks_but_not_their_own() {
        for i in 0..200 {
            let p = DockerProject::derive(Path::new(&format!("/s{i}")), "t", &[]);
            let octets: Vec<u32> = p.prefix.split('.').map(|o| o.parse().unwrap()).collect();
            assert_eq!(octets[0], 10);
            assert!(SECOND_OCTETS.contains(&octets[1]), "{p:?}");
            assert!(octets[2] <= 255);
            assert_eq!(p.node_addr(1), format!("{}.11", p.prefix));
            assert_eq!(p.subnet(), format!("{}.0/24", p.prefix));
        }
        let free = DockerProject::derive(Path::new("/srv/a"), "t", &[]);
        let taken = [("someone_else".to_string(), free.subnet())];
        let moved = DockerProject::derive(Path::new("/srv/a"), "t", &taken);
        assert_eq!(moved.project, free.project);
        assert_ne!(moved.prefix, free.prefix);
        let own = [(format!("{}_faultline", free.project), free.subnet())];
        assert_eq!(DockerProject::derive(Path::new("/srv/a"), "t", &own), free);
        // The cluster's own network keeps its subnet, whatever the first free one is now.
        let own = [
            (
                format!("{}_faultline", free.project),
                "10.230.4.0/24".to_string(),
            ),
            ("someone_else".to_string(), "10.230.5.0/24".to_string()),
        ];
        let kept = DockerProject::derive(Path::new("/srv/a"), "t", &own);
        assert_eq!(
            (kept.project, kept.prefix),
            (free.project, "10.230.4".to_string())
        );
    }
}
