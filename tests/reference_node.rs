//! End-to-end tests of the reference system: real `faultline node` processes on loopback,
//! spoken to over HTTP. They check replication through followers, failover after SIGKILL of
//! the leader, durability across a restart on the same data dir, snapshot install on a lagging
//! node, and that the `stale-reads` and `lost-writes` bugs really break the service.
//!
//! Every child process is killed by a Drop guard, also when an assertion fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

const EXE: &str = env!("CARGO_BIN_EXE_faultline");

/// A local cluster of reference nodes; kills them all on drop.
struct Cluster {
    dir: tempfile::TempDir,
    ports: BTreeMap<u64, u16>,
    children: BTreeMap<u64, Child>,
    extra: Vec<String>,
    http: reqwest::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Start `n` nodes; `extra` flags go to every node.
    fn start(n: u64, extra: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            dir: tempfile::tempdir().unwrap(),
            ports: (1..=n).map(|id| (id, free_port())).collect(),
            children: BTreeMap::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(8))
                .build()
                .unwrap(),
        };
        for id in 1..=n {
            cluster.spawn(id);
        }
        cluster
    }

    fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.ports[&id])
    }

    fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("n{id}"))
    }

    fn log(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("n{id}.log"))
    }

    fn spawn(&mut self, id: u64) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log(id))
            .unwrap();
        let mut command = Command::new(EXE);
        command
            .args([
                "node",
                "--id",
                &id.to_string(),
                "--listen",
                &self.addr(id),
                "--data-dir",
            ])
            .arg(self.data_dir(id))
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log);
        for (&peer, _) in self.ports.iter().filter(|(&p, _)| p != id) {
            command
                .arg("--peer")
                .arg(format!("{peer}={}", self.addr(peer)));
        }
        if id == 1 {
            command.arg("--bootstrap");
        }
        self.children.insert(id, command.spawn().unwrap());
    }

    fn signal(&self, id: u64, signal: Signal) {
        kill(Pid::from_raw(self.children[&id].id() as i32), signal).unwrap();
    }

    fn kill9(&mut self, id: u64) {
        let mut child = self.children.remove(&id).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn logs(&self) -> String {
        self.ports
            .keys()
            .map(|&id| {
                format!(
                    "--- n{id}\n{}",
                    std::fs::read_to_string(self.log(id)).unwrap_or_default()
                )
            })
            .collect()
    }

    async fn status(&self, id: u64) -> Option<Value> {
        let url = format!("http://{}/status", self.addr(id));
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Wait until every node in `ids` names the same leader, which says it leads.
    async fn await_leader(&self, ids: &[u64]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let mut leaders = Vec::new();
            for &id in ids {
                leaders.push(self.status(id).await.and_then(|s| s["leader"].as_u64()));
            }
            if let Some(Some(leader)) = leaders.first().copied() {
                if leaders.iter().all(|l| *l == Some(leader))
                    && self
                        .status(leader)
                        .await
                        .is_some_and(|s| s["state"] == "Leader")
                {
                    return leader;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no agreed leader among {ids:?} within 20 s\n{}",
            self.logs()
        );
    }

    /// Wait until node `id` has applied as much as node `reference`.
    async fn await_caught_up(&self, id: u64, reference: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let applied = self
                .status(id)
                .await
                .and_then(|s| s["last_applied"].as_u64());
            let target = self
                .status(reference)
                .await
                .and_then(|s| s["last_applied"].as_u64());
            if applied.is_some() && applied >= target {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "n{id} did not catch up with n{reference}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn request(
        &self,
        id: u64,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("http://{}{path}", self.addr(id));
        let mut request = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url),
            _ => self.http.post(url),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({ "transport": e.to_string() })),
        }
    }

    async fn read(&self, id: u64, key: &str) -> (u16, Value) {
        let (status, body) = self.request(id, "GET", &format!("/kv/{key}"), None).await;
        (status, body["value"].clone())
    }

    async fn write(&self, id: u64, key: &str, value: Value) -> u16 {
        self.request(
            id,
            "PUT",
            &format!("/kv/{key}"),
            Some(json!({ "value": value })),
        )
        .await
        .0
    }

    async fn cas(&self, id: u64, key: &str, from: Value, to: Value) -> (u16, Value) {
        self.request(
            id,
            "POST",
            &format!("/kv/{key}/cas"),
            Some(json!({ "from": from, "to": to })),
        )
        .await
    }

    /// Write until acknowledged (elections may make the first attempts fail with 503).
    async fn write_acked(&self, id: u64, key: &str, value: Value) {
        for _ in 0..50 {
            if self.write(id, key, value.clone()).await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "write {key}={value} via n{id} never acknowledged\n{}",
            self.logs()
        );
    }

    /// Read until a 200 answer.
    async fn read_ok(&self, id: u64, key: &str) -> Value {
        for _ in 0..50 {
            let (status, value) = self.read(id, key).await;
            if status == 200 {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("read {key} via n{id} never answered 200\n{}", self.logs());
    }
}

fn other_than(ids: &[u64], not: u64) -> Vec<u64> {
    ids.iter().copied().filter(|&id| id != not).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_replicates_fails_over_and_keeps_acknowledged_writes_across_restart() {
    let mut cluster = Cluster::start(3, &["--snapshot-every", "20"]);
    let leader = cluster.await_leader(&[1, 2, 3]).await;
    let follower = other_than(&[1, 2, 3], leader)[0];

    // Through a follower (forwarded) and through the leader.
    assert_eq!(cluster.write(follower, "x", json!(1)).await, 200);
    assert_eq!(cluster.read(leader, "x").await, (200, json!(1)));
    assert_eq!(cluster.read(follower, "x").await, (200, json!(1)));
    assert_eq!(cluster.read(follower, "absent").await, (200, Value::Null));
    assert_eq!(
        cluster.cas(follower, "x", json!(1), json!(2)).await,
        (200, json!({"applied": true}))
    );
    assert_eq!(
        cluster.cas(leader, "x", json!(1), json!(3)).await,
        (200, json!({"applied": false, "current": 2}))
    );
    assert_eq!(
        cluster
            .write(leader, "key%20with%2Fslash", json!({"nested": [1, 2]}))
            .await,
        200
    );
    assert_eq!(
        cluster.read(follower, "key%20with%2Fslash").await,
        (200, json!({"nested": [1, 2]}))
    );

    // A follower misses enough writes that the others snapshot and purge the log it lacks:
    // on restart it must receive a snapshot from the leader.
    let lagger = other_than(&[1, 2, 3], leader)[1];
    cluster.kill9(lagger);
    for i in 0..50 {
        cluster
            .write_acked(follower, &format!("k{i}"), json!(i))
            .await;
    }
    cluster.spawn(lagger);
    cluster.await_caught_up(lagger, leader).await;
    let lagger_log = std::fs::read_to_string(cluster.log(lagger)).unwrap();
    assert!(
        lagger_log.contains("installed a snapshot from the leader"),
        "{}",
        cluster.logs()
    );

    // Kill the leader: the other two elect a new one and keep serving.
    cluster.kill9(leader);
    let survivors = other_than(&[1, 2, 3], leader);
    let new_leader = cluster.await_leader(&survivors).await;
    assert_ne!(new_leader, leader);
    assert_eq!(cluster.read_ok(survivors[0], "x").await, json!(2));
    cluster
        .write_acked(survivors[1], "after", json!("failover"))
        .await;
    assert_eq!(
        cluster.read_ok(survivors[0], "after").await,
        json!("failover")
    );

    // Restart the killed node on its data dir: it has every acknowledged write.
    cluster.spawn(leader);
    cluster.await_leader(&[1, 2, 3]).await;
    cluster.await_caught_up(leader, new_leader).await;
    assert_eq!(cluster.read_ok(leader, "x").await, json!(2));
    assert_eq!(cluster.read_ok(leader, "after").await, json!("failover"));
    for i in 0..50 {
        assert_eq!(cluster.read_ok(leader, &format!("k{i}")).await, json!(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_restart_keeps_every_acknowledged_write_and_does_not_reinitialize() {
    let mut cluster = Cluster::start(3, &["--snapshot-every", "10"]);
    cluster.await_leader(&[1, 2, 3]).await;
    for i in 0..25 {
        cluster.write_acked(2, &format!("y{i}"), json!(i)).await;
    }
    // Kill everyone: after the restart the data can only come from the disks (snapshot plus
    // the log after it). Node 1, the bootstrapper, comes back last and must not start afresh.
    for id in [1, 2, 3] {
        cluster.kill9(id);
    }
    for id in [2, 3, 1] {
        cluster.spawn(id);
    }
    cluster.await_leader(&[1, 2, 3]).await;
    for i in 0..25 {
        assert_eq!(cluster.read_ok(3, &format!("y{i}")).await, json!(i));
    }
    assert!(std::fs::read_to_string(cluster.log(1))
        .unwrap()
        .contains("not re-initializing"));
    assert!((1..=3).all(|id| cluster.data_dir(id).join("snapshot.json").exists()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bugs_nothing_is_answered_while_the_leader_or_a_majority_is_paused() {
    // Slow elections keep the paused leader in office for the whole test.
    let slow = [
        "--request-timeout-ms",
        "1000",
        "--election-min-ms",
        "5000",
        "--election-max-ms",
        "6000",
    ];
    let cluster = Cluster::start(3, &slow);
    let leader = cluster.await_leader(&[1, 2, 3]).await;
    cluster.write_acked(leader, "z", json!(1)).await;
    let followers = other_than(&[1, 2, 3], leader);

    // Leader paused: a follower forwards the read, the answer never comes: indeterminate.
    cluster.signal(leader, Signal::SIGSTOP);
    let read = cluster.read(followers[0], "z").await;
    cluster.signal(leader, Signal::SIGCONT);
    assert_eq!(
        read.0, 504,
        "a correct follower must not answer a read alone: {read:?}"
    );

    // Both followers paused: the leader cannot commit, so it never acknowledges.
    for &f in &followers {
        cluster.signal(f, Signal::SIGSTOP);
    }
    let write = cluster.write(leader, "z", json!(2)).await;
    let read = cluster.read(leader, "z").await;
    for &f in &followers {
        cluster.signal(f, Signal::SIGCONT);
    }
    assert_eq!(write, 504, "a write without a majority is indeterminate");
    assert_ne!(read.0, 200, "a read index needs a majority: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_reads_bug_answers_from_a_follower_without_the_leader() {
    let cluster = Cluster::start(
        3,
        &[
            "--bug",
            "stale-reads",
            "--election-min-ms",
            "5000",
            "--election-max-ms",
            "6000",
        ],
    );
    let leader = cluster.await_leader(&[1, 2, 3]).await;
    cluster.write_acked(leader, "s", json!("old")).await;
    let follower = other_than(&[1, 2, 3], leader)[0];
    // Wait until the follower has applied the write.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.read(follower, "s").await.1 != json!("old") {
        assert!(
            Instant::now() < deadline,
            "follower never applied the write\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.signal(leader, Signal::SIGSTOP);
    // With the leader paused (and elections slowed down) a correct node cannot confirm a read
    // index; the buggy node answers anyway.
    assert_eq!(cluster.read(follower, "s").await, (200, json!("old")));
    // And a write is not possible meanwhile: the leader is paused.
    let (status, _) = cluster
        .request(follower, "PUT", "/kv/s", Some(json!({"value": "new"})))
        .await;
    cluster.signal(leader, Signal::SIGCONT);
    assert_ne!(
        status, 200,
        "a write through a paused leader cannot be acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_writes_bug_acknowledges_writes_no_majority_has() {
    let cluster = Cluster::start(
        3,
        &[
            "--bug",
            "lost-writes",
            "--election-min-ms",
            "5000",
            "--election-max-ms",
            "6000",
        ],
    );
    let leader = cluster.await_leader(&[1, 2, 3]).await;
    cluster.write_acked(leader, "w", json!(0)).await;
    // Pause both followers: no majority can commit anything.
    let followers = other_than(&[1, 2, 3], leader);
    for &f in &followers {
        cluster.signal(f, Signal::SIGSTOP);
    }
    let status = cluster.write(leader, "w", json!(1)).await;
    for &f in &followers {
        cluster.signal(f, Signal::SIGCONT);
    }
    assert_eq!(
        status, 200,
        "the buggy leader acknowledges without a majority"
    );
}

#[test]
fn bad_arguments_are_rejected_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &[&str]); 2] = [
        (
            "a peer with the node's own id",
            &["--peer", "1=127.0.0.1:2"],
            &["names this node itself"],
        ),
        (
            "an unknown bug",
            &["--bug", "nope"],
            &["stale-reads", "lost-writes"],
        ),
    ];
    for (case, args, needles) in cases {
        let output = Command::new(EXE)
            .args(["node", "--id", "1", "--listen", "127.0.0.1:1"])
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{case}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for needle in needles {
            assert!(stderr.contains(needle), "{case}: {stderr}");
        }
    }
}
