//! Unit tests of the domain: what `apply` changes, which watch keys it reports, and the
//! indexes queries return.

use super::*;
use crate::catalog::state::WatchKey as K;

fn req(cmd: Command) -> Request {
    Request {
        now_ms: 1_000_000,
        cmd,
    }
}

fn with_node() -> State {
    let mut s = State::default();
    let node = NodeRecord {
        node: "N1".into(),
        address: "10.0.0.1".into(),
        ..Default::default()
    };
    s.apply(
        1,
        &req(Command::RegisterNode {
            node,
            skip_node_update: false,
        }),
    )
    .0
    .unwrap();
    s
}

fn svc(id: &str, name: &str) -> ServiceRecord {
    ServiceRecord {
        id: id.into(),
        name: name.into(),
        port: 80,
        ..Default::default()
    }
}

#[test]
fn service_writes_touch_only_their_service() {
    let mut s = with_node();
    let cmd = Command::RegisterService {
        node: "n1".into(),
        service: svc("web1", "Web"),
        checks: vec![],
        replace_existing_checks: false,
    };
    let (r, touched) = s.apply(2, &req(cmd.clone()));
    r.unwrap();
    assert!(touched.contains(&K::Service("web".into())));
    assert!(!touched.iter().any(|k| matches!(k, K::KvPrefix(_))));
    assert!(!touched.contains(&K::Service("db".into())));
    // Re-registering the same thing changes nothing and wakes nobody.
    let (_, touched) = s.apply(3, &req(cmd));
    assert!(touched.is_empty(), "{touched:?}");
    assert_eq!(s.service_idx("web"), 2);
    assert_eq!(
        s.q_catalog_service("WEB", &[], &[]).value.len(),
        1,
        "names match case-insensitively"
    );
}

#[test]
fn node_check_changes_wake_services_on_the_node() {
    let mut s = with_node();
    s.apply(
        2,
        &req(Command::RegisterService {
            node: "n1".into(),
            service: svc("web1", "web"),
            checks: vec![],
            replace_existing_checks: false,
        }),
    )
    .0
    .unwrap();
    let check = CheckRecord {
        node: "n1".into(),
        check_id: "serfHealth".into(),
        status: HealthStatus::Passing,
        ..Default::default()
    };
    let (_, touched) = s.apply(3, &req(Command::RegisterCheck { check }));
    assert!(touched.contains(&K::Service("web".into())));
    assert_eq!(s.service_idx("web"), 3);
    let (_, touched) = s.apply(
        4,
        &req(Command::UpdateCheck {
            node: "n1".into(),
            check_id: "serfHealth".into(),
            status: HealthStatus::Critical,
            output: "down".into(),
        }),
    );
    assert!(touched.contains(&K::Service("web".into())));
    assert_eq!(
        s.q_health_service("web", &[], true, &[]).value.len(),
        0,
        "critical node check hides the service from ?passing"
    );
}

#[test]
fn kv_writes_wake_every_prefix_and_tombstones_keep_the_index() {
    let mut s = State::default();
    let e = KvRecord {
        key: "a/b".into(),
        value: b"1".to_vec(),
        ..Default::default()
    };
    let (_, touched) = s.apply(
        5,
        &req(Command::KvSet {
            entry: e,
            op: KvOp::Set,
        }),
    );
    for p in ["", "a", "a/", "a/b"] {
        assert!(
            touched.contains(&K::KvPrefix(p.into())),
            "prefix {p:?} not woken"
        );
    }
    assert!(!touched.contains(&K::KvPrefix("b".into())));
    s.apply(
        6,
        &req(Command::KvDelete {
            key: "a/b".into(),
            recurse: false,
            cas: None,
        }),
    )
    .0
    .unwrap();
    assert_eq!(
        s.kv_prefix_index("a/"),
        6,
        "the deletion's tombstone carries the prefix index"
    );
    s.apply(7, &req(Command::ReapTombstones { upto_index: 6 }))
        .0
        .unwrap();
    assert!(s.tombstones.is_empty());
}

