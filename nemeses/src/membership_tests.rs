//! The membership nemesis against a fake membership: it never removes a majority of the
//! original members, records removals in the ledger before making them, and heals by adding
//! every removed member back.

use std::collections::BTreeSet;
use std::sync::Mutex;

use rand::SeedableRng;

use super::*;
use crate::ledger::Fault;
use crate::nemesis::{FaultRequest, Nemesis};
use crate::start_stop::Serialised;

/// A membership held in memory; `fail_next` makes the next remove or add fail that way.
#[derive(Default)]
struct FakeMembership {
    members: Mutex<BTreeSet<String>>,
    calls: Mutex<Vec<String>>,
    fail_next: Mutex<Option<MembershipError>>,
}

impl FakeMembership {
    fn new(n: usize) -> Arc<Self> {
        let fake = FakeMembership::default();
        *fake.members.lock().unwrap() = (1..=n).map(|i| format!("n{i}")).collect();
        Arc::new(fake)
    }
    fn view(&self) -> Vec<String> {
        self.members.lock().unwrap().iter().cloned().collect()
    }
    fn fail(&self) -> Option<MembershipError> {
        self.fail_next.lock().unwrap().take()
    }
}

#[async_trait]
impl Membership for FakeMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        Ok(self.view())
    }
    async fn remove(&self, node: &str) -> Result<Value, MembershipError> {
        self.calls.lock().unwrap().push(format!("remove {node}"));
        match self.fail() {
            Some(e @ MembershipError::Refused(_)) => Err(e),
            Some(e) => {
                // Unknown: it did happen, the answer was lost.
                self.members.lock().unwrap().remove(node);
                Err(e)
            }
            None => {
                self.members.lock().unwrap().remove(node);
                Ok(json!({ "member_id": node }))
            }
        }
    }
    async fn add(&self, node: &str) -> Result<Value, MembershipError> {
        self.calls.lock().unwrap().push(format!("add {node}"));
        if let Some(e) = self.fail() {
            return Err(e);
        }
        self.members.lock().unwrap().insert(node.to_string());
        Ok(json!({}))
    }
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

fn start() -> FaultRequest {
    FaultRequest::new("start-membership", Value::Null)
}

/// A start that removes `node`.
fn start_removing(node: &str) -> FaultRequest {
    FaultRequest::new("start-membership", json!(node))
}

/// A membership nemesis over `n` fake members, recording in `ledger`.
fn setup(n: usize, ledger: &Arc<Ledger>) -> (Arc<FakeMembership>, Serialised<MembershipNemesis>) {
    let fake = FakeMembership::new(n);
    let nemesis = Serialised::new(MembershipNemesis::new(
        fake.clone(),
        names(n),
        ledger.clone(),
    ));
    (fake, nemesis)
}

#[tokio::test]
async fn never_removes_a_majority_of_the_original_members() {
    for n in [3, 4, 5, 7] {
        let (fake, nemesis) = setup(n, &Arc::new(Ledger::in_memory()));
        let mut rng = StdRng::seed_from_u64(n as u64);
        let mut removed = 0;
        for _ in 0..10 {
            let out = nemesis.invoke(&start(), &mut rng).await;
            if out.is_applied() {
                removed += 1;
            }
            assert!(fake.view().len() > n / 2, "n={n}: {:?}", fake.view());
        }
        // Exactly as many as can go while a majority of the original stays.
        assert_eq!(removed, n - (n / 2 + 1), "n={n}");
    }
}

