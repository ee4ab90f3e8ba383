//! HTML text helpers: escaping, the page shell with its inline style sheet, and small
//! building blocks (verdict badges, tables). Everything a page needs is inline, so a
//! page opens from disk with no network.
//!
//! This module must never read files or compute statistics.

use std::fmt::Write as _;

use faultline_checkers::checker::Validity;

/// Escape text for HTML element content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    escape_markup(text, "&#39;", |_| true)
}

/// Escape `text` for markup (HTML or XML): `<`, `>`, `&` and `"` as entities, `'` as
/// `apostrophe`, and drop the characters `keep` refuses.
pub(crate) fn escape_markup(text: &str, apostrophe: &str, keep: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c if keep(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Cut `text` to at most `max` bytes (at a character boundary) followed by `mark`, when it
/// is longer than `max`.
pub(crate) fn cut_to(text: &mut String, max: usize, mark: &str) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(mark);
    }
}

/// Escape a relative path for an `href`: each segment percent-encoded where needed.
pub(crate) fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// CSS class of a verdict.
pub(crate) fn verdict_class(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// The verdict in words a person reads.
pub(crate) fn verdict_words(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "Valid: no checker found a problem",
        Validity::Invalid => "Invalid: a checker found a violation",
        Validity::Unknown => "Unknown: a checker could not decide",
    }
}

/// A table with a header row (none when `header` is empty); cells are already HTML.
pub(crate) fn table(class: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table class=\"{class}\">");
    if !header.is_empty() {
        out.push_str("<thead><tr>");
        for h in header {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead>");
    }
    out.push_str("<tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A drawn plot (SVG) and its note, e.g. whether it was aggregated; drawn by `plots.rs`,
/// placed on a page by [`figure`]. It lives here, below both, so neither uses the other.
pub(crate) struct Plot {
    pub svg: String,
    pub note: String,
}

/// A figure: a heading, the plot's SVG, its legend (HTML) and its note as the caption.
pub(crate) fn figure(body: &mut String, title: &str, plot: &Plot, legend: &str) {
    let _ = write!(
        body,
        "<h3>{}</h3><figure>{}{}<figcaption>{}</figcaption></figure>",
        esc(title),
        plot.svg,
        legend,
        esc(&plot.note)
    );
}

const STYLE: &str = r#"
:root { --valid:#1f8a4c; --invalid:#c62f3b; --unknown:#b7791f; --ink:#1d232b; --mute:#5d6673; --line:#d8dde3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1260px; margin: 0 auto; padding: 16px 20px 60px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.verdict { border-radius: 8px; padding: 14px 18px; color: white; font-size: 20px; font-weight: 600; margin: 8px 0 12px; }
.verdict small { display: block; font-size: 14px; font-weight: 400; opacity: .95; }
.verdict.valid { background: var(--valid); } .verdict.invalid { background: var(--invalid); } .verdict.unknown { background: var(--unknown); }
.badge { display: inline-block; border-radius: 4px; padding: 0 7px; color: white; font-weight: 600; font-size: 12px; }
.badge.valid { background: var(--valid); } .badge.invalid { background: var(--invalid); } .badge.unknown { background: var(--unknown); }
table { border-collapse: collapse; background: white; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
pre { background: white; border: 1px solid var(--line); padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.spec td:first-child { color: var(--mute); white-space: nowrap; }
.note { color: var(--mute); }
.problem { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
.reasons li { margin: 3px 0; }
figure { margin: 10px 0 18px; background: white; border: 1px solid var(--line); padding: 6px; }
figure > svg { display: block; max-width: 100%; height: auto; }
.legend svg { vertical-align: middle; margin-right: 3px; }
figcaption { color: var(--mute); font-size: 13px; margin: 4px 2px; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 4px 2px; font-size: 13px; }
.legend span.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: middle; border: 1px solid rgba(0,0,0,.2); }
.links a { margin-right: 14px; }
.elided { background: #eef1f4; border: 1px dashed #aab3bd; padding: 6px 10px; margin: 6px 0; color: var(--mute); }
.chain { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin: 4px 0 10px; }
.chain .state { background: #eef1f4; border: 1px solid var(--line); border-radius: 10px; padding: 1px 8px; font-family: ui-monospace, monospace; font-size: 12px; }
.chain .step { background: #e7f0fb; border: 1px solid #9cc0e8; border-radius: 4px; padding: 1px 6px; font-size: 12px; }
.chain .bad { background: #fde8ea; border: 1px solid var(--invalid); border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 600; }
nav.toc a { margin-right: 12px; }
figure.timeline-part { margin: 3px 0; padding: 2px; }
table.runs td:first-child { white-space: nowrap; }
"#;

/// A whole page: title, inline style, body.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn hrefs_keep_slashes_and_encode_the_rest() {
        assert_eq!(href("nodes/n 1/node.log"), "nodes/n%201/node.log");
    }
}
