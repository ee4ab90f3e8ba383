//! Tests of `--nemesis` parsing and of the schedule loop, in tokio's paused time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::*;
use crate::process::Target;
use crate::testing::{Action, FakeCluster};

#[test]
fn parses_lists_and_none() {
    use NemesisKind::*;
    assert_eq!(parse_nemeses("kill,pause"), Ok(vec![Kill, Pause]));
    assert_eq!(parse_nemeses(" pause , kill,pause"), Ok(vec![Pause, Kill]));
    assert_eq!(parse_nemeses("none"), Ok(vec![]));
}

#[test]
fn rejects_bad_lists_with_the_known_names() {
    let err = parse_nemeses("kill,chaos").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown nemesis \"chaos\"; known: kill, pause, partition, clock, netem, bitflip, truncate, membership, lose-unfsynced, or none"
    );
    assert_eq!(
        parse_nemeses("partition,clock,netem"),
        Ok(vec![
            NemesisKind::Partition,
            NemesisKind::Clock,
            NemesisKind::Netem
        ])
    );
    assert!(matches!(
        parse_nemeses("kill,,pause"),
        Err(NemesisError::Empty { .. })
    ));
    assert!(matches!(parse_nemeses(""), Err(NemesisError::Empty { .. })));
    assert!(matches!(
        parse_nemeses("none,kill"),
        Err(NemesisError::NoneWithOthers { .. })
    ));
}

struct Run {
    events: Vec<NemesisEvent>,
    heal: Vec<Outcome>,
}

/// Run `schedule` for `limit` of paused time, then signal stop and collect everything.
async fn run_for(schedule: Schedule, limit: Duration) -> Run {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(schedule.run(tx, stopped));
    tokio::time::sleep(limit).await;
    stop.send(true).unwrap();
    let heal = task.await.unwrap();
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    Run { events, heal }
}

fn kill_and_pause(fake: &Arc<FakeCluster>, ledger: &Arc<Ledger>) -> Vec<Arc<dyn Nemesis>> {
    build_nemeses(
        &[NemesisKind::Kill, NemesisKind::Pause],
        fake.clone(),
        ledger.clone(),
    )
}

/// Checks invoke/complete pairing and start/stop cycling; returns the start functions.
fn check_cycles(events: &[NemesisEvent]) -> Vec<String> {
    assert!(events.len().is_multiple_of(2), "pairs: {events:#?}");
    let mut starts = Vec::new();
    let mut open: Option<String> = None;
    for pair in events.chunks(2) {
        let (
            NemesisEvent::Invoke { f, value, .. },
            NemesisEvent::Complete {
                f: f2, value: v2, ..
            },
        ) = (&pair[0], &pair[1])
        else {
            panic!("not an invoke/complete pair: {pair:#?}");
        };
        assert_eq!((f, value), (f2, v2));
        if let Some(kind) = f.strip_prefix("start-") {
            assert_eq!(open, None, "a fault starts while another is in effect");
            open = Some(kind.to_string());
            starts.push(f.clone());
        } else if let Some(kind) = f.strip_prefix("stop-") {
            assert_eq!(open.take().as_deref(), Some(kind), "stop matches its start");
        } else {
            assert_eq!(f, "heal");
            assert_eq!(open, None, "heal comes after the last stop");
        }
    }
    assert_eq!(events.last().unwrap().f(), "heal");
    starts
}

