//! RabbitMQ quorum queues (Debian's `rabbitmq-server`, 3.10) as a system under test, for the
//! `queue` workload: one broker per node, clustered, one durable quorum queue per workload
//! key replicated on every node, and a client on the `lapin` crate (AMQP 0.9.1) with
//! publisher confirms and manual acknowledgements.
//!
//! **Nodes.** Each node runs `rabbitmq-server` in the foreground with
//! `RUNNING_UNDER_SYSTEMD=true`, so the script `exec`s `erl`, which `exec`s `beam.smp`: the
//! process faultline starts, kills and pauses is the Erlang VM itself. Everything a node
//! keeps is in its own folder: `RABBITMQ_MNESIA_BASE` is the data folder, the config file
//! `rabbitmq.conf`, the plugin list and the Erlang cookie are beside it (`HOME` is the node
//! folder), and the log goes to stdout, that is `node.log`. The broker listens for AMQP on
//! the node's client address, and for Erlang distribution on its first extra port
//! (`RABBITMQ_DIST_PORT`). Node names are `rabbit-<node>@<host>`, long names when the host
//! is an address or has a dot, so every node resolves every other without DNS. The cookie
//! is fresh for each run (written by `setup`); faultline's CLI calls read it from the node
//! folder too. Erlang's port mapper (`epmd`) is started by the first broker of a host: one
//! per node namespace on the local target as root (killed with the namespace, at the end of
//! a run and by `faultline heal`), one per host over SSH and docker and one for nodes that
//! share loopback (stopped by `teardown` once no broker is registered with it).
//!
//! **Clustering** is RabbitMQ's own peer discovery (`classic_config`): `n1` has none and
//! starts a cluster, every other blank node names `n1` and joins it (retrying for a minute
//! while `n1` boots). A restarted node rejoins from its own data.
//! `cluster_partition_handling` is `autoheal`. The cluster is ready once every node takes AMQP connections and a probe queue
//! (`faultline-ready`) that `n1` declared, holding one confirmed message, is seen with that
//! message from every node: a node that had formed a cluster of its own would not know it.
//!
//! **Ops** (the `queue` workload; each key is the queue `faultline.<key>`, declared durable
//! with `x-queue-type: quorum` by the first op on it of each connection):
//!
//! | op | AMQP | `ok` | `fail` | `info` |
//! |---|---|---|---|---|
//! | `enqueue x` | `basic.publish` (persistent, mandatory, default exchange) on a channel in confirm mode, then the confirm | `basic.ack` | no connection, channel or queue before publishing; `basic.nack`; the message returned unroutable | published, then no confirm in `--op-timeout` or the connection lost |
//! | `dequeue` | `basic.get` (manual ack), then `basic.ack` and a `basic.qos` round trip that proves the channel processed the ack | the element, or `null` when the queue was empty | no connection, channel or queue before the get | the get sent and no answer (the value `null`); or a message got whose ack may not have landed (the value is the element) |
//! | `drain` (final) | `basic.get` + `basic.ack` until the queue is empty, reconnecting after errors for up to 30 s | every element got, in order | no connection at all | the queue was not seen empty in time (the elements got so far) |
//!
//! A message a `dequeue` got and did not acknowledge goes back to the queue when its
//! channel closes, so after any error the client drops its connection. Each worker connects
//! to its own node only.
//!
//! **Faults.** kill and pause act on `beam.smp`; partitions cut Erlang distribution and
//! epmd between nodes (iptables in each node's namespace, or on each SSH/docker node), never
//! the controller's AMQP connections. Relays cannot stand between brokers (a broker finds
//! its peers' ports through epmd), so without root partitions are refused. Clock faults
//! apply: libfaketime shifts the Erlang VM's OS clock (`os:system_time`, checked by hand);
//! RabbitMQ's and Ra's timers run on Erlang's monotonic clock. Membership (`--nemesis
//! membership`) changes the quorum queues' members, the broker stays in
//! the cluster: see [`super::rabbitmq_membership`]. The "leader" a nemesis may target is the
//! leader of the first workload queue (local target only: over SSH the system names none).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_checkers::history::OpType;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::Membership;
use faultline_workloads::op::OpRequest;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind};
use serde_json::Value;

