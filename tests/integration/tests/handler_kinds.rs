//! Every handler kind and signature the macros accept, their dispatch
//! order as the registry reports it, and wildcard matching.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use eventlib::{event, handler, log, Context, EventId, HandlerKind, Record};
use serde::{Deserialize, Serialize};

/// Which handler ran for which event: `(handler, event name, event id)`.
static RUNS: Mutex<Vec<(&str, &str, EventId)>> = Mutex::new(Vec::new());

fn ran(handler: &'static str, name: &'static str, id: EventId) {
    RUNS.lock().unwrap().push((handler, name, id));
}

/// The handlers that ran for the event `id`, sorted.
fn runs_of(id: EventId) -> Vec<&'static str> {
    let mut runs: Vec<&str> = RUNS
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.2 == id)
        .map(|r| r.0)
        .collect();
    runs.sort_unstable();
    runs
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: u64,
    /// Makes the `Result`-returning handlers fail.
    fail: bool,
}

fn io_result(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        Err(std::io::Error::other("asked to fail"))
    } else {
        Ok(())
    }
}

#[event(name = "shop.Order")]
impl Order {
    #[handler]
    fn m_sync(&self, ctx: &Context) {
        ran("m_sync", ctx.name(), ctx.id());
    }

    #[handler]
    async fn m_async_io(&self, ctx: &Context) -> Result<(), std::io::Error> {
        common::yield_now().await;
        ran("m_async_io", ctx.name(), ctx.id());
        io_result(self.fail)
    }

    #[handler]
    fn m_sync_anyhow(&self, ctx: &Context) -> anyhow::Result<()> {
        ran("m_sync_anyhow", ctx.name(), ctx.id());
        anyhow::ensure!(!self.fail, "asked to fail");
        Ok(())
    }

    #[handler]
    fn m_sync_io(&self, ctx: &Context) -> Result<(), std::io::Error> {
        ran("m_sync_io", ctx.name(), ctx.id());
        io_result(self.fail)
    }

    #[handler]
    async fn m_async(&self, ctx: &Context) {
        ran("m_async", ctx.name(), ctx.id());
    }

    #[handler]
    async fn m_async_anyhow(&self, ctx: &Context) -> anyhow::Result<()> {
        ran("m_async_anyhow", ctx.name(), ctx.id());
        anyhow::ensure!(!self.fail, "asked to fail");
        Ok(())
    }

    /// Without a context: counted by order number, the only thing it sees.
    #[handler]
    fn m_no_ctx(&self) {
        NO_CTX.lock().unwrap().push(("m_no_ctx", self.n));
    }

    #[handler]
    async fn m_async_no_ctx(&self) -> anyhow::Result<()> {
        NO_CTX.lock().unwrap().push(("m_async_no_ctx", self.n));
        Ok(())
    }
}

/// Handlers without a context record `(handler, Order::n)`.
static NO_CTX: Mutex<Vec<(&str, u64)>> = Mutex::new(Vec::new());

#[handler]
fn f_sync(order: &Order) {
    NO_CTX.lock().unwrap().push(("f_sync", order.n));
}

/// The context may come first.
#[handler]
fn f_sync_ctx(ctx: &Context, order: &Order) -> anyhow::Result<()> {
    ran("f_sync_ctx", ctx.name(), ctx.id());
    anyhow::ensure!(!order.fail, "asked to fail");
    Ok(())
}

#[handler]
async fn f_async(order: &Order) -> Result<(), std::io::Error> {
    common::yield_now().await;
    NO_CTX.lock().unwrap().push(("f_async", order.n));
    Ok(())
}

#[handler]
async fn f_async_ctx(order: &Order, ctx: &Context) {
    let _ = order.n;
    ran("f_async_ctx", ctx.name(), ctx.id());
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CartAdded {
    sku: String,
}

#[event(name = "shop.cart.Added")]
impl CartAdded {}

/// Not under `shop.`: `shop.*` must not match it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShoppingOrder {
    n: u64,
}

#[event(name = "shopping.Order")]
impl ShoppingOrder {}

#[handler("*")]
fn w_all(record: &Record) {
    ran("w_all", record.name(), record.id());
}

#[handler("shop.*")]
async fn w_shop(record: &Record, ctx: &Context) -> anyhow::Result<()> {
    anyhow::ensure!(record.id() == ctx.id());
    ran("w_shop", record.name(), record.id());
    Ok(())
}

#[handler("shop.Order")]
fn w_exact(record: &Record) -> Result<(), std::io::Error> {
    ran("w_exact", record.name(), record.id());
    let order = record.downcast_ref::<Order>().expect("an Order");
    assert_eq!(record.data()["n"], order.n);
    io_result(order.fail)
}

const M: &str = "handler_kinds::Order::";

