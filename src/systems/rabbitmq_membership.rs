//! RabbitMQ's membership as the `membership` nemesis asks for it: the members of the
//! workload's quorum queues (`faultline.*`), changed with RabbitMQ's own CLI. A removed node
//! stays in the RabbitMQ cluster and keeps serving AMQP clients (its channels reach the
//! queues' other members); only its replica of each queue goes.
//!
//! - the view: the nodes that are a member of every workload queue, as a broker's metadata
//!   names them (`rabbitmqctl eval` of [`LIST_QUEUES`]; every node while there is no queue);
//! - remove: `rabbitmq-queues delete_member QUEUE rabbit-NODE@HOST` for each queue it is a
//!   member of, done once the queues read back without it;
//! - add: `rabbitmq-queues add_member QUEUE rabbit-NODE@HOST` for each queue it is not a
//!   member of, asked again (the node may be down, killed by another nemesis) until every
//!   queue names it, for up to [`ADD_DEADLINE`].
//!
//! The CLI runs on a node with a running broker, through the target's node shell (this
//! machine on the local target, SSH on SSH and docker nodes), inside that broker's network
//! namespace (entered with `nsenter`, as root, by its `beam.smp` process, when the shell is
//! not in it already), so it uses the node's own port mapper and starts none in the
//! controller's namespace. `HOME` is the node's folder, where `setup` put the run's Erlang
//! cookie, so `faultline heal` (a fresh process) reaches the brokers as the run did.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::membership::{Membership, MembershipError};
use serde_json::{json, Value};

use super::node::{quote, NodeShell};
use super::rabbitmq::{long_names, node_name, QUEUE_PREFIX};
use super::NodeSpec;

/// How long one CLI call may take (the CLI's own timeout is a little shorter): it starts an
/// Erlang VM, which took tens of seconds on a 2-core machine under a load of 25.
const CLI_LIMIT: Duration = Duration::from_secs(60);
/// How long one CLI call may take when it only names the leader for a nemesis.
const LEADER_LIMIT: Duration = Duration::from_secs(15);
/// How long an addition is asked for again while the node or a queue is unavailable (each
/// CLI call starts an Erlang VM: on a loaded machine a round takes tens of seconds).
const ADD_DEADLINE: Duration = Duration::from_secs(90);

/// The script that runs `tool` (`rabbitmqctl`, `rabbitmq-queues`, in `cli_dir`) with `args`
/// against `node`'s broker, inside its network namespace. Exits 69 when the broker is not
/// running.
pub(crate) fn cli_script(cli_dir: &Path, tool: &str, node: &NodeSpec, args: &[&str]) -> String {
    let home = node.node_dir().display().to_string();
    let pattern = format!("beam\\.smp .*-home {}( |$)", ere_escape(&home));
    let mut line = format!(
        "HOME={} exec $enter {} -n {}",
        quote(&home),
        quote(&cli_dir.join(tool).display().to_string()),
        quote(&node_name(node))
    );
    if long_names(node) {
        line.push_str(" -l");
    }
    line.push_str(" -q -t 50");
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    format!(
        "pid=$(pgrep -f -- {pattern} | head -n 1)\n\
         [ -n \"$pid\" ] || {{ echo '{name} is not running' >&2; exit 69; }}\n\
         enter=\n\
         [ \"$(readlink /proc/$pid/ns/net)\" = \"$(readlink /proc/self/ns/net)\" ] || \
         enter=\"nsenter -t $pid -n --\"\n\
         {line}\n",
        pattern = quote(&pattern),
        name = node.name,
    )
}

/// `text` as a literal in a POSIX extended regular expression.
fn ere_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.[]()*+?{}|^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Erlang expression `rabbitmqctl eval` runs on a broker to list the quorum queues, one
/// line each: `queue NAME LEADER MEMBER,MEMBER,...`, from the broker's own metadata. (Not
/// `list_queues`: it has every broker stream its rows to the CLI's own node, which brokers in
/// other namespaces cannot reach.)
const LIST_QUEUES: &str =
    "lists:foreach(fun(Q) -> {resource, _, queue, N} = amqqueue:get_name(Q), \
    {_, L} = amqqueue:get_pid(Q), Ms = maps:get(nodes, amqqueue:get_type_state(Q), []), \
    io:format(\"queue ~s ~s ~s~n\", [N, L, lists:join(\",\", [atom_to_list(M) || M <- Ms])]) end, \
    [Q || Q <- rabbit_amqqueue:list(), amqqueue:get_type(Q) =:= rabbit_quorum_queue]).";

