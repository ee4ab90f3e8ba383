//! ZooKeeper's membership as the `membership` nemesis asks for it, through ZooKeeper's own
//! dynamic reconfiguration: the ensemble read from `/zookeeper/config`, and `reconfig`
//! (`update_ensemble` of the `zookeeper-client` crate, what `zkCli.sh reconfig -remove N` /
//! `-add server.N=...` send) on a session with a serving member. The ensemble runs with
//! `reconfigEnabled=true`, `standaloneEnabled=false` and `skipACL=yes` (see
//! [`super::zookeeper`]).
//!
//! A removed server is stopped, as etcd's removed members stop: a server that is no member
//! would only wait for a quorum that no longer counts it, and one restarted (a kill) exits,
//! "My id N not in the peer list". Adding it back is ZooKeeper's documented procedure for a
//! joining server: it starts on a configuration naming the current ensemble and itself
//! (`zoo-rejoin-K.cfg`, written on its first start; see [`ZkRejoins`]), on its own data
//! folder (ZooKeeper brings it up to date from the leader), then `reconfig -add` names it,
//! and the change is done once the server says it is a follower or the leader.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::{Membership, MembershipError};
use serde_json::{json, Value};
use zookeeper_client as zk;

use super::zookeeper::{mode, server_line};
use super::NodeSpec;

/// How long one request (a session, a config read, a reconfig) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a change is asked for again after a lost answer or a busy ensemble.
const CHANGE_DEADLINE: Duration = Duration::from_secs(20);
/// How long a re-added server may take to start and join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How a server starts after it rejoined: which life it is and the ensemble it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZkRejoin {
    /// Which rejoin this is (1 for the first): it starts on `zoo-rejoin-K.cfg`.
    pub generation: u32,
    /// The dynamic configuration it starts on: the ensemble when it was added, itself in it.
    pub ensemble: String,
}

/// The rejoins of an ensemble's servers, by node name, shared with the start command.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZkRejoins(Arc<Mutex<BTreeMap<String, ZkRejoin>>>);

impl ZkRejoins {
    /// How `node` starts now, if it rejoined.
    pub(crate) fn get(&self, node: &str) -> Option<ZkRejoin> {
        self.lock()
            .get(node)
            .filter(|r| !r.ensemble.is_empty())
            .cloned()
    }

    /// `node` starts on its own `zoo.cfg` again (its data was wiped for a new test); a later
    /// rejoin still counts on, so it never finds an earlier life's files.
    pub(crate) fn forget(&self, node: &str) {
        if let Some(rejoin) = self.lock().get_mut(node) {
            rejoin.ensemble.clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ZkRejoin>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `node` lived `generation` rejoins already: it starts on the latest configuration.
    pub(crate) fn resume(&self, node: &str, generation: u32, ensemble: String) {
        self.lock().insert(
            node.to_string(),
            ZkRejoin {
                generation,
                ensemble,
            },
        );
    }

    #[cfg(test)]
    pub(crate) fn next_for_tests(&self, node: &str, ensemble: &str) -> u32 {
        self.next(node, ensemble.to_string()).generation
    }

    fn next(&self, node: &str, ensemble: String) -> ZkRejoin {
        let mut map = self.lock();
        let generation = map.get(node).map_or(1, |r| r.generation + 1);
        let rejoin = ZkRejoin {
            generation,
            ensemble,
        };
        map.insert(node.to_string(), rejoin.clone());
        rejoin
    }
}

/// The server ids and lines of a dynamic configuration (`server.N=...` lines, `version=`).
fn servers_of(config: &str) -> BTreeMap<u64, String> {
    config
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("server.")?;
            let (id, _) = rest.split_once('=')?;
            Some((id.parse().ok()?, line.trim().to_string()))
        })
        .collect()
}

/// Membership changes of a ZooKeeper ensemble.
pub(crate) struct ZkMembership {
    nodes: Vec<NodeSpec>,
    process: Arc<dyn ProcessControl>,
    rejoins: ZkRejoins,
}