use super::install::Program;
use super::node::{quote, NodeShell};
use super::rabbitmq_membership::RabbitMembership;
use super::{decode_value, poll_ready, Client, Completion, NodeSpec, StartCommand, System};
use super::{SystemError, SystemResult};
use crate::spec::systems::InstallMode;

/// The queue of the readiness probe.
const PROBE_QUEUE: &str = "faultline-ready";
/// Every workload queue's name starts with this.
pub(crate) const QUEUE_PREFIX: &str = "faultline.";
/// How long a final drain may reconnect and go on.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// RabbitMQ on the nodes of one test.
#[derive(Debug)]
pub struct RabbitSystem {
    program: Program,
    install: InstallMode,
    /// Whether `setup` found the nodes remote (SSH, docker): the leader is read with the CLI
    /// on the controller, which reaches only local nodes' folders.
    remote: AtomicBool,
}

impl RabbitSystem {
    /// RabbitMQ, installed on the nodes as `install` says.
    pub fn new(install: InstallMode) -> Self {
        RabbitSystem {
            program: Program::new(
                "/usr/lib/rabbitmq/bin/rabbitmq-server",
                "rabbitmq-server",
                "FAULTLINE_RABBITMQ_SERVER",
            ),
            install,
            remote: AtomicBool::new(false),
        }
    }
}

/// `rabbit-n1@10.0.0.1`: the Erlang node name of `node`'s broker. A node named by its
/// address over SSH (`10.0.0.1`) is `rabbit-10-0-0-1@10.0.0.1`: the part before `@` takes
/// letters, digits, `-` and `_` only (RabbitMQ's prelaunch check of a name with a dot fails,
/// "Invalid node name!").
pub(crate) fn node_name(node: &NodeSpec) -> String {
    let name: String = node
        .name
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                true => c,
                false => '-',
            },
        )
        .collect();
    format!("rabbit-{name}@{}", node.host())
}

/// Whether `node`'s host needs Erlang long names (an address, or a name with a dot).
pub(crate) fn long_names(node: &NodeSpec) -> bool {
    let host = node.host();
    host.contains('.') || host.contains(':')
}

/// The queue of a workload key.
pub(crate) fn queue_name(key: Option<&Value>) -> String {
    match key {
        Some(Value::String(k)) => format!("{QUEUE_PREFIX}{k}"),
        Some(other) => format!("{QUEUE_PREFIX}{other}"),
        None => format!("{QUEUE_PREFIX}default"),
    }
}

fn config_path(node: &NodeSpec) -> PathBuf {
    node.node_dir().join("rabbitmq.conf")
}

/// `rabbitmq.conf` of `node`: its AMQP listener, guest allowed from other hosts, and
/// partition handling; every node but the first discovers the first (and itself: RabbitMQ
/// takes its peer-discovery lock over the nodes listed), while the first starts the cluster.
pub(crate) fn config(node: &NodeSpec, cluster: &[NodeSpec]) -> Result<String, SystemError> {
    let first = cluster.first().ok_or_else(|| SystemError::Setup {
        node: node.name.clone(),
        reason: "the cluster has no nodes".to_string(),
    })?;
    node.extra_addr(0)?;
    let mut text = format!(
        "listeners.tcp.1 = {addr}\n\
         loopback_users.guest = false\n\
         log.console = true\n\
         log.console.level = info\n\
         log.file = false\n\
         cluster_partition_handling = autoheal\n",
        addr = node.client_addr,
    );
    if node.name != first.name {
        text.push_str(&format!(
            "cluster_formation.peer_discovery_backend = classic_config\n\
             cluster_formation.classic_config.nodes.1 = {first}\n\
             cluster_formation.classic_config.nodes.2 = {me}\n\
             cluster_formation.discovery_retry_limit = 120\n\
             cluster_formation.discovery_retry_interval = 500\n",
            first = node_name(first),
            me = node_name(node),
        ));
    }
    Ok(text)
}

