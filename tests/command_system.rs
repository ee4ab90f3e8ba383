//! End-to-end: the bad input of `--system command --db-command SCRIPT --client-command CMD`,
//! refused before anything starts, with one line each. The runs of `examples/etcd-command/`
//! against a real etcd cluster are in `tests/systems.rs`.

mod common;

use common::*;

#[test]
fn the_command_system_refuses_what_cannot_work_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let not_executable = write_file(dir.path(), "db.sh", "#!/bin/sh\nexit 0\n");
    let not_executable = not_executable.display().to_string();
    let lifecycle = example("etcd-command", "lifecycle.sh");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--system", "command", "--client-command", "cat"],
            "--system command needs --db-command SCRIPT",
        ),
        (
            &["--system", "command", "--db-command", &lifecycle],
            "needs --client-command CMD too",
        ),
        (
            &[
                "--system",
                "command",
                "--db-command",
                &not_executable,
                "--client-command",
                "cat",
            ],
            "is not an executable file: chmod +x it",
        ),
        (
            &["--system", "reference", "--db-command", &lifecycle],
            "--db-command is for --system command",
        ),
    ];
    for (args, expected) in cases {
        let (store, stderr) = failed_run(254, args);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!store.path().join("latest").exists(), "nothing started");
    }
}
