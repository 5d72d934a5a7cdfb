//! The `producer` role: the web side of the distributed story. The same
//! page handlers log the same events, but the dispatcher hands them to
//! `RedisTransport` instead of running handlers: workers run them. The
//! cart adds are committed with their cart rows in the service's SQLite
//! database, and its relay sends them to the same stream.

use eventlib::redis::{producer_stats, RedisTransport, DEFAULT_STREAM};
use eventlib::{log, Dispatcher};

use crate::cli::ProducerArgs;
use crate::traffic::{self, millis, Plan, CLIENTS};
use crate::web::SHUTDOWN_TIMEOUT;
use crate::{backends, failures, ProductViewed, VIEWS_KEY};

/// How many events may wait in the outbox while Redis is slow or down.
const OUTBOX: usize = 100_000;
pub fn run(args: &ProducerArgs) -> anyhow::Result<()> {
    crate::telemetry::install()?;
    // Nothing connects here: a web process starts even while Redis is down.
    let transport = RedisTransport::new(&args.url)?;
    let failures =
        failures::install_with(Dispatcher::builder().capacity(OUTBOX).transport(transport))?;
    println!(
        "producer: log! hands events to RedisTransport, stream `{DEFAULT_STREAM}` at {}; \
         the handlers run in workers",
        args.url
    );
    let runtime = traffic::runtime()?;
    let db = backends::Db::open_temp(runtime.handle())?;
    let _delete_db_on_exit = backends::DeleteOnDrop(db);
    // Its counts and backlog in Redis (`eventlib:events:relays`), for the operator's tools.
    let relay = db.relay().publish_stats(&args.url, DEFAULT_STREAM);
    // A fresh count for this run: workers bump it as they handle the views.
    let counter = backends::RedisCounter::install(args.url.clone());
    match counter.reset(VIEWS_KEY) {
        Ok(()) => println!("Redis counter {VIEWS_KEY} reset to 0"),
        Err(err) => println!("{err:#} (log! still returns Ok: events wait in the outbox)"),
    }

    let refused = log!(ProductViewed { user_id: 1, product_id: 42, source: String::new() });
    match refused {
        Err(err) => println!("refused in the caller, nothing sent: {err}"),
        Ok(id) => anyhow::bail!("an empty source was accepted as event {id}"),
    }

    let Plan { views, carts, .. } = Plan::new(args.views);
    let events = views + carts;
    println!(
        "\n== {views} page views ({carts} with a cart add) over HTTP from {CLIENTS} client tasks: \
         {events} events for Redis"
    );
    // The servers stop, then eventlib shuts down: every event reaches
    // Redis (confirmed XADD) before this returns.
    let (served, report) = traffic::serve_all(&runtime, &relay, views, false)?;
    let delivered_in = served.started.elapsed();

    println!("\n== results");
    served.print("the Redis sender");
    println!(
        "served in {:.1} ms; shutdown() returned when Redis had confirmed every event, at {:.1} ms \
         ({} abandoned)",
        millis(served.served_in),
        millis(delivered_in),
        report.abandoned
    );
    let stats = producer_stats().unwrap_or_default();
    println!(
        "producer stats: delivered {} (in {} batches, {} failed), reconnects {}, outbox {}/{}",
        stats.delivered,
        stats.batches,
        stats.failed_batches,
        stats.reconnects,
        stats.outbox_depth,
        stats.outbox_capacity
    );
    let ((cart_rows, _), relayed) = (db.cart_rows()?, relay.stats());
    println!(
        "SQLite {}: {cart_rows} cart rows, each committed with its CartItemAdded; the relay \
         sent {} to Redis ({} left in the outbox)",
        db.path().display(),
        relayed.moved,
        relayed.backlog.unwrap_or(0)
    );
    for event in eventlib::stats().events {
        println!(
            "{}: {} logged, {} in Redis, {} dropped, {} still in the outbox",
            event.name, event.emitted, event.completed, event.dropped, event.in_flight
        );
    }
    println!("error hook: {failures}");
    crate::telemetry::print(8);
    println!(
        "\nnext: workers handle them; `--redis {} worker --until-idle` stops once the stream \
         is drained",
        args.url
    );

    anyhow::ensure!(
        report.abandoned == 0,
        "{} event(s) not confirmed by Redis after {SHUTDOWN_TIMEOUT:?}",
        report.abandoned
    );
    anyhow::ensure!(
        cart_rows == carts && relayed.moved == carts && relayed.backlog == Some(0),
        "{cart_rows} cart rows, {} relayed, backlog {:?}: expected {carts}, {carts}, 0",
        relayed.moved,
        relayed.backlog
    );
    anyhow::ensure!(
        stats.delivered == events,
        "{} events delivered, expected {events}",
        stats.delivered
    );
    Ok(())
}