/// The environment `rabbitmq-server` runs in on `node`.
pub(crate) fn environment(node: &NodeSpec) -> Result<Vec<(String, String)>, SystemError> {
    let dir = node.node_dir();
    let at = |name: &str| dir.join(name).display().to_string();
    let data = |name: &str| node.data_dir.join(name).display().to_string();
    node.extra_addr(0)?;
    let dist_port = node.extra_ports[0];
    let pairs = [
        ("HOME", dir.display().to_string()),
        ("RABBITMQ_NODENAME", node_name(node)),
        ("RABBITMQ_USE_LONGNAME", long_names(node).to_string()),
        ("RABBITMQ_NODE_IP_ADDRESS", node.host().to_string()),
        ("RABBITMQ_NODE_PORT", node.client_port().to_string()),
        ("RABBITMQ_DIST_PORT", dist_port.to_string()),
        ("RABBITMQ_MNESIA_BASE", node.data_dir.display().to_string()),
        ("RABBITMQ_MNESIA_DIR", data("mnesia")),
        ("RABBITMQ_PLUGINS_EXPAND_DIR", data("plugins")),
        ("RABBITMQ_PID_FILE", data("rabbitmq.pid")),
        ("RABBITMQ_LOG_BASE", at("log")),
        ("RABBITMQ_LOGS", "-".to_string()),
        ("RABBITMQ_CONFIG_FILE", at("rabbitmq.conf")),
        ("RABBITMQ_ADVANCED_CONFIG_FILE", at("advanced.config")),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", at("enabled_plugins")),
        ("RABBITMQ_CONF_ENV_FILE", at("rabbitmq-env.conf")),
        ("RUNNING_UNDER_SYSTEMD", "true".to_string()),
        // Erlang's schedulers spin while idle, which starves the other brokers, the CLI and
        // the clients of a shared machine (three brokers on two cores here): RabbitMQ's
        // advice for shared hosts is to turn the spinning off.
        (
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "+sbwt none +sbwtdcpu none +sbwtdio none".to_string(),
        ),
    ];
    Ok(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The `bash -c` script that starts a broker other than the first (`$0`): on its first boot
/// (no `RABBITMQ_MNESIA_DIR` yet) it waits, for up to 120 s, until the first broker takes
/// AMQP connections, which it does only once it has booted. Joining a first broker still
/// enabling its feature flags fails ("table_attributes_mismatch" of `rabbit_vhost`, seen
/// under load). Later boots (a restart after a kill) start at once.
fn first_boot_waits_for(first: &NodeSpec) -> String {
    format!(
        "if [ ! -e \"$RABBITMQ_MNESIA_DIR\" ]; then i=0; \
         until (exec 3<>/dev/tcp/{host}/{port}) 2>/dev/null || [ $i -ge 240 ]; do \
         sleep 0.5; i=$((i+1)); done; fi; exec \"$0\"",
        host = first.host(),
        port = first.client_port(),
    )
}

/// A fresh Erlang cookie: 32 upper-case letters.
fn fresh_cookie() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
        .collect()
}

#[async_trait]
impl System for RabbitSystem {
    fn name(&self) -> &str {
        "rabbitmq"
    }

    /// Install where missing, then on each node: wipe its data, write `rabbitmq.conf`, an
    /// empty plugin list and this run's cookie (mode 400, as Erlang demands).
    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> SystemResult {
        self.remote.store(!shell.is_local(), Ordering::Relaxed);
        let configs = cluster
            .iter()
            .map(|node| config(node, cluster))
            .collect::<Result<Vec<_>, _>>()?;
        super::install::ensure(shell, cluster, &[&self.program], self.install).await?;
        let cookie = fresh_cookie();
        for (node, text) in cluster.iter().zip(configs) {
            self.wipe(shell, node, cluster).await?;
            let dir = node.node_dir();
            shell
                .write_file(node, &config_path(node), text.as_bytes())
                .await?;
            shell
                .write_file(node, &dir.join("enabled_plugins"), b"[].\n")
                .await?;
            let cookie_file = dir.join(".erlang.cookie");
            let path = quote(&cookie_file.display().to_string());
            shell
                .run_ok(node, &format!("rm -f {path}"), super::node::SETUP_LIMIT)
                .await?;
            shell
                .write_file(node, &cookie_file, cookie.as_bytes())
                .await?;
            shell
                .run_ok(node, &format!("chmod 400 {path}"), super::node::SETUP_LIMIT)
                .await?;
        }
        Ok(())
    }

    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand> {
        let env = environment(node).ok()?;
        let program = self.program.path.clone();
        let first = cluster.first()?;
        if first.name == node.name {
            return Some(StartCommand {
                program,
                args: Vec::new(),
                env,
            });
        }
        Some(StartCommand {
            program: PathBuf::from("bash"),
            args: vec![
                "-c".to_string(),
                first_boot_waits_for(first),
                program.display().to_string(),
            ],
            env,
        })
    }

    /// Stop the port mapper of a host whose brokers are all gone (it serves nobody then):
    /// over SSH each node's, on the local target the one the nodes shared on loopback (in
    /// namespaces it went with them).
    async fn teardown(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> SystemResult {
        let script = "for e in /usr/lib/erlang/erts-*/bin/epmd /usr/bin/epmd; do \
             [ -x \"$e\" ] || continue; \
             if \"$e\" -names 2>/dev/null | grep -q '^name '; then exit 0; fi; \
             \"$e\" -kill >/dev/null 2>&1; exit 0; done";
        let mut seen = HashSet::new();
        for node in cluster {
            // A local node with an address of its own had a namespace, gone with its epmd.
            let own_namespace = shell.is_local() && !node.host().starts_with("127.");
            if !own_namespace && seen.insert(node.host()) {
                let _ = shell.run(node, script, super::node::SETUP_LIMIT).await;
            }
        }
        Ok(())
    }

    /// Ready when every node takes AMQP connections and sees the probe queue `n1` declared,
    /// with its message: every node is in `n1`'s cluster.
    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        let probed = AtomicBool::new(false);
        poll_ready("rabbitmq", timeout, || {
            let probed = &probed;
            async move {
                let mut missing = Vec::new();
                if !probed.load(Ordering::Relaxed) {
                    match publish_probe(&cluster[0]).await {
                        Ok(()) => probed.store(true, Ordering::Relaxed),
                        Err(e) => {
                            return vec![format!(
                                "{e}; read its log {}",
                                cluster[0].log_file.display()
                            )]
                        }
                    }
                }
                for node in cluster {
                    match probe_count(node).await {
                        Ok(count) if count > 0 => {}
                        Ok(_) => missing.push(format!(
                            "{} sees the probe queue empty; read its log {}",
                            node.name,
                            node.log_file.display()
                        )),
                        Err(e) => missing.push(format!(
                            "{e} (it has not joined {}'s cluster yet?); read its log {}",
                            cluster[0].name,
                            node.log_file.display()
                        )),
                    }
                }
                missing
            }
        })
        .await
    }

    /// RabbitMQ has a leader per quorum queue, not one for the cluster: this is the leader
    /// of the first workload queue (by name), through the CLI (on the local target only).
    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        if self.remote.load(Ordering::Relaxed) {
            return None;
        }
        let cli_dir = self.program.path.parent().map(PathBuf::from)?;
        RabbitMembership::new(cluster, cli_dir, Arc::new(super::node::LocalShell))
            .queue_leader()
            .await
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        _process: Arc<dyn ProcessControl>,
        shell: Arc<dyn NodeShell>,
    ) -> Option<Arc<dyn Membership>> {
        let cli_dir = self.program.path.parent().map(PathBuf::from)?;
        Some(Arc::new(RabbitMembership::new(cluster, cli_dir, shell)))
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(RabbitClient {
            node: node.clone(),
            op_timeout,
            session: None,
        })
    }
}

