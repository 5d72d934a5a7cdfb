//! The relay's throughput: committed outbox rows (written beforehand,
//! untimed) until `Relay::drain` returns, every event confirmed by Redis
//! and its row deleted; against the direct Redis producer, `log!` of the
//! same events until `flush()` returns. The same dispatcher, transport,
//! `redis-server` and stream for both.

use std::cell::Cell;
use std::time::Instant;

use eventlib_sql::{postgres, sqlite, RelayOptions};

use super::{cpu, postgres_settings, runtime, SqliteFile};
use crate::events::Viewed;
use crate::harness::Report;
use crate::scenarios::on_redis::server::{Persistence, Server};
use crate::scenarios::on_redis::{del, install_producer, rotated, xlen};

/// Events per round.
const EVENTS: u64 = 10_000;
/// Rows per transaction when the outbox is filled.
const FILL: u64 = 1_000;
const KEY: &str = "bench:outbox";

pub(crate) fn run(rounds: usize, report: &mut Report) {
    let server = Server::start(Persistence::None);
    install_producer(&server.url(), KEY, 65_536);
    let runtime = runtime();
    let (pg, pg_pool) = runtime.block_on(super::postgres(4));
    let processes = Processes {
        own: std::process::id(),
        postgres: pg.pid(),
        redis: server.pid(),
    };
    let (relay_spent, log_spent) = (Cell::new(Spent::default()), Cell::new(Spent::default()));
    let lite = runtime.block_on(SqliteFile::open("outbox-relay"));
    let options = RelayOptions::default();
    let pg_relay = postgres::relay(pg_pool.clone(), options.clone());
    let lite_relay = sqlite::relay(lite.pool.clone(), options.clone());
    let mut control = server.connect();
    let next = Cell::new(0_u64);

    let mut pg_round = || {
        del(&mut control, KEY);
        runtime.block_on(async {
            for _ in 0..EVENTS / FILL {
                let mut tx = pg_pool.begin().await.expect("BEGIN");
                for _ in 0..FILL {
                    next.set(next.get() + 1);
                    postgres::log(&mut tx, Viewed::new(next.get()))
                        .await
                        .expect("the outbox row");
                }
                tx.commit().await.expect("COMMIT");
            }
        });
        let before = processes.before();
        let t0 = Instant::now();
        let moved = runtime.block_on(pg_relay.drain()).expect("the relay");
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        relay_spent.set(relay_spent.get().add(before, processes.after(), EVENTS));
        assert_eq!((moved, xlen(&mut control, KEY)), (EVENTS, EVENTS));
        rate
    };
    let mut lite_control = server.connect();
    let mut lite_round = || {
        del(&mut lite_control, KEY);
        runtime.block_on(async {
            for _ in 0..EVENTS / FILL {
                let mut tx = lite.pool.begin().await.expect("BEGIN");
                for _ in 0..FILL {
                    next.set(next.get() + 1);
                    sqlite::log(&mut tx, Viewed::new(next.get()))
                        .await
                        .expect("the outbox row");
                }
                tx.commit().await.expect("COMMIT");
            }
        });
        let t0 = Instant::now();
        let moved = runtime.block_on(lite_relay.drain()).expect("the relay");
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        assert_eq!((moved, xlen(&mut lite_control, KEY)), (EVENTS, EVENTS));
        rate
    };
    let mut log_control = server.connect();
    let mut log_round = || {
        del(&mut log_control, KEY);
        let before = processes.before();
        let t0 = Instant::now();
        for i in 0..EVENTS {
            eventlib::log!(Viewed::new(i)).expect("logged");
        }
        eventlib::flush();
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        log_spent.set(log_spent.get().add(before, processes.after(), EVENTS));
        assert_eq!(xlen(&mut log_control, KEY), EVENTS, "flush returned early");
        rate
    };
    let [pg_rate, lite_rate, log_rate] =
        rotated(rounds, [&mut pg_round, &mut lite_round, &mut log_round]);
    assert_eq!(eventlib::stats().total().dropped, 0);
    report.row("relay", pg_rate, log_rate);
    report.row("relay-sqlite", lite_rate, log_rate);
    let (relay, log) = (relay_spent.get(), log_spent.get());
    report.row(
        "relay-cpu",
        relay.per_event(relay.own + relay.postgres + relay.redis),
        log.per_event(log.own + log.redis),
    );
    report.row(
        "relay-cpu-no-pg",
        relay.per_event(relay.own + relay.redis),
        log.per_event(log.own + log.redis),
    );
    let settings = runtime.block_on(postgres_settings(&pg_pool));
    report.note(format!(
        "CPU per event (ns), every round included: the PostgreSQL relay's process {:.0}, \
         PostgreSQL {:.0}, Redis {:.0}; the producer's process {:.0}, PostgreSQL meanwhile {:.0}, \
         Redis {:.0}",
        relay.per_event(relay.own),
        relay.per_event(relay.postgres),
        relay.per_event(relay.redis),
        log.per_event(log.own),
        log.per_event(log.postgres),
        log.per_event(log.redis),
    ));
    report.note(format!(
        "{}; {settings}; SQLite WAL, synchronous=FULL; {EVENTS} events per round, committed \
         beforehand (untimed) in transactions of {FILL}; the relay's batches of {} rows (each: \
         claim, hand to the dispatcher, wait for Redis, DELETE, COMMIT); the producer's \
         batches of up to 256",
        Persistence::None.describe(),
        options.batch
    ));
}

