//! The registry: one breaker per name, bounded names, removal, the health snapshot.

use std::sync::Arc;

use breakwater::{Config, FakeClock, Outcome, Registry, State, Window, MAX_NAME_BYTES};

#[test]
fn the_global_registry_is_one_per_process() {
    let a = Registry::global()
        .get_or_create("global-test", Config::default())
        .unwrap();
    let b = std::thread::spawn(|| Registry::global().get("global-test").unwrap())
        .join()
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn an_existing_breaker_keeps_its_config_but_a_bad_config_is_refused_even_for_it() {
    let r = Registry::new();
    let a = r.get_or_create("db", Config::default()).unwrap();
    let other = Config {
        consecutive_failures: Some(2),
        ..Config::default()
    };
    let b = r.get_or_create("db", other).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(b.config(), &Config::default(), "the first config stays");
    let bad = Config {
        window: Window::Count(0),
        ..Config::default()
    };
    assert_eq!(r.get_or_create("db", bad.clone()).unwrap_err().field, "window.count");
    assert_eq!(r.get_or_create("other", bad).unwrap_err().field, "window.count");
}

#[test]
fn names_are_bounded_and_the_error_says_so() {
    let r = Registry::new();
    let long = "x".repeat(MAX_NAME_BYTES + 1);
    let err = r.get_or_create(&long, Config::default()).unwrap_err();
    assert_eq!(err.field, "name");
    assert!(
        err.to_string().starts_with("name must be 1..=256 bytes long, but was"),
        "{err}"
    );
    assert!(err.to_string().contains("(257 bytes)"));
    assert_eq!(r.get_or_create("", Config::default()).unwrap_err().field, "name");
    assert!(r.get_or_create(&"y".repeat(MAX_NAME_BYTES), Config::default()).is_ok());
}

#[test]
fn removing_a_breaker_leaves_holders_working_and_a_new_one_takes_the_name() {
    let r = Registry::new();
    let old = r.get_or_create("api", Config::default()).unwrap();
    old.force_open(None);
    assert!(r.remove("api").is_some());
    assert!(r.remove("api").is_none());
    assert!(old.try_acquire().is_err(), "the old breaker still works");
    assert_eq!(
        r.get_or_create("api", Config::default()).unwrap().state(),
        State::Closed
    );
}

#[test]
fn the_snapshot_lists_every_breaker_by_name_with_its_metrics() {
    let clock = FakeClock::new();
    let r = Registry::with_clock(Arc::new(clock));
    for name in ["orders", "market-data", "db"] {
        r.get_or_create(name, Config::default()).unwrap();
    }
    let orders = r.get("orders").unwrap();
    let permit = orders.try_acquire().unwrap();
    orders.record(permit, Outcome::Failure, std::time::Duration::from_millis(3));
    assert_eq!(r.names(), ["db", "market-data", "orders"]);
    let snapshot = r.snapshot();
    assert_eq!(snapshot.len(), 3);
    assert_eq!(snapshot[2].0, "orders");
    assert_eq!(snapshot[2].1.failures, 1);
    assert_eq!(snapshot[0].1.calls, 0);
}
