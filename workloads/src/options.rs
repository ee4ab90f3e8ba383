//! What a user can tune about a workload ([`WorkloadOptions`]), parsing of the operation mix
//! (`read=2,write=1,cas=1`), and the errors for options a workload cannot honour.
//!
//! Validation only: nothing here builds generators.

/// Options common to every workload; each workload reads the ones that apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadOptions {
    /// How many keys to spread operations over (register: keys `0..keys`). Default 5.
    pub keys: usize,
    /// The relative weight of each operation, e.g. `[("read", 2), ("write", 1)]`. Empty means
    /// the workload's default mix; otherwise operations not named get weight 0.
    pub mix: Vec<(String, u32)>,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            keys: 5,
            mix: Vec::new(),
        }
    }
}

/// Why a workload could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// No workload has this name.
    #[error("unknown workload \"{name}\"; known workloads: {known}")]
    UnknownWorkload {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// Zero keys.
    #[error("workload {workload} needs at least one key, got 0 (try 5)")]
    NoKeys {
        /// The workload.
        workload: String,
    },
    /// The mix names an operation the workload does not have.
    #[error("workload {workload} has no operation \"{f}\" to mix; its operations: {known}")]
    UnknownOperation {
        /// The workload.
        workload: String,
        /// The unknown operation.
        f: String,
        /// The workload's operations, comma-separated.
        known: String,
    },
    /// The mix gives weight 0 to every operation.
    #[error("the mix for workload {workload} gives every operation weight 0; give at least one a positive weight, e.g. read=1")]
    EmptyMix {
        /// The workload.
        workload: String,
    },
    /// The mix text could not be parsed.
    #[error("mix \"{text}\": {reason}; expected operation=weight pairs separated by commas, e.g. read=2,write=1,cas=1")]
    BadMix {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parses a mix such as `read=2,write=1,cas=1` (weights are non-negative integers; an
/// operation may be named once).
pub fn parse_mix(text: &str) -> Result<Vec<(String, u32)>, WorkloadError> {
    let bad = |reason: String| WorkloadError::BadMix {
        text: text.to_string(),
        reason,
    };
    let mut mix: Vec<(String, u32)> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let Some((f, weight)) = part.split_once('=') else {
            return Err(bad(format!("\"{part}\" has no '='")));
        };
        let f = f.trim();
        if f.is_empty() {
            return Err(bad(format!("\"{part}\" names no operation")));
        }
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| bad(format!("weight of {f} is not a non-negative integer")))?;
        if mix.iter().any(|(g, _)| g == f) {
            return Err(bad(format!("{f} is named twice")));
        }
        mix.push((f.to_string(), weight));
    }
    Ok(mix)
}

/// The weight of each of a workload's operations (in the order of `defaults`), from the
/// options' mix, or the defaults when the options give none.
pub(crate) fn resolve_mix(
    workload: &str,
    defaults: &[(&str, u32)],
    given: &[(String, u32)],
) -> Result<Vec<u32>, WorkloadError> {
    if given.is_empty() {
        return Ok(defaults.iter().map(|(_, w)| *w).collect());
    }
    let mut weights = vec![0; defaults.len()];
    for (f, weight) in given {
        let Some(i) = defaults.iter().position(|(g, _)| g == f) else {
            return Err(WorkloadError::UnknownOperation {
                workload: workload.to_string(),
                f: f.clone(),
                known: defaults
                    .iter()
                    .map(|(g, _)| *g)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        weights[i] = *weight;
    }
    if weights.iter().all(|w| *w == 0) {
        return Err(WorkloadError::EmptyMix {
            workload: workload.to_string(),
        });
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RWC: [(&str, u32); 3] = [("read", 2), ("write", 1), ("cas", 1)];

    fn mix(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(f, w)| (f.to_string(), *w)).collect()
    }

    #[test]
    fn parses_a_mix() {
        assert_eq!(
            parse_mix("read=2, write=1 ,cas=0").unwrap(),
            mix(&[("read", 2), ("write", 1), ("cas", 0)])
        );
    }

    #[test]
    fn rejects_bad_mixes_with_the_reason() {
        for (text, reason) in [
            ("read", "has no '='"),
            ("=1", "names no operation"),
            ("read=-1", "not a non-negative integer"),
            ("read=x", "not a non-negative integer"),
            ("read=1,read=2", "named twice"),
            ("", "has no '='"),
        ] {
            let err = parse_mix(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains("e.g. read=2,write=1,cas=1"), "{err}");
        }
    }

    #[test]
    fn resolves_against_the_workloads_operations() {
        assert_eq!(resolve_mix("register", &RWC, &[]).unwrap(), vec![2, 1, 1]);
        assert_eq!(
            resolve_mix("register", &RWC, &mix(&[("cas", 3), ("read", 1)])).unwrap(),
            vec![1, 0, 3]
        );
        let err = resolve_mix("register", &RWC, &mix(&[("append", 1)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workload register has no operation \"append\" to mix; its operations: read, write, cas"
        );
        let err = resolve_mix("register", &RWC, &mix(&[("read", 0)])).unwrap_err();
        assert!(matches!(err, WorkloadError::EmptyMix { .. }));
    }
}
