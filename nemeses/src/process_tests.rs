//! Tests of the process nemeses against the in-memory [`FakeCluster`].

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use super::*;
use crate::ledger::LEDGER_FILE_NAME;
use crate::testing::{Action, FakeCluster, Proc};

fn cluster(n: usize) -> (Arc<FakeCluster>, Arc<Ledger>) {
    (Arc::new(FakeCluster::new(n)), Arc::new(Ledger::in_memory()))
}

/// A cluster of `n` nodes with a kill and a pause nemesis sharing one ledger.
fn kill_and_pause(
    n: usize,
) -> (
    Arc<FakeCluster>,
    Arc<Ledger>,
    ProcessNemesis,
    ProcessNemesis,
) {
    let (fake, ledger) = cluster(n);
    let kill = ProcessNemesis::kill(fake.clone(), ledger.clone());
    let pause = ProcessNemesis::pause(fake.clone(), ledger.clone());
    (fake, ledger, kill, pause)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(17)
}

async fn start(nemesis: &ProcessNemesis, f: &str, value: Value, rng: &mut StdRng) -> Outcome {
    nemesis.invoke(&FaultRequest::new(f, value), rng).await
}

/// The nodes an applied outcome names.
/// A refusal for `why`.
fn skipped(why: &str) -> Outcome {
    Outcome::Skipped(why.to_string())
}

fn nodes_of(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Applied(v) => serde_json::from_value(v["nodes"].clone()).unwrap(),
        other => panic!("expected applied, got {other:?}"),
    }
}

#[tokio::test]
async fn targets_pick_the_right_number_of_nodes() {
    for (n, target, want) in [
        (5, "one", 1),
        (5, "minority", 2),
        (5, "majority", 3),
        (5, "all", 5),
        (3, "minority", 1),
        (3, "majority", 2),
        (4, "minority", 1),
        (4, "majority", 3),
    ] {
        let (fake, ledger) = cluster(n);
        let kill = ProcessNemesis::kill(fake.clone(), ledger.clone());
        let outcome = start(&kill, "start-kill", json!(target), &mut rng()).await;
        let nodes = nodes_of(&outcome);
        assert_eq!(nodes.len(), want, "{target} of {n}: {outcome:?}");
        assert_eq!(outcome.to_value()["target"], json!(target));
        assert_eq!(fake.called(Action::Kill), nodes);
        assert_eq!(ledger.nodes(Fault::Killed), nodes);
        for node in &nodes {
            assert_eq!(fake.proc(node), Proc::Killed);
        }
    }
}

#[tokio::test]
async fn a_single_node_has_no_minority() {
    let (fake, ledger) = cluster(1);
    let pause = ProcessNemesis::pause(fake.clone(), ledger);
    let outcome = start(&pause, "start-pause", json!("minority"), &mut rng()).await;
    assert_eq!(
        outcome,
        skipped("a cluster of 1 node(s) has no minority to fault")
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn leader_is_asked_of_the_system() {
    let (fake, ledger) = cluster(3);
    let kill = ProcessNemesis::kill(fake.clone(), ledger);
    let outcome = start(&kill, "start-kill", json!("leader"), &mut rng()).await;
    assert_eq!(outcome, skipped("the system cannot name its leader"));

    fake.set_leader(Some("n2"));
    let outcome = start(&kill, "start-kill", json!("leader"), &mut rng()).await;
    assert_eq!(nodes_of(&outcome), ["n2"]);
    assert_eq!(fake.proc("n2"), Proc::Killed);

    // The leader is already down: not chosen again.
    let outcome = start(&kill, "start-kill", json!("leader"), &mut rng()).await;
    assert_eq!(outcome, skipped("n2 is already killed or paused"));
    assert_eq!(fake.called(Action::Kill), ["n2"]);
}

#[tokio::test]
async fn explicit_lists_are_checked_against_the_nodes() {
    let (fake, ledger) = cluster(3);
    let pause = ProcessNemesis::pause(fake.clone(), ledger);
    let outcome = start(&pause, "start-pause", json!(["n3", "n1"]), &mut rng()).await;
    assert_eq!(nodes_of(&outcome), ["n1", "n3"]);

    let outcome = start(&pause, "start-pause", json!(["n9"]), &mut rng()).await;
    assert_eq!(outcome, skipped("n9 is not one of the nodes (n1, n2, n3)"));
    // Already paused nodes are dropped from the list.
    let outcome = start(&pause, "start-pause", json!(["n1", "n2"]), &mut rng()).await;
    assert_eq!(nodes_of(&outcome), ["n2"]);
    let outcome = start(&pause, "start-pause", json!("bogus"), &mut rng()).await;
    assert!(matches!(&outcome, Outcome::Skipped(why) if why.contains("unknown target \"bogus\"")));
    assert_eq!(fake.called(Action::Pause), ["n1", "n2", "n3"]);
}

#[tokio::test]
async fn a_faulted_node_is_never_chosen_again_until_healed() {
    let (fake, _, kill, pause) = kill_and_pause(3);
    let mut rng = rng();
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let outcome = start(&kill, "start-kill", json!("one"), &mut rng).await;
        seen.extend(nodes_of(&outcome));
    }
    // The pause nemesis shares the ledger, so it does not pick a killed node either.
    let outcome = start(&pause, "start-pause", json!("all"), &mut rng).await;
    seen.extend(nodes_of(&outcome));
    assert_eq!(seen.len(), 3, "every pick was a fresh node: {seen:?}");
    let outcome = start(&kill, "start-kill", json!("one"), &mut rng).await;
    assert_eq!(outcome, skipped("every node is already killed or paused"));
    assert_eq!(fake.called(Action::Kill).len(), 2);

    kill.heal().await;
    let outcome = start(&kill, "start-kill", json!("all"), &mut rng).await;
    assert_eq!(
        nodes_of(&outcome).len(),
        2,
        "the paused node stays excluded"
    );
}

#[tokio::test]
async fn a_null_value_picks_a_target_reproducibly() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (fake, ledger) = cluster(5);
        fake.set_leader(Some("n4"));
        let kill = ProcessNemesis::kill(fake.clone(), ledger.clone());
        let mut rng = StdRng::seed_from_u64(99);
        let mut outcomes = Vec::new();
        for _ in 0..8 {
            outcomes.push(start(&kill, "start-kill", Value::Null, &mut rng).await);
            outcomes.push(start(&kill, "stop-kill", Value::Null, &mut rng).await);
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1], "the same seed makes the same choices");
    let targets: BTreeSet<String> = runs[0]
        .iter()
        .step_by(2)
        .map(|o| o.to_value()["target"].to_string())
        .collect();
    assert!(
        targets.len() > 1,
        "more than one target chosen: {targets:?}"
    );

    let (fake, ledger) = cluster(3);
    let kill = ProcessNemesis::kill(fake, ledger).with_targets(vec![]);
    let outcome = start(&kill, "start-kill", Value::Null, &mut rng()).await;
    assert_eq!(outcome, skipped("no target to choose from"));
}

