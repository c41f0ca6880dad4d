//! Node.js binding of breakwater: glue only. The TypeScript facade in `src/` is the public API;
//! these classes are its native half. The hot path is two sync calls that return plain numbers,
//! packed by `wire` (unpacked by `src/wire.ts`, with constants generated from `wire`).
#![deny(unsafe_op_in_unsafe_fn)]

mod bound;
mod breaker;
mod bulkhead;
mod clock;
mod configure;
mod errors;
mod events;
mod handle;
mod isolation;
mod metrics;
mod options;
mod registry;
mod remote;
mod snapshot;
mod state_view;
mod thread_permits;
mod wire;

pub use breaker::{thread_functions, NativeBreaker, NewBreaker};
pub use bulkhead::{NativeBulkhead, NativeBulkheadStats};
pub use clock::NativeFakeClock;
pub use events::{NativeSubscription, NativeTransition};
pub use isolation::NativeIsolation;
pub use options::{breaker_options, BreakerOption, NativeLatencyOptions, NativeOptions, OptionShape};
pub use registry::{NativeHealth, NativeRegistry};
pub use wire::wire_fingerprint;
