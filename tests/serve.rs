//! End-to-end: `faultline serve` lists the runs of a store (a corrupt run folder is listed
//! with its reason, not breaking the index) and serves each run's report.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// GET a path from the server; returns (status line, body).
fn get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn serve_lists_runs_and_serves_their_reports() {
    let (store, run) = valid_run(&[
        "--time-limit",
        "5",
        "--node-count",
        "3",
        "--nemesis",
        "none",
    ]);
    assert!(run.join("index.html").is_file(), "every run gets a report");
    assert!(
        store.path().join("index.html").is_file(),
        "the store index is regenerated after a run"
    );
    // A run folder whose results are corrupt, as a crash mid-write could leave it.
    let broken = store
        .path()
        .join("reference-register")
        .join("20200101T000000");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("results.json"), "{ not json").unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = faultline()
        .args(["serve", "--port", &port.to_string(), "--store"])
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, index) = get(port, "/");
    let run_name = run.file_name().unwrap().to_string_lossy().to_string();
    let (run_status, page) = get(port, &format!("/reference-register/{run_name}/"));
    let (missing, _) = get(port, "/no-such-run/");
    let (escape, _) = get(port, "/../../etc/passwd");
    let _ = server.kill();
    let _ = server.wait();

    assert!(status.contains("200"), "{status}");
    assert!(index.contains(&run_name), "the index lists the run");
    assert!(
        index.contains("20200101T000000"),
        "the corrupt run is listed"
    );
    assert!(
        index.contains("results.json"),
        "with the reason it could not be read"
    );
    assert!(run_status.contains("200"), "{run_status}");
    assert!(page.contains("<svg"), "the run's report has its plots");
    assert!(missing.contains("404"), "{missing}");
    assert!(
        !escape.contains("200"),
        "nothing outside the store is served: {escape}"
    );
}
