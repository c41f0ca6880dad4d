//! Metrics as numbers in a `Float64Array`: one record per breaker, laid out by
//! `wire::pack_metrics`. Creating a JavaScript object field by field through napi costs
//! microseconds per breaker; a health view of 10,000 breakers is one array.

use breakwater::Metrics;
use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;

use crate::wire::{pack_metrics, METRIC_FIELDS, RECORD_LEN};

/// One breaker's record.
pub(crate) fn record(m: &Metrics) -> Float64Array {
    let mut out = Vec::with_capacity(RECORD_LEN);
    pack_metrics(m, &mut out);
    Float64Array::new(out)
}

/// The names of a metrics record's numbers, in order; the 25 transition counts (`[from * 5 + to]`
/// by state number) follow the ones named.
#[napi(catch_unwind)]
pub fn metric_fields() -> Vec<String> {
    METRIC_FIELDS.iter().map(|f| f.to_string()).collect()
}

/// The state names, indexed by state number.
#[napi(catch_unwind)]
pub fn state_names() -> Vec<String> {
    breakwater::State::ALL.iter().map(|s| s.as_str().to_string()).collect()
}

/// The reason names, indexed by the reason part of a transition code.
#[napi(catch_unwind)]
pub fn reason_names() -> Vec<String> {
    breakwater::Reason::ALL.iter().map(|r| r.as_str().to_string()).collect()
}
