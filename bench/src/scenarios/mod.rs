//! The scenarios of issue 4; each runs in a sub-process of its own and
//! reports through [`Report`](crate::harness::Report).

pub(crate) mod by_name;
pub(crate) mod caller;
pub(crate) mod inline;
pub(crate) mod memory;
pub(crate) mod throughput;
