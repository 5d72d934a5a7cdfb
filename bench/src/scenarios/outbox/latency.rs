//! From `COMMIT` to the first handler: one transaction at a time (an
//! order row and its event), timed from the moment `COMMIT` returned to
//! the moment the event's handler starts on the local pool, with a relay
//! that wakes on `LISTEN` / `NOTIFY`, and with one that only polls.
//! Against the same handler reached by `log!` right after `COMMIT`. The
//! pause before each transaction spreads them over the poll interval.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use eventlib::event;
use eventlib_sql::{postgres, Relay, RelayOptions};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;

use super::{percentile, postgres_settings, runtime};
use crate::harness::Report;

/// The polling relay's interval (the one that listens also polls at it).
const POLL: Duration = Duration::from_millis(100);
/// Transactions per block; the contenders' blocks alternate.
const BLOCK: u64 = 25;
/// Blocks per contender.
const BLOCKS: u64 = 8;

/// Where the handler says when it ran: the event's `n` and the instant.
static ARRIVALS: OnceLock<Mutex<Sender<(u64, Instant)>>> = OnceLock::new();

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Committed {
    n: u64,
}

#[event(name = "bench.outbox.Committed")]
impl Committed {
    #[eventlib::handler]
    fn arrive(&self) {
        let at = Instant::now();
        if let Some(arrivals) = ARRIVALS.get() {
            let _ = arrivals.lock().expect("the arrivals").send((self.n, at));
        }
    }
}

#[derive(Clone, Copy)]
enum Contender {
    Listen,
    Poll,
    LogAfterCommit,
}

pub(crate) fn run(report: &mut Report) {
    let (tx, arrivals) = mpsc::channel();
    ARRIVALS
        .set(Mutex::new(tx))
        .expect("the first run of this process");
    let runtime = runtime();
    let (_pg, pool) = runtime.block_on(super::postgres(4));
    let relay = |listen| {
        postgres::relay(
            pool.clone(),
            RelayOptions {
                poll: POLL,
                listen,
                ..RelayOptions::default()
            },
        )
    };
    let (listening, polling) = (relay(true), relay(false));
    let contenders = [
        Contender::Listen,
        Contender::Poll,
        Contender::LogAfterCommit,
    ];
    let mut measured: [Vec<Duration>; 3] = Default::default();
    let mut n = 0_u64;
    for block in 0..BLOCKS * 3 {
        let k = (block % 3) as usize;
        let relaying: Option<&Relay> = match contenders[k] {
            Contender::Listen => Some(&listening),
            Contender::Poll => Some(&polling),
            Contender::LogAfterCommit => None,
        };
        runtime.block_on(async {
            let task = relaying.map(|relay| relay.spawn());
            // The listener connects on the relay's first wait.
            tokio::time::sleep(Duration::from_millis(200)).await;
            for _ in 0..BLOCK {
                n += 1;
                tokio::time::sleep(spread(n)).await;
                let committed = commit(&pool, n, relaying.is_some()).await;
                if relaying.is_none() {
                    eventlib::log!(Committed { n }).expect("logged");
                }
                let arrived = arrival(&arrivals, n);
                measured[k].push(arrived - committed);
            }
            if let Some(task) = task {
                task.stop().await;
            }
        });
    }
    let [listen, poll, direct] = measured.map(|mut samples| {
        samples.sort();
        samples
    });
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    report.row(
        "listen-p50",
        micros(percentile(&listen, 50)),
        micros(percentile(&direct, 50)),
    );
    report.row(
        "listen-p99",
        micros(percentile(&listen, 99)),
        micros(percentile(&direct, 99)),
    );
    report.row(
        "poll-p50",
        micros(percentile(&poll, 50)),
        micros(percentile(&direct, 50)),
    );
    report.row(
        "poll-p99",
        micros(percentile(&poll, 99)),
        micros(percentile(&direct, 99)),
    );
    let settings = runtime.block_on(postgres_settings(&pool));
    report.note(format!(
        "{settings}; {} transactions per contender in blocks of {BLOCK}, one at a time, each \
         after a pause spread over the {POLL:?} poll interval; the handler runs on eventlib's \
         local pool; the polling relay's poll is {POLL:?} (latency about uniform up to it), the \
         listening one wakes on NOTIFY",
        BLOCK * BLOCKS
    ));
}

/// One order row, and with `with_event` its event in the outbox, in one
/// transaction; returns when `COMMIT` returned.
async fn commit(pool: &PgPool, n: u64, with_event: bool) -> Instant {
    let mut tx = pool.begin().await.expect("BEGIN");
    sqlx::query("INSERT INTO orders VALUES ($1, $2, $3)")
        .bind(n as i64)
        .bind((n % 97) as i64)
        .bind(1_999_i64)
        .execute(&mut *tx)
        .await
        .expect("INSERT");
    if with_event {
        postgres::log(&mut tx, Committed { n })
            .await
            .expect("the outbox row");
    }
    tx.commit().await.expect("COMMIT");
    Instant::now()
}

/// Waits for the handler's run for event `n` (older arrivals are skipped).
fn arrival(arrivals: &Receiver<(u64, Instant)>, n: u64) -> Instant {
    loop {
        let (seen, at) = arrivals
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("event {n} never reached its handler"));
        if seen == n {
            return at;
        }
    }
}

/// The pause before the `n`th transaction: a golden-ratio sequence over
/// the poll interval, so that commits fall all over it.
fn spread(n: u64) -> Duration {
    let fraction = (n as f64 * 0.618_033_988_75).fract();
    POLL.mul_f64(fraction)
}
