//! Encrypted pools: the same key forms a pool, another key is shut out, keys rotate.

use std::time::Duration;

use gossip::{keygen, Keyring, MemberStatus, SecretKey};

use crate::common::{fast_config, start, start_pool, wait_for_status, wait_until};

fn key(text: &str) -> SecretKey {
    SecretKey::from_base64(text).expect("keygen output is a key")
}

#[tokio::test]
async fn same_key_forms_a_pool_other_key_is_shut_out() {
    let shared = keygen();
    let config = fast_config().with_keyring(Keyring::new(key(&shared)));
    let pools = start_pool(3, config).await;

    let stranger_config = fast_config().with_keyring(Keyring::new(key(&keygen())));
    let stranger = start("stranger", stranger_config).await;
    let err = stranger
        .join(&[pools[0].local_addr()])
        .await
        .expect_err("a different key cannot join");
    assert!(matches!(err, gossip::Error::JoinFailed { attempted: 1 }));
    assert!(pools[0].stats().undecryptable > 0);
    for pool in &pools {
        assert_eq!(pool.members().await.expect("runs").len(), 3);
    }
    assert_eq!(stranger.members().await.expect("runs").len(), 1);

    // a plaintext member is shut out too: its packets do not open
    let before = pools[0].stats().undecryptable;
    let plain = start("plain", fast_config()).await;
    assert!(plain.join(&[pools[0].local_addr()]).await.is_err());
    assert!(pools[0].stats().undecryptable > before);
    // and an encrypted packet reaching a plaintext member is not taken for one of its own
    let encrypted = start(
        "encrypted",
        fast_config().with_keyring(Keyring::new(key(&shared))),
    )
    .await;
    assert!(encrypted.join(&[plain.local_addr()]).await.is_err());
    assert!(plain.stats().malformed > 0);
    assert_eq!(plain.members().await.expect("runs").len(), 1);

    for pool in pools.iter().chain([&stranger, &plain, &encrypted]) {
        pool.shutdown().await;
    }
}

#[tokio::test]
async fn keys_rotate_without_splitting_the_pool() {
    let old = keygen();
    let new = keygen();
    let pools = start_pool(3, fast_config().with_keyring(Keyring::new(key(&old)))).await;

    // install the new key everywhere, then switch to it everywhere, then drop the old one
    for pool in &pools {
        pool.install_key(key(&new)).expect("encryption on");
    }
    for pool in &pools {
        pool.use_key(&key(&new)).expect("installed");
    }
    for pool in &pools {
        pool.remove_key(&key(&old)).expect("not primary");
        assert_eq!(pool.keys().expect("encryption on"), vec![key(&new)]);
    }
    // a member knowing only the new key joins
    let newcomer = start(
        "newcomer",
        fast_config().with_keyring(Keyring::new(key(&new))),
    )
    .await;
    newcomer
        .join(&[pools[1].local_addr()])
        .await
        .expect("the new key opens the pool");
    for pool in pools.iter().chain([&newcomer]) {
        wait_for_status(pool, 4, MemberStatus::Alive).await;
    }
    // a member knowing only the old key is now shut out
    let late = start("late", fast_config().with_keyring(Keyring::new(key(&old)))).await;
    assert!(late.join(&[pools[0].local_addr()]).await.is_err());
    wait_until(Duration::from_secs(5), "no stray member", || async {
        pools[0].members().await.expect("runs").len() == 4
    })
    .await;

    let plain = start("plain", fast_config()).await;
    assert!(matches!(
        plain.install_key(key(&new)),
        Err(gossip::Error::EncryptionDisabled)
    ));
    for pool in pools.iter().chain([&newcomer, &late, &plain]) {
        pool.shutdown().await;
    }
}