#[tokio::test]
async fn stop_undoes_every_fault_of_its_kind() {
    let (fake, ledger) = cluster(5);
    let kill = ProcessNemesis::kill(fake.clone(), ledger.clone());
    let mut rng = rng();
    let first = nodes_of(&start(&kill, "start-kill", json!("one"), &mut rng).await);
    let second = nodes_of(&start(&kill, "start-kill", json!("one"), &mut rng).await);
    let outcome = start(&kill, "stop-kill", Value::Null, &mut rng).await;
    let mut both: Vec<String> = first.into_iter().chain(second).collect();
    both.sort();
    assert_eq!(nodes_of(&outcome), both);
    assert_eq!(fake.called(Action::Start), both);
    assert!(fake.all_running());
    let outcome = start(&kill, "stop-kill", Value::Null, &mut rng).await;
    assert_eq!(outcome, skipped("no node is killed"));
    let outcome = start(&kill, "start-pause", Value::Null, &mut rng).await;
    assert!(
        matches!(&outcome, Outcome::Skipped(why) if why.contains("understands start-kill, stop-kill"))
    );
}

#[tokio::test]
async fn heal_undoes_everything_exactly_once() {
    let (fake, ledger, kill, pause) = kill_and_pause(5);
    let mut rng = rng();
    let killed = nodes_of(&start(&kill, "start-kill", json!("majority"), &mut rng).await);
    let paused = nodes_of(&start(&pause, "start-pause", json!("all"), &mut rng).await);
    assert_eq!(killed.len() + paused.len(), 5);

    assert_eq!(
        pause.heal().await,
        [Outcome::Applied(
            json!({"f": "stop-pause", "nodes": paused})
        )]
    );
    assert_eq!(
        kill.heal().await,
        [Outcome::Applied(json!({"f": "stop-kill", "nodes": killed}))]
    );
    assert!(fake.all_running());
    assert!(ledger.snapshot().is_empty());
    let calls = fake.calls().len();

    assert!(kill.heal().await.is_empty(), "heal is idempotent");
    assert!(pause.heal().await.is_empty());
    assert_eq!(fake.calls().len(), calls, "nothing undone twice");
    assert_eq!(fake.called(Action::Start), killed);
    assert_eq!(fake.called(Action::Resume), paused);
}

#[tokio::test]
async fn control_errors_become_indeterminate_and_heal_retries_them() {
    let (fake, ledger) = cluster(3);
    let kill = ProcessNemesis::kill(fake.clone(), ledger.clone());
    fake.fail(Action::Kill, "n2");
    let outcome = start(&kill, "start-kill", json!(["n1", "n2"]), &mut rng()).await;
    assert_eq!(
        outcome,
        Outcome::Indeterminate("did kill n1; node n2: kill failed: injected failure".into())
    );
    assert_eq!(
        ledger.nodes(Fault::Killed),
        ["n1", "n2"],
        "both may be down"
    );

    fake.fail(Action::Start, "n1");
    let healed = kill.heal().await;
    assert_eq!(
        healed,
        [Outcome::Indeterminate(
            "restarted n2; node n1: start failed: injected failure".into()
        )]
    );
    assert_eq!(
        ledger.nodes(Fault::Killed),
        ["n1"],
        "n1 is left for the next heal"
    );

    fake.recover(Action::Start, "n1");
    assert_eq!(
        kill.heal().await,
        [Outcome::Applied(json!({"f": "stop-kill", "nodes": ["n1"]}))]
    );
    assert!(kill.heal().await.is_empty());
    assert!(fake.all_running());
}