#[test]
fn the_registry_lists_methods_then_functions_then_wildcards() {
    let registry = eventlib::registry();
    let order = registry.event("shop.Order").unwrap();
    let listed: Vec<(String, HandlerKind, bool, Option<&str>)> = order
        .handlers()
        .map(|h| (h.name().to_owned(), h.kind(), h.is_async(), h.pattern()))
        .collect();
    let method = |name: &str, is_async| (format!("{M}{name}"), HandlerKind::Method, is_async, None);
    let function = |name: &str, is_async| {
        (
            format!("handler_kinds::{name}"),
            HandlerKind::Function,
            is_async,
            None,
        )
    };
    let wildcard = |name: &str, is_async, pattern| {
        (
            format!("handler_kinds::{name}"),
            HandlerKind::Wildcard,
            is_async,
            Some(pattern),
        )
    };
    assert_eq!(
        listed,
        [
            // Methods in declaration order.
            method("m_sync", false),
            method("m_async_io", true),
            method("m_sync_anyhow", false),
            method("m_sync_io", false),
            method("m_async", true),
            method("m_async_anyhow", true),
            method("m_no_ctx", false),
            method("m_async_no_ctx", true),
            // Then free functions, in source order.
            function("f_sync", false),
            function("f_sync_ctx", false),
            function("f_async", true),
            function("f_async_ctx", true),
            // Then wildcards, in source order.
            wildcard("w_all", false, "*"),
            wildcard("w_shop", true, "shop.*"),
            wildcard("w_exact", false, "shop.Order"),
        ]
    );
    for handler in order.handlers() {
        assert_eq!(handler.group(), "default");
        assert!(
            handler.location().contains("handler_kinds.rs:"),
            "{}",
            handler.location()
        );
    }
}

#[test]
fn wildcards_match_by_prefix_or_exact_name() {
    let registry = eventlib::registry();
    let names = |event: &str| -> Vec<&str> {
        registry
            .event(event)
            .unwrap()
            .handlers()
            .map(|h| h.name())
            .collect()
    };
    assert_eq!(
        names("shop.cart.Added"),
        ["handler_kinds::w_all", "handler_kinds::w_shop"]
    );
    assert_eq!(names("shopping.Order"), ["handler_kinds::w_all"]);

    let order = log!(Order { n: 1, fail: false }).unwrap();
    let added = log!(CartAdded { sku: "A-1".into() }).unwrap();
    let shopping = log!(ShoppingOrder { n: 1 }).unwrap();
    common::flush();
    let wildcards = |id| -> Vec<&str> {
        runs_of(id)
            .into_iter()
            .filter(|h| h.starts_with("w_"))
            .collect()
    };
    assert_eq!(wildcards(order), ["w_all", "w_exact", "w_shop"]);
    assert_eq!(wildcards(added), ["w_all", "w_shop"]);
    assert_eq!(wildcards(shopping), ["w_all"]);
}

#[test]
fn every_signature_runs_and_its_result_counts() {
    const N: u64 = 50;
    let mut ids = Vec::new();
    for n in 0..N {
        ids.push(
            log!(Order {
                n: 1000 + n,
                fail: false
            })
            .unwrap(),
        );
    }
    let failing = log!(Order {
        n: 2000,
        fail: true
    })
    .unwrap();
    common::flush();

    // Handlers with a context saw the id log! returned, once each.
    let with_ctx = [
        "f_async_ctx",
        "f_sync_ctx",
        "m_async",
        "m_async_anyhow",
        "m_async_io",
        "m_sync",
        "m_sync_anyhow",
        "m_sync_io",
        "w_all",
        "w_exact",
        "w_shop",
    ];
    for &id in ids.iter().chain([&failing]) {
        assert_eq!(runs_of(id), with_ctx, "event {id}");
    }
    // Handlers without one saw the event's data, once each.
    let mut without_ctx = NO_CTX.lock().unwrap().clone();
    without_ctx.retain(|(_, n)| *n >= 1000);
    for handler in ["m_no_ctx", "m_async_no_ctx", "f_sync", "f_async"] {
        let seen: BTreeSet<u64> = without_ctx
            .iter()
            .filter(|(h, _)| *h == handler)
            .map(|(_, n)| *n)
            .collect();
        let expected: BTreeSet<u64> = (1000..1000 + N).chain([2000]).collect();
        assert_eq!(seen, expected, "{handler}");
        assert_eq!(
            without_ctx.iter().filter(|(h, _)| *h == handler).count(),
            N as usize + 1,
            "{handler} ran more than once for an event"
        );
    }

    // Every `Result` return type is a failure when Err: exactly the failing
    // event's, and no panic anywhere.
    let stats = eventlib::stats();
    for handler in [
        "m_async_io",
        "m_sync_anyhow",
        "m_sync_io",
        "m_async_anyhow",
        "f_sync_ctx",
        "w_exact",
    ] {
        let row = stats.handler(handler).unwrap();
        assert_eq!((row.failed, row.panicked), (1, 0), "{handler}:\n{stats}");
    }
    for handler in [
        "m_sync", "m_async", "m_no_ctx", "f_sync", "f_async", "w_all",
    ] {
        let row = stats.handler(handler).unwrap();
        assert_eq!((row.failed, row.panicked), (0, 0), "{handler}:\n{stats}");
    }
}
