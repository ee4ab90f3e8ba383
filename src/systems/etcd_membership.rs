//! etcd's membership API as the `membership` nemesis asks for it, over the v3 JSON gateway:
//! `/v3/cluster/member/list`, `/member/remove {ID}` and `/member/add {peerURLs}` (member ids
//! are uint64, written as strings).
//!
//! Removing a member removes it through the leader, then stops its process (a removed etcd
//! member shuts itself down; the stop makes sure). Adding it back is etcd's documented
//! procedure for a replaced member: `member add` with its peer URL, then the process started
//! on an *empty* data directory with `--initial-cluster-state existing` and the current
//! members as `--initial-cluster`, and waited for until it knows the leader.
//!
//! The start command must therefore differ after a rejoin: [`Rejoins`], shared by the
//! [`EtcdMembership`] and the system's `start_command`, holds per node the generation of
//! its data directory and the cluster it joins. A rejoined node runs on `data/rejoin-K`, a
//! fresh directory on every target with no wipe needed; the data of its earlier life stays
//! beside it (read it after the run). Later restarts (a kill) use the same directory, and
//! etcd then ignores the initial-cluster flags.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::{Membership, MembershipError};
use serde_json::{json, Value};

use super::NodeSpec;

/// How long a re-added member may take to start and learn the leader.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one gateway request may take (etcd's own request timeout is about 5 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);
/// How long a change whose answer was lost is looked for and asked again.
const CHANGE_DEADLINE: Duration = Duration::from_secs(20);
/// How long a change refused for an unhealthy cluster is asked again.
const HEALTHY_WAIT: Duration = Duration::from_secs(7);

/// The rejoins of etcd's members, each with its `--initial-cluster`: every member's
/// `name=peerURL` when it was added.
pub(crate) type Rejoins = super::rejoins::Rejoins<String>;

/// `http://HOST:PEERPORT`, the URL a node's peers reach it at.
pub(crate) fn peer_url(node: &NodeSpec) -> String {
    let port = node.extra_ports.first().copied().unwrap_or(0);
    format!("http://{}:{port}", node.host())
}

/// One member as `member/list` names it.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    id: String,
    name: String,
    peer_urls: Vec<String>,
    learner: bool,
}

