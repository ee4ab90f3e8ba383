//! JUnit XML for CI: one `<testsuite>` per test, one `<testcase>` per checker. An invalid
//! checker is a `<failure>` and an undecided one an `<error>` (CI must not read "unknown"
//! as a pass), each carrying the checker's reasons. This module must never read files.

use std::fmt::Write as _;

use faultline_checkers::checker::{CheckResult, Validity};

use crate::html::escape_markup;

fn xml(text: &str) -> String {
    // XML 1.0 allows only these control characters.
    escape_markup(text, "&apos;", |c| {
        (c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r')
    })
}

/// The JUnit XML report of one test: a test case per checker, failing ones with reasons.
/// The suite's time is the test's duration; cases carry no time of their own.
pub fn junit_xml(test_name: &str, results: &[CheckResult], duration_secs: f64) -> String {
    let failures = results
        .iter()
        .filter(|r| r.valid == Validity::Invalid)
        .count();
    let errors = results
        .iter()
        .filter(|r| r.valid == Validity::Unknown)
        .count();
    let name = xml(test_name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"faultline\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" \
         time=\"{duration_secs:.3}\">",
        results.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" \
         skipped=\"0\" time=\"{duration_secs:.3}\">",
        results.len()
    );
    for r in results {
        let case = format!(
            "    <testcase name=\"{}\" classname=\"{name}\" time=\"0\"",
            xml(&r.checker)
        );
        let reasons = if r.reasons.is_empty() {
            "(the checker gave no reason)".to_string()
        } else {
            r.reasons.join("\n")
        };
        let first = r.reasons.first().map_or("", String::as_str);
        match r.valid {
            Validity::Valid => {
                let _ = writeln!(out, "{case}/>");
            }
            Validity::Invalid => {
                let _ = writeln!(
                    out,
                    "{case}>\n      <failure message=\"invalid: {}\" type=\"invalid\">{}</failure>\n    </testcase>",
                    xml(first),
                    xml(&reasons)
                );
            }
            Validity::Unknown => {
                let _ = writeln!(
                    out,
                    "{case}>\n      <error message=\"unknown: {}\" type=\"unknown\">{}</error>\n    </testcase>",
                    xml(first),
                    xml(&reasons)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_checker_with_reasons_on_failures() {
        let results = vec![
            CheckResult::new("linearizable", Validity::Invalid)
                .reason("op #3 <read> cannot be linearized")
                .reason("second reason"),
            CheckResult::new("stats", Validity::Valid),
            CheckResult::new("timeline", Validity::Unknown).reason("budget ran out"),
        ];
        let x = junit_xml("register & kill", &results, 61.25);
        assert!(x.contains(
            "<testsuite name=\"register &amp; kill\" tests=\"3\" failures=\"1\" errors=\"1\" \
             skipped=\"0\" time=\"61.250\">"
        ));
        assert!(
            x.contains("<testcase name=\"stats\" classname=\"register &amp; kill\" time=\"0\"/>")
        );
        assert!(x.contains(
            "<failure message=\"invalid: op #3 &lt;read&gt; cannot be linearized\" type=\"invalid\">\
             op #3 &lt;read&gt; cannot be linearized\nsecond reason</failure>"
        ));
        assert!(x.contains("<error message=\"unknown: budget ran out\" type=\"unknown\">"));
        assert_eq!(x.matches("<testcase ").count(), 3);
    }

    #[test]
    fn control_characters_are_dropped() {
        let r = CheckResult::new("c\u{1}x", Validity::Valid);
        assert!(junit_xml("t", &[r], 0.0).contains("name=\"cx\""));
    }
}
