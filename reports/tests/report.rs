//! Run pages rendered from run folders built here: key text, fault shading that lines up
//! with the history's fault intervals in every plot, the counterexample section, damaged
//! run folders, and bare-history reports.

mod common;

use std::fs;

use common::{KILL, MS, PAUSE_START};
use faultline_checkers::checker::{CheckResult, Validity};
use faultline_reports::{render_history, render_run, ReportError};

/// `name="value"` of the first tag in `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let at = tag.find(&pat)? + pat.len();
    let end = tag[at..].find('"')? + at;
    Some(&tag[at..end])
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        .parse()
        .unwrap()
}

/// Every `<svg class="plot" ...>...</svg>` of a page.
fn plots(html: &str) -> Vec<&str> {
    html.match_indices("<svg class=\"plot\"")
        .map(|(at, _)| {
            let end = html[at..].find("</svg>").unwrap() + at;
            &html[at..end]
        })
        .collect()
}

#[test]
fn fault_shading_lines_up_with_the_fault_intervals_in_every_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (valid, _) = common::valid_and_invalid_runs(dir.path());
    let html = fs::read_to_string(render_run(&valid).unwrap()).unwrap();
    let history =
        faultline_checkers::history::History::read_jsonl(&valid.join("history.jsonl")).unwrap();
    let end = history.ops.iter().map(|o| o.time).max().unwrap();
    // Independent of the crate: the fixture's known fault times.
    let expected = [("kill", KILL.0, KILL.1), ("pause", PAUSE_START, end)];
    let svgs = plots(&html);
    assert_eq!(svgs.len(), 3, "latency, quantiles, throughput");
    for svg in svgs {
        let root = &svg[..svg.find('>').unwrap()];
        let plot = attr(root, "data-plot").unwrap();
        let (px0, px1, t1) = (
            num(root, "data-px0"),
            num(root, "data-px1"),
            num(root, "data-t1"),
        );
        assert!(
            (t1 - end as f64 / 1e9).abs() < 1e-9,
            "{plot}: axis ends at the last op"
        );
        let px = |ns: u64| px0 + (ns as f64 / 1e9) / t1 * (px1 - px0);
        let rects: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<rect class=\"fault "))
            .collect();
        assert_eq!(rects.len(), expected.len(), "{plot}: {rects:?}");
        for (rect, (kind, start, stop)) in rects.iter().zip(expected) {
            assert_eq!(attr(rect, "data-fault"), Some(kind), "{plot}");
            let (x, w) = (num(rect, "x"), num(rect, "width"));
            assert!(
                (x - px(start)).abs() <= 1.5,
                "{plot} {kind}: x {x} vs {}",
                px(start)
            );
            assert!(
                (x + w - px(stop)).abs() <= 1.5,
                "{plot} {kind}: right edge {} vs {}",
                x + w,
                px(stop)
            );
            assert!(
                num(rect, "height") > 100.0,
                "{plot}: shading spans the plot's height"
            );
            assert!(attr(rect, "fill").unwrap().starts_with('#'));
            assert!(
                !attr(rect, "fill").unwrap().starts_with("#FA"),
                "sentinel rewritten"
            );
        }
        // The heal of the kill fault is marked where the kill ends.
        let rec = svg
            .lines()
            .find(|l| l.starts_with("<rect class=\"recovery\""))
            .unwrap_or_else(|| panic!("{plot}: no recovery mark"));
        assert!((num(rec, "x") - px(KILL.1)).abs() <= 1.5, "{plot}: {rec}");
        assert!((num(rec, "data-heal-s") - KILL.1 as f64 / 1e9).abs() < 1e-9);
        // Above the plot area (where the shading starts), so it never covers data.
        assert!(
            num(rec, "y") + num(rec, "height") < num(rects[0], "y"),
            "{plot}: {rec}"
        );
        // Something was plotted besides the frame: marks or lines.
        assert!(
            svg.contains("<circle") || svg.contains("<polyline"),
            "{plot} has no data"
        );
    }
}

#[test]
fn the_run_page_says_the_verdict_spec_counts_and_links_the_raw_files() {
    let dir = tempfile::tempdir().unwrap();
    let (valid, invalid) = common::valid_and_invalid_runs(dir.path());
    let html = fs::read_to_string(render_run(&valid).unwrap()).unwrap();
    assert!(html.contains(
        "<div class=\"verdict valid\" id=\"verdict\" data-verdict=\"valid\">Valid: no checker found a problem"
    ));
    assert!(html.contains("<title>register-kill — 20240101T120000</title>"));
    for text in [
        "<td>system</td><td>reference</td>",
        "<td>faults</td><td>kill, pause</td>",
        "<td>seed</td><td>42</td>",
        "<td>nodes</td><td>3</td>",
        "<pre id=\"rerun\">faultline test --workload register --nemesis kill,pause --seed 42</pre>",
        "<a href=\"nodes/n1/node.log\">nodes/n1/node.log</a>",
        "<a href=\"nodes/n2/node.log\">",
        "<a href=\"history.jsonl\">",
        "<a href=\"faultline.log\">",
        "<th>function</th><th>ok</th><th>fail</th><th>info</th><th>pending</th>",
        "<h3>Latency of every op</h3>",
        "<h3>Latency quantiles</h3>",
        "<h3>Throughput</h3>",
        "outside any fault",
        "not healed before the end",
        "3000 completed ops, one mark each.",
        "Showing 3000 of 3000",
    ] {
        let found = html.contains(text)
            || (text.starts_with("Showing") && html.contains("Every client op is drawn"));
        assert!(found, "missing {text}");
    }
    assert!(!html.contains("Why it is not linearizable"));
    // The kill row: 2.000 to 4.050 s, with availability below 100%.
    let row = html
        .split("<tr>")
        .find(|r| r.contains("{&quot;nodes&quot;:[&quot;n2&quot;]}"))
        .unwrap();
    assert!(row.contains("<td>2.000</td><td>4.050</td>"), "{row}");
    let pct: f64 = row
        .split("<td>")
        .find(|c| c.contains('%'))
        .unwrap()
        .trim_end_matches("%</td>")
        .parse()
        .unwrap();
    assert!(pct > 40.0 && pct < 90.0, "kill availability {pct}");

    let html = fs::read_to_string(render_run(&invalid).unwrap()).unwrap();
    assert!(html.contains("data-verdict=\"invalid\">Invalid: a checker found a violation"));
    assert!(html.contains("<h2 id=\"counterexample\">Why it is not linearizable</h2>"));
    assert!(html.contains("cannot be placed (key "));
    assert!(html.contains("<div class=\"chain\" data-attempt=\"0\"><b>Order 1:</b>"));
    assert!(html.contains("✗ does not fit"));
    assert!(
        html.contains("stroke=\"#c62f3b\" stroke-width=\"2.5\""),
        "culprit outlined"
    );
}

