//! The `http` system: nodes the user started and named with `--endpoints`, reached with the
//! protocol's [`HttpClient`](super::HttpClient). faultline cannot kill or pause processes it did
//! not start, so process faults are refused for this system.

use std::time::Duration;

use async_trait::async_trait;

use super::client::HttpClient;
use crate::spec::systems::parse_endpoint;
use crate::systems::{poll_ready, SystemResult};
use crate::systems::{Client, NodeSpec, StartCommand, System};

/// A service the user runs, spoken to through the generic protocol.
#[derive(Debug)]
pub struct HttpSystem {
    endpoints: Vec<String>,
    http: reqwest::Client,
}

impl HttpSystem {
    /// The service at these base URLs (already validated by the spec).
    pub fn new(endpoints: &[String]) -> anyhow::Result<Self> {
        let endpoints = endpoints
            .iter()
            .map(|url| parse_endpoint(url).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(HttpSystem {
            endpoints,
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(800))
                .build()
                .unwrap_or_default(),
        })
    }
}

#[async_trait]
impl System for HttpSystem {
    fn name(&self) -> &str {
        "http"
    }

    /// Node `i` is the `i`-th endpoint.
    fn place(&self, planned: Vec<NodeSpec>) -> Vec<NodeSpec> {
        planned
            .into_iter()
            .zip(&self.endpoints)
            .map(|(mut node, addr)| {
                node.client_addr = addr.clone();
                node.peer_addr = addr.clone();
                node.extra_ports.clear();
                node
            })
            .collect()
    }

    fn start_command(&self, _node: &NodeSpec, _cluster: &[NodeSpec]) -> Option<StartCommand> {
        None
    }

    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("http", timeout, || async {
            let mut missing = Vec::new();
            for node in cluster {
                let url = format!("http://{}/kv/faultline-ready", node.client_addr);
                match self.http.get(&url).send().await {
                    Ok(response) if response.status().as_u16() == 200 => {}
                    Ok(response) => missing.push(format!(
                        "{} ({url}) answers {}",
                        node.name,
                        response.status()
                    )),
                    Err(e) => missing.push(format!("{} ({url}) does not answer: {e}", node.name)),
                }
            }
            if !missing.is_empty() {
                missing.push(
                    "faultline does not start --system http nodes: start them and check that \
                     GET /kv/<key> answers 200"
                        .to_string(),
                );
            }
            missing
        })
        .await
    }

    async fn leader(&self, _cluster: &[NodeSpec]) -> Option<u64> {
        None
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(HttpClient::new(node, op_timeout))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn endpoints_must_be_base_urls_with_a_port() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:8001/").unwrap(),
            "127.0.0.1:8001"
        );
        assert_eq!(parse_endpoint("http://db1:80").unwrap(), "db1:80");
        assert!(parse_endpoint("https://127.0.0.1:8001")
            .unwrap_err()
            .contains("http://"));
        assert!(parse_endpoint("http://127.0.0.1")
            .unwrap_err()
            .contains("no port"));
        assert!(parse_endpoint("http://127.0.0.1:1/kv")
            .unwrap_err()
            .contains("path"));
    }

    #[test]
    fn nodes_take_the_endpoints_and_nothing_is_started() {
        let system = HttpSystem::new(&[
            "http://127.0.0.1:9001".into(),
            "http://127.0.0.1:9002".into(),
        ])
        .unwrap();
        let planned = (1..=2)
            .map(|id| NodeSpec {
                id,
                name: format!("n{id}"),
                client_addr: format!("127.0.0.1:{}", 7000 + id),
                peer_addr: String::new(),
                data_dir: PathBuf::from("/tmp/x"),
                log_file: PathBuf::from("/tmp/x.log"),
                extra_ports: vec![1, 2],
            })
            .collect();
        let nodes = system.place(planned);
        assert_eq!(nodes[1].client_addr, "127.0.0.1:9002");
        assert!(system.start_command(&nodes[0], &nodes).is_none());
    }
}