/// The AMQP URI of `node`: guest, the default vhost, a short heartbeat (a connection to a
/// paused broker is given up on soon, and its unacknowledged messages go back).
fn uri(node: &NodeSpec) -> String {
    format!("amqp://guest:guest@{}/%2f?heartbeat=5", node.client_addr)
}

/// A quorum queue's declaration arguments.
fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// One connection and channel (in confirm mode) to one node, and the queues it declared.
struct Session {
    connection: Connection,
    channel: Channel,
    declared: HashSet<String>,
}

impl Session {
    async fn open(node: &NodeSpec, limit: Duration) -> Result<Session, String> {
        let open = async {
            let connection = Connection::connect(&uri(node), ConnectionProperties::default())
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", node.name))?;
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| format!("{}: no channel: {e}", node.name))?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| format!("{}: no confirm mode: {e}", node.name))?;
            Ok(Session {
                connection,
                channel,
                declared: HashSet::new(),
            })
        };
        tokio::time::timeout(limit, open)
            .await
            .map_err(|_| format!("no connection to {} within {limit:?}", node.name))?
    }

    /// Declare `queue` (durable, quorum) unless this session did.
    async fn declare(&mut self, queue: &str) -> Result<(), String> {
        if self.declared.contains(queue) {
            return Ok(());
        }
        let options = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        self.channel
            .queue_declare(queue.into(), options, quorum())
            .await
            .map_err(|e| format!("cannot declare {queue}: {e}"))?;
        self.declared.insert(queue.to_string());
        Ok(())
    }

    /// Close in the background: a paused broker must not hold the worker up.
    fn close(self) {
        tokio::spawn(async move {
            let close = self.connection.close(200, "faultline".into());
            let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        });
    }
}

