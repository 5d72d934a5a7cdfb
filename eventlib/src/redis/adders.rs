//! `adders!`: the increment methods of a set of relaxed counters, shared
//! by the producer's and the workers' counters.

/// `fn $method(&self, n)` adds `n` to `$field`, for each pair.
macro_rules! adders {
    ($counters:ident: $($method:ident => $field:ident),* $(,)?) => {
        impl $counters {
            $(
                pub(crate) fn $method(&self, n: u64) {
                    self.$field.fetch_add(n, ::std::sync::atomic::Ordering::Relaxed);
                }
            )*

            /// The count of connections opened again, for
            /// [`Link::run`](crate::redis::conn::Link::run).
            pub(crate) fn reconnects(&self) -> &::std::sync::atomic::AtomicU64 {
                &self.reconnects
            }
        }
    };
}

pub(crate) use adders;