#[test]
fn lock_delay_blocks_reacquire_until_it_passes() {
    let mut s = with_node();
    let session = SessionRecord {
        id: "s1".into(),
        node: "n1".into(),
        lock_delay: 15_000_000_000,
        behavior: "release".into(),
        ..Default::default()
    };
    s.apply(
        2,
        &req(Command::SessionCreate {
            session: session.clone(),
        }),
    )
    .0
    .unwrap();
    let e = KvRecord {
        key: "lock".into(),
        ..Default::default()
    };
    assert_eq!(
        s.apply(
            3,
            &req(Command::KvSet {
                entry: e.clone(),
                op: KvOp::Acquire("s1".into())
            })
        )
        .0,
        Ok(Reply::Bool(true))
    );
    s.apply(
        4,
        &Request {
            now_ms: 2_000_000,
            cmd: Command::SessionDestroy { id: "s1".into() },
        },
    )
    .0
    .unwrap();
    let mut s2 = session.clone();
    s2.id = "s2".into();
    s.apply(5, &req(Command::SessionCreate { session: s2 }))
        .0
        .unwrap();
    let at = |ms| Request {
        now_ms: ms,
        cmd: Command::KvSet {
            entry: e.clone(),
            op: KvOp::Acquire("s2".into()),
        },
    };
    assert_eq!(
        s.apply(6, &at(2_010_000)).0,
        Ok(Reply::Bool(false)),
        "within lock-delay"
    );
    assert_eq!(
        s.apply(7, &at(2_016_000)).0,
        Ok(Reply::Bool(true)),
        "after lock-delay"
    );
    assert_eq!(s.kv["lock"].lock_index, 2);
}

#[test]
fn batch_applies_each_command_with_its_own_reply() {
    let mut s = State::default();
    let set = |k: &str| Command::KvSet {
        entry: KvRecord {
            key: k.into(),
            ..Default::default()
        },
        op: KvOp::Cas(0),
    };
    let (r, _) = s.apply(
        9,
        &req(Command::Batch(vec![
            set("x"),
            set("x"),
            Command::DeregisterService {
                node: "n".into(),
                service_id: "z".into(),
            },
        ])),
    );
    let Ok(Reply::Batch(replies)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(replies[0], Ok(Reply::Bool(true)));
    assert_eq!(
        replies[1],
        Ok(Reply::Bool(false)),
        "second create-only CAS sees the first"
    );
    assert!(replies[2].is_err());
}

#[test]
fn restore_moves_indexes_forward() {
    let mut s = State::default();
    let e = KvRecord {
        key: "k".into(),
        ..Default::default()
    };
    s.apply(
        3,
        &req(Command::KvSet {
            entry: e,
            op: KvOp::Set,
        }),
    )
    .0
    .unwrap();
    let old = s.clone();
    s.apply(
        10,
        &req(Command::KvSet {
            entry: KvRecord {
                key: "k2".into(),
                ..Default::default()
            },
            op: KvOp::Set,
        }),
    )
    .0
    .unwrap();
    let (_, touched) = s.apply(
        20,
        &req(Command::Restore {
            state: Box::new(old),
        }),
    );
    assert!(touched.contains(&K::All));
    assert!(!s.kv.contains_key("k2"));
    assert_eq!(s.q_kv_get("k").index, 20);
    assert_eq!(s.q_kv_list("").index, 20);
}

#[test]
fn a_refused_registration_writes_nothing() {
    let mut s = with_node();
    let before = s.clone();
    let node = |name: &str| NodeRecord {
        node: name.into(),
        address: "10.0.0.2".into(),
        ..Default::default()
    };
    let service = ServiceRecord {
        id: "web1".into(),
        name: "web".into(),
        ..Default::default()
    };
    let check = |node: &str, service_id: &str| CheckRecord {
        node: node.into(),
        check_id: "c".into(),
        name: "c".into(),
        status: HealthStatus::Passing,
        service_id: service_id.into(),
        ..Default::default()
    };
    let refused = [
        // A check of a service that exists nowhere.
        Registration {
            node: node("N2"),
            skip_node_update: false,
            service: Some(service.clone()),
            checks: vec![check("N2", "web1"), check("N2", "db1")],
        },
        // A check on a node that does not exist.
        Registration {
            node: node("N2"),
            skip_node_update: false,
            service: Some(service.clone()),
            checks: vec![check("N9", "")],
        },
        // A service on a node that is not registered and not updated.
        Registration {
            node: node("N3"),
            skip_node_update: true,
            service: Some(service.clone()),
            checks: vec![],
        },
    ];
    for (i, reg) in refused.into_iter().enumerate() {
        let (r, touched) = s.apply(10 + i as u64, &req(Command::Register(reg)));
        assert!(r.is_err(), "registration {i} was accepted");
        assert!(touched.is_empty(), "registration {i} touched {touched:?}");
        let mut expect = before.clone();
        expect.last_index = s.last_index;
        assert_eq!(s, expect, "registration {i} changed the state");
    }
    // The same registration made whole is applied whole.
    let ok = Registration {
        node: node("N2"),
        skip_node_update: false,
        service: Some(service),
        checks: vec![check("N2", "web1"), check("N1", "")],
    };
    s.apply(20, &req(Command::Register(ok))).0.unwrap();
    assert!(s.nodes.contains_key("n2"));
    assert!(s.services["n2"].contains_key("web1"));
    assert_eq!(s.checks["n2"]["c"].service_name, "web");
    assert!(s.checks["n1"].contains_key("c"));
}