#[test]
fn a_damaged_run_folder_still_renders_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (valid, _) = common::valid_and_invalid_runs(dir.path());
    fs::write(valid.join("results.json"), "{\"valid\": tr").unwrap();
    fs::write(
        valid.join("history.jsonl"),
        "{\"format\":\"faultline-history\",\"version\":1}\nnot json\n{}\n",
    )
    .unwrap();
    let html = fs::read_to_string(render_run(&valid).unwrap()).unwrap();
    assert!(html.contains("results.json is not valid JSON"));
    assert!(html.contains("history.jsonl cannot be read, so no plots or timeline"));
    assert!(html.contains("history.jsonl:2:"), "names the line");
    assert!(html.contains("data-verdict=\"unknown\""));
    assert!(html.contains("no checker results were recorded"));

    let err = render_run(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, ReportError::NotAFolder { .. }));
    assert!(err.to_string().contains("nope: not a folder"));
}

#[test]
fn a_bare_history_gets_a_report_without_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::history(400, 4, 2, 8_000);
    let results =
        [CheckResult::new("linearizable", Validity::Unknown).reason("budget ran out after 10 s")];
    let out = render_history(&h, &results, "etcd history", &dir.path().join("report")).unwrap();
    let html = fs::read_to_string(out).unwrap();
    assert!(html.contains("data-verdict=\"unknown\""));
    assert!(html.contains("<li>budget ran out after 10 s</li>"));
    assert!(html.contains("No test.json"));
    assert_eq!(plots(&html).len(), 3);
    assert!(!html.contains("<h2 id=\"files\">"));
}

#[test]
fn long_histories_are_aggregated_and_elided() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::history(30_000, 10, 8, 8_000);
    let out = render_history(&h, &[], "long", dir.path()).unwrap();
    let html = fs::read_to_string(out).unwrap();
    assert!(html.contains("more than the 20000 drawn one by one"));
    assert!(html.contains("Showing 4000 of 30000 client ops"));
    assert!(html.contains("26000 ops elided"));
    assert!(html.len() < 3 * 1024 * 1024, "page is {} bytes", html.len());
    let _ = MS;
}

#[test]
fn the_real_checkers_counterexample_is_drawn() {
    use faultline_checkers::checker::Checker;
    use faultline_checkers::linearizable::Linearizable;
    use faultline_checkers::simulate::{generate, mutate_read, SimConfig};

    let config = SimConfig::register(4, 2, 400, 7);
    let history = (0..20)
        .find_map(|seed| mutate_read(&generate(&config), seed))
        .expect("a read to mutate");
    let checker = Linearizable::new(config.model_name(), None).unwrap();
    let result = checker.check(&history);
    assert_eq!(result.valid, Validity::Invalid, "{:?}", result.reasons);
    let op = result.details["counterexample"]["op"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = render_history(&history, &[result], "mutated", dir.path()).unwrap();
    let html = fs::read_to_string(out).unwrap();
    assert!(
        html.contains(&format!("op #{op} cannot be placed")),
        "counterexample section"
    );
    assert!(
        !html.contains("could not be read"),
        "the checker's shape is understood"
    );
    assert!(
        html.contains("stroke=\"#c62f3b\" stroke-width=\"2.5\""),
        "culprit outlined"
    );
    assert!(html.contains("✗ does not fit"));
    if let Some(keep) = std::env::var_os("REPORT_KEEP") {
        fs::write(keep, &html).unwrap();
    }
}

#[test]
fn a_history_without_times_gets_no_time_plots_and_an_event_order_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = common::history(200, 4, 2, 2_000);
    for op in &mut h.ops {
        op.time = 0;
    }
    let out = render_history(&h, &[], "timeless", dir.path()).unwrap();
    let html = fs::read_to_string(out).unwrap();
    assert!(html.contains(
        "This history carries no timestamps (every op has the same time), so latency and \
         throughput cannot be plotted; the timeline and the counterexample use event order \
         instead."
    ));
    assert!(plots(&html).is_empty(), "no empty time plots");
    assert!(html.contains("<svg class=\"timeline\""));
    assert!(html.contains("data-order=\"events\""));
    assert!(!html.contains("data-order=\"time\""));
    // The same history with its times keeps its plots and a time axis.
    let h = common::history(200, 4, 2, 2_000);
    let out = render_history(&h, &[], "timed", &dir.path().join("timed")).unwrap();
    let html = fs::read_to_string(out).unwrap();
    assert_eq!(plots(&html).len(), 3);
    assert!(!html.contains("carries no timestamps"));
    assert!(html.contains("data-order=\"time\""));
}
