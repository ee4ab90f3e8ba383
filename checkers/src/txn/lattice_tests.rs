//! The lattice against Elle's `consistency_model.clj`: boundaries, prohibited anomalies,
//! and every reported anomaly against every model, written out by hand.

use super::*;

fn names(models: &BTreeSet<ConsistencyModel>) -> Vec<&'static str> {
    models.iter().map(|m| m.name()).collect()
}

#[test]
fn every_table_name_is_a_known_model() {
    for (model, implied) in MODELS {
        assert!(model.parse::<ConsistencyModel>().is_ok(), "{model}");
        for name in implied.iter() {
            assert!(name.parse::<ConsistencyModel>().is_ok(), "{name}");
        }
    }
    for (model, _) in PROSCRIBED {
        assert!(model.parse::<ConsistencyModel>().is_ok(), "{model}");
    }
    for (_, name) in ALIASES {
        assert!(name.parse::<ConsistencyModel>().is_ok(), "{name}");
    }
    // Every reported anomaly rules something out.
    for anomaly in Anomaly::REPORTED {
        assert!(!impossible_models(&[anomaly]).is_empty(), "{anomaly}");
    }
}

#[test]
fn boundaries_match_elle() {
    let b = boundary(&[Anomaly::G_SINGLE]);
    assert_eq!(names(&b.not), ["consistent-view"]);
    assert!(b.also_not.contains(&ConsistencyModel::SERIALIZABLE));
    assert!(b.also_not.contains(&ConsistencyModel::SNAPSHOT_ISOLATION));
    assert!(!b.also_not.contains(&ConsistencyModel::REPEATABLE_READ));
    assert_eq!(names(&boundary(&[Anomaly::G1C]).not), ["read-committed"]);
    assert_eq!(names(&boundary(&[Anomaly::G0]).not), ["read-uncommitted"]);
    assert_eq!(
        names(&boundary(&[Anomaly::G2_ITEM]).not),
        ["repeatable-read"]
    );
    assert_eq!(
        names(&boundary(&[Anomaly::LOST_UPDATE]).not),
        ["cursor-stability", "update-atomic"]
    );
    // An item G-single is a G2-item (Adya): repeatable read falls too.
    assert_eq!(
        names(&boundary(&[Anomaly::G_SINGLE_ITEM]).not),
        ["consistent-view", "repeatable-read"]
    );
    assert_eq!(
        names(&boundary(&[Anomaly::G_NONADJACENT_ITEM]).not),
        ["repeatable-read", "snapshot-isolation"]
    );
    assert_eq!(
        names(&boundary(&[Anomaly::G_SINGLE_ITEM_PROCESS]).not),
        ["strong-session-snapshot-isolation"]
    );
    assert_eq!(names(&boundary(&[Anomaly::INTERNAL]).not), ["read-atomic"]);
    assert_eq!(
        names(&boundary(&[Anomaly::G_SINGLE_REALTIME]).not),
        ["strong-snapshot-isolation"]
    );
    let b = boundary(&[Anomaly::G2_ITEM_REALTIME]);
    assert_eq!(names(&b.not), ["strict-serializable"]);
    assert!(b.also_not.is_empty());
}

#[test]
fn prohibited_by_a_model_includes_what_implies_it() {
    let rc = prohibited_anomalies(&[ConsistencyModel::READ_COMMITTED]);
    for a in [
        Anomaly::G0,
        Anomaly::G1A,
        Anomaly::G1C,
        Anomaly::DIRTY_UPDATE,
    ] {
        assert!(rc.contains(&a), "{a}");
    }
    assert!(!rc.contains(&Anomaly::G_SINGLE));
    assert!(!rc.contains(&Anomaly::G0_PROCESS));
    let strict = prohibited_anomalies(&[ConsistencyModel::STRICT_SERIALIZABLE]);
    for a in Anomaly::REPORTED {
        assert!(strict.contains(&a), "{a}");
    }
}

#[test]
fn order_edges_follow_the_models() {
    let need = |m: &str| ConsistencyModel::needs(&[m.parse().unwrap()]);
    assert_eq!(need("strict-serializable"), OrderEdges::Realtime);
    assert_eq!(
        need("strong-session-snapshot-isolation"),
        OrderEdges::Process
    );
    assert_eq!(need("serializable"), OrderEdges::None);
}

