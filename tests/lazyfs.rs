//! End-to-end: faultline's FUSE layer (`faultline lazyfs`) and the `lose-unfsynced` nemesis.
//! A mount keeps what was fsynced and loses the rest on command (data, sizes and names, as
//! the README describes); against the reference service `--bug no-fsync` then loses
//! acknowledged writes (`invalid`) while the correct service stays `valid`, and the report's
//! fault table lists the faults. Needs root and /dev/fuse: skipped with a message elsewhere,
//! never in CI.

mod common;
mod netfaults;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use netfaults::*;

/// Whether FUSE can be mounted here; in CI its absence is a failure.
fn fuse_available() -> bool {
    let ok = is_root()
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs these tests as root with /dev/fuse"
        );
        eprintln!("skipped: lazyfs needs root and /dev/fuse");
    }
    ok
}

struct Mount {
    child: Child,
    control: std::path::PathBuf,
}

impl Mount {
    fn start(backing: &Path, mount: &Path, control: &Path) -> Mount {
        let child = faultline()
            .args(["lazyfs", "--backing"])
            .arg(backing)
            .arg("--mount")
            .arg(mount)
            .arg("--control")
            .arg(control)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let m = Mount {
            child,
            control: control.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.try_command("pending").is_none() {
            assert!(Instant::now() < deadline, "lazyfs did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    fn try_command(&self, command: &str) -> Option<serde_json::Value> {
        let mut stream = UnixStream::connect(&self.control).ok()?;
        writeln!(stream, "{command}").ok()?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    fn lose(&self) -> serde_json::Value {
        self.try_command("lose").expect("lazyfs answers")["lost"].clone()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = self.try_command("unmount");
        let _ = self.child.wait();
    }
}

fn mounted(path: &Path) -> bool {
    let want = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

fn fsync_dir(path: &Path) {
    std::fs::File::open(path).unwrap().sync_all().unwrap();
}

#[test]
fn a_mount_keeps_what_was_fsynced_and_loses_the_rest() {
    if !fuse_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("durable"), dir.path().join("data"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let m = Mount::start(&backing, &mnt, &dir.path().join("c.sock"));
    assert!(mounted(&mnt));

    // Written, not fsynced: gone, the file's creation too.
    std::fs::write(mnt.join("volatile"), b"lost").unwrap();
    assert_eq!(std::fs::read(mnt.join("volatile")).unwrap(), b"lost");
    let lost = m.lose();
    assert_eq!(lost["bytes"], 4, "{lost}");
    assert!(!mnt.join("volatile").exists());

    // Written and fsynced: kept; an append after the fsync is lost.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(mnt.join("log"))
        .unwrap();
    f.write_all(b"durable").unwrap();
    f.sync_data().unwrap();
    f.write_all(b" volatile").unwrap();
    drop(f);
    assert_eq!(std::fs::read(mnt.join("log")).unwrap(), b"durable volatile");
    let lost = m.lose();
    assert_eq!(lost["files"], serde_json::json!(["log"]), "{lost}");
    assert_eq!(std::fs::read(mnt.join("log")).unwrap(), b"durable");
    assert_eq!(std::fs::read(backing.join("log")).unwrap(), b"durable");

    // Write a temporary file, fsync it, rename it over the log: without an fsync of the
    // directory the rename is lost; with it, kept.
    std::fs::write(mnt.join("log.tmp"), b"replaced").unwrap();
    std::fs::File::open(mnt.join("log.tmp"))
        .unwrap()
        .sync_all()
        .unwrap();
    std::fs::rename(mnt.join("log.tmp"), mnt.join("log")).unwrap();
    m.lose();
    assert_eq!(std::fs::read(mnt.join("log")).unwrap(), b"durable");
    assert!(mnt.join("log.tmp").exists());
    std::fs::rename(mnt.join("log.tmp"), mnt.join("log")).unwrap();
    fsync_dir(&mnt);
    m.lose();
    assert_eq!(std::fs::read(mnt.join("log")).unwrap(), b"replaced");
    assert!(!mnt.join("log.tmp").exists());

    // A name made durable by fsync of its directory survives, empty.
    std::fs::create_dir(mnt.join("sub")).unwrap();
    std::fs::write(mnt.join("sub/f"), b"data").unwrap();
    fsync_dir(&mnt.join("sub"));
    m.lose();
    assert_eq!(std::fs::read(mnt.join("sub/f")).unwrap(), b"");

    // An unlink is lost without an fsync.
    std::fs::remove_file(mnt.join("log")).unwrap();
    m.lose();
    assert_eq!(std::fs::read(mnt.join("log")).unwrap(), b"replaced");

    drop(m);
    assert!(!mounted(&mnt), "unmount leaves no mount");
}

fn faults_section(run: &Path) -> String {
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    let start = page.find("id=\"faults\"").expect("a fault table");
    page[start..].to_string()
}

fn lose_unfsynced_run(bug: &[&str]) -> (Option<i32>, std::path::PathBuf, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let three_nodes = ["--node-count", "3", "--time-limit", "10"];
    let out = run_test(store.path(), &[LOSE_UNFSYNCED, &three_nodes, bug].concat());
    eprintln!("run took {:.1} s", started.elapsed().as_secs_f64());
    let run = latest_run(store.path());
    // Every mount is gone with the run.
    for node in ["n1", "n2", "n3"] {
        assert!(!mounted(&run.join("nodes").join(node).join("data")));
    }
    (out.status.code(), run, store)
}

#[test]
fn no_fsync_bug_loses_acknowledged_writes_under_lose_unfsynced() {
    if !fuse_available() {
        return;
    }
    let (code, run, _store) = lose_unfsynced_run(&["--bug", "no-fsync"]);
    assert_eq!(code, Some(1), "acknowledged writes were lost: invalid");
    assert_eq!(results(&run)["valid"], false);
    let faults = applied(&history(&run), "start-lose-unfsynced");
    assert!(!faults.is_empty());
    for value in &faults {
        assert_eq!(value["mechanism"], "fuse", "{value}");
        assert_eq!(value["nodes"], serde_json::json!(["n1", "n2", "n3"]));
        assert!(value["lost"]["n1"]["bytes"].is_u64(), "{value}");
    }
    // The bug lost Raft log entries, not just the commit index.
    assert!(faults
        .iter()
        .any(|v| v["lost"]["n1"]["bytes"].as_u64().unwrap() > 1000));
    let table = faults_section(&run);
    assert!(
        table.contains("lose-unfsynced") && table.contains("fuse"),
        "the fault table lists the faults"
    );
}

#[test]
fn the_correct_reference_service_survives_lose_unfsynced() {
    if !fuse_available() {
        return;
    }
    let (code, run, _store) = lose_unfsynced_run(&[]);
    assert_eq!(code, Some(0), "nothing acknowledged was lost: valid");
    let faults = applied(&history(&run), "start-lose-unfsynced");
    assert!(!faults.is_empty(), "a fault was applied");
    assert!(faults_section(&run).contains("lose-unfsynced"));
}

#[test]
fn lose_unfsynced_is_refused_for_nodes_faultline_does_not_start_and_no_fsync_without_it() {
    let (_store, stderr) = failed_run(
        254,
        &[
            "--system",
            "http",
            "--endpoints",
            "http://127.0.0.1:1",
            "--nemesis",
            "lose-unfsynced",
        ],
    );
    assert!(stderr.contains("cannot lose-unfsynced"), "{stderr}");
    let (_store, stderr) = failed_run(254, &["--bug", "no-fsync", "--nemesis", "kill"]);
    assert!(stderr.contains("add --nemesis lose-unfsynced"), "{stderr}");
}
