//! Writes `src/generated/wire.ts` from the constants of `wire.rs` (run by the test that checks
//! the committed copy).

use super::*;

/// Where the generated file goes, from this crate's directory.
pub(super) const GENERATED_PATH: &str = "../../src/generated/wire.ts";

/// `src/generated/wire.ts`: the constants above as TypeScript, so the facade's decoding is
/// compiled with them (inlined by the bundler, no property read per call). Run by the test that
/// checks the committed copy.
pub(super) fn typescript() -> String {
    let list = |names: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<_> = names.map(|n| format!("'{n}'")).collect();
        format!("[{}] as const", quoted.join(", "))
    };
    let outcomes: String = OUTCOMES
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("\n  {name} = {i},"))
        .collect();
    let wire: String = [
        ("Permits are below this; an acquire that moved the breaker adds `TransitionUnit * transition code`.", "TransitionUnit", TRANSITION_UNIT.to_string()),
        ("A transition code is `1 + from + StateRadix * to + ReasonUnit * reason`.", "StateRadix", STATE_RADIX.to_string()),
        ("See `StateRadix`.", "ReasonUnit", REASON_UNIT.to_string()),
        ("A refusal is `-(1 + state + StateRadix * transition + RefusalRetryUnit * (retryAfterMs + 1))`.", "RefusalRetryUnit", REFUSAL_RETRY_UNIT.to_string()),
        ("The state in the state word's low half.", "WordStateMask", format!("0b{WORD_STATE_MASK:b}")),
        ("The permit bits (state and generation) of the state word's low half; a closed word's permit is `TransitionUnit +` them.", "WordPermitBits", format!("0x{WORD_PERMIT_BITS:x}")),
    ]
    .iter()
    .map(|(doc, name, value)| format!("\n  /** {doc} */\n  {name} = {value},"))
    .collect();
    // (doc, declaration): each becomes `/** doc */` and `export declaration`.
    let items = [
        (
            "The state names, by state number.",
            format!(
                "const STATE_NAMES = {}",
                list(&mut State::ALL.iter().map(|s| s.as_str()))
            ),
        ),
        (
            "The reason names, by the reason part of a transition code.",
            format!(
                "const REASON_NAMES = {}",
                list(&mut Reason::ALL.iter().map(|r| r.as_str()))
            ),
        ),
        (
            "The numbers of the packing, as a const enum so the bundler writes them into the decoding as literals.",
            format!("const enum Wire {{{wire}\n}}"),
        ),
        (
            "How a call ended, as `record` takes it; any other number counts as ignored.",
            format!("const enum Outcome {{{outcomes}\n}}"),
        ),
        (
            "The named fields of a metrics record, in order; the transition counts `[from * 5 + to]` follow.",
            format!("const METRIC_FIELDS = {}", list(&mut METRIC_FIELDS.iter().copied())),
        ),
        (
            "Numbers in one breaker's metrics record.",
            format!("const RECORD_LEN = {RECORD_LEN}"),
        ),
        (
            "What the binding's `wireFingerprint()` must answer: it packs these numbers this way.",
            format!("const WIRE_FINGERPRINT = '{}'", fingerprint()),
        ),
    ];
    let mut ts = String::from(
        "// Generated from crates/breakwater-node/src/wire.rs by `cargo test -p breakwater-node`. DO NOT EDIT.\n\
         // Regenerate: BREAKWATER_WRITE_WIRE=1 cargo test -p breakwater-node generated_wire\n",
    );
    for (doc, declaration) in items {
        ts.push_str(&format!("\n/** {doc} */\nexport {declaration}\n"));
    }
    ts
}
