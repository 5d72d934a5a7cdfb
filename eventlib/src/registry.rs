//! The registry: every event and handler linked into the binary, indexed
//! once on first use, and the introspection API over it.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::counters::{EventCounters, HandlerCounters};
use crate::decl::{EventDecl, HandlerDecl, HandlerFn, Target, EVENTS, HANDLERS};
use crate::error::Error;
use crate::event::EventSlot;
use crate::handler::HandlerKind;
use crate::name;

/// The registry of the running binary: every `#[event]` and `#[handler]`
/// linked into it.
///
/// ```
/// // At startup, log what is registered:
/// println!("{}", eventlib::registry());
/// for event in eventlib::registry().events() {
///     for handler in event.handlers() {
///         println!("{} -> {} ({}, {})", event.name(), handler.name(), handler.kind(), handler.location());
///     }
/// }
/// ```
pub struct Registry {
    pub(crate) events: Vec<EventEntry>,
    pub(crate) handlers: Vec<HandlerEntry>,
    by_name: HashMap<&'static str, u32>,
    by_slot: HashMap<usize, u32>,
}

pub(crate) struct EventEntry {
    pub(crate) decl: &'static EventDecl,
    /// Indices into `Registry::handlers`, in dispatch order.
    pub(crate) handlers: Vec<u32>,
    /// Whether any of `handlers` is an `async fn`.
    pub(crate) has_async: bool,
    /// Set when another declaration shares the name: `file:line` of each.
    duplicates: Option<Vec<String>>,
    pub(crate) counters: EventCounters,
    /// The metric keys of each of `handlers`, in the same order.
    #[cfg(feature = "metrics")]
    pub(crate) run_keys: Vec<crate::meters::RunKeys>,
}

pub(crate) struct HandlerEntry {
    pub(crate) decl: &'static HandlerDecl,
    /// `decl.call`, kept beside the counters a run writes: running the
    /// handler reads nothing of its declaration, which lies in the data of
    /// the crate that declared it.
    pub(crate) call: HandlerFn,
    pub(crate) counters: HandlerCounters,
}

impl HandlerEntry {
    /// Whether it is an `async fn`.
    pub(crate) fn is_async(&self) -> bool {
        matches!(self.call, HandlerFn::Async(_))
    }
}

/// The registry of the running binary, built on first use.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

/// What identifies an event type in the registry: the address of its
/// [`EventSlot`], one `static` per type.
fn slot_key(slot: &'static EventSlot) -> usize {
    slot as *const EventSlot as usize
}

