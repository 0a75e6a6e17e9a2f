//! Join, failure detection, graceful leave, restarts and tags.

use std::collections::BTreeMap;
use std::time::Duration;

use gossip::{MemberEventKind, MemberStatus, Pool};

use crate::common::{
    fast_config, start, start_at, start_pool, state_of, wait_all_see, wait_for_status, wait_until,
};

const DETECTION_CAP: Duration = Duration::from_secs(30);

#[tokio::test]
async fn five_members_join_through_one_seed() {
    let pools = start_pool(5, fast_config()).await;
    // every member knows every other's tags and node ID, and its own entry is itself
    for pool in &pools {
        let members = pool.members().await.expect("runs");
        let names: Vec<&str> = members.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["node-0", "node-1", "node-2", "node-3", "node-4"]);
        for m in &members {
            assert_eq!(m.member().tag("role"), Some("node"));
            assert_eq!(m.member().tag("id"), Some(m.name()));
            assert_eq!(m.member().tag("dc"), Some("dc1"));
            assert!(uuid::Uuid::parse_str(m.member().id()).is_ok());
        }
        let me = pool.local_member();
        let listed = members
            .iter()
            .find(|m| m.name() == me.name())
            .expect("lists itself");
        assert_eq!(listed.member(), &me);
        assert_eq!(me.addr(), pool.local_addr());
    }
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn killed_member_is_marked_failed() {
    let pools = start_pool(5, fast_config()).await;
    let mut events = pools[0].member_events();
    pools[4].shutdown().await; // no leave: the socket just closes
    let others: Vec<&Pool> = pools[..4].iter().collect();
    wait_all_see(&others, "node-4", MemberStatus::Failed, DETECTION_CAP).await;
    for pool in &others {
        let alive = pool
            .members()
            .await
            .expect("runs")
            .iter()
            .filter(|m| m.status() == MemberStatus::Alive)
            .count();
        assert_eq!(alive, 4);
    }
    let event = events.recv().await.expect("an event");
    assert_eq!(event.kind(), MemberEventKind::Failed);
    assert_eq!(event.member().name(), "node-4");
    for pool in &others {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn graceful_leave_shows_left() {
    let pools = start_pool(4, fast_config()).await;
    let mut events = pools[0].member_events();
    pools[3].leave().await.expect("leaves");
    let others: Vec<&Pool> = pools[..3].iter().collect();
    wait_all_see(&others, "node-3", MemberStatus::Left, DETECTION_CAP).await;
    // it was never taken for failed
    let event = events.recv().await.expect("an event");
    assert_eq!(event.kind(), MemberEventKind::Left);
    assert_eq!(event.member().name(), "node-3");
    // the one that left sees itself left and refuses to gossip further
    assert_eq!(
        state_of(&pools[3], "node-3").await.map(|m| m.status()),
        Some(MemberStatus::Left)
    );
    assert!(matches!(
        pools[3].fire_event("x", b"".to_vec()).await,
        Err(gossip::Error::Left)
    ));
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn restarted_member_rejoins_as_alive() {
    let config = fast_config();
    let pools = start_pool(3, config.clone()).await;
    let addr = pools[2].local_addr();
    let first_life = state_of(&pools[0], "node-2")
        .await
        .expect("listed")
        .incarnation();
    pools[2].shutdown().await;
    let others: Vec<&Pool> = pools[..2].iter().collect();
    wait_all_see(&others, "node-2", MemberStatus::Failed, DETECTION_CAP).await;

    // same name, same address, new tags: a new life replaces the failed one
    let restarted = Pool::start(
        config.clone(),
        addr,
        crate::common::member("node-2", addr).with_tag("build", "2.0"),
    )
    .await
    .expect("restarts on the same port");
    restarted
        .join(&[pools[0].local_addr()])
        .await
        .expect("rejoins");
    wait_all_see(
        &others,
        "node-2",
        MemberStatus::Alive,
        Duration::from_secs(20),
    )
    .await;
    for pool in &others {
        wait_until(Duration::from_secs(10), "new tags seen", || async {
            state_of(pool, "node-2")
                .await
                .is_some_and(|m| m.member().tag("build") == Some("2.0"))
        })
        .await;
        let state = state_of(pool, "node-2").await.expect("listed");
        assert!(state.incarnation() > first_life);
        assert_eq!(pool.members().await.expect("runs").len(), 3);
    }
    wait_for_status(&restarted, 3, MemberStatus::Alive).await;
    restarted.shutdown().await;
    for pool in &others {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn alone_member_reconnects_to_a_failed_one_that_came_back() {
    let config = fast_config();
    let pools = start_pool(2, config.clone()).await;
    let addr = pools[1].local_addr();
    pools[1].shutdown().await;
    wait_all_see(&[&pools[0]], "node-1", MemberStatus::Failed, DETECTION_CAP).await;
    // back on the same address, joining nobody: the survivor, alone, reaches out (Serf's
    // reconnect), as it would after a partition healed
    let back = start_at("node-1", config, addr).await;
    wait_all_see(
        &[&pools[0], &back],
        "node-1",
        MemberStatus::Alive,
        Duration::from_secs(20),
    )
    .await;
    wait_all_see(
        &[&back],
        "node-0",
        MemberStatus::Alive,
        Duration::from_secs(20),
    )
    .await;
    back.shutdown().await;
    pools[0].shutdown().await;
}

#[tokio::test]
async fn member_restarted_elsewhere_before_detection_replaces_its_old_life() {
    let config = fast_config();
    let pools = start_pool(3, config.clone()).await;
    let old_addr = pools[2].local_addr();
    pools[2].shutdown().await;
    // straight back, on another port, before anyone noticed it was gone
    let restarted = start("node-2", config).await;
    assert_ne!(restarted.local_addr(), old_addr);
    restarted
        .join(&[pools[0].local_addr()])
        .await
        .expect("rejoins");
    let others: Vec<&Pool> = pools[..2].iter().collect();
    wait_until(
        Duration::from_secs(20),
        "node-2 alive at its new address",
        || async {
            for pool in &others {
                let Some(state) = state_of(pool, "node-2").await else {
                    return false;
                };
                if state.status() != MemberStatus::Alive
                    || state.member().addr() != restarted.local_addr()
                {
                    return false;
                }
            }
            true
        },
    )
    .await;
    // the old life's failure, detected later, does not show
    let old_life_down = config_detection_window();
    tokio::time::sleep(old_life_down).await;
    for pool in &others {
        let state = state_of(pool, "node-2").await.expect("listed");
        assert_eq!(state.status(), MemberStatus::Alive);
        assert_eq!(pool.members().await.expect("runs").len(), 3);
    }
    restarted.shutdown().await;
    for pool in &others {
        pool.shutdown().await;
    }
}

/// Long enough for the old life to be suspected and declared down with `fast_config`.
fn config_detection_window() -> Duration {
    let c = fast_config();
    c.probe_interval * 4 + c.suspicion_timeout(3) + c.gossip_interval * 10
}

#[tokio::test]
async fn tag_changes_propagate() {
    let pools = start_pool(3, fast_config()).await;
    let mut events = pools[1].member_events();
    let tags = BTreeMap::from([
        ("role".to_owned(), "consul".to_owned()),
        ("dc".to_owned(), "dc1".to_owned()),
        ("port".to_owned(), "8300".to_owned()),
    ]);
    pools[0].set_tags(tags.clone()).await.expect("tags set");
    assert_eq!(pools[0].local_member().tags(), &tags);
    for pool in &pools[1..] {
        wait_until(Duration::from_secs(10), "new tags seen", || async {
            state_of(pool, "node-0")
                .await
                .is_some_and(|m| m.member().tags() == &tags)
        })
        .await;
    }
    let event = events.recv().await.expect("an event");
    assert_eq!(event.kind(), MemberEventKind::Updated);
    assert_eq!(event.member().member().tag("role"), Some("consul"));

    let too_big = BTreeMap::from([("build".to_owned(), "x".repeat(600))]);
    assert!(matches!(
        pools[0].set_tags(too_big).await,
        Err(gossip::Error::TagsTooLarge { .. })
    ));
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn round_trips_are_measured() {
    let pools = start_pool(2, fast_config()).await;
    let mut samples = pools[0].rtt_samples();
    let sample = tokio::time::timeout(Duration::from_secs(10), samples.recv())
        .await
        .expect("a probe within 10 s")
        .expect("a sample");
    assert_eq!(sample.member(), "node-1");
    assert!(sample.rtt() < Duration::from_secs(1));
    let state = state_of(&pools[0], "node-1").await.expect("listed");
    assert!(state.rtt().is_some());
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn join_fails_when_nobody_answers() {
    let pool = start("lonely", fast_config()).await;
    // a bound socket that never answers
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
    let err = pool
        .join(&[silent.local_addr().expect("addr")])
        .await
        .expect_err("nobody answers");
    assert!(matches!(err, gossip::Error::JoinFailed { attempted: 1 }));
    pool.shutdown().await;
    assert!(matches!(pool.members().await, Err(gossip::Error::Shutdown)));
}

#[tokio::test]
async fn force_leave_turns_failed_into_left() {
    let pools = start_pool(3, fast_config()).await;
    pools[2].shutdown().await;
    let others: Vec<&Pool> = pools[..2].iter().collect();
    wait_all_see(&others, "node-2", MemberStatus::Failed, DETECTION_CAP).await;
    pools[0].force_leave("node-2").await.expect("known member");
    wait_all_see(
        &others,
        "node-2",
        MemberStatus::Left,
        Duration::from_secs(10),
    )
    .await;
    assert!(matches!(
        pools[0].force_leave("nobody").await,
        Err(gossip::Error::UnknownMember(_))
    ));
    for pool in &others {
        pool.shutdown().await;
    }
}

/// Measures how long 5 members with Serf's LAN defaults take to mark a killed one failed
/// (`cargo test -p gossip --test it -- --ignored --nocapture detection_time`).
#[tokio::test]
#[ignore = "takes ~10 s; prints a measurement"]
async fn detection_time_with_lan_defaults() {
    let config = gossip::Config::default();
    let pools = start_pool(5, config).await;
    let started = tokio::time::Instant::now();
    pools[4].shutdown().await;
    let mut seen = Vec::new();
    for pool in &pools[..4] {
        wait_until(DETECTION_CAP, "node-4 failed", || async {
            state_of(pool, "node-4").await.map(|m| m.status()) == Some(MemberStatus::Failed)
        })
        .await;
        seen.push(started.elapsed());
    }
    println!("killed member seen failed by each of 4 members after {seen:?}");
    for pool in &pools[..4] {
        pool.shutdown().await;
    }
}
