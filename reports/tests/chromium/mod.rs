//! Headless Chromium checks of report pages, shared by the reports crate's browser test and
//! the end-to-end test that opens the reports of real runs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's chromium, installed here when missing and running as root.
pub fn chromium() -> PathBuf {
    let found = |name: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    if let Some(p) = found("chromium") {
        return p;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    assert!(
        root,
        "chromium is not installed and this test is not running as root: install it with \
         `apt-get install -y chromium`"
    );
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !install() {
        let _ = Command::new("apt-get").arg("update").status();
        assert!(install(), "`apt-get install -y chromium` failed");
    }
    found("chromium").expect("chromium installed but not on PATH")
}

/// Run chromium headless on a page; returns (stdout, stderr).
pub fn run_chromium(browser: &Path, args: &[&str], page: &Path) -> (String, String) {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Appended to a copy of the page: measures, in the browser, what each plot drew.
const CHECK_SCRIPT: &str = r#"<script>
window.addEventListener('error', e => document.body.setAttribute('data-error', e.message));
window.addEventListener('load', () => {
  const lines = [];
  document.querySelectorAll('svg.plot').forEach(svg => {
    const px0 = +svg.dataset.px0, px1 = +svg.dataset.px1;
    let n = 0, inside = 0, x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    // Data is drawn after the fault shading; axes and ticks before it. A heat map's cells
    // are rects inside the plotting area (the heal marks are rects above it).
    const shade = svg.querySelector('rect.fault');
    const area = shade && shade.getBBox();
    svg.querySelectorAll('circle, polyline, polygon, rect').forEach(el => {
      if (!shade || !(shade.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)) return;
      const b = el.getBBox();
      if (el.tagName === 'rect' && (el.classList.contains('fault')
          || el.classList.contains('recovery') || b.y < area.y - 1)) return;
      n++;
      if (b.x >= px0 - 4 && b.x + b.width <= px1 + 4) inside++;
      x0 = Math.min(x0, b.x); x1 = Math.max(x1, b.x + b.width);
      y0 = Math.min(y0, b.y); y1 = Math.max(y1, b.y + b.height);
    });
    const faults = [...svg.querySelectorAll('rect.fault')]
      .map(r => r.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0).length;
    lines.push(`plot=${svg.dataset.plot} marks=${n} inside=${inside} spanx=${Math.round(x1 - x0)} spany=${Math.round(y1 - y0)} areax=${px1 - px0} faults=${faults}`);
  });
  const pre = document.createElement('pre');
  pre.id = 'check-out';
  pre.textContent = lines.join('\n');
  document.body.appendChild(pre);
});
</script>"#;

struct PlotCheck {
    plot: String,
    marks: u64,
    inside: u64,
    spanx: f64,
    areax: f64,
    faults: u64,
}

fn parse_checks(dom: &str) -> Vec<PlotCheck> {
    let at = dom
        .find("<pre id=\"check-out\">")
        .expect("the check script ran")
        + 20;
    let end = dom[at..].find("</pre>").unwrap() + at;
    dom[at..end]
        .lines()
        .map(|line| {
            let get = |k: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .unwrap_or_else(|| panic!("{k} in {line}"))
                    .to_string()
            };
            PlotCheck {
                plot: get("plot"),
                marks: get("marks").parse().unwrap(),
                inside: get("inside").parse().unwrap(),
                spanx: get("spanx").parse().unwrap(),
                areax: get("areax").parse().unwrap(),
                faults: get("faults").parse().unwrap(),
            }
        })
        .collect()
}

/// Open a run page in headless Chromium: screenshots under `shots`, no console message, the
/// page loaded, and every plot drew inside its plotting area with its faults shaded
/// (exactly `faults` visible fault rectangles per plot when given, at least one otherwise).
pub fn check_page(browser: &Path, page: &Path, shots: &Path, name: &str, faults: Option<u64>) {
    // 1. Plain page: screenshots and no console message at all.
    let top = shots.join(format!("{name}.png"));
    let (_, stderr) = run_chromium(
        browser,
        &[
            &format!("--screenshot={}", top.display()),
            "--window-size=1400,3000",
        ],
        page,
    );
    let console = console_messages(&stderr);
    assert!(console.is_empty(), "{name}: console messages: {console:?}");
    assert!(
        top.metadata().map(|m| m.len() > 10_000).unwrap_or(false),
        "{name}: empty screenshot"
    );
    println!("screenshot: {}", top.display());
    // The rest of the page, for a person to look at.
    let full = shots.join(format!("{name}-full.png"));
    run_chromium(
        browser,
        &[
            &format!("--screenshot={}", full.display()),
            "--window-size=1400,9000",
        ],
        page,
    );
    println!("screenshot: {}", full.display());

    // 2. A copy with a measuring script: the page loaded, and the plots drew inside.
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_file_name("index.check.html");
    std::fs::write(
        &probe,
        html.replace("</body>", &format!("{CHECK_SCRIPT}</body>")),
    )
    .unwrap();
    let (dom, stderr) = run_chromium(browser, &["--dump-dom"], &probe);
    std::fs::remove_file(&probe).unwrap();
    assert!(console_messages(&stderr).is_empty(), "{name}: {stderr}");
    assert!(!dom.contains("data-error="), "{name}: script error");
    assert!(dom.contains("id=\"verdict\""), "{name}: page did not load");
    let checks = parse_checks(&dom);
    assert_eq!(checks.len(), 3, "{name}: three plots");
    for c in &checks {
        assert!(
            c.marks >= 3,
            "{name} {}: only {} marks or lines",
            c.plot,
            c.marks
        );
        assert_eq!(
            c.inside, c.marks,
            "{name} {}: marks outside the plotting area",
            c.plot
        );
        assert!(
            c.spanx > c.areax * 0.8,
            "{name} {}: data spans {} of {} px",
            c.plot,
            c.spanx,
            c.areax
        );
        match faults {
            Some(expected) => assert_eq!(
                c.faults, expected,
                "{name} {}: every fault shaded and visible",
                c.plot
            ),
            None => assert!(c.faults >= 1, "{name} {}: no fault shaded", c.plot),
        }
    }
}