impl ZkMembership {
    /// Membership changes over `nodes`, stopping and restarting servers through `process`
    /// with the start command `rejoins` shapes.
    pub(crate) fn new(
        nodes: &[NodeSpec],
        process: Arc<dyn ProcessControl>,
        rejoins: ZkRejoins,
    ) -> Self {
        ZkMembership {
            nodes: nodes.to_vec(),
            process,
            rejoins,
        }
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, MembershipError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    fn name_of(&self, id: u64) -> String {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .map_or_else(|| format!("server.{id}"), |n| n.name.clone())
    }

    /// A session with a serving member other than `except` (the leader first: a reconfig
    /// goes there anyway).
    async fn session(&self, except: Option<&str>) -> Result<zk::Client, String> {
        let mut serving = Vec::new();
        for node in self
            .nodes
            .iter()
            .filter(|n| Some(n.name.as_str()) != except)
        {
            match mode(node).await.as_deref() {
                Ok("leader") => serving.insert(0, node),
                Ok("follower") => serving.push(node),
                _ => {}
            }
        }
        let mut last = "no server of the ensemble is serving".to_string();
        for node in serving {
            let connect = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(6))
                .with_connection_timeout(REQUEST_TIMEOUT)
                .with_fail_eagerly()
                .connect(&node.client_addr);
            match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(e)) => last = format!("no session with {}: {e}", node.name),
                Err(_) => last = format!("no session with {} in time", node.name),
            }
        }
        Err(last)
    }

    /// The ensemble's dynamic configuration, as a serving member other than `except` has it,
    /// asked again while the ensemble elects a leader (as it does when the leader left).
    async fn config(&self, except: Option<&str>) -> Result<String, String> {
        let started = Instant::now();
        loop {
            match self.config_once(except).await {
                Ok(config) => return Ok(config),
                Err(why) if started.elapsed() >= CHANGE_DEADLINE => return Err(why),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn config_once(&self, except: Option<&str>) -> Result<String, String> {
        let session = self.session(except).await?;
        let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
            // The config node is replicated like any znode: catch up with the leader first.
            session.sync("/zookeeper/config").await?;
            session.get_config().await
        });
        match read.await {
            Ok(Ok((data, _))) => Ok(String::from_utf8_lossy(&data).into_owned()),
            Ok(Err(e)) => Err(format!("cannot read /zookeeper/config: {e}")),
            Err(_) => Err("no answer reading /zookeeper/config".to_string()),
        }
    }

    /// One `reconfig` (`joining` lines, `leaving` ids), asked again after a lost answer
    /// until the ensemble shows it happened (`done` on the configuration read back).
    async fn reconfig(
        &self,
        name: &str,
        joining: &[String],
        leaving: &[String],
        done: impl Fn(&BTreeMap<u64, String>) -> bool,
    ) -> Result<(String, Duration), MembershipError> {
        let started = Instant::now();
        let mut sent = false;
        loop {
            let why = match self.session(Some(name)).await {
                Err(e) => e,
                Ok(session) => {
                    let update = zk::EnsembleUpdate::Incremental {
                        joinings: joining.iter().map(String::as_str),
                        leavings: leaving.iter().map(String::as_str),
                    };
                    let ask = session.update_ensemble(update, None);
                    match tokio::time::timeout(REQUEST_TIMEOUT, ask).await {
                        Ok(Ok((data, _))) => {
                            return Ok((
                                String::from_utf8_lossy(&data).into_owned(),
                                started.elapsed(),
                            ))
                        }
                        Ok(Err(zk::Error::ReconfigDisabled)) => {
                            return Err(MembershipError::Refused(
                                "the ensemble runs without reconfigEnabled=true".to_string(),
                            ))
                        }
                        // -13: NEWCONFIGNOQUORUM, the new ensemble has no quorum up.
                        Ok(Err(
                            e @ (zk::Error::UnexpectedErrorCode(-13) | zk::Error::BadArguments(_)),
                        )) if !sent => {
                            return Err(MembershipError::Refused(format!("reconfig: {e}")))
                        }
                        Ok(Err(e)) => {
                            sent = true;
                            format!("reconfig: {e}")
                        }
                        Err(_) => {
                            sent = true;
                            "reconfig: no answer".to_string()
                        }
                    }
                }
            };
            // A lost answer: the configuration read back tells whether it happened.
            if sent {
                if let Ok(config) = self.config(Some(name)).await {
                    if done(&servers_of(&config)) {
                        return Ok((config, started.elapsed()));
                    }
                }
            }
            if started.elapsed() >= CHANGE_DEADLINE {
                let error = if sent {
                    MembershipError::Unknown
                } else {
                    MembershipError::Refused
                };
                return Err(error(why));
            }
            tracing::info!(node = name, %why, "reconfig did not answer; asking again");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Wait until `node` says it is a follower or the leader.
    async fn joined(&self, node: &NodeSpec) -> Result<Duration, String> {
        let started = Instant::now();
        loop {
            let state = mode(node).await;
            if matches!(state.as_deref(), Ok("follower" | "leader")) {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= JOIN_TIMEOUT {
                return Err(format!(
                    "it did not join within {JOIN_TIMEOUT:?} ({}); read its log {}",
                    state.unwrap_or_else(|e| e),
                    node.log_file.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[async_trait]
impl Membership for ZkMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        let config = self.config(None).await.map_err(MembershipError::Unknown)?;
        let mut names: Vec<String> = servers_of(&config)
            .into_iter()
            .filter(|(_, line)| !line.contains(":observer"))
            .map(|(id, _)| self.name_of(id))
            .collect();
        names.sort();
        Ok(names)
    }

    async fn remove(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let before = self
            .config(Some(name))
            .await
            .map_err(MembershipError::Refused)?;
        if !servers_of(&before).contains_key(&node.id) {
            return Ok(json!({ "mechanism": "zookeeper reconfig -remove", "changed": false }));
        }
        let id = node.id;
        let (config, waited) = self
            .reconfig(name, &[], &[id.to_string()], |servers| {
                !servers.contains_key(&id)
            })
            .await?;
        // A server that is no member only waits for a quorum that no longer counts it.
        let stopped = self.process.kill(&node.name).await;
        Ok(json!({
            "mechanism": "zookeeper reconfig -remove",
            "server": id,
            "version": config.lines().find_map(|l| l.strip_prefix("version=")),
            "stopped": stopped.is_ok(),
            "waited_ms": waited.as_millis() as u64,
        }))
    }

    async fn add(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let line = server_line(node).map_err(|e| MembershipError::Refused(e.to_string()))?;
        let before = self
            .config(Some(name))
            .await
            .map_err(MembershipError::Refused)?;
        let mut servers = servers_of(&before);
        let member = servers.contains_key(&node.id);
        if member && self.joined(node).await.is_ok() {
            return Ok(json!({ "mechanism": "zookeeper reconfig -add", "changed": false }));
        }
        // The joining server starts first, on the ensemble and itself, so the change needs
        // no quorum that counts a server that is not up yet.
        servers.insert(node.id, line.clone());
        let ensemble: String = servers.values().map(|l| format!("{l}\n")).collect();
        let _ = self.process.kill(&node.name).await;
        let rejoin = self.rejoins.next(&node.name, ensemble);
        let unknown = |why: String| MembershipError::Unknown(format!("{name}: {why}"));
        self.process
            .start(&node.name)
            .await
            .map_err(|e| unknown(format!("its server did not start: {e}")))?;
        let id = node.id;
        let (config, waited) = if member {
            (before, Duration::ZERO)
        } else {
            self.reconfig(name, std::slice::from_ref(&line), &[], |servers| {
                servers.contains_key(&id)
            })
            .await?
        };
        let joined = self
            .joined(node)
            .await
            .map_err(|why| unknown(format!("was added, but {why}")))?;
        Ok(json!({
            "mechanism": "zookeeper reconfig -add",
            "server": line,
            "version": config.lines().find_map(|l| l.strip_prefix("version=")),
            "config": format!("zoo-rejoin-{}.cfg", rejoin.generation),
            "waited_ms": waited.as_millis() as u64,
            "joined_ms": joined.as_millis() as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_from_the_config_node_and_rejoins_count_up() {
        let config = "server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\n\
                      server.3=10.0.0.3:2888:3888:participant;10.0.0.3:2181\nversion=100000003";
        let servers = servers_of(config);
        assert_eq!(servers.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert!(servers[&3].ends_with(";10.0.0.3:2181"));
        let rejoins = ZkRejoins::default();
        assert_eq!(rejoins.get("n2"), None);
        assert_eq!(rejoins.next("n2", "a".into()).generation, 1);
        assert_eq!(rejoins.next("n2", "b".into()).generation, 2);
        assert_eq!(rejoins.get("n2").unwrap().ensemble, "b");
        rejoins.forget("n2");
        assert_eq!(rejoins.get("n2"), None);
        assert_eq!(rejoins.next("n2", "c".into()).generation, 3);
    }
}