#[tokio::test]
async fn records_the_views_and_heal_restores_the_original() {
    let ledger = Arc::new(Ledger::in_memory());
    let (fake, nemesis) = setup(5, &ledger);
    let mut rng = StdRng::seed_from_u64(3);
    let out = nemesis.invoke(&start_removing("n2"), &mut rng).await;
    let Outcome::Applied(value) = out else {
        panic!("{out:?}")
    };
    assert_eq!(value["removed"], "n2");
    assert_eq!(value["member_id"], "n2", "the system's detail is kept");
    assert_eq!(value["view_before"], json!(names(5)));
    assert_eq!(value["view_after"], json!(["n1", "n3", "n4", "n5"]));
    assert!(ledger.snapshot().removed_members.contains("n2"));
    assert!(nemesis.invoke(&start(), &mut rng).await.is_applied());
    assert_eq!(fake.view().len(), 3);

    let healed = nemesis.heal().await;
    assert_eq!(healed.len(), 1, "{healed:?}");
    let value = healed[0].to_value();
    assert_eq!(value["f"], "stop-membership");
    assert_eq!(value["view_after"], json!(names(5)));
    assert_eq!(value["restored"], true);
    assert_eq!(value["added"].as_array().unwrap().len(), 2);
    assert_eq!(fake.view(), names(5));
    assert!(ledger.snapshot().is_empty());
    // Idempotent: nothing left to undo.
    assert!(nemesis.heal().await.is_empty());
    let stop = FaultRequest::new("stop-membership", Value::Null);
    assert!(matches!(
        nemesis.invoke(&stop, &mut rng).await,
        Outcome::Skipped(_)
    ));
}

#[tokio::test]
async fn a_refused_removal_is_forgotten_and_an_unknown_one_is_healed() {
    let ledger = Arc::new(Ledger::in_memory());
    let (fake, nemesis) = setup(3, &ledger);
    let mut rng = StdRng::seed_from_u64(9);

    *fake.fail_next.lock().unwrap() = Some(MembershipError::Refused("no leader".into()));
    let out = nemesis.invoke(&start(), &mut rng).await;
    assert!(
        matches!(out, Outcome::Skipped(ref why) if why.contains("no leader")),
        "{out:?}"
    );
    assert!(ledger.snapshot().is_empty());

    *fake.fail_next.lock().unwrap() = Some(MembershipError::Unknown("timeout".into()));
    let out = nemesis.invoke(&start(), &mut rng).await;
    assert!(out.is_indeterminate(), "{out:?}");
    assert_eq!(ledger.snapshot().removed_members.len(), 1);

    // A failed add keeps the node recorded; the next heal adds it.
    *fake.fail_next.lock().unwrap() = Some(MembershipError::Unknown("lost".into()));
    let out = nemesis.heal().await;
    assert!(out[0].is_indeterminate(), "{out:?}");
    assert_eq!(ledger.snapshot().removed_members.len(), 1);
    let out = nemesis.heal().await;
    assert!(out[0].is_applied(), "{out:?}");
    assert_eq!(fake.view(), names(3));
    assert!(ledger.snapshot().is_empty());
}

#[tokio::test]
async fn killed_members_count_against_the_quorum() {
    let ledger = Arc::new(Ledger::in_memory());
    // Two of five are down: removing any live one would leave 2 healthy of 4 (quorum 3).
    ledger
        .record(Fault::Killed, &["n1".to_string(), "n2".to_string()])
        .unwrap();
    let (_, nemesis) = setup(5, &ledger);
    let mut rng = StdRng::seed_from_u64(1);
    let out = nemesis.invoke(&start(), &mut rng).await;
    let Outcome::Applied(value) = out else {
        panic!("{out:?}")
    };
    // Only a down member may go: 3 healthy of 4 remain.
    let removed = value["removed"].as_str().unwrap();
    assert!(removed == "n1" || removed == "n2", "{value}");

    // Three members, one down: removing a live one leaves 1 healthy of 2 (quorum 2).
    let ledger = Arc::new(Ledger::in_memory());
    ledger.record(Fault::Paused, &["n1".to_string()]).unwrap();
    let (fake, nemesis) = setup(3, &ledger);
    let out = nemesis.invoke(&start_removing("n3"), &mut rng).await;
    assert!(
        matches!(&out, Outcome::Skipped(why) if why.contains("removable: n1")),
        "{out:?}"
    );
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn removals_are_in_the_ledger_file_before_they_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::ledger::LEDGER_FILE_NAME);
    let ledger = Arc::new(Ledger::create(&path).unwrap());
    let (_, nemesis) = setup(3, &ledger);
    let mut rng = StdRng::seed_from_u64(2);
    assert!(nemesis.invoke(&start(), &mut rng).await.is_applied());
    let state = Ledger::load(&path).unwrap().snapshot();
    assert_eq!(state.removed_members.len(), 1);
    assert!(state.describe()[0].contains("removed from the cluster's membership"));
}