#[tokio::test(start_paused = true)]
async fn the_schedule_cycles_faults_and_heals_at_the_end() {
    let fake = Arc::new(FakeCluster::new(3));
    let ledger = Arc::new(Ledger::in_memory());
    let schedule = Schedule::new(kill_and_pause(&fake, &ledger), DEFAULT_INTERVAL, 7).unwrap();
    let run = run_for(schedule, Duration::from_secs(200)).await;

    let starts = check_cycles(&run.events);
    // Each cycle takes two waits of 5 to 15 s.
    assert!((6..=20).contains(&starts.len()), "{} cycles", starts.len());
    assert!(starts.iter().any(|f| f == "start-kill"));
    assert!(starts.iter().any(|f| f == "start-pause"));
    let applied = run
        .events
        .iter()
        .filter(|e| matches!(e, NemesisEvent::Complete { outcome, .. } if outcome.is_applied()))
        .count();
    assert!(applied > starts.len(), "most requests were applied");
    assert!(fake.all_running());
    assert!(ledger.snapshot().is_empty());
    // Every stop already undid its fault, so the final heal found nothing left.
    assert!(run.heal.is_empty());
    let NemesisEvent::Complete { outcome, .. } = run.events.last().unwrap() else {
        panic!("the last event completes the heal");
    };
    assert_eq!(outcome, &Outcome::Applied(json!([])));
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_mid_fault_stops_it_before_healing() {
    for limit in [1, 6, 12, 19, 27, 33, 41] {
        let fake = Arc::new(FakeCluster::new(5));
        let ledger = Arc::new(Ledger::in_memory());
        let schedule = Schedule::new(
            kill_and_pause(&fake, &ledger),
            Duration::from_secs(4),
            limit,
        )
        .unwrap();
        let run = run_for(schedule, Duration::from_secs(limit)).await;
        check_cycles(&run.events);
        assert!(fake.all_running(), "stopped at {limit} s");
        assert!(ledger.snapshot().is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn a_seed_replays_the_same_schedule() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let fake = Arc::new(FakeCluster::new(5));
        fake.set_leader(Some("n3"));
        let ledger = Arc::new(Ledger::in_memory());
        let schedule =
            Schedule::new(kill_and_pause(&fake, &ledger), Duration::from_secs(3), 11).unwrap();
        let run = run_for(schedule, Duration::from_secs(120)).await;
        let steps: Vec<(String, Option<Outcome>)> = run
            .events
            .into_iter()
            .map(|e| match e {
                NemesisEvent::Invoke { f, .. } => (f, None),
                NemesisEvent::Complete { f, outcome, .. } => (f, Some(outcome)),
            })
            .collect();
        runs.push((steps, fake.calls()));
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(start_paused = true)]
async fn faults_left_by_a_failed_stop_are_retried_by_the_final_heal() {
    let fake = Arc::new(FakeCluster::new(3));
    let ledger = Arc::new(Ledger::in_memory());
    let kill = ProcessNemesis::kill(fake.clone(), ledger.clone()).with_targets(vec![Target::All]);
    fake.fail(Action::Start, "n2");
    let schedule = Schedule::new(vec![Arc::new(kill)], Duration::from_secs(10), 3).unwrap();
    let run = run_for(schedule, Duration::from_secs(16)).await;
    check_cycles(&run.events);

    let stop = run
        .events
        .iter()
        .find_map(|e| match e {
            NemesisEvent::Complete { f, outcome, .. } if f == "stop-kill" => Some(outcome),
            _ => None,
        })
        .expect("a stop-kill was requested");
    assert_eq!(
        stop,
        &Outcome::Indeterminate("restarted n1, n3; node n2: start failed: injected failure".into())
    );
    assert_eq!(
        run.heal,
        [Outcome::Indeterminate(
            "node n2: start failed: injected failure".into()
        )]
    );
    assert_eq!(ledger.nodes(crate::ledger::Fault::Killed), ["n2"]);
    let NemesisEvent::Complete { outcome, .. } = run.events.last().unwrap() else {
        panic!("the last event completes the heal");
    };
    assert!(outcome.is_indeterminate());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stop_sender_stops_the_schedule() {
    let fake = Arc::new(FakeCluster::new(3));
    let ledger = Arc::new(Ledger::in_memory());
    let schedule = Schedule::new(kill_and_pause(&fake, &ledger), DEFAULT_INTERVAL, 1).unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(schedule.run(tx, stopped));
    tokio::time::sleep(Duration::from_secs(30)).await;
    drop(stop);
    task.await.unwrap();
    assert!(fake.all_running());
}

#[tokio::test(start_paused = true)]
async fn a_schedule_without_nemeses_only_waits() {
    let run = run_for(
        Schedule::new(Vec::new(), DEFAULT_INTERVAL, 1).unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert!(run.events.is_empty());
    assert!(run.heal.is_empty());
}

/// A nemesis with functions but no start/stop pair.
struct OneShot;

#[async_trait]
impl Nemesis for OneShot {
    fn name(&self) -> &str {
        "one-shot"
    }
    fn fs(&self) -> Vec<String> {
        vec!["start-x".into(), "halt-x".into()]
    }
    async fn invoke(&self, _: &FaultRequest, _: &mut StdRng) -> Outcome {
        Outcome::Skipped("never called".into())
    }
    async fn heal(&self) -> Vec<Outcome> {
        Vec::new()
    }
}

#[test]
fn schedules_reject_what_they_cannot_cycle() {
    assert_eq!(
        Schedule::new(Vec::new(), Duration::ZERO, 1).err(),
        Some(NemesisError::ZeroInterval)
    );
    let err = Schedule::new(vec![Arc::new(OneShot)], DEFAULT_INTERVAL, 1)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the one-shot nemesis has no start-/stop- pair of functions (it has start-x, halt-x), so a schedule cannot cycle it"
    );
}