#[test]
fn aliases_and_unknown_names() {
    assert_eq!(
        "PL-2".parse::<ConsistencyModel>(),
        Ok(ConsistencyModel::READ_COMMITTED)
    );
    let e = "causal"
        .parse::<ConsistencyModel>()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"causal\"") && e.contains("causal-cerone"),
        "{e}"
    );
}

/// `models` and everything in `stronger`: a set of models an anomaly rules out, written
/// as the models it names first and a smaller such set they all lie below.
fn up(models: &[&'static str], stronger: &[&'static str]) -> Vec<&'static str> {
    models.iter().chain(stronger).copied().collect()
}

/// The 25 models, and the sets of them an anomaly rules out, each written out from Elle's
/// `models` graph (a model and everything stronger than it), not computed.
struct Sets {
    all: Vec<&'static str>,
    /// Every reported anomaly and the models it rules out.
    table: Vec<(Anomaly, Vec<&'static str>)>,
}

/// The sets, from Elle's `anomalies->impossible-models`. Where Adya's thesis differs:
///
/// - Adya's PL-SI forbids only G-SI (G-SIa, G-SIb); Elle, after Cerone and Gotsman, forbids
///   every cycle whose rw edges are non-adjacent, so `G-nonadjacent-item` rules out
///   snapshot isolation. We follow Elle.
/// - Adya has no process or real-time edges; the `-process` and `-realtime` rows and the
///   strong (session) models are Elle's generalisations. We follow Elle.
/// - Adya defines lost update only as a history shape (H_lu); that it rules out cursor
///   stability follows Adya, update atomicity Cerone, repeatable read Bailis. We follow Elle.
/// - `internal` and `future-read` are not Adya anomalies (his histories are internally
///   consistent); Elle's Cerone-based models forbid them. We follow Elle.
/// - `garbage-read` is not Elle's; like `duplicate-elements` it cannot happen in an Adya
///   history, so it rules out read uncommitted and everything above.
fn sets() -> Sets {
    let strict = vec!["strict-serializable"];
    let sss = up(&["strong-session-serializable"], &strict);
    let ssi = up(&["strong-snapshot-isolation"], &strict);
    let sssi = up(
        &[
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
        ],
        &sss,
    );
    let rr = up(&["repeatable-read", "serializable"], &sss);
    let s_rc = up(&["strong-read-committed"], &ssi);
    let s_ru = up(&["strong-read-uncommitted"], &s_rc);
    let ss_rc = up(
        &["strong-session-read-committed", "strong-read-committed"],
        &sssi,
    );
    let ss_ru = up(
        &["strong-session-read-uncommitted", "strong-read-uncommitted"],
        &ss_rc,
    );
    // snapshot-isolation and repeatable-read and up (G-nonadjacent on items).
    let si_rr = up(
        &["snapshot-isolation", "repeatable-read", "serializable"],
        &sssi,
    );
    // consistent-view and repeatable-read and up (G-single on items).
    let cv_rr = up(
        &[
            "consistent-view",
            "forward-consistent-view",
            "update-serializable",
        ],
        &si_rr,
    );
    // cursor-stability and update-atomic and up (lost update, per Adya and Bailis).
    let cs_ua = up(
        &[
            "cursor-stability",
            "update-atomic",
            "parallel-snapshot-isolation",
        ],
        &cv_rr,
    );
    // read-atomic and up (internal).
    let ra = up(
        &[
            "read-atomic",
            "causal-cerone",
            "update-atomic",
            "prefix",
            "parallel-snapshot-isolation",
            "snapshot-isolation",
            "serializable",
        ],
        &sssi,
    );
    // read-committed and up: every model but read-uncommitted and its two strong forms.
    let rc = up(
        &[
            "read-committed",
            "cursor-stability",
            "monotonic-view",
            "monotonic-snapshot-read",
            "monotonic-atomic-view",
            "consistent-view",
            "forward-consistent-view",
            "read-atomic",
            "causal-cerone",
            "update-atomic",
            "prefix",
            "parallel-snapshot-isolation",
            "repeatable-read",
            "update-serializable",
            "snapshot-isolation",
            "serializable",
        ],
        &ss_rc,
    );
    let all = up(
        &[
            "read-uncommitted",
            "strong-session-read-uncommitted",
            "strong-read-uncommitted",
        ],
        &rc,
    );
    let table = vec![
        (Anomaly::G0, all.clone()),
        (Anomaly::G0_PROCESS, ss_ru),
        (Anomaly::G0_REALTIME, s_ru),
        (Anomaly::G1A, rc.clone()),
        (Anomaly::G1B, rc.clone()),
        (Anomaly::G1C, rc.clone()),
        (Anomaly::G1C_PROCESS, ss_rc),
        (Anomaly::G1C_REALTIME, s_rc),
        (Anomaly::G_SINGLE_ITEM, cv_rr),
        (Anomaly::G_SINGLE_ITEM_PROCESS, sssi.clone()),
        (Anomaly::G_SINGLE_ITEM_REALTIME, ssi.clone()),
        (Anomaly::G_NONADJACENT_ITEM, si_rr),
        (Anomaly::G_NONADJACENT_ITEM_PROCESS, sssi),
        (Anomaly::G_NONADJACENT_ITEM_REALTIME, ssi),
        (Anomaly::G2_ITEM, rr),
        (Anomaly::G2_ITEM_PROCESS, sss),
        (Anomaly::G2_ITEM_REALTIME, strict),
        (Anomaly::INTERNAL, ra),
        (Anomaly::LOST_UPDATE, cs_ua),
        (Anomaly::DUPLICATE_ELEMENTS, all.clone()),
        (Anomaly::DIRTY_UPDATE, rc.clone()),
        (Anomaly::FUTURE_READ, rc.clone()),
        (Anomaly::GARBAGE_READ, all.clone()),
        (Anomaly::INCOMPATIBLE_ORDER, rc),
        (Anomaly::CYCLIC_VERSIONS, all.clone()),
    ];
    Sets { all, table }
}

#[test]
fn every_reported_anomaly_against_every_model() {
    let Sets { all, table } = sets();
    let listed: BTreeSet<Anomaly> = table.iter().map(|(a, _)| *a).collect();
    let reported: BTreeSet<Anomaly> = Anomaly::REPORTED.into_iter().collect();
    assert_eq!(
        listed, reported,
        "the table must list every reported anomaly"
    );
    let models: BTreeSet<&str> = ConsistencyModel::all().map(|m| m.name()).collect();
    assert_eq!(all.len(), 25, "{all:?}");
    assert_eq!(models, all.iter().copied().collect());
    let mut wrong = Vec::new();
    for (anomaly, expected) in &table {
        let impossible = impossible_models(&[*anomaly]);
        for model in ConsistencyModel::all() {
            let expect = expected.contains(&model.name());
            if impossible.contains(&model) != expect {
                wrong.push(format!("{anomaly} × {model}: expected {expect}"));
            }
            // The same pair read the other way: the model prohibits the anomaly.
            let prohibited = prohibited_anomalies(&[model]).contains(anomaly);
            if prohibited != expect {
                wrong.push(format!("{model} prohibits {anomaly}: expected {expect}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn elle_boundaries_in_its_own_tests() {
    // consistency_model_test.clj, with friendly names as faultline prints them.
    let b = boundary(&[Anomaly::CYCLIC_VERSIONS]);
    assert_eq!(names(&b.not), ["read-uncommitted"]);
    assert_eq!(b.also_not.len(), 24);
    let b = boundary(&[Anomaly::G1A]);
    assert_eq!(names(&b.not), ["read-committed"]);
    assert_eq!(b.also_not.len(), 21);
    let b = boundary(&[Anomaly::G2, Anomaly::INTERNAL]);
    assert_eq!(names(&b.not), ["read-atomic"]);
    let b = boundary(&[Anomaly::G_SINGLE_REALTIME]);
    assert_eq!(names(&b.not), ["strong-snapshot-isolation"]);
    assert_eq!(names(&b.also_not), ["strict-serializable"]);
    assert_eq!(
        "ROLA".parse::<ConsistencyModel>().map(|m| m.name()),
        Ok("update-atomic")
    );
}
