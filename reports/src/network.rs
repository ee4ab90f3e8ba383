//! The network section of a Maelstrom run's page: Maelstrom's `net` stats (messages sent and
//! received, all / between clients and nodes / between nodes, dropped by partitions, and
//! msgs-per-op) and a sequence diagram of the messages (Maelstrom's `messages.svg`), drawn
//! from the run's message journal `net.jsonl`.
//!
//! The diagram shows a window of at most [`WINDOW_MESSAGES`] messages: the ones around the
//! first anomaly a checker names (the first `#N` op of the first invalid result), a window
//! the user chose (`faultline report --messages FROM..TO`, seconds), or else the first
//! messages of the run. One lane per client, node and service; an arrow per message from
//! its sending to its delivery, labelled with the body's `type`; a message a partition
//! dropped ends in a cross. Rows follow the order of events, not a time scale, so a burst
//! stays readable; the left margin gives each row's time.
//!
//! This module only reads what it is handed and writes HTML; it never judges a history.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::history::History;
use serde::Deserialize;
use serde_json::Value;

use crate::html::{cut_to, esc, table};

/// Most messages the sequence diagram draws.
pub(crate) const WINDOW_MESSAGES: usize = 120;

/// One line of `net.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JournalMessage {
    /// Nanoseconds since the start of the history.
    pub sent: u64,
    /// When it was delivered; `None` when a partition dropped it.
    pub recv: Option<u64>,
    pub src: String,
    pub dest: String,
    pub body: Value,
}

/// Where the diagram looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MessagesWindow {
    /// Around the first anomaly a checker names, else the run's first messages.
    Auto,
    /// Messages sent between these two offsets from the start, in seconds.
    Between(f64, f64),
}

/// The messages of `net.jsonl` within `window`, or why they could not be read. Reads the
/// file once, keeping only what the window needs.
fn read_window(
    path: &Path,
    window: MessagesWindow,
    focus: Option<u64>,
) -> Result<(Vec<JournalMessage>, usize), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut kept: std::collections::VecDeque<JournalMessage> = Default::default();
    let mut total = 0usize;
    let mut after_focus = 0usize;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let message: JournalMessage = match serde_json::from_str(&line) {
            Ok(m) => m,
            // A last line torn by a crash is not worth losing the diagram over.
            Err(e) => {
                tracing::warn!(
                    "{}:{}: {e}; the journal is read up to here",
                    path.display(),
                    n + 1
                );
                break;
            }
        };
        total += 1;
        match (window, focus) {
            (MessagesWindow::Between(from, to), _) => {
                let t = message.sent as f64 / 1e9;
                if t >= from && t <= to && kept.len() < WINDOW_MESSAGES {
                    kept.push_back(message);
                }
            }
            (MessagesWindow::Auto, Some(focus)) => {
                if message.sent <= focus {
                    kept.push_back(message);
                    if kept.len() > WINDOW_MESSAGES / 2 {
                        kept.pop_front();
                    }
                } else if after_focus < WINDOW_MESSAGES / 2 {
                    after_focus += 1;
                    kept.push_back(message);
                }
            }
            (MessagesWindow::Auto, None) => {
                if kept.len() < WINDOW_MESSAGES {
                    kept.push_back(message);
                }
            }
        }
    }
    Ok((kept.into(), total))
}

/// The time of the first op an invalid checker names (`#N` in its first reason).
fn first_anomaly(history: Option<&History>, results: &[CheckResult]) -> Option<(u64, u64)> {
    let history = history?;
    let reason = results
        .iter()
        .find(|r| r.valid == Validity::Invalid)?
        .reasons
        .first()?;
    let index = reason.split('#').skip(1).find_map(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    })?;
    let op = history.ops.iter().find(|o| o.index == index)?;
    Some((index, op.time))
}

/// The network section, when the run has `net` stats or a message journal.
pub(crate) fn section(
    run_dir: &Path,
    summary: Option<&Value>,
    history: Option<&History>,
    results: &[CheckResult],
    window: MessagesWindow,
) -> Option<String> {
    let net = summary.and_then(|s| s.get("net"));
    let journal = run_dir.join("net.jsonl");
    if net.is_none() && !journal.is_file() {
        return None;
    }
    let mut body = String::from("<h2 id=\"network\">Network</h2>");
    if let Some(net) = net {
        body.push_str(&stats_table(net));
    }
    if journal.is_file() {
        let anomaly = first_anomaly(history, results);
        match read_window(&journal, window, anomaly.map(|(_, t)| t)) {
            Ok((messages, total)) if !messages.is_empty() => {
                let what = match (window, anomaly) {
                    (MessagesWindow::Between(from, to), _) => {
                        format!("the messages sent between {from:.3} s and {to:.3} s")
                    }
                    (MessagesWindow::Auto, Some((op, _))) => {
                        format!("the messages around op #{op}, the first op the checkers name")
                    }
                    (MessagesWindow::Auto, None) => "the first messages of the run".to_string(),
                };
                let _ = write!(
                    body,
                    "<p class=\"note\">Sequence diagram of {what}: {} of the {total} messages \
                     in <a href=\"net.jsonl\">net.jsonl</a> (hover an arrow for its body; \
                     <code>faultline report RUN --messages FROM..TO</code> draws another \
                     window).</p>",
                    messages.len()
                );
                body.push_str(&sequence_svg(&messages, anomaly));
            }
            Ok(_) => body.push_str("<p class=\"note\">No messages in the window asked for.</p>"),
            Err(e) => {
                let _ = write!(body, "<div class=\"problem\">{}</div>", esc(&e));
            }
        }
    }
    Some(body)
}

