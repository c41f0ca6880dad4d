//! Bytes per breaker: a registry of 100,000 breakers, measured with a counting allocator.
//!
//! `cargo run --release -p breakwater --example memory`
//!
//! Prints the bytes asked for, the allocations, and what glibc's malloc takes for them (each
//! chunk is the size plus an 8-byte header, rounded up to 16, at least 32 bytes), with the
//! allocations by size: the parts of a breaker.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use breakwater::{Breaker, Config, Outcome, Registry};

struct Counting;

/// Bytes asked for, allocations, and glibc chunk bytes, live now.
static LIVE: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
/// Live allocations by size, up to 1 KiB (larger ones are tables: counted in the totals only).
static BY_SIZE: [AtomicUsize; 1025] = [const { AtomicUsize::new(0) }; 1025];

fn chunk(size: usize) -> usize {
    ((size + 8 + 15) & !15).max(32)
}

fn count(size: usize, sign: isize) {
    for (total, by) in LIVE.iter().zip([size, 1, chunk(size)]) {
        total.fetch_add((by as isize * sign) as usize, Relaxed);
    }
    if size <= 1024 {
        BY_SIZE[size].fetch_add(sign as usize, Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 1);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), -1);
        // SAFETY: `ptr` was allocated by `System.alloc` with this layout, in `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const N: usize = 100_000;

fn snapshot() -> ([usize; 3], Vec<usize>) {
    (
        LIVE.each_ref().map(|n| n.load(Relaxed)),
        BY_SIZE.iter().map(|n| n.load(Relaxed)).collect(),
    )
}

fn report(what: &str, before: &([usize; 3], Vec<usize>)) {
    let (now, sizes) = snapshot();
    let [bytes, allocations, chunks] = [0, 1, 2].map(|i| (now[i] - before.0[i]) as f64 / N as f64);
    println!("{what}: {bytes:.0} bytes in {allocations:.2} allocations, {chunks:.0} bytes of malloc chunks");
    let parts: Vec<String> = sizes
        .iter()
        .zip(&before.1)
        .enumerate()
        .filter(|(_, (now, was))| now.abs_diff(**was) >= N / 100)
        .map(|(size, (now, was))| format!("{size} B x {:.2}", (*now as f64 - *was as f64) / N as f64))
        .collect();
    println!("  by size: {}", parts.join(", "));
}

fn main() {
    println!("size_of::<Breaker>() = {} bytes", std::mem::size_of::<Breaker>());
    let names: Vec<String> = (0..N).map(|i| format!("service-{i:06}")).collect();
    let before = snapshot();
    let registry = Registry::new();
    for name in &names {
        registry.get_or_create(name, Config::default()).unwrap();
    }
    report(
        &format!("{N} breakers in a registry, never called, per breaker"),
        &before,
    );
    for name in &names {
        let b = registry.get(name).unwrap();
        let permit = b.try_acquire().unwrap();
        b.record(permit, Outcome::Success, Duration::from_millis(1));
    }
    report(
        "after one call each from one thread (one stripe, 100-call window)",
        &before,
    );
}
