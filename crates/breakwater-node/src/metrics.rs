//! Metrics as numbers in a `Float64Array`: one record per breaker, laid out by
//! `wire::pack_metrics`. Creating a JavaScript object field by field through napi costs
//! microseconds per breaker; a health view of 10,000 breakers is one array. The facade reads the
//! fields by the indices of `src/generated/wire.ts`.

use breakwater::Metrics;
use napi::bindgen_prelude::Float64Array;

use crate::wire::{pack_metrics, RECORD_LEN};

/// One breaker's record.
pub(crate) fn record(m: &Metrics) -> Float64Array {
    let mut out = Vec::with_capacity(RECORD_LEN);
    pack_metrics(m, &mut out);
    Float64Array::new(out)
}
