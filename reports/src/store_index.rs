//! `store/index.html`: every run in a store, newest first, with its time, test, system,
//! faults, verdict, op count and duration. A run folder that is incomplete or damaged is
//! listed with the reason instead of breaking the index.
//!
//! The store holds `store/<test>/<YYYYMMDDTHHMMSS>[-N]/`; `latest` links are skipped. This
//! module must never render run pages itself.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use faultline_checkers::checker::Validity;
use serde_json::Value;

use crate::html::{esc, href, page, verdict_class};
use crate::ReportError;

/// One row of the index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    /// `test/stamp`, relative to the store.
    pub rel: String,
    pub test: String,
    pub stamp: String,
    pub system: String,
    pub faults: String,
    pub verdict: Option<Validity>,
    pub ops: Option<u64>,
    pub duration: Option<f64>,
    /// Why the run cannot be shown fully, when it cannot.
    pub problem: Option<String>,
    pub has_page: bool,
}

/// Every run folder of a store, newest first.
pub(crate) fn scan(store: &Path) -> Result<Vec<RunRow>, ReportError> {
    let mut rows = Vec::new();
    let tests = fs::read_dir(store).map_err(|e| ReportError::io(store, e))?;
    for test in tests.flatten() {
        let test_path = test.path();
        if !is_real_dir(&test_path) {
            continue;
        }
        let Ok(runs) = fs::read_dir(&test_path) else {
            continue;
        };
        let test_name = test.file_name().to_string_lossy().into_owned();
        for run in runs.flatten() {
            let run_path = run.path();
            if !is_real_dir(&run_path) {
                continue;
            }
            rows.push(read_row(
                &run_path,
                &test_name,
                &run.file_name().to_string_lossy(),
            ));
        }
    }
    // Stamps sort as time; ties by test name.
    rows.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.test.cmp(&b.test)));
    Ok(rows)
}

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn read_row(run: &Path, test: &str, stamp: &str) -> RunRow {
    let mut row = RunRow {
        rel: format!("{test}/{stamp}"),
        test: test.to_string(),
        stamp: stamp.to_string(),
        system: String::new(),
        faults: String::new(),
        verdict: None,
        ops: None,
        duration: None,
        problem: None,
        has_page: run.join("index.html").is_file(),
    };
    let mut problems = Vec::new();
    match read(run, "test.json") {
        Ok(spec) => {
            if let Some(name) = spec.get("name").and_then(Value::as_str) {
                row.test = name.to_string();
            }
            row.system = spec
                .get("system")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            row.faults = match spec.get("nemeses").and_then(Value::as_array) {
                Some(a) if a.is_empty() => "none".to_string(),
                Some(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => String::new(),
            };
        }
        Err(p) => problems.push(p),
    }
    match read(run, "results.json") {
        Ok(results) => {
            match results
                .get("valid")
                .map(|v| serde_json::from_value::<Validity>(v.clone()))
            {
                Some(Ok(v)) => row.verdict = Some(v),
                _ => problems.push(
                    "results.json has no verdict (\"valid\" is not true, false or \"unknown\")"
                        .to_string(),
                ),
            }
            row.ops = results.get("ops").and_then(Value::as_u64);
            row.duration = results.get("duration_secs").and_then(Value::as_f64);
        }
        Err(p) => problems.push(p),
    }
    if !problems.is_empty() {
        row.problem = Some(problems.join("; "));
    }
    row
}

fn read(run: &Path, name: &str) -> Result<Value, String> {
    let path = run.join(name);
    let text = fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            if name == "results.json" {
                "no results.json: the run did not finish (interrupted, crashed, or still running)"
                    .to_string()
            } else {
                format!("no {name}")
            }
        } else {
            format!("{name} cannot be read: {e}")
        }
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{name} is not valid JSON: {e}"))
}

