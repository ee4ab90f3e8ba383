//! Throughput of the Dispatcher: 8 threads asking for ops and reporting completions as fast
//! as they can (a trivially fast client), through the generator stack the controller uses.
//!
//! Run with `cargo bench -p faultline-workloads --bench dispatch`; prints ops/s per case.
//! It measures only; it asserts nothing about the machine it runs on.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use faultline_workloads::generator::{self, Dispatcher, Generator, Poll};
use faultline_workloads::op::OpRequest;
use faultline_workloads::{by_name, WorkloadOptions};
use serde_json::{json, Value};

const WORKERS: usize = 8;
const OPS_PER_WORKER: u64 = 250_000;

fn measure(name: &str, generator: Box<dyn Generator>) {
    let dispatcher = Arc::new(Dispatcher::new(generator, WORKERS, 42));
    let start = Instant::now();
    let handles: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let dispatcher = dispatcher.clone();
            thread::spawn(move || {
                let mut ops = 0u64;
                while ops < OPS_PER_WORKER {
                    match dispatcher.next(worker, worker as u64, start.elapsed()) {
                        Poll::Op(op) => {
                            std::hint::black_box(op);
                            dispatcher.completed(worker);
                            ops += 1;
                        }
                        Poll::Wait(d) => thread::sleep(d),
                        Poll::Done => break,
                    }
                }
                ops
            })
        })
        .collect();
    let ops: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = start.elapsed();
    println!(
        "{name:<48} {ops:>9} ops in {:>7.1} ms: {:>12.0} ops/s ({:.0} ns/op)",
        elapsed.as_secs_f64() * 1e3,
        ops as f64 / elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / ops as f64,
    );
}

fn main() {
    println!("Dispatcher throughput, {WORKERS} threads, {OPS_PER_WORKER} ops each");
    let read = OpRequest::new("read", Some(json!(0)), Value::Null);
    measure("repeat(read)", generator::repeat(read));
    let register = by_name("register", &WorkloadOptions::default()).unwrap();
    measure("register", register.generator());
    let controller_stack = generator::time_limit(
        Duration::from_secs(3600),
        generator::stagger(f64::INFINITY, register.generator()).unwrap(),
    );
    measure(
        "time_limit(stagger(inf, register)) (controller)",
        controller_stack,
    );
    // Pacing: does stagger deliver the asked rate when workers sleep out their waits?
    let paced = generator::time_limit(
        Duration::from_secs(2),
        generator::stagger(20_000.0, register.generator()).unwrap(),
    );
    measure("time_limit(2 s, stagger(20000/s, register))", paced);
}
