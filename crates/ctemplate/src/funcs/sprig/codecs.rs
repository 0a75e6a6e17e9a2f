//! sprig's encodings and checksums (`strings.go`, `crypto.go`): base64 and base32 (Go's error
//! text as the result when decoding fails, as sprig returns it), SHA-1, SHA-256, SHA-512 and
//! Adler-32 in hex or decimal.

use base64::Engine;
use sha2::Digest;

use super::super::{string, Func};
use super::want;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_b64enc", |_, a| {
        unary(a, |s| base64::engine::general_purpose::STANDARD.encode(s))
    }),
    ("sprig_b64dec", |_, a| {
        unary(a, |s| {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => go_base64_error(s, &e),
            }
        })
    }),
    ("sprig_b32enc", |_, a| {
        unary(a, |s| base32_encode(s.as_bytes()))
    }),
    ("sprig_b32dec", |_, a| {
        unary(a, |s| match base32_decode(s) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(at) => format!("illegal base32 data at input byte {at}"),
        })
    }),
    ("sprig_sha1sum", |_, a| {
        unary(a, |s| hex(&sha1(s.as_bytes())))
    }),
    ("sprig_sha256sum", |_, a| {
        unary(a, |s| hex(&sha2::Sha256::digest(s)))
    }),
    ("sprig_sha512sum", |_, a| {
        unary(a, |s| hex(&sha2::Sha512::digest(s)))
    }),
    ("sprig_adler32sum", |_, a| {
        unary(a, |s| adler32(s.as_bytes()).to_string())
    }),
];

fn unary(args: Vec<Value>, f: impl Fn(&str) -> String) -> Result<Value, FuncError> {
    want(&args, 1)?;
    Ok(Value::str(f(&string(&args[0])?)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's error text for bad base64 (sprig returns it as the result).
fn go_base64_error(s: &str, e: &base64::DecodeError) -> String {
    let at = match e {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            *at
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
            s.len() - s.len() % 4
        }
    };
    format!("illegal base64 data at input byte {at}")
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with padding (`base32.StdEncoding`).
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                let idx = ((bits >> (35 - i * 5)) & 31) as usize;
                out.push(char::from(B32[idx]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base32.StdEncoding.DecodeString`; the error is the offset of the first bad byte.
fn base32_decode(s: &str) -> Result<Vec<u8>, usize> {
    let b = s.as_bytes();
    if b.len() % 8 != 0 {
        return Err(b.len() - b.len() % 8);
    }
    let mut out = Vec::new();
    for (ci, chunk) in b.chunks(8).enumerate() {
        let mut bits: u64 = 0;
        let mut n = 0;
        let mut pad = false;
        for (i, c) in chunk.iter().enumerate() {
            if *c == b'=' {
                pad = true;
                continue;
            }
            if pad {
                return Err(ci * 8 + i);
            }
            let v = B32.iter().position(|x| x == c).ok_or(ci * 8 + i)?;
            bits = (bits << 5) | v as u64;
            n += 1;
        }
        let bytes = match n {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 => 0,
            _ => return Err(ci * 8 + n),
        };
        bits <<= 5 * (8 - n);
        let full = bits.to_be_bytes();
        out.extend_from_slice(&full[3..3 + bytes]);
        if pad && ci * 8 + 8 != b.len() {
            return Err(ci * 8 + 8);
        }
    }
    Ok(out)
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// SHA-1 (FIPS 180-4), for `sha1sum`.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (wi, c) in w.iter_mut().zip(block.chunks(4)) {
            *wi = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}