#[tokio::test]
async fn the_ledger_file_is_written_before_the_fault_and_cleared_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(LEDGER_FILE_NAME);
    let (fake, _) = cluster(3);
    fake.observe_ledger(path.clone());
    let ledger = Arc::new(Ledger::create(&path).unwrap());
    let pause = ProcessNemesis::pause(fake.clone(), ledger.clone());
    start(&pause, "start-pause", json!(["n3"]), &mut rng()).await;

    let calls = fake.calls();
    let seen = calls[0].ledger.as_ref().unwrap();
    assert!(seen.paused.contains("n3"), "recorded before SIGSTOP");

    // The harness dies here; `faultline heal` loads the file and undoes the fault.
    drop(pause);
    let loaded = Arc::new(Ledger::load(&path).unwrap());
    assert_eq!(loaded.nodes(Fault::Paused), ["n3"]);
    let outcomes = heal_ledger(loaded, fake.clone()).await;
    assert_eq!(
        outcomes,
        [Outcome::Applied(
            json!({"f": "stop-pause", "nodes": ["n3"]})
        )]
    );
    let resume = &fake.calls()[1];
    assert_eq!(resume.action, Action::Resume);
    assert!(
        resume.ledger.as_ref().unwrap().paused.contains("n3"),
        "forgotten only after SIGCONT"
    );
    assert!(Ledger::load(&path).unwrap().snapshot().is_empty());
    assert!(fake.all_running());
}

#[tokio::test]
async fn an_unwritable_ledger_stops_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("run");
    std::fs::create_dir(&sub).unwrap();
    let ledger = Arc::new(Ledger::create(sub.join(LEDGER_FILE_NAME)).unwrap());
    std::fs::remove_dir_all(&sub).unwrap();
    let (fake, _) = cluster(3);
    let kill = ProcessNemesis::kill(fake.clone(), ledger);
    let outcome = start(&kill, "start-kill", json!("one"), &mut rng()).await;
    assert!(
        matches!(&outcome, Outcome::Skipped(why) if why.starts_with("the fault was not applied")),
        "{outcome:?}"
    );
    assert!(fake.calls().is_empty());
}

#[test]
fn targets_read_from_values() {
    assert_eq!(Target::from_value(&Value::Null), Ok(None));
    assert_eq!(
        Target::from_value(&json!("primaries")),
        Ok(Some(Target::Leader))
    );
    assert_eq!(
        Target::from_value(&json!(["n1", "n1", "n2"])),
        Ok(Some(Target::Nodes(vec!["n1".into(), "n2".into()])))
    );
    assert!(Target::from_value(&json!([])).is_err());
    assert!(Target::from_value(&json!([1])).is_err());
    assert!(Target::from_value(&json!(3)).is_err());
    for t in Target::defaults() {
        assert_eq!(Target::from_value(&t.to_value()), Ok(Some(t)));
    }
}

/// Holds every kill until released, to interleave a heal with a fault being applied.
struct Gated {
    inner: Arc<FakeCluster>,
    gate: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl ProcessControl for Gated {
    fn nodes(&self) -> Vec<String> {
        self.inner.nodes()
    }
    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        let _permit = self.gate.acquire().await.unwrap();
        self.inner.kill(node).await
    }
    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.inner.start(node).await
    }
    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.inner.pause(node).await
    }
    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.inner.resume(node).await
    }
    async fn leader(&self) -> Option<String> {
        None
    }
}

#[tokio::test]
async fn a_heal_during_a_fault_waits_for_it_and_undoes_it() {
    let fake = Arc::new(FakeCluster::new(3));
    let gated = Arc::new(Gated {
        inner: fake.clone(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let ledger = Arc::new(Ledger::in_memory());
    let kill = Arc::new(ProcessNemesis::kill(gated.clone(), ledger.clone()));

    let invoking = tokio::spawn({
        let kill = kill.clone();
        async move { start(&kill, "start-kill", json!(["n2"]), &mut rng()).await }
    });
    // Let the kill reach the gate (the ledger already names n2), then ask for a heal.
    while !ledger.contains(Fault::Killed, "n2") {
        tokio::task::yield_now().await;
    }
    let healing = tokio::spawn({
        let kill = kill.clone();
        async move { kill.heal().await }
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        fake.calls().is_empty(),
        "heal did not start n2 before it was killed"
    );
    gated.gate.add_permits(1);

    assert!(invoking.await.unwrap().is_applied());
    assert_eq!(healing.await.unwrap().len(), 1);
    assert_eq!(
        fake.calls().iter().map(|c| c.action).collect::<Vec<_>>(),
        [Action::Kill, Action::Start]
    );
    assert!(fake.all_running());
}
