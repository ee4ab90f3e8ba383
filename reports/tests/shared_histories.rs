//! A real Jepsen history with no timestamps, `etcd-jepsen/etcd_000.log` from the shared
//! histories, checked by the real linearizability checker and rendered: the page says it
//! cannot plot time, and the counterexample picture shows the read that cannot be placed
//! and every write concurrent with it as a labelled bar. Skips (saying so) when the shared
//! histories are not there.

// The checkers' tests find the shared histories the same way.
#[path = "../../checkers/tests/shared_dir/mod.rs"]
mod shared_dir;

use std::path::{Path, PathBuf};

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::formats::read_path;
use faultline_checkers::linearizable::Linearizable;
use faultline_reports::render_history;
use shared_dir::shared;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// `name="value"` of the first tag in `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let at = tag.find(&pat)? + pat.len();
    let end = tag[at..].find('"')? + at;
    Some(&tag[at..end])
}

/// The opening tag of the first `<{element} ...data-op="{op}"...>` in `svg`.
fn tag_for<'a>(svg: &'a str, element: &str, op: u64) -> Option<&'a str> {
    let needle = format!("data-op=\"{op}\"");
    svg.match_indices(&format!("<{element} "))
        .map(|(at, _)| &svg[at..at + svg[at..].find('>').unwrap()])
        .find(|tag| tag.contains(&needle))
}

#[test]
fn etcd_000_shows_the_offending_read_and_the_writes_concurrent_with_it() {
    let Some(root) = shared() else { return };
    let path = root.join("etcd-jepsen/etcd_000.log");
    if !path.is_file() {
        eprintln!("skipping: {} is missing", path.display());
        return;
    }
    let history = read_path(&path, None).unwrap_or_else(|e| panic!("{e}"));
    let result = Linearizable::new("cas-register", None)
        .unwrap()
        .check(&history);
    assert_eq!(result.valid, Validity::Invalid, "{:?}", result.reasons);
    let cx = &result.details["counterexample"];
    let culprit = cx["op"].as_u64().expect("counterexample op");
    let concurrent: Vec<u64> = cx["concurrent"]
        .as_array()
        .expect("concurrent ops")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let invoke = |index: u64| {
        history
            .ops
            .iter()
            .find(|o| o.index == index)
            .unwrap_or_else(|| panic!("op #{index} not in the history"))
    };
    let writes: Vec<u64> = concurrent
        .iter()
        .copied()
        .filter(|&i| invoke(i).f == "write")
        .collect();
    assert!(!writes.is_empty(), "etcd_000's failing read races writes");

    let out = target_dir().join("report-screenshots/etcd_000");
    let page = render_history(&history, &[result], &path.display().to_string(), &out).unwrap();
    println!("report: {}", page.display());
    let html = std::fs::read_to_string(&page).unwrap();

    // No timestamps: no time plots, one sentence saying why, event order instead.
    assert!(html.contains("This history carries no timestamps"));
    assert!(!html.contains("<svg class=\"plot\""), "no empty time plots");
    assert!(html.contains("data-order=\"events\""));

    let at = html
        .find("<figure class=\"counterexample-window\">")
        .expect("a counterexample picture");
    let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
    let width: f64 = attr(svg, "width").unwrap().parse().unwrap();
    let mut named = vec![culprit];
    named.extend(&writes);
    for op in named {
        let bar = tag_for(svg, "rect", op).unwrap_or_else(|| panic!("no bar for #{op}"));
        let (x, w): (f64, f64) = (
            attr(bar, "x").unwrap().parse().unwrap(),
            attr(bar, "width").unwrap().parse().unwrap(),
        );
        assert!(w >= 16.0, "#{op}: bar only {w} px wide");
        assert!(x >= 0.0 && x + w <= width, "#{op}: bar outside the picture");
        let label = tag_for(svg, "text", op).unwrap_or_else(|| panic!("no label for #{op}"));
        let lx: f64 = attr(label, "x").unwrap().parse().unwrap();
        assert!(
            lx >= 0.0 && lx < width - 40.0,
            "#{op}: label outside the picture"
        );
        let text_at = svg.find(label).unwrap() + label.len() + 1;
        let text = &svg[text_at..text_at + svg[text_at..].find("</text>").unwrap()];
        let inv = invoke(op);
        assert!(
            text.starts_with(&format!("#{op} {} {}", inv.f, inv.value)) || inv.value.is_null(),
            "#{op} labelled {text:?}"
        );
    }
    // The failing read: labelled with what it returned, on a highlighted box.
    let label = tag_for(svg, "text", culprit).unwrap();
    assert!(label.contains("font-weight=\"bold\""), "{label}");
    assert!(
        svg.contains(&format!(
            "pointer-events=\"none\">#{culprit} read → 2</text>"
        )),
        "the read's label names its value"
    );
    assert!(svg.contains("<rect class=\"culprit-label\""));
}