fn stats_table(net: &Value) -> String {
    let count = |group: &str, field: &str| {
        net.get(group)
            .and_then(|g| g.get(field))
            .and_then(Value::as_u64)
            .map_or_else(|| "—".to_string(), |n| n.to_string())
    };
    let rows: Vec<Vec<String>> = [
        ("all", "every message"),
        ("clients", "between clients and nodes"),
        ("servers", "between nodes, and nodes and services"),
    ]
    .iter()
    .map(|(group, what)| {
        vec![
            format!("{group} <small>({what})</small>"),
            count(group, "send_count"),
            count(group, "recv_count"),
        ]
    })
    .collect();
    let mut html = table("net", &["messages", "sent", "received"], &rows);
    let dropped = net.get("dropped").and_then(Value::as_u64).unwrap_or(0);
    let per_op = net.get("msgs_per_op").and_then(Value::as_f64);
    let _ = write!(
        html,
        "<p class=\"note\">{dropped} messages dropped by partitions.{}</p>",
        per_op.map_or_else(String::new, |m| format!(
            " <b>{m:.2} messages between nodes per client op</b> (Maelstrom's msgs-per-op)."
        ))
    );
    html
}

/// Lanes: clients, then nodes, then services, each in natural order (`n2` before `n10`).
fn lanes(messages: &[JournalMessage]) -> Vec<String> {
    let names: BTreeSet<&str> = messages
        .iter()
        .flat_map(|m| [m.src.as_str(), m.dest.as_str()])
        .collect();
    let mut lanes: Vec<String> = names.into_iter().map(str::to_string).collect();
    let group = |n: &str| match n.chars().next() {
        Some('c') if n[1..].chars().all(|c| c.is_ascii_digit()) => 0,
        Some('n') if n[1..].chars().all(|c| c.is_ascii_digit()) => 1,
        _ => 2,
    };
    lanes.sort_by_key(|n| {
        let digits: String = n.chars().filter(char::is_ascii_digit).collect();
        (group(n), digits.parse::<u64>().unwrap_or(0), n.clone())
    });
    lanes
}

fn label(body: &Value) -> String {
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("?");
    let mut label = kind.to_string();
    for field in ["key", "message", "msg", "offset", "delta", "value", "code"] {
        if let Some(v) = body.get(field) {
            let text = v.to_string();
            if text.len() <= 12 {
                let _ = write!(label, " {field}={text}");
            }
        }
    }
    label
}