/// Declare the probe queue on `node` and publish its message, confirmed.
async fn publish_probe(node: &NodeSpec) -> Result<(), String> {
    let mut session = Session::open(node, Duration::from_secs(5)).await?;
    let done = async {
        session.declare(PROBE_QUEUE).await?;
        match publish(&session.channel, PROBE_QUEUE, b"1").await {
            Published::Acked => Ok(()),
            other => Err(format!("the probe message was not confirmed: {other:?}")),
        }
    };
    let result = tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .unwrap_or_else(|_| Err(format!("{}: the probe queue timed out", node.name)));
    session.close();
    result
}

/// How many messages `node` says the probe queue holds (an error when it has no such queue).
async fn probe_count(node: &NodeSpec) -> Result<u32, String> {
    let session = Session::open(node, Duration::from_secs(2)).await?;
    let options = QueueDeclareOptions {
        passive: true,
        durable: true,
        ..Default::default()
    };
    let declare = session
        .channel
        .queue_declare(PROBE_QUEUE.into(), options, quorum());
    let count = match tokio::time::timeout(Duration::from_secs(3), declare).await {
        Ok(Ok(queue)) => Ok(queue.message_count()),
        Ok(Err(e)) => Err(format!("{}: no probe queue: {e}", node.name)),
        Err(_) => Err(format!("{}: the probe queue did not answer", node.name)),
    };
    session.close();
    count
}

/// What a publish came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Published {
    /// Confirmed with `basic.ack`: stored by a majority of the queue's members.
    Acked,
    /// Refused: `basic.nack`, or returned unroutable.
    Refused(String),
    /// Not sent (the channel was closed).
    NotSent(String),
    /// Sent; no confirm came (a timeout, a lost connection).
    Unknown(String),
}

async fn publish(channel: &Channel, queue: &str, body: &[u8]) -> Published {
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let properties = BasicProperties::default().with_delivery_mode(2);
    let confirm = match channel
        .basic_publish("".into(), queue.into(), options, body, properties)
        .await
    {
        Ok(confirm) => confirm,
        Err(e) if not_sent(&e) => return Published::NotSent(e.to_string()),
        Err(e) => return Published::Unknown(e.to_string()),
    };
    match confirm.await {
        Ok(Confirmation::Ack(None)) => Published::Acked,
        Ok(Confirmation::Ack(Some(_))) => {
            Published::Refused(format!("returned unroutable: no queue {queue}"))
        }
        Ok(Confirmation::Nack(_)) => Published::Refused("basic.nack".to_string()),
        Ok(Confirmation::NotRequested) => {
            Published::Unknown("the channel is not in confirm mode".to_string())
        }
        Err(e) => Published::Unknown(format!("no confirm: {e}")),
    }
}

/// Whether a lapin error proves the request never left: the channel or connection was not
/// open when it was made.
fn not_sent(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::InvalidChannelState(..) | ErrorKind::InvalidConnectionState(_)
    )
}

