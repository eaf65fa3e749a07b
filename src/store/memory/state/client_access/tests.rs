use super::*;

const AT: u64 = 1_000;

fn access(n: usize, expires_at: u64) -> ClientAccess {
    ClientAccess {
        jti: format!("j{n}"),
        scope: String::new(),
        issued_at: AT,
        expires_at,
    }
}

/// The running total is what a sum over the logs says.
fn check_total(logs: &ClientAccessLogs) {
    let sum: usize = logs.iter().map(|(_, log)| log.entries.len()).sum();
    assert_eq!(logs.total(), sum);
}

fn log<'a>(logs: &'a ClientAccessLogs, client: &str) -> &'a ClientAccessLog {
    logs.iter()
        .find(|(id, _)| id.as_str() == client)
        .map(|(_, log)| log)
        .unwrap()
}

#[test]
fn a_client_keeps_its_latest_thousand() {
    let mut logs = ClientAccessLogs::default();
    for n in 0..CLIENT_ACCESS_PER_CLIENT + 5 {
        logs.record("busy".into(), access(n, AT + 100 + n as u64), AT);
    }
    check_total(&logs);
    let busy = log(&logs, "busy");
    assert_eq!(busy.entries.len(), CLIENT_ACCESS_PER_CLIENT);
    assert_eq!(busy.entries.front().unwrap().jti, "j5");
    // The five that gave way are counted: the latest of them expires at AT + 104.
    assert_eq!(busy.unlisted_until, AT + 104);
}

#[test]
fn all_clients_together_keep_at_most_the_total() {
    let mut logs = ClientAccessLogs::default();
    let clients = CLIENT_ACCESS_TOTAL / CLIENT_ACCESS_PER_CLIENT;
    for c in 0..clients {
        for n in 0..CLIENT_ACCESS_PER_CLIENT {
            logs.record(format!("c{c}"), access(n, AT + 500), AT);
        }
    }
    assert_eq!(logs.total(), CLIENT_ACCESS_TOTAL);
    check_total(&logs);

    // A new client past the total is not recorded, only counted.
    logs.record("late".into(), access(0, AT + 700), AT);
    assert_eq!(logs.total(), CLIENT_ACCESS_TOTAL);
    let late = log(&logs, "late");
    assert!(late.entries.is_empty());
    assert_eq!(late.unlisted_until, AT + 700);

    // A full client still records: its oldest gives way to the new token.
    logs.record("c0".into(), access(9_999, AT + 600), AT);
    assert_eq!(logs.total(), CLIENT_ACCESS_TOTAL);
    assert_eq!(log(&logs, "c0").entries.back().unwrap().jti, "j9999");
    check_total(&logs);

    // Room made by a revocation is room for the next client.
    logs.remove("c1");
    assert_eq!(logs.total(), CLIENT_ACCESS_TOTAL - CLIENT_ACCESS_PER_CLIENT);
    logs.record("late".into(), access(1, AT + 700), AT);
    assert_eq!(log(&logs, "late").entries.len(), 1);
    check_total(&logs);
}

#[test]
fn expiry_gives_its_place_back() {
    let mut logs = ClientAccessLogs::default();
    for n in 0..10 {
        logs.record("a".into(), access(n, AT + 10 + n as u64), AT);
        logs.record("b".into(), access(n, AT + 100), AT);
    }
    // Recording prunes the client's own expired entries first.
    logs.record("a".into(), access(10, AT + 200), AT + 15);
    assert_eq!(log(&logs, "a").entries.len(), 5);
    check_total(&logs);

    logs.prune(AT + 19);
    assert_eq!(logs.total(), 1 + 10);
    check_total(&logs);

    // Out of issue order (a shorter lifetime after a reload): only the full sweep finds it.
    logs.record("b".into(), access(11, AT + 50), AT + 20);
    logs.prune(AT + 60);
    assert_eq!(log(&logs, "b").entries.len(), 11);
    logs.sweep(AT + 60);
    assert_eq!(log(&logs, "b").entries.len(), 10);
    check_total(&logs);

    // A log that says nothing more goes.
    logs.sweep(AT + 300);
    assert_eq!(logs.total(), 0);
    assert_eq!(logs.iter().count(), 0);
}

#[test]
fn the_snapshot_is_the_map_and_the_total_comes_back() {
    let mut logs = ClientAccessLogs::default();
    for n in 0..3 {
        logs.record("a".into(), access(n, AT + 100), AT);
    }
    logs.record("b".into(), access(9, AT + 100), AT);
    let json = serde_json::to_value(&logs).unwrap();
    assert_eq!(json["a"]["entries"].as_array().unwrap().len(), 3);
    let back: ClientAccessLogs = serde_json::from_value(json).unwrap();
    assert_eq!(back.total(), 4);
    check_total(&back);
}
