//! Bytes per breaker: a registry of 100,000 breakers, measured with a counting allocator.
//!
//! `cargo run --release -p breakwater --example memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use breakwater::{Breaker, Config, Outcome, Registry};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` was allocated by `System.alloc` with this layout, in `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const N: usize = 100_000;

fn main() {
    println!("size_of::<Breaker>() = {} bytes", std::mem::size_of::<Breaker>());
    let names: Vec<String> = (0..N).map(|i| format!("service-{i:06}")).collect();
    let before = LIVE.load(Relaxed);
    let registry = Registry::new();
    for name in &names {
        registry.get_or_create(name, Config::default()).unwrap();
    }
    let created = LIVE.load(Relaxed) - before;
    println!("{N} breakers in a registry, never called: {} bytes each", created / N);
    for name in &names {
        let b = registry.get(name).unwrap();
        let permit = b.try_acquire().unwrap();
        b.record(permit, Outcome::Success, Duration::from_millis(1));
    }
    let used = LIVE.load(Relaxed) - before;
    println!(
        "after one call each from one thread (one stripe, 100-call window): {} bytes each",
        used / N
    );
}