/// What one `basic.get` and its acknowledgement came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Got {
    /// The queue was empty.
    Empty,
    /// A message (its decoded value), acknowledged: the channel answered after the ack.
    Taken(Value),
    /// A message got, whose ack may not have landed.
    Unacked(Value, String),
    /// Not sent.
    NotSent(String),
    /// Sent, no answer.
    Unknown(String),
}

/// Get one message of `queue` and acknowledge it, within `limit`.
async fn get_one(channel: &Channel, queue: &str, limit: Duration) -> Got {
    let get = channel.basic_get(queue.into(), BasicGetOptions { no_ack: false });
    let message = match tokio::time::timeout(limit, get).await {
        Err(_) => return Got::Unknown(format!("no answer to basic.get within {limit:?}")),
        Ok(Err(e)) if not_sent(&e) => return Got::NotSent(e.to_string()),
        Ok(Err(e)) => return Got::Unknown(format!("basic.get: {e}")),
        Ok(Ok(None)) => return Got::Empty,
        Ok(Ok(Some(message))) => message,
    };
    let value = match decode_value(&message.delivery.data) {
        Ok(value) => value,
        Err(e) => return Got::Unacked(Value::Null, e),
    };
    let tag = message.delivery.delivery_tag;
    let acked = async {
        channel
            .basic_ack(tag, BasicAckOptions::default())
            .await
            .map_err(|e| format!("basic.ack: {e}"))?;
        // Methods on a channel are processed in order: the answer to this one shows the
        // ack was processed before it.
        channel
            .basic_qos(1, BasicQosOptions::default())
            .await
            .map_err(|e| format!("after basic.ack: {e}"))
    };
    match tokio::time::timeout(limit, acked).await {
        Ok(Ok(())) => Got::Taken(value),
        Ok(Err(e)) => Got::Unacked(value, e),
        Err(_) => Got::Unacked(value, format!("the ack was not answered within {limit:?}")),
    }
}

/// The completion of an `enqueue` of `value`.
pub(crate) fn enqueue_completion(value: &Value, published: Published) -> Completion {
    match published {
        Published::Acked => Completion::ok(value.clone()),
        Published::Refused(why) | Published::NotSent(why) => Completion::fail(value.clone(), why),
        Published::Unknown(why) => Completion::info(value.clone(), why),
    }
}

/// The completion of a `dequeue`.
pub(crate) fn dequeue_completion(got: Got) -> Completion {
    match got {
        Got::Empty => Completion::ok(Value::Null),
        Got::Taken(value) => Completion::ok(value),
        Got::Unacked(value, why) => Completion::info(value, why),
        Got::NotSent(why) => Completion::fail(Value::Null, why),
        Got::Unknown(why) => Completion::info(Value::Null, why),
    }
}

/// One worker's client, connected to its own node only.
pub struct RabbitClient {
    node: NodeSpec,
    op_timeout: Duration,
    session: Option<Session>,
}

impl RabbitClient {
    /// This client's session with `queue` declared, opened when there is none.
    async fn session(&mut self, queue: &str) -> Result<&Session, String> {
        if self.session.is_none() {
            self.session = Some(Session::open(&self.node, self.op_timeout).await?);
        }
        let session = self.session.as_mut().expect("opened above");
        match tokio::time::timeout(self.op_timeout, session.declare(queue)).await {
            Ok(Ok(())) => Ok(self.session.as_ref().expect("opened above")),
            Ok(Err(e)) => Err(self.drop_session(e)),
            Err(_) => Err(self.drop_session(format!("cannot declare {queue}: timed out"))),
        }
    }

    /// Give the session up (its unacknowledged messages go back to their queues); `why`.
    fn drop_session(&mut self, why: String) -> String {
        if let Some(session) = self.session.take() {
            session.close();
        }
        why
    }

    async fn enqueue(&mut self, queue: &str, value: &Value) -> Completion {
        let channel = match self.session(queue).await {
            Ok(session) => session.channel.clone(),
            Err(e) => return Completion::fail(value.clone(), e),
        };
        let body = value.to_string();
        let published =
            match tokio::time::timeout(self.op_timeout, publish(&channel, queue, body.as_bytes()))
                .await
            {
                Ok(published) => published,
                Err(_) => Published::Unknown(format!("no confirm within {:?}", self.op_timeout)),
            };
        if published != Published::Acked {
            self.drop_session(String::new());
        }
        enqueue_completion(value, published)
    }

