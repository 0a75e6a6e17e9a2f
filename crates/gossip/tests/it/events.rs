//! User events: fired once, delivered once to every member.

use std::collections::HashMap;
use std::time::Duration;

use gossip::{RecvError, UserEvent};

use crate::common::{fast_config, start_pool, wait_until};

#[tokio::test]
async fn an_event_reaches_every_member_exactly_once() {
    let config = fast_config();
    let pools = start_pool(5, config.clone()).await;
    let mut subscriptions: Vec<_> = pools.iter().map(|p| p.user_events()).collect();

    let id = pools[2]
        .fire_event("deploy", b"web v2".to_vec())
        .await
        .expect("fired");

    let mut received: Vec<Vec<UserEvent>> = vec![Vec::new(); pools.len()];
    wait_until(
        Duration::from_secs(10),
        "every member got the event",
        || {
            for (i, subscription) in subscriptions.iter_mut().enumerate() {
                while let Some(item) = subscription.try_recv() {
                    received[i].push(item.expect("no lag"));
                }
            }
            let all = received.iter().all(|r| !r.is_empty());
            async move { all }
        },
    )
    .await;

    // let every copy in flight arrive: retransmissions end after `limit` gossip rounds
    let quiet = config.gossip_interval * config.retransmit_limit(5) * 4 + config.probe_interval * 4;
    tokio::time::sleep(quiet).await;
    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        while let Some(item) = subscription.try_recv() {
            received[i].push(item.expect("no lag"));
        }
    }
    for events in &received {
        assert_eq!(events.len(), 1, "delivered exactly once: {events:?}");
        let event = &events[0];
        assert_eq!(event.id(), id);
        assert_eq!(event.origin(), "node-2");
        assert_eq!(event.name(), "deploy");
        assert_eq!(event.payload(), b"web v2");
    }
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn many_events_all_arrive() {
    let pools = start_pool(3, fast_config()).await;
    let mut subscription = pools[0].user_events();
    let mut fired = Vec::new();
    for i in 0..20 {
        let origin = &pools[1 + i % 2];
        fired.push(
            origin
                .fire_event(format!("e{i}"), vec![b'x'; 400])
                .await
                .expect("fired"),
        );
    }
    let mut seen = HashMap::new();
    wait_until(Duration::from_secs(15), "all 20 events", || {
        while let Some(item) = subscription.try_recv() {
            let event = item.expect("no lag");
            *seen.entry(event.id()).or_insert(0) += 1;
        }
        let done = fired.iter().all(|id| seen.contains_key(id));
        async move { done }
    })
    .await;
    assert!(seen.values().all(|n| *n == 1));
    for pool in &pools {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn oversized_events_are_refused() {
    let pools = start_pool(1, fast_config()).await;
    let err = pools[0]
        .fire_event("big", vec![0; 510])
        .await
        .expect_err("over 512 bytes");
    assert!(matches!(
        err,
        gossip::Error::EventTooLarge {
            size: 513,
            limit: 512
        }
    ));
    assert!(pools[0].fire_event("ok", vec![0; 510]).await.is_ok());
    pools[0].shutdown().await;
    let mut closed = pools[0].user_events();
    assert_eq!(closed.recv().await, Err(RecvError::Closed));
}
