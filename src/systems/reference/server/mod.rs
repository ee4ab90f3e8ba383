//! The reference node process (`faultline node`). Placeholder until the real server lands.

/// Arguments of `faultline node`.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {}

/// Run one reference node until it is killed.
pub async fn run_node(_args: NodeArgs) -> anyhow::Result<()> {
    anyhow::bail!("the reference node is not built yet")
}