    async fn dequeue(&mut self, queue: &str) -> Completion {
        let channel = match self.session(queue).await {
            Ok(session) => session.channel.clone(),
            Err(e) => return Completion::fail(Value::Null, e),
        };
        let got = get_one(&channel, queue, self.op_timeout).await;
        if !matches!(got, Got::Empty | Got::Taken(_)) {
            self.drop_session(String::new());
        }
        dequeue_completion(got)
    }

    /// Get and acknowledge until the queue is empty, reconnecting after errors for up to
    /// [`DRAIN_LIMIT`]. A message whose ack is uncertain is counted as drained: if the ack
    /// was lost it comes back, and a second copy is a duplicate, which the queue checker
    /// allows (at-least-once delivery).
    async fn drain(&mut self, queue: &str) -> Completion {
        let started = Instant::now();
        let mut items = Vec::new();
        let mut sent = false;
        let mut last = String::new();
        while started.elapsed() < DRAIN_LIMIT {
            let channel = match self.session(queue).await {
                Ok(session) => session.channel.clone(),
                Err(e) => {
                    last = e;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            sent = true;
            match get_one(&channel, queue, self.op_timeout).await {
                Got::Empty => return Completion::ok(Value::Array(items)),
                Got::Taken(value) => items.push(value),
                Got::Unacked(value, why) => {
                    items.push(value);
                    last = self.drop_session(why);
                }
                Got::NotSent(why) | Got::Unknown(why) => {
                    last = self.drop_session(why);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        let why = format!("the queue was not seen empty within {DRAIN_LIMIT:?}: {last}");
        match sent {
            false => Completion::fail(Value::Null, why),
            true => Completion {
                kind: OpType::Info,
                value: Value::Array(items),
                error: Some(why),
            },
        }
    }
}

#[async_trait]
impl Client for RabbitClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        let queue = queue_name(op.key.as_ref());
        match op.f.as_str() {
            "enqueue" => self.enqueue(&queue, &op.value).await,
            "dequeue" => self.dequeue(&queue).await,
            "drain" => self.drain(&queue).await,
            other => Completion::fail(
                op.value.clone(),
                format!("rabbitmq runs the queue workload only; it has no op {other:?}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_config_listens_on_the_client_address_and_discovers_the_first_node() {
        let cluster = crate::systems::test_cluster(3, 5672, &[25672, 25673]);
        let text = config(&cluster[1], &cluster).unwrap();
        crate::systems::assert_has_all(
            &text,
            &[
                "listeners.tcp.1 = 127.0.1.2:5672\n",
                "loopback_users.guest = false\n",
                "cluster_formation.peer_discovery_backend = classic_config\n",
                "cluster_formation.classic_config.nodes.1 = rabbit-n1@127.0.1.1\n",
                "cluster_formation.classic_config.nodes.2 = rabbit-n2@127.0.1.2\n",
                "cluster_partition_handling = autoheal\n",
            ],
        );
        assert!(!text.contains("nodes.3"), "{text}");
        // The first node starts the cluster.
        let first = config(&cluster[0], &cluster).unwrap();
        assert!(!first.contains("cluster_formation"), "{first}");
        let lonely = crate::systems::test_node(1, 5672, &[]);
        let err = config(&lonely, std::slice::from_ref(&lonely)).unwrap_err();
        assert!(err.to_string().contains("extra ports"), "{err}");
    }

    #[test]
    fn brokers_after_the_first_wait_on_their_first_boot_for_the_first_to_take_amqp() {
        let cluster = crate::systems::test_cluster(3, 5672, &[25672]);
        let system = RabbitSystem::new(InstallMode::None);
        let first = system.start_command(&cluster[0], &cluster).unwrap();
        assert!(first.program.ends_with("rabbitmq-server"), "{first:?}");
        assert!(first.args.is_empty());
        let third = system.start_command(&cluster[2], &cluster).unwrap();
        assert_eq!(third.program, PathBuf::from("bash"));
        assert_eq!(third.args[0], "-c");
        let host = cluster[0].host();
        crate::systems::assert_has_all(
            &third.args[1],
            &[
                "if [ ! -e \"$RABBITMQ_MNESIA_DIR\" ]",
                &format!("/dev/tcp/{host}/{}", cluster[0].client_port()),
                "exec \"$0\"",
            ],
        );
        assert!(third.args[2].ends_with("rabbitmq-server"));
    }

    #[test]
    fn the_environment_keeps_everything_in_the_node_folder() {
        let node = crate::systems::test_node(2, 5672, &[25672, 25673]);
        let env = environment(&node).unwrap();
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {k} in {env:?}"))
        };
        assert_eq!(get("HOME"), "/run/n2");
        assert_eq!(get("RABBITMQ_NODENAME"), "rabbit-n2@127.0.1.2");
        assert_eq!(get("RABBITMQ_USE_LONGNAME"), "true");
        assert_eq!(get("RABBITMQ_NODE_IP_ADDRESS"), "127.0.1.2");
        assert_eq!(get("RABBITMQ_NODE_PORT"), "5672");
        assert_eq!(get("RABBITMQ_DIST_PORT"), "25672");
        assert_eq!(get("RABBITMQ_MNESIA_BASE"), "/run/n2/data");
        assert_eq!(get("RABBITMQ_MNESIA_DIR"), "/run/n2/data/mnesia");
        assert_eq!(get("RABBITMQ_CONFIG_FILE"), "/run/n2/rabbitmq.conf");
        assert_eq!(get("RABBITMQ_LOGS"), "-");
        // The start script execs the VM, so signals reach beam.smp.
        assert_eq!(get("RUNNING_UNDER_SYSTEMD"), "true");
        let mut by_address = node.clone();
        by_address.name = "10.0.0.2".to_string();
        assert_eq!(node_name(&by_address), "rabbit-10-0-0-2@127.0.1.2");
        assert_eq!(
            get("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"),
            "+sbwt none +sbwtdcpu none +sbwtdio none"
        );
        let mut short = node.clone();
        short.client_addr = "n2:5672".to_string();
        assert!(!long_names(&short));
        assert!(environment(&crate::systems::test_node(1, 5672, &[])).is_err());
    }

    #[test]
    fn keys_name_their_queues() {
        assert_eq!(queue_name(Some(&json!("queue"))), "faultline.queue");
        assert_eq!(queue_name(Some(&json!("queue-3"))), "faultline.queue-3");
        assert_eq!(queue_name(Some(&json!(7))), "faultline.7");
    }

    #[test]
    fn publish_outcomes_map_to_ok_fail_and_info() {
        let x = json!(17);
        let ok = enqueue_completion(&x, Published::Acked);
        assert_eq!((ok.kind, ok.value), (OpType::Ok, x.clone()));
        let nack = enqueue_completion(&x, Published::Refused("basic.nack".into()));
        assert_eq!(nack.kind, OpType::Fail);
        let closed = enqueue_completion(&x, Published::NotSent("channel closed".into()));
        assert_eq!(closed.kind, OpType::Fail);
        let lost = enqueue_completion(&x, Published::Unknown("no confirm".into()));
        assert_eq!((lost.kind, lost.value), (OpType::Info, x));
    }

    #[test]
    fn get_outcomes_map_to_ok_fail_and_info() {
        assert_eq!(dequeue_completion(Got::Empty), Completion::ok(Value::Null));
        assert_eq!(
            dequeue_completion(Got::Taken(json!(3))),
            Completion::ok(json!(3))
        );
        // Got, but the ack may not have landed: maybe dequeued, with its value.
        let unacked = dequeue_completion(Got::Unacked(json!(3), "timeout".into()));
        assert_eq!((unacked.kind, unacked.value), (OpType::Info, json!(3)));
        let refused = dequeue_completion(Got::NotSent("closed".into()));
        assert_eq!(refused.kind, OpType::Fail);
        let unknown = dequeue_completion(Got::Unknown("no answer".into()));
        assert_eq!((unknown.kind, unknown.value), (OpType::Info, Value::Null));
    }
}
