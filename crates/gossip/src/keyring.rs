//! Consul's gossip encryption (`encrypt` / `consul keygen`): AES-GCM keys of 16, 24 or 32 bytes
//! written in base64, and a keyring whose primary key seals every packet while every installed
//! key is tried to open one.
//!
//! A sealed packet is laid out as memberlist's encryption version 1 (no padding):
//! `[version = 1][12-byte random nonce][ciphertext + 16-byte tag]`, with no associated data
//! (memberlist's empty gossip label). Sealing adds [`OVERHEAD`] bytes.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::KeyError;

/// memberlist's encryption version 1: AES-GCM without padding.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed packet has beyond its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

type Aes192Gcm = AesGcm<Aes192, U12>;

/// A new random 32-byte key in base64, as `consul keygen` prints it.
pub fn keygen() -> String {
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    STANDARD.encode(key)
}

/// One gossip encryption key (AES-128, -192 or -256 by its length).
#[derive(Clone)]
pub struct SecretKey {
    bytes: Vec<u8>,
    cipher: Cipher,
}

#[derive(Clone)]
enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes192(Box<Aes192Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl SecretKey {
    /// A key from its base64 text, as given to Consul's `encrypt` setting.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| KeyError::Base64)?;
        Self::from_bytes(&bytes)
    }

    /// A key from its raw 16, 24 or 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::Length(bytes.len());
        let cipher = match bytes.len() {
            16 => Cipher::Aes128(Box::new(Aes128Gcm::new_from_slice(bytes).map_err(invalid)?)),
            24 => Cipher::Aes192(Box::new(Aes192Gcm::new_from_slice(bytes).map_err(invalid)?)),
            32 => Cipher::Aes256(Box::new(Aes256Gcm::new_from_slice(bytes).map_err(invalid)?)),
            other => return Err(KeyError::Length(other)),
        };
        Ok(Self {
            bytes: bytes.to_vec(),
            cipher,
        })
    }

    /// The key in base64, as `consul keyring -list` shows it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    fn seal(&self, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Option<Vec<u8>> {
        let nonce = (*nonce).into();
        match &self.cipher {
            Cipher::Aes128(c) => c.encrypt(&nonce, plaintext).ok(),
            Cipher::Aes192(c) => c.encrypt(&nonce, plaintext).ok(),
            Cipher::Aes256(c) => c.encrypt(&nonce, plaintext).ok(),
        }
    }

    fn open(&self, nonce: &[u8; NONCE_LEN], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let nonce = (*nonce).into();
        match &self.cipher {
            Cipher::Aes128(c) => c.decrypt(&nonce, ciphertext).ok(),
            Cipher::Aes192(c) => c.decrypt(&nonce, ciphertext).ok(),
            Cipher::Aes256(c) => c.decrypt(&nonce, ciphertext).ok(),
        }
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SecretKey {}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The keys a pool knows: the primary seals, all of them open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    /// Index 0 is the primary key.
    keys: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring holding one key, which is the primary.
    pub fn new(primary: SecretKey) -> Self {
        Self {
            keys: vec![primary],
        }
    }

    /// A keyring from base64 keys, the first one primary (Consul's `encrypt` plus a keyring
    /// file's other keys).
    pub fn from_base64<'a>(
        primary: &str,
        others: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, KeyError> {
        let mut ring = Self::new(SecretKey::from_base64(primary)?);
        for key in others {
            ring.install(SecretKey::from_base64(key)?);
        }
        Ok(ring)
    }

    /// The key that seals outgoing packets.
    pub fn primary(&self) -> &SecretKey {
        &self.keys[0]
    }

    /// Every installed key, the primary first.
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    /// Adds a key that opens packets (`consul keyring -install`); installing a known key does
    /// nothing.
    pub fn install(&mut self, key: SecretKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// Makes an installed key the primary (`consul keyring -use`).
    pub fn use_key(&mut self, key: &SecretKey) -> Result<(), KeyError> {
        let at = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or(KeyError::NotInstalled)?;
        self.keys.swap(0, at);
        Ok(())
    }

    /// Removes a key that is not the primary (`consul keyring -remove`).
    pub fn remove(&mut self, key: &SecretKey) -> Result<(), KeyError> {
        if self.primary() == key {
            return Err(KeyError::RemovePrimary);
        }
        let before = self.keys.len();
        self.keys.retain(|k| k != key);
        if self.keys.len() == before {
            return Err(KeyError::NotInstalled);
        }
        Ok(())
    }

    /// Seals a packet with the primary key and a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut packet = Vec::with_capacity(plaintext.len() + OVERHEAD);
        packet.push(VERSION);
        packet.extend_from_slice(&nonce);
        // AES-GCM only fails on inputs past 64 GiB; a UDP packet never is one.
        if let Some(sealed) = self.primary().seal(&nonce, plaintext) {
            packet.extend_from_slice(&sealed);
        }
        packet
    }

    /// Opens a sealed packet with whichever installed key sealed it; `None` when no key does
    /// (or the packet is not in the version-1 layout).
    pub fn open(&self, packet: &[u8]) -> Option<Vec<u8>> {
        if packet.len() < OVERHEAD || packet[0] != VERSION {
            return None;
        }
        let nonce: &[u8; NONCE_LEN] = packet[1..=NONCE_LEN].try_into().ok()?;
        let ciphertext = &packet[1 + NONCE_LEN..];
        self.keys.iter().find_map(|key| key.open(nonce, ciphertext))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_makes_32_byte_base64_keys() {
        let text = keygen();
        let key = SecretKey::from_base64(&text).expect("keygen output parses");
        assert_eq!(key.to_base64(), text);
        assert_eq!(STANDARD.decode(&text).expect("base64").len(), 32);
        assert_ne!(keygen(), text);
    }

    #[test]
    fn key_lengths() {
        for len in [16, 24, 32] {
            let key = SecretKey::from_bytes(&vec![7; len]).expect("valid length");
            let ring = Keyring::new(key);
            let packet = ring.seal(b"hello");
            assert_eq!(packet.len(), 5 + OVERHEAD);
            assert_eq!(packet[0], 1);
            assert_eq!(ring.open(&packet).as_deref(), Some(&b"hello"[..]));
        }
        assert_eq!(
            SecretKey::from_bytes(&[0; 20]).err(),
            Some(KeyError::Length(20))
        );
        assert_eq!(
            SecretKey::from_base64("not base64!").err(),
            Some(KeyError::Base64)
        );
    }

    #[test]
    fn nonces_differ_and_tampering_fails() {
        let ring = Keyring::new(SecretKey::from_base64(&keygen()).expect("key"));
        let a = ring.seal(b"same");
        let b = ring.seal(b"same");
        assert_ne!(a, b);
        let mut bad = a.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(ring.open(&bad), None);
        assert_eq!(ring.open(b"plaintext packet that is long enough"), None);
    }

    #[test]
    fn keyring_rotation() {
        let old = SecretKey::from_base64(&keygen()).expect("key");
        let new = SecretKey::from_base64(&keygen()).expect("key");
        let mut sender = Keyring::new(old.clone());
        let receiver = Keyring::new(old.clone());
        // install the new key everywhere, then use it: old receivers can't read, new ones can
        sender.install(new.clone());
        let mut receiver_with_both = receiver.clone();
        receiver_with_both.install(new.clone());
        sender.use_key(&new).expect("installed");
        let packet = sender.seal(b"rotated");
        assert_eq!(receiver.open(&packet), None);
        assert_eq!(
            receiver_with_both.open(&packet).as_deref(),
            Some(&b"rotated"[..])
        );
        assert_eq!(sender.remove(&new), Err(KeyError::RemovePrimary));
        sender.remove(&old).expect("not primary");
        assert_eq!(sender.remove(&old), Err(KeyError::NotInstalled));
        assert_eq!(sender.keys().len(), 1);
    }
}