/// The processes whose CPU time a round spends.
struct Processes {
    own: u32,
    postgres: u32,
    redis: u32,
}

impl Processes {
    /// Before a round: this process read last, so that reading the others
    /// is not counted in it.
    fn before(&self) -> Spent {
        let (postgres, redis) = (cpu::postgres_ns(self.postgres), cpu::process_ns(self.redis));
        Spent::read(cpu::process_ns(self.own), postgres, redis)
    }

    /// After a round: this process read first.
    fn after(&self) -> Spent {
        let own = cpu::process_ns(self.own);
        Spent::read(
            own,
            cpu::postgres_ns(self.postgres),
            cpu::process_ns(self.redis),
        )
    }
}

/// CPU time (ns) spent by each process over some rounds, and their events.
#[derive(Clone, Copy, Default)]
struct Spent {
    own: u64,
    postgres: u64,
    redis: u64,
    events: u64,
}

impl Spent {
    /// One reading of the processes' CPU times.
    fn read(own: u64, postgres: u64, redis: u64) -> Spent {
        Spent {
            own,
            postgres,
            redis,
            events: 0,
        }
    }

    /// Adds a round that moved `events`, between the readings `before` and `after`.
    fn add(self, before: Spent, after: Spent, events: u64) -> Spent {
        Spent {
            own: self.own + after.own.saturating_sub(before.own),
            postgres: self.postgres + after.postgres.saturating_sub(before.postgres),
            redis: self.redis + after.redis.saturating_sub(before.redis),
            events: self.events + events,
        }
    }

    /// `ns` per event.
    fn per_event(&self, ns: u64) -> f64 {
        ns as f64 / self.events.max(1) as f64
    }
}

/// For profilers: commits `events` outbox rows on PostgreSQL, prints
/// `draining` and waits 2 s (time to attach `perf record -a`), then drains
/// them to Redis and prints `drained` with the rate.
pub(crate) fn profile(events: u64) {
    let server = Server::start(Persistence::None);
    install_producer(&server.url(), KEY, 65_536);
    let runtime = runtime();
    let (_pg, pool) = runtime.block_on(super::postgres(4));
    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    runtime.block_on(async {
        for start in (0..events).step_by(FILL as usize) {
            let mut tx = pool.begin().await.expect("BEGIN");
            for i in start..(start + FILL).min(events) {
                postgres::log(&mut tx, Viewed::new(i))
                    .await
                    .expect("the outbox row");
            }
            tx.commit().await.expect("COMMIT");
        }
    });
    println!("draining");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t0 = Instant::now();
    let moved = runtime.block_on(relay.drain()).expect("the relay");
    let elapsed = t0.elapsed();
    println!(
        "drained {moved} in {elapsed:?}: {:.3} M ev/s",
        moved as f64 / elapsed.as_secs_f64() / 1e6
    );
}