fn members_of(answer: &Value) -> Vec<Member> {
    answer["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Member {
            id: match &m["ID"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            name: m["name"].as_str().unwrap_or_default().to_string(),
            peer_urls: m["peerURLs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            learner: m["isLearner"] == true,
        })
        .collect()
}

/// Membership changes of an etcd cluster.
pub(crate) struct EtcdMembership {
    nodes: Vec<NodeSpec>,
    process: Arc<dyn ProcessControl>,
    rejoins: Rejoins,
    http: reqwest::Client,
}

/// What a gateway request came to.
enum Reply {
    Ok(Value),
    /// An error answer: `(message, gRPC code)`.
    Error(String, u64),
}

impl EtcdMembership {
    /// Membership changes over `nodes`, restarting re-added members through `process` with
    /// the start command `rejoins` shapes.
    pub(crate) fn new(
        nodes: &[NodeSpec],
        process: Arc<dyn ProcessControl>,
        rejoins: Rejoins,
    ) -> Self {
        EtcdMembership {
            nodes: nodes.to_vec(),
            process,
            rejoins,
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(Duration::from_millis(500))
                .build()
                .unwrap_or_default(),
        }
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, MembershipError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    /// The node a peer URL belongs to.
    fn name_of(&self, member: &Member) -> String {
        member
            .peer_urls
            .iter()
            .find_map(|url| self.nodes.iter().find(|n| &peer_url(n) == url))
            .map_or_else(|| member.peer_urls.join(","), |n| n.name.clone())
    }

    /// One gateway request; `Err((sent, why))` when there is no answer, `sent` false only
    /// when the connection was refused (nothing reached etcd).
    async fn post(
        &self,
        node: &NodeSpec,
        path: &str,
        body: Value,
    ) -> Result<Reply, (bool, String)> {
        let response = self
            .http
            .post(format!("http://{}{path}", node.client_addr))
            .json(&body)
            .send()
            .await
            .map_err(|e| (!e.is_connect(), e.to_string()))?;
        let status = response.status().as_u16();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| (true, format!("unreadable answer ({status}): {e}")))?;
        if status == 200 {
            return Ok(Reply::Ok(answer));
        }
        let message = answer["message"]
            .as_str()
            .or_else(|| answer["error"].as_str())
            .unwrap_or("no message")
            .to_string();
        Ok(Reply::Error(message, answer["code"].as_u64().unwrap_or(0)))
    }

    /// The node that leads, as the members that answer say (`None` when none does).
    async fn leader(&self) -> Option<&NodeSpec> {
        for node in &self.nodes {
            let Ok(Reply::Ok(status)) = self.post(node, "/v3/maintenance/status", json!({})).await
            else {
                continue;
            };
            let leader = &status["leader"];
            if *leader == status["header"]["member_id"]
                && !matches!(leader.as_str(), None | Some("0"))
            {
                return Some(node);
            }
        }
        None
    }

    /// The leader (or, failing that, every node in turn but `avoid`), retried for a few
    /// seconds while none answers: the first answer.
    async fn ask(
        &self,
        path: &str,
        body: Value,
        avoid: Option<&str>,
    ) -> Result<Reply, MembershipError> {
        let started = Instant::now();
        let mut last = String::from("no node to ask");
        loop {
            let mut order: Vec<&NodeSpec> = self.leader().await.into_iter().collect();
            order.extend(self.nodes.iter().filter(|n| Some(n.name.as_str()) != avoid));
            for node in order {
                match self.post(node, path, body.clone()).await {
                    Ok(reply) => return Ok(reply),
                    // A request that reached etcd and got no answer may have taken effect:
                    // never send it again elsewhere.
                    Err((true, e)) => {
                        return Err(MembershipError::Unknown(format!(
                            "{path} at {}: {e}",
                            node.name
                        )))
                    }
                    Err((false, e)) => last = format!("{}: {e}", node.name),
                }
            }
            if started.elapsed() >= Duration::from_secs(5) {
                return Err(MembershipError::Refused(format!(
                    "no member could be reached for {path}: {last}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A membership change, asked again while etcd refuses it for an unhealthy cluster:
    /// etcd counts a member healthy only after 5 s of connection, so a change right after
    /// another (or right after the start) is refused for a few seconds.
    async fn change(
        &self,
        path: &str,
        body: Value,
        avoid: &str,
    ) -> Result<(Reply, Duration), MembershipError> {
        let started = Instant::now();
        loop {
            let reply = self.ask(path, body.clone(), Some(avoid)).await?;
            match &reply {
                Reply::Error(message, _)
                    if refused(message) && started.elapsed() < HEALTHY_WAIT =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                _ => return Ok((reply, started.elapsed())),
            }
        }
    }

    async fn list(&self) -> Result<Vec<Member>, MembershipError> {
        match self.ask("/v3/cluster/member/list", json!({}), None).await {
            Ok(Reply::Ok(answer)) => Ok(members_of(&answer)),
            Ok(Reply::Error(message, code)) => Err(MembershipError::Refused(format!(
                "member list: {message} (code {code})"
            ))),
            // A list changes nothing: whatever went wrong, nothing was changed.
            Err(e) => Err(MembershipError::Refused(format!("member list: {e}"))),
        }
    }

    /// The members, when a change may already have been sent: then a failure to read them
    /// leaves its effect unknown.
    async fn list_after(&self, sent: bool) -> Result<Vec<Member>, MembershipError> {
        match self.list().await {
            Err(e) if sent => Err(MembershipError::Unknown(e.to_string())),
            other => other,
        }
    }

    /// Wait until `node`'s member knows a leader.
    async fn joined(&self, node: &NodeSpec) -> Result<Duration, String> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < JOIN_TIMEOUT {
            match self.post(node, "/v3/maintenance/status", json!({})).await {
                Ok(Reply::Ok(status)) if !matches!(status["leader"].as_str(), None | Some("0")) => {
                    return Ok(started.elapsed())
                }
                Ok(Reply::Ok(status)) => last = format!("no leader known: {status}"),
                Ok(Reply::Error(message, _)) => last = message,
                Err((_, e)) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "{} did not join within {JOIN_TIMEOUT:?} ({last}); read its log {}",
            node.name,
            node.log_file.display()
        ))
    }
}

/// Whether an etcd error says the change was refused before it was proposed.
fn refused(message: &str) -> bool {
    [
        "unhealthy cluster",
        "not enough started members",
        "re-configuration failed",
        "learner",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// After a change `what` (`member add`) of `node` that did not succeed, with `failure` its
/// error answer `(message, gRPC code)` or why none came: refused before it was ever `sent`,
/// it is final; otherwise it may have happened unanswered, so wait a moment for the member
/// list to be looked at again, until [`CHANGE_DEADLINE`] after `started`. The change is
/// `sent` from then on.
async fn look_again(
    what: &str,
    node: &str,
    failure: Result<(String, u64), MembershipError>,
    sent: &mut bool,
    started: Instant,
) -> Result<(), MembershipError> {
    let why = match failure {
        Ok((message, code)) if refused(&message) && !*sent => {
            return Err(MembershipError::Refused(format!(
                "{what}: {message} (code {code})"
            )))
        }
        Ok((message, code)) => format!("{message} (code {code})"),
        Err(e) => e.to_string(),
    };
    *sent = true;
    if started.elapsed() >= CHANGE_DEADLINE {
        return Err(MembershipError::Unknown(format!("{what}: {why}")));
    }
    tracing::info!(node, %why, "{what} did not answer; looking again");
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}

#[async_trait]
impl Membership for EtcdMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        let mut names: Vec<String> = self
            .list()
            .await?
            .iter()
            .filter(|m| !m.learner)
            .map(|m| self.name_of(m))
            .collect();
        names.sort();
        Ok(names)
    }

    async fn remove(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let started = Instant::now();
        let mut sent = false;
        let (member_id, waited) = loop {
            let members = self.list_after(sent).await?;
            let Some(member) = members.iter().find(|m| self.name_of(m) == name) else {
                if !sent {
                    return Ok(json!({ "mechanism": "etcd member remove", "changed": false }));
                }
                break (None, started.elapsed());
            };
            let body = json!({ "ID": member.id });
            let failure = match self.change("/v3/cluster/member/remove", body, name).await {
                Ok((Reply::Ok(_), waited)) => break (Some(member.id.clone()), waited),
                Ok((Reply::Error(message, _), waited)) if message.contains("member not found") => {
                    break (Some(member.id.clone()), waited)
                }
                Ok((Reply::Error(message, code), _)) => Ok((message, code)),
                Err(e) => Err(e),
            };
            // etcd drops a change proposed around an election without a word: the request
            // times out. The member list tells whether it happened; if not, ask again.
            look_again("member remove", name, failure, &mut sent, started).await?;
        };
        // A removed member shuts itself down; make sure, so it is not serving stale data.
        let stopped = self.process.kill(&node.name).await;
        Ok(json!({
            "mechanism": "etcd member remove",
            "member_id": member_id,
            "stopped": stopped.is_ok(),
            "waited_ms": waited.as_millis() as u64,
        }))
    }

    async fn add(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let url = peer_url(node);
        let started = Instant::now();
        let mut sent = false;
        let (member_id, members) = loop {
            let members = self.list_after(sent).await?;
            let existing = members.iter().find(|m| m.peer_urls.contains(&url));
            match existing {
                // Already a started member: nothing to do, once it serves.
                Some(member) if !member.name.is_empty() => {
                    return match self.joined(node).await {
                        Ok(_) => Ok(json!({ "mechanism": "etcd member add", "changed": false,
                                            "member_id": member.id })),
                        Err(e) => Err(MembershipError::Unknown(e)),
                    };
                }
                // Added (by an earlier try or an earlier heal), never started: start it now.
                Some(member) => break (member.id.clone(), members.clone()),
                None => {}
            }
            let body = json!({ "peerURLs": [url] });
            let failure = match self.change("/v3/cluster/member/add", body, name).await {
                Ok((Reply::Ok(answer), _)) => {
                    let id = members_of(&json!({ "members": [answer["member"]] }))
                        .pop()
                        .map(|m| m.id)
                        .unwrap_or_default();
                    break (id, members_of(&answer));
                }
                Ok((Reply::Error(message, code), _)) => Ok((message, code)),
                Err(e) => Err(e),
            };
            // As for a removal: the list tells whether a lost add happened.
            look_again("member add", name, failure, &mut sent, started).await?;
        };
        let initial_cluster = members
            .iter()
            .filter_map(|m| {
                let url = m.peer_urls.first()?;
                let name = if m.name.is_empty() {
                    self.name_of(m)
                } else {
                    m.name.clone()
                };
                Some(format!("{name}={url}"))
            })
            .collect::<Vec<_>>()
            .join(",");
        // The old process must be gone before the new life starts on a fresh directory.
        let _ = self.process.kill(&node.name).await;
        let rejoin = self.rejoins.next(&node.name, initial_cluster);
        let unknown = |why: String| {
            MembershipError::Unknown(format!("{name} was added as member {member_id}, but {why}"))
        };
        self.process
            .start(&node.name)
            .await
            .map_err(|e| unknown(format!("its process did not start: {e}")))?;
        let waited = self.joined(node).await.map_err(unknown)?;
        Ok(json!({
            "mechanism": "etcd member add",
            "member_id": member_id,
            "data_dir": rejoin.data_dir(node).display().to_string(),
            "joined_ms": waited.as_millis() as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_decode_from_the_gateway_and_rejoins_count_up() {
        let answer = json!({"members": [
            {"ID": "10276657743932975437", "name": "n1",
             "peerURLs": ["http://127.0.1.1:2380"], "clientURLs": ["http://127.0.1.1:2379"]},
            {"ID": "123", "peerURLs": ["http://127.0.1.3:2380"], "isLearner": true}
        ]});
        let members = members_of(&answer);
        assert_eq!(members[0].id, "10276657743932975437");
        assert_eq!(members[1].name, "");
        assert!(members[1].learner && !members[0].learner);

        assert!(refused("etcdserver: unhealthy cluster"));
        assert!(!refused("etcdserver: request timed out"));
    }
}