impl Registry {
    fn build() -> Registry {
        let mut events: Vec<EventEntry> = Vec::with_capacity(EVENTS.len());
        let mut by_name: HashMap<&'static str, u32> = HashMap::with_capacity(EVENTS.len());
        let mut by_slot = HashMap::with_capacity(EVENTS.len());
        // Sorted by name so that listings do not depend on link order.
        let mut decls: Vec<&'static EventDecl> = EVENTS.iter().collect();
        decls.sort_by_key(|d| (d.name, d.file, d.line));
        for decl in decls {
            let index = events.len() as u32;
            by_slot.insert(slot_key(decl.slot), index);
            events.push(EventEntry {
                decl,
                handlers: Vec::new(),
                has_async: false,
                duplicates: None,
                counters: EventCounters::new(decl.name),
                #[cfg(feature = "metrics")]
                run_keys: Vec::new(),
            });
            if by_name.contains_key(decl.name) {
                let locations: Vec<String> = events
                    .iter()
                    .filter(|e| e.decl.name == decl.name)
                    .map(|e| format!("{}:{}", e.decl.file, e.decl.line))
                    .collect();
                for entry in events.iter_mut().filter(|e| e.decl.name == decl.name) {
                    entry.duplicates = Some(locations.clone());
                }
            } else {
                by_name.insert(decl.name, index);
            }
        }

        // Dispatch order: methods in declaration order, then free
        // functions, then wildcards; ties broken by source location so the
        // order does not depend on link order.
        let mut decls: Vec<&'static HandlerDecl> = HANDLERS.iter().collect();
        decls.sort_by_key(|h| {
            let rank = match h.kind {
                HandlerKind::Method => 0,
                HandlerKind::Function => 1,
                HandlerKind::Wildcard => 2,
            };
            (rank, h.file, h.order, h.line, h.name)
        });
        let mut handlers = Vec::with_capacity(decls.len());
        for decl in decls {
            let index = handlers.len() as u32;
            handlers.push(HandlerEntry {
                decl,
                call: decl.call,
                counters: HandlerCounters::new(),
            });
            match decl.target {
                Target::Event(event) => {
                    if let Some(&event) = by_slot.get(&slot_key(event())) {
                        events[event as usize].handlers.push(index);
                    }
                }
                Target::Pattern(pattern) => {
                    for event in events.iter_mut() {
                        if name::matches(pattern, event.decl.name) {
                            event.handlers.push(index);
                        }
                    }
                }
            }
        }
        for event in &mut events {
            // A delivery counts its handlers in half a word.
            assert!(
                event.handlers.len() <= crate::record::MAX_HANDLERS as usize,
                "eventlib: event `{}` has {} handlers, more than the {} one event may have",
                event.decl.name,
                event.handlers.len(),
                crate::record::MAX_HANDLERS
            );
            event.has_async = event
                .handlers
                .iter()
                .any(|&h| handlers[h as usize].is_async());
            event.counters.set_handlers(crate::counters::Handlers {
                any: !event.handlers.is_empty(),
                any_async: event.has_async,
            });
            #[cfg(feature = "metrics")]
            {
                event.run_keys = event
                    .handlers
                    .iter()
                    .map(|&h| {
                        let decl = handlers[h as usize].decl;
                        crate::meters::RunKeys::new(event.decl.name, decl.name, decl.group())
                    })
                    .collect();
            }
        }
        crate::indexed_names::set(events.iter().map(|e| e.decl.name).collect());
        Registry {
            events,
            handlers,
            by_name,
            by_slot,
        }
    }

    /// The index of the event type whose slot this is (named `name`).
    pub(crate) fn index_of_slot(
        &self,
        slot: &'static EventSlot,
        name: &'static str,
    ) -> Result<u32, Error> {
        match self.by_slot.get(&slot_key(slot)) {
            Some(&index) => self.check_unique(index),
            // Unreachable for a linked `#[event]`; said plainly all the same.
            None => Err(Error::UnknownEvent {
                name: name.to_owned(),
            }),
        }
    }

    pub(crate) fn index_of_name(&self, name: &str) -> Result<u32, Error> {
        match self.by_name.get(name) {
            Some(&index) => self.check_unique(index),
            None => Err(match name::validate_name(name) {
                Err(reason) => Error::InvalidName {
                    name: name.to_owned(),
                    reason,
                },
                Ok(()) => Error::UnknownEvent {
                    name: name.to_owned(),
                },
            }),
        }
    }

    fn check_unique(&self, index: u32) -> Result<u32, Error> {
        let entry = &self.events[index as usize];
        match &entry.duplicates {
            None => Ok(index),
            Some(locations) => Err(Error::DuplicateEvent {
                name: entry.decl.name,
                locations: locations.clone(),
            }),
        }
    }