/// The SVG sequence diagram of `messages` (sorted by sending time).
fn sequence_svg(messages: &[JournalMessage], anomaly: Option<(u64, u64)>) -> String {
    const LANE: f64 = 120.0;
    const LEFT: f64 = 80.0;
    const TOP: f64 = 40.0;
    const ROW: f64 = 14.0;
    let lanes = lanes(messages);
    let x = |name: &str| {
        let i = lanes.iter().position(|l| l == name).unwrap_or(0);
        LEFT + LANE / 2.0 + i as f64 * LANE
    };
    // Every send and delivery time gets a row, in time order.
    let mut times: Vec<u64> = messages
        .iter()
        .flat_map(|m| [Some(m.sent), m.recv])
        .flatten()
        .chain(anomaly.map(|(_, t)| t))
        .collect();
    times.sort_unstable();
    times.dedup();
    let y = |t: u64| TOP + times.partition_point(|&u| u < t) as f64 * ROW;
    let width = LEFT + lanes.len() as f64 * LANE + 20.0;
    let height = TOP + times.len() as f64 * ROW + 20.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"messages\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" \
         font-size=\"10\"><defs><marker id=\"msg-head\" markerWidth=\"8\" markerHeight=\"6\" \
         refX=\"8\" refY=\"3\" orient=\"auto\"><path d=\"M0,0 L8,3 L0,6 z\" fill=\"#345\"/>\
         </marker></defs>"
    );
    for lane in &lanes {
        let lx = x(lane);
        let _ = write!(
            svg,
            "<text x=\"{lx:.0}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <line x1=\"{lx:.0}\" y1=\"24\" x2=\"{lx:.0}\" y2=\"{:.0}\" stroke=\"#bbb\"/>",
            esc(lane),
            height - 10.0
        );
    }
    // Times down the left margin, every few rows.
    for (i, t) in times.iter().enumerate().step_by(5) {
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.0}\" fill=\"#888\">{:.3} s</text>",
            TOP + i as f64 * ROW + 3.0,
            *t as f64 / 1e9
        );
    }
    if let Some((op, t)) = anomaly {
        let ay = y(t);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{ay:.1}\" x2=\"{:.0}\" y2=\"{ay:.1}\" stroke=\"#c0392b\" \
             stroke-dasharray=\"4 3\"/><text x=\"{:.0}\" y=\"{:.1}\" fill=\"#c0392b\" \
             text-anchor=\"end\">op #{op}</text>",
            width - 10.0,
            width - 12.0,
            ay - 3.0
        );
    }
    for m in messages {
        let (x1, y1) = (x(&m.src), y(m.sent));
        let x2 = x(&m.dest);
        let mut body = m.body.to_string();
        cut_to(&mut body, 400, "…");
        let title = format!(
            "{} → {} sent {:.6} s, {}: {body}",
            m.src,
            m.dest,
            m.sent as f64 / 1e9,
            m.recv.map_or_else(
                || "dropped by a partition".to_string(),
                |r| format!("delivered {:.6} s", r as f64 / 1e9)
            )
        );
        let text = esc(&label(&m.body));
        match m.recv {
            Some(recv) => {
                let y2 = y(recv);
                let _ = write!(
                    svg,
                    "<g><title>{}</title><line x1=\"{x1:.0}\" y1=\"{y1:.1}\" x2=\"{x2:.0}\" \
                     y2=\"{y2:.1}\" stroke=\"#345\" marker-end=\"url(#msg-head)\"/>\
                     <text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#234\">{text}</text></g>",
                    esc(&title),
                    (x1 + x2) / 2.0,
                    (y1 + y2) / 2.0 - 2.0
                );
            }
            None => {
                let (xm, ym) = ((x1 + x2) / 2.0, y1 + ROW / 2.0);
                let _ = write!(
                    svg,
                    "<g><title>{}</title><line x1=\"{x1:.0}\" y1=\"{y1:.1}\" x2=\"{xm:.0}\" \
                     y2=\"{ym:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"3 2\"/>\
                     <text x=\"{xm:.0}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#c0392b\" \
                     font-size=\"12\">✕</text><text x=\"{xm:.0}\" y=\"{:.1}\" \
                     text-anchor=\"middle\" fill=\"#c0392b\">{text}</text></g>",
                    esc(&title),
                    ym + 4.0,
                    y1 - 2.0
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::history::{Op, OpType, Process};
    use serde_json::json;

    fn journal(dir: &Path, lines: &[Value]) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join("net.jsonl"), text).unwrap();
    }

    fn message(sent: u64, recv: Option<u64>, src: &str, dest: &str, kind: &str) -> Value {
        json!({"sent": sent, "recv": recv, "src": src, "dest": dest, "body": {"type": kind}})
    }

    #[test]
    fn stats_and_a_diagram_with_dropped_messages() {
        let dir = tempfile::tempdir().unwrap();
        journal(
            dir.path(),
            &[
                message(10, Some(20), "c1", "n1", "read"),
                message(21, Some(30), "n1", "n2", "gossip"),
                message(22, None, "n1", "n10", "gossip"),
                message(31, Some(40), "n1", "c1", "read_ok"),
            ],
        );
        let summary = json!({"net": {"all": {"send_count": 4, "recv_count": 3},
            "clients": {"send_count": 2, "recv_count": 2},
            "servers": {"send_count": 2, "recv_count": 1}, "dropped": 1, "msgs_per_op": 2.0}});
        let html = section(dir.path(), Some(&summary), None, &[], MessagesWindow::Auto).unwrap();
        assert!(
            html.contains("2.00 messages between nodes per client op"),
            "{html}"
        );
        assert!(html.contains("1 messages dropped"), "{html}");
        assert!(html.contains("4 of the 4 messages"), "{html}");
        assert!(html.contains("✕"), "a dropped message ends in a cross");
        // Lanes in natural order: c1, n1, n2, n10.
        let order: Vec<usize> = [">c1<", ">n1<", ">n2<", ">n10<"]
            .iter()
            .map(|l| html.find(l).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }

    #[test]
    fn the_window_is_around_the_first_op_an_invalid_checker_names() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<Value> = (0..1000)
            .map(|i| message(i * 1000, Some(i * 1000 + 500), "c1", "n1", &format!("m{i}")))
            .collect();
        journal(dir.path(), &lines);
        let p = Process::Client(0);
        let mut history = History::from_ops(vec![
            Op::new(p, OpType::Invoke, "read", Value::Null).at(700_000),
            Op::new(p, OpType::Ok, "read", json!(1)).at(700_100),
        ]);
        history.ops[1].index = 1;
        let results = [CheckResult::new("x", Validity::Invalid).reason("op #1 read 1")];
        let html = section(
            dir.path(),
            None,
            Some(&history),
            &results,
            MessagesWindow::Auto,
        )
        .unwrap();
        assert!(html.contains("around op #1"), "{html}");
        assert!(html.contains("m700") && html.contains("m650") && !html.contains("m500<"));
        let chosen = section(
            dir.path(),
            None,
            None,
            &[],
            MessagesWindow::Between(0.0001, 0.0002),
        )
        .unwrap();
        assert!(chosen.contains("101 of the 1000 messages"), "{chosen}");
    }
}
