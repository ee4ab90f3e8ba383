//! The nemeses that are one fault switched on and off (`start-clock` / `stop-clock`, and
//! likewise `netem`, `partition`, `membership`): [`StartStop`] is what such a fault
//! provides, and [`Serialised`] makes any `StartStop` a [`Nemesis`] through the one dispatch
//! here, so the requests they understand, their refusals and their heal read the same.
//!
//! This module must never know what a fault does; it only routes requests and serialises
//! them (one request at a time per nemesis, heal included).

use async_trait::async_trait;
use rand::rngs::StdRng;
use serde_json::{json, Value};

use crate::nemesis::{FaultRequest, Nemesis, Outcome};

/// A fault with a start and a stop, undone all at once.
#[async_trait]
pub trait StartStop: Send + Sync {
    /// The fault's word, also the nemesis's name: `clock` makes `start-clock` and
    /// `stop-clock`.
    const FAULT: &'static str;
    /// Why a stop found nothing to undo, e.g. `no clock is skewed`.
    const NOTHING_TO_STOP: &'static str;
    /// Start the fault as `value` asks, random choices from `rng`.
    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome;
    /// Undo everything the fault applied; `None` when nothing was.
    async fn stop(&self) -> Option<Outcome>;
}

/// A [`StartStop`] fault as a [`Nemesis`]: one request acts at a time, heal included.
pub struct Serialised<T> {
    fault: T,
    busy: tokio::sync::Mutex<()>,
}

impl<T: StartStop> Serialised<T> {
    /// `fault`, its requests taken one at a time.
    pub fn new(fault: T) -> Self {
        Serialised {
            fault,
            busy: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl<T: StartStop> Nemesis for Serialised<T> {
    fn name(&self) -> &str {
        T::FAULT
    }

    fn fs(&self) -> Vec<String> {
        vec![format!("start-{}", T::FAULT), format!("stop-{}", T::FAULT)]
    }

    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome {
        let _busy = self.busy.lock().await;
        let fault = T::FAULT;
        let f = request.f.as_str();
        if f == format!("start-{fault}") {
            self.fault.start(&request.value, rng).await
        } else if f == format!("stop-{fault}") {
            self.fault
                .stop()
                .await
                .unwrap_or_else(|| Outcome::Skipped(T::NOTHING_TO_STOP.to_string()))
        } else {
            Outcome::Skipped(format!(
                "the {fault} nemesis does not understand {f:?}; it understands start-{fault}, stop-{fault}"
            ))
        }
    }

    /// Stop the fault, recorded as `stop-FAULT`.
    async fn heal(&self) -> Vec<Outcome> {
        let _busy = self.busy.lock().await;
        match self.fault.stop().await {
            Some(Outcome::Applied(mut value)) => {
                value["f"] = json!(format!("stop-{}", T::FAULT));
                vec![Outcome::Applied(value)]
            }
            Some(other) => vec![other],
            None => Vec::new(),
        }
    }
}
