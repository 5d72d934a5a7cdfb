//! The story in one process: the service's page handlers log, its relay
//! sends the committed cart adds on, eventlib's pool runs every handler,
//! and the arithmetic of what they did is checked.

use eventlib::log;

use crate::traffic::{self, millis, Plan, CLIENTS};
use crate::{backends, failures, ProductViewed, POISONED_PRODUCT, VIEWS_KEY};

pub fn run() -> anyhow::Result<()> {
    crate::telemetry::install()?;
    let failures = failures::install()?;
    let runtime = traffic::runtime()?;
    let db = backends::Db::open_temp(runtime.handle())?;
    let _delete_db_on_exit = backends::DeleteOnDrop(db);
    let relay = db.relay();
    let redis = backends::RedisCounter::install(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    );
    let redis_up = match redis.reset(VIEWS_KEY) {
        Ok(()) => {
            println!("Redis at {}: up, {VIEWS_KEY} reset to 0", redis.url());
            true
        }
        Err(err) => {
            println!("{err:#} (bump_counter will fail; nothing else will)");
            false
        }
    };
    print!("{}", eventlib::registry());

    let refused = log!(ProductViewed { user_id: 1, product_id: 42, source: String::new() });
    match refused {
        Err(err) => println!("\nrefused in the caller, nothing queued: {err}"),
        Ok(id) => anyhow::bail!("an empty source was accepted as event {id}"),
    }

    let Plan { views, carts, poisoned } = Plan::new(traffic::VIEWS);
    println!("\n== {views} page views ({carts} with a cart add) over HTTP from {CLIENTS} client tasks; first failures:");
    let (served, report) = traffic::serve_all(&runtime, &relay, views, true)?;
    let handled_in = served.started.elapsed();

    println!("\n== results");
    served.print("the pool");
    println!(
        "served in {:.1} ms; the servers stopped, the relay sent the last cart adds, then \
         eventlib::shutdown_async returned when every handler was done, at {:.1} ms",
        millis(served.served_in),
        millis(handled_in)
    );
    println!("shutdown report: {report}");

    let stats = eventlib::stats();
    let count = |handler: &str| stats.handler(handler).cloned().unwrap_or_default();
    let (save, bump) = (count("save_to_db"), count("bump_counter"));
    let rows = db.count("product_views")?;
    let ((cart_rows, untracked), reserved) = (db.cart_rows()?, db.count("stock_reservations")?);
    let relayed = relay.stats();
    println!(
        "SQLite {}: {rows} view rows = {views} views - {poisoned} views of product {POISONED_PRODUCT}",
        db.path().display()
    );
    println!("  (save_to_db panicked on those {} times)", save.panicked);
    println!(
        "{cart_rows} cart rows, each committed with its CartItemAdded in one transaction; the relay \
         moved {} to the pool ({} left in the outbox), where the async reserve_stock made \
         {reserved} stock reservations (and {untracked} cart rows without an event from the \
         server with logging off)",
        relayed.moved,
        relayed.backlog.unwrap_or(0)
    );
    println!(
        "relay stats: {relayed} ({} moved while the pages were served, the rest after)",
        served.relayed_while_serving
    );
    if redis_up {
        let counter = redis.get(VIEWS_KEY)?;
        println!(
            "Redis counter {VIEWS_KEY} = {counter} ({} updates, {} failed)",
            bump.handled, bump.failed
        );
    } else {
        println!(
            "Redis unreachable: {} counter updates failed, all {views} page views succeeded",
            bump.failed
        );
    }
    let (audited_views, audited_carts, first) = crate::audited();
    println!(
        "panics contained: save_to_db panicked {}x; bump_counter still ran {}x and audit saw {audited_views} views",
        save.panicked,
        bump.handled + bump.failed,
    );
    println!(
        "audit (shoestore.*) saw {} events; first: {first}",
        audited_views + audited_carts
    );
    println!("error hook: {failures}\n");
    print!("{stats}");
    crate::telemetry::print(12);

    // The story's arithmetic, checked: a wrong count is a bug, and exits 1.
    anyhow::ensure!(
        rows == views - poisoned,
        "{rows} rows, expected {}",
        views - poisoned
    );
    anyhow::ensure!(save.panicked == poisoned && bump.handled + bump.failed == views);
    anyhow::ensure!(
        cart_rows == carts && relayed.moved == carts && reserved == carts,
        "{cart_rows} cart rows, {} relayed, {reserved} reservations: expected {carts} each",
        relayed.moved
    );
    anyhow::ensure!(relay.stats().backlog == Some(0), "the outbox is not empty");
    anyhow::ensure!(!redis_up || redis.get(VIEWS_KEY)? == views as i64);
    anyhow::ensure!(stats.total().dropped == 0 && stats.total().in_flight == 0);
    Ok(())
}

/// `--serve ADDR`: the shoe store for a person with a browser, until
/// Ctrl-C; then the server stops and eventlib after it.
pub fn serve(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    crate::telemetry::install()?;
    let runtime = traffic::runtime()?;
    let db = backends::Db::open_temp(runtime.handle())?;
    let _delete_db_on_exit = backends::DeleteOnDrop(db);
    let _redis = backends::RedisCounter::install(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    );
    let relay = db.relay();
    runtime.block_on(async {
        let relaying = relay.spawn();
        let server = crate::web::start(crate::web::app(true)?, addr).await?;
        println!(
            "the shoe store at http://{}/products/7 (click the picture: the page logs \
             shoestore.ProductImageZoomed through POST /events/...); Ctrl-C stops",
            server.addr
        );
        tokio::signal::ctrl_c().await?;
        server.stop().await?;
        traffic::stop_relay(relaying, &relay).await?;
        let report = eventlib::shutdown_async(crate::web::SHUTDOWN_TIMEOUT).await;
        println!("\nstopped: {report}");
        print!("{}", eventlib::stats());
        anyhow::Ok(())
    })
}