/// One workload queue as a broker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueRow {
    /// Its name (`faultline.KEY`).
    pub name: String,
    /// The Erlang node name of its leader.
    pub leader: String,
    /// Its members' Erlang node names.
    pub members: Vec<String>,
}

/// The workload queues in what [`LIST_QUEUES`] printed, by name.
pub(crate) fn parse_queues(text: &str) -> Result<Vec<QueueRow>, String> {
    if !text.lines().any(|l| l.trim() == "ok") {
        return Err(format!("the queue listing did not finish: {text:.300}"));
    }
    let mut rows: Vec<QueueRow> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "queue" {
                return None;
            }
            let name = words.next()?;
            let leader = words.next()?;
            let members = words.next().unwrap_or("");
            name.starts_with(QUEUE_PREFIX).then(|| QueueRow {
                name: name.to_string(),
                leader: leader.to_string(),
                members: members
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// Membership changes of the workload's quorum queues.
pub(crate) struct RabbitMembership {
    nodes: Vec<NodeSpec>,
    cli_dir: PathBuf,
    shell: Arc<dyn NodeShell>,
}

impl RabbitMembership {
    /// Membership over `nodes`, with the CLI tools in `cli_dir` of each node, run through
    /// `shell`.
    pub(crate) fn new(nodes: &[NodeSpec], cli_dir: PathBuf, shell: Arc<dyn NodeShell>) -> Self {
        RabbitMembership {
            nodes: nodes.to_vec(),
            cli_dir,
            shell,
        }
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, MembershipError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    /// Run `tool args` against the first broker that answers, `except` last; its stdout.
    /// Every call is safe to repeat on another broker (a listing; `delete_member` of a
    /// non-member and `add_member` of a member change nothing), so a broker that is down,
    /// paused or cut off only costs its timeout.
    async fn cli(&self, tool: &str, args: &[&str], except: Option<&str>) -> Result<String, String> {
        self.cli_within(tool, args, except, CLI_LIMIT).await
    }

    /// [`Self::cli`] with each call given `limit`.
    async fn cli_within(
        &self,
        tool: &str,
        args: &[&str],
        except: Option<&str>,
        limit: Duration,
    ) -> Result<String, String> {
        let mut order: Vec<&NodeSpec> = self.nodes.iter().collect();
        order.sort_by_key(|n| Some(n.name.as_str()) == except);
        let mut errors = Vec::new();
        for node in order {
            let script = cli_script(&self.cli_dir, tool, node, args);
            match self.shell.run(node, &script, limit).await {
                Ok(out) if out.status == 0 => return Ok(out.stdout),
                Ok(out) => errors.push(format!(
                    "{} (exit {}): {}",
                    node.name,
                    out.status,
                    super::node::one_line(&format!("{}{}", out.stderr, out.stdout), 200)
                )),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(format!("{tool} {}: {}", args.join(" "), errors.join("; ")))
    }

    /// The node that leads the first workload queue (by name), as a broker reports it.
    pub(crate) async fn queue_leader(&self) -> Option<u64> {
        // A nemesis waits on this before its fault: a broker still booting is skipped soon.
        let out = self
            .cli_within("rabbitmqctl", &["eval", LIST_QUEUES], None, LEADER_LIMIT)
            .await
            .ok()?;
        let queues = parse_queues(&out).ok()?;
        let leader = &queues.first()?.leader;
        self.nodes
            .iter()
            .find(|n| node_name(n) == *leader)
            .map(|n| n.id)
    }

    async fn queues(&self) -> Result<Vec<QueueRow>, String> {
        let out = self
            .cli("rabbitmqctl", &["eval", LIST_QUEUES], None)
            .await?;
        parse_queues(&out)
    }

    /// The nodes that are a member of every queue of `queues`, in name order.
    fn view(&self, queues: &[QueueRow]) -> Vec<String> {
        let mut view: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| queues.iter().all(|q| q.members.contains(&node_name(n))))
            .map(|n| n.name.clone())
            .collect();
        view.sort();
        view
    }
}

#[async_trait]
impl Membership for RabbitMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        let queues = self.queues().await.map_err(MembershipError::Refused)?;
        Ok(self.view(&queues))
    }

    async fn remove(&self, name: &str) -> Result<Value, MembershipError> {
        let member = node_name(self.node(name)?);
        let queues = self.queues().await.map_err(MembershipError::Refused)?;
        let mut changed = Vec::new();
        let mut errors = Vec::new();
        for queue in queues.iter().filter(|q| q.members.contains(&member)) {
            let args = ["delete_member", queue.name.as_str(), member.as_str()];
            match self.cli("rabbitmq-queues", &args, Some(name)).await {
                Ok(_) => changed.push(queue.name.clone()),
                Err(e) => errors.push(e),
            }
        }
        let after = self.queues().await.map_err(MembershipError::Unknown)?;
        let left: Vec<&String> = after
            .iter()
            .filter(|q| q.members.contains(&member))
            .map(|q| &q.name)
            .collect();
        if left.is_empty() {
            return Ok(json!({
                "mechanism": "rabbitmq-queues delete_member",
                "queues": changed,
            }));
        }
        let why = format!(
            "{name} is still a member of {}: {}",
            left.iter()
                .map(|q| q.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            errors.join("; ")
        );
        match changed.is_empty() && left.len() == queues.len() {
            true => Err(MembershipError::Refused(why)),
            false => Err(MembershipError::Unknown(why)),
        }
    }

    async fn add(&self, name: &str) -> Result<Value, MembershipError> {
        let member = node_name(self.node(name)?);
        let started = Instant::now();
        let mut added = Vec::new();
        let mut read_back_late = false;
        loop {
            let why = match self.queues().await {
                Err(e) => e,
                Ok(queues) => {
                    let lacking: Vec<String> = queues
                        .iter()
                        .filter(|q| !q.members.contains(&member))
                        .map(|q| q.name.clone())
                        .collect();
                    if lacking.is_empty() {
                        return Ok(json!({
                            "mechanism": "rabbitmq-queues add_member",
                            "queues": added,
                            "waited_ms": started.elapsed().as_millis() as u64,
                        }));
                    }
                    let mut errors = Vec::new();
                    for queue in &lacking {
                        let args = ["add_member", queue.as_str(), member.as_str()];
                        match self.cli("rabbitmq-queues", &args, None).await {
                            Ok(_) => added.push(queue.clone()),
                            Err(e) => errors.push(e),
                        }
                    }
                    if errors.is_empty() && !read_back_late {
                        // Every lacking queue took the member: read them back even past the
                        // deadline (once) rather than give up on a change that was made.
                        read_back_late = started.elapsed() >= ADD_DEADLINE;
                        continue;
                    }
                    errors.join("; ")
                }
            };
            if started.elapsed() >= ADD_DEADLINE {
                return Err(MembershipError::Unknown(format!(
                    "{name} is not a member of every queue after {ADD_DEADLINE:?}: {why}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_enters_the_brokers_namespace_with_its_cookie() {
        let mut node = crate::systems::test_node(2, 5672, &[25672]);
        node.data_dir = PathBuf::from("/store/run.1/nodes/n2/data");
        let script = cli_script(
            Path::new("/usr/lib/rabbitmq/bin"),
            "rabbitmq-queues",
            &node,
            &["delete_member", "faultline.queue", "rabbit-n2@127.0.1.2"],
        );
        crate::systems::assert_has_all(
            &script,
            &[
                r"pgrep -f -- 'beam\.smp .*-home /store/run\.1/nodes/n2( |$)'",
                "nsenter -t $pid -n --",
                "HOME=/store/run.1/nodes/n2 exec $enter /usr/lib/rabbitmq/bin/rabbitmq-queues \
                 -n rabbit-n2@127.0.1.2 -l -q -t 50 delete_member faultline.queue \
                 rabbit-n2@127.0.1.2",
                "exit 69",
            ],
        );
    }

    #[test]
    fn the_view_is_the_nodes_in_every_workload_queue() {
        let out = "queue faultline-ready rabbit-n1@127.0.1.1 rabbit-n1@127.0.1.1\n\
            queue faultline.queue-1 rabbit-n3@127.0.1.3 rabbit-n1@127.0.1.1,rabbit-n3@127.0.1.3\n\
            queue faultline.queue rabbit-n2@127.0.1.2 \
            rabbit-n1@127.0.1.1,rabbit-n2@127.0.1.2,rabbit-n3@127.0.1.3\n\
            ok\n";
        let queues = parse_queues(out).unwrap();
        assert_eq!(queues.len(), 2, "the probe queue is not the workload's");
        assert_eq!(queues[0].name, "faultline.queue");
        assert_eq!(queues[0].leader, "rabbit-n2@127.0.1.2");
        let cluster = crate::systems::test_cluster(3, 5672, &[25672]);
        let membership = RabbitMembership::new(
            &cluster,
            PathBuf::from("/bin"),
            Arc::new(crate::systems::node::LocalShell),
        );
        assert_eq!(membership.view(&queues), ["n1", "n3"]);
        assert_eq!(membership.view(&[]), ["n1", "n2", "n3"]);
        assert!(
            parse_queues("queue faultline.queue n1 n1\n").is_err(),
            "no final ok"
        );
    }
}