/// `20240102T030405` as `2024-01-02 03:04:05` (with any `-N` suffix kept).
fn pretty_stamp(stamp: &str) -> String {
    let b = stamp.as_bytes();
    if b.len() >= 15
        && b[8] == b'T'
        && b.iter()
            .take(15)
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
    {
        format!(
            "{}-{}-{} {}:{}:{}{}",
            &stamp[0..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[9..11],
            &stamp[11..13],
            &stamp[13..15],
            &stamp[15..]
        )
    } else {
        stamp.to_string()
    }
}

/// Write `store/index.html` listing every run, newest first, and return its path.
pub fn render_store_index(store: &Path) -> Result<PathBuf, ReportError> {
    if !store.is_dir() {
        return Err(ReportError::NotAFolder {
            path: store.to_path_buf(),
            hint: "give the store folder (the --store of `faultline test`, default ./store)",
        });
    }
    let rows = scan(store)?;
    let mut body = format!(
        "<h1>faultline runs</h1><p class=\"note\">{} runs in {}, newest first.</p>",
        rows.len(),
        esc(&store.display().to_string())
    );
    let counts = [Validity::Invalid, Validity::Unknown, Validity::Valid]
        .map(|v| rows.iter().filter(|r| r.verdict == Some(v)).count());
    let broken = rows.iter().filter(|r| r.problem.is_some()).count();
    let _ = write!(
        body,
        "<p><span class=\"badge invalid\">{} invalid</span> <span class=\"badge unknown\">{} \
         unknown</span> <span class=\"badge valid\">{} valid</span> {} with problems</p>",
        counts[0], counts[1], counts[2], broken
    );
    body.push_str(
        "<table class=\"runs\"><thead><tr><th>time</th><th>test</th><th>system</th>\
         <th>faults</th><th>verdict</th><th class=\"num\">ops</th><th class=\"num\">duration</th>\
         <th>notes</th></tr></thead><tbody>",
    );
    for r in &rows {
        let target = if r.has_page {
            format!("{}/index.html", r.rel)
        } else {
            format!("{}/", r.rel)
        };
        let verdict = match r.verdict {
            Some(v) => format!("<span class=\"badge {}\">{}</span>", verdict_class(v), v),
            None => "<span class=\"badge unknown\">?</span>".to_string(),
        };
        let mut notes = r.problem.clone().map(|p| esc(&p)).unwrap_or_default();
        if !r.has_page {
            if !notes.is_empty() {
                notes.push_str("; ");
            }
            notes.push_str("no report page yet (<code>faultline report</code> writes one)");
        }
        let _ = write!(
            body,
            "<tr class=\"{}\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{verdict}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{notes}</td></tr>",
            if r.problem.is_some() { "broken" } else { "ok" },
            href(&target),
            esc(&pretty_stamp(&r.stamp)),
            esc(&r.test),
            esc(&r.system),
            esc(&r.faults),
            r.ops.map_or(String::new(), |n| n.to_string()),
            r.duration.map_or(String::new(), |d| format!("{d:.1} s")),
        );
    }
    body.push_str("</tbody></table>");
    let out = store.join("index.html");
    fs::write(&out, page("faultline runs", &body)).map_err(|e| ReportError::io(&out, e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn lists_runs_newest_first_and_explains_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        write(
            &s.join("reg/20240101T000000/test.json"),
            r#"{"name":"reg","system":"reference","nemeses":["kill","pause"]}"#,
        );
        write(
            &s.join("reg/20240101T000000/results.json"),
            r#"{"valid":false,"ops":1200,"duration_secs":12.5}"#,
        );
        write(&s.join("reg/20240101T000000/index.html"), "x");
        // Crashed before results.json.
        write(
            &s.join("reg/20240301T101010/test.json"),
            r#"{"name":"reg","system":"reference","nemeses":[]}"#,
        );
        // Corrupt results.json.
        write(
            &s.join("other/20240201T000000/results.json"),
            "{\"valid\": tru",
        );
        std::os::unix::fs::symlink("reg/20240301T101010", s.join("latest")).unwrap();
        std::os::unix::fs::symlink("20240301T101010", s.join("reg/latest")).unwrap();

        let rows = scan(s).unwrap();
        let stamps: Vec<&str> = rows.iter().map(|r| r.stamp.as_str()).collect();
        assert_eq!(
            stamps,
            ["20240301T101010", "20240201T000000", "20240101T000000"]
        );
        assert!(rows[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("no results.json"));
        assert_eq!(rows[0].faults, "none");
        let corrupt = rows[1].problem.as_deref().unwrap();
        assert!(
            corrupt.contains("results.json is not valid JSON"),
            "{corrupt}"
        );
        assert!(corrupt.contains("no test.json"), "{corrupt}");
        assert_eq!(rows[2].verdict, Some(Validity::Invalid));
        assert_eq!(rows[2].faults, "kill, pause");

        let out = render_store_index(s).unwrap();
        let html = fs::read_to_string(out).unwrap();
        assert!(html.contains("3 runs in"));
        assert!(html.contains("<a href=\"reg/20240101T000000/index.html\">2024-01-01 00:00:00</a>"));
        assert!(html.contains("<a href=\"other/20240201T000000/\">"));
        assert!(html.contains("<span class=\"badge invalid\">invalid</span>"));
        assert!(html.contains("12.5 s"));
        assert!(html.contains("results.json is not valid JSON"));
        assert_eq!(html.matches("<tr class=\"broken\">").count(), 2);
    }

    #[test]
    fn a_missing_store_is_an_error_naming_it() {
        let err = render_store_index(Path::new("/nonexistent/store")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/store: not a folder"));
    }
}