    /// The handlers of event `index` that belong to `group`, in dispatch
    /// order.
    #[cfg(feature = "redis")]
    pub(crate) fn group_handlers<'a>(
        &'a self,
        index: u32,
        group: &'a str,
    ) -> impl Iterator<Item = u32> + 'a {
        self.events[index as usize]
            .handlers
            .iter()
            .copied()
            .filter(move |&h| self.handlers[h as usize].decl.group() == group)
    }

    /// Events accepted and not yet completed or dropped, over all events.
    /// Reads the settled counts first: a zero means nothing was
    /// outstanding at one instant (see `counters`).
    pub(crate) fn outstanding(&self) -> u64 {
        let settled: u64 = self.events.iter().map(|e| e.counters.settled()).sum();
        let emitted: u64 = self.events.iter().map(|e| e.counters.emitted()).sum();
        emitted.saturating_sub(settled)
    }

    pub(crate) fn decl(&self, index: u32) -> &'static EventDecl {
        self.events[index as usize].decl
    }

    /// Every registered event, sorted by name.
    pub fn events(&self) -> impl Iterator<Item = EventInfo<'_>> + '_ {
        self.events.iter().map(move |entry| EventInfo {
            registry: self,
            entry,
        })
    }

    /// The event registered under `name`.
    pub fn event(&self, name: &str) -> Option<EventInfo<'_>> {
        let index = *self.by_name.get(name)?;
        Some(EventInfo {
            registry: self,
            entry: &self.events[index as usize],
        })
    }

    /// Every registered handler, in dispatch order.
    pub fn handlers(&self) -> impl Iterator<Item = HandlerInfo> + '_ {
        self.handlers
            .iter()
            .map(|entry| HandlerInfo { decl: entry.decl })
    }

    /// What is wrong with the registry as linked: today, event names
    /// declared more than once. Check it at startup to fail early.
    pub fn problems(&self) -> Vec<Error> {
        let mut seen = std::collections::HashSet::new();
        self.events
            .iter()
            .filter(|e| e.duplicates.is_some() && seen.insert(e.decl.name))
            .map(|e| Error::DuplicateEvent {
                name: e.decl.name,
                locations: e.duplicates.clone().unwrap_or_default(),
            })
            .collect()
    }
}

/// One registered event, from [`Registry::events`].
#[derive(Clone, Copy)]
pub struct EventInfo<'a> {
    registry: &'a Registry,
    entry: &'a EventEntry,
}

impl<'a> EventInfo<'a> {
    /// The registered name.
    pub fn name(&self) -> &'static str {
        self.entry.decl.name
    }

    /// The Rust type's path.
    pub fn type_name(&self) -> &'static str {
        (self.entry.decl.type_name)()
    }

    /// Where the `#[event]` impl is, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.entry.decl.file, self.entry.decl.line)
    }

    /// The handlers that run for this event, in dispatch order (its
    /// methods, then free functions, then matching wildcards).
    pub fn handlers(&self) -> impl Iterator<Item = HandlerInfo> + 'a {
        let registry = self.registry;
        self.entry.handlers.iter().map(move |&h| HandlerInfo {
            decl: registry.handlers[h as usize].decl,
        })
    }
}

/// One registered handler.
#[derive(Clone, Copy)]
pub struct HandlerInfo {
    decl: &'static HandlerDecl,
}

impl HandlerInfo {
    /// The handler's path, such as `shoestore::ProductViewed::save_to_db`.
    pub fn name(&self) -> &'static str {
        self.decl.name
    }

    /// Method, function or wildcard.
    pub fn kind(&self) -> HandlerKind {
        self.decl.kind
    }

    /// Where the handler is, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.decl.file, self.decl.line)
    }

    /// The pattern of a wildcard handler.
    pub fn pattern(&self) -> Option<&'static str> {
        match self.decl.target {
            Target::Pattern(pattern) => Some(pattern),
            Target::Event(_) => None,
        }
    }

    /// The handler's group (`"default"` unless `#[handler(group = "...")]`).
    pub fn group(&self) -> &'static str {
        self.decl.group()
    }

    /// Whether it is an `async fn`.
    pub fn is_async(&self) -> bool {
        self.decl.is_async()
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "eventlib: {} event(s), {} handler(s)",
            self.events.len(),
            self.handlers.len()
        )?;
        for event in self.events() {
            writeln!(
                f,
                "  {}  ({}, {})",
                event.name(),
                event.type_name(),
                event.location()
            )?;
            for handler in event.handlers() {
                writeln!(
                    f,
                    "    - {} [{}{}, group {}] {}",
                    handler.name(),
                    handler.kind(),
                    if handler.is_async() { ", async" } else { "" },
                    handler.group(),
                    handler.location()
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
