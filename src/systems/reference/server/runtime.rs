//! openraft's async runtime for the reference node: tokio, except that no timeout openraft
//! sets on a peer RPC is shorter than the node's (maximum) election timeout.
//!
//! openraft 0.9 waits for each AppendEntries (and each read-index round) only one heartbeat
//! interval. etcd's heartbeat is a message on a stream that nobody times out: a follower
//! behind a 200 ms link receives every heartbeat, late, and keeps its leader. With openraft's
//! own deadline and a 100 ms heartbeat, every AppendEntries over such a link times out,
//! nothing commits, and the leader is lost. The floor set here gives an RPC as long as a
//! follower waits before it starts an election: an answer slower than that is as good as
//! none, anything faster is taken.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::{AsyncRuntime, OptionalSend, TokioRuntime};

/// The shortest timeout openraft may set, in milliseconds (0: none yet). One node per
/// process in a real run; nodes run inside one test process share the same timing.
static TIMEOUT_FLOOR_MS: AtomicU64 = AtomicU64::new(0);

/// Make `floor` the shortest timeout openraft's peer RPCs get in this process.
pub(crate) fn set_timeout_floor(floor: Duration) {
    TIMEOUT_FLOOR_MS.store(floor.as_millis() as u64, Ordering::Relaxed);
}

/// `duration`, raised to the floor.
pub(crate) fn floored(duration: Duration) -> Duration {
    duration.max(Duration::from_millis(
        TIMEOUT_FLOOR_MS.load(Ordering::Relaxed),
    ))
}

/// tokio, with timeouts raised to the floor (see the module documentation).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeRuntime;

impl AsyncRuntime for NodeRuntime {
    type JoinError = <TokioRuntime as AsyncRuntime>::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = <TokioRuntime as AsyncRuntime>::JoinHandle<T>;
    type Sleep = <TokioRuntime as AsyncRuntime>::Sleep;
    type Instant = <TokioRuntime as AsyncRuntime>::Instant;
    type TimeoutError = <TokioRuntime as AsyncRuntime>::TimeoutError;
    type Timeout<R, T: Future<Output = R> + OptionalSend> =
        <TokioRuntime as AsyncRuntime>::Timeout<R, T>;
    type ThreadLocalRng = <TokioRuntime as AsyncRuntime>::ThreadLocalRng;
    type OneshotSender<T: OptionalSend> = <TokioRuntime as AsyncRuntime>::OneshotSender<T>;
    type OneshotReceiverError = <TokioRuntime as AsyncRuntime>::OneshotReceiverError;
    type OneshotReceiver<T: OptionalSend> = <TokioRuntime as AsyncRuntime>::OneshotReceiver<T>;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        TokioRuntime::spawn(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        TokioRuntime::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        TokioRuntime::sleep_until(deadline)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        duration: Duration,
        future: F,
    ) -> Self::Timeout<R, F> {
        TokioRuntime::timeout(floored(duration), future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Self::Instant,
        future: F,
    ) -> Self::Timeout<R, F> {
        TokioRuntime::timeout_at(deadline, future)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        TokioRuntime::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        TokioRuntime::thread_rng()
    }

    fn oneshot<T>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>)
    where
        T: OptionalSend,
    {
        TokioRuntime::oneshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timeouts_are_raised_to_the_floor_and_longer_ones_kept() {
        set_timeout_floor(Duration::from_millis(300));
        let started = std::time::Instant::now();
        // A 10 ms timeout on a 100 ms job: openraft's deadline would fire, the floor's does not.
        let slow = NodeRuntime::timeout(
            Duration::from_millis(10),
            tokio::time::sleep(Duration::from_millis(100)),
        )
        .await;
        assert!(slow.is_ok());
        let never = NodeRuntime::timeout(Duration::from_millis(10), std::future::pending::<()>());
        assert!(never.await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(floored(Duration::from_secs(2)), Duration::from_secs(2));
    }
}
