//! A service's answers held in wire form, for the answer cache ([`super::cache`]): each
//! answer's record and the ADDITIONAL records that go with it, their names as a tree of labels
//! shared by suffix. A reply is written from it in one pass: shuffle, `a_record_limit`, as
//! many answers as the UDP size allows (each answer's bytes are known as it is written, so the
//! cut needs no second encode), names compressed against the question and the names before
//! them, as hickory's encoder compresses them. The records themselves are built by
//! [`super::answer`] with hickory's types; this module only lays their bytes out, and its
//! tests read every reply back with hickory's decoder.

use super::answer::Entry;
use hickory_proto::op::{Edns, Header, ResponseCode};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// No name (the end of a name, or a record without a name in its data).
const NONE: u32 = u32::MAX;
/// The offsets a compression pointer reaches.
const POINTABLE: usize = 0x3FFF;
/// DNS class IN.
const CLASS_IN: u16 = 1;
/// A header's size.
const HEADER: usize = 12;

/// Names as a tree of labels: a name is the id of its first label; each label knows the rest.
#[derive(Default)]
struct Names {
    /// A label with its length byte in front, and the id of the rest of the name.
    labels: Vec<(Box<[u8]>, u32)>,
    index: HashMap<(u32, Box<[u8]>), u32>,
}

impl Names {
    fn intern(&mut self, name: &Name) -> u32 {
        let labels: Vec<&[u8]> = name.iter().collect();
        let mut id = NONE;
        for label in labels.iter().rev() {
            let mut bytes = Vec::with_capacity(label.len() + 1);
            bytes.push(label.len() as u8);
            bytes.extend_from_slice(label);
            let bytes = bytes.into_boxed_slice();
            id = match self.index.get(&(id, bytes.clone())) {
                Some(known) => *known,
                None => {
                    let new = self.labels.len() as u32;
                    self.labels.push((bytes.clone(), id));
                    self.index.insert((id, bytes), new);
                    new
                }
            };
        }
        id
    }

    /// Writes name `id`: a pointer to where its longest suffix was written before, else its
    /// labels, each recorded in `offsets` for the names after it.
    fn write(&self, out: &mut Vec<u8>, offsets: &mut [u16], mut id: u32) {
        while id != NONE {
            let at = offsets[id as usize];
            if at != 0 {
                out.extend_from_slice(&(0xC000 | at).to_be_bytes());
                return;
            }
            if out.len() < POINTABLE {
                offsets[id as usize] = out.len() as u16;
            }
            let (label, rest) = &self.labels[id as usize];
            out.extend_from_slice(label);
            id = *rest;
        }
        out.push(0);
    }

    /// What [`Names::write`] would add for name `id` now.
    fn cost(&self, offsets: &[u16], mut id: u32) -> usize {
        let mut n = 0;
        while id != NONE {
            if offsets[id as usize] != 0 {
                return n + 2;
            }
            let (label, rest) = &self.labels[id as usize];
            n += label.len();
            id = *rest;
        }
        n + 1
    }
}

/// One record: its owner, type, TTL and data (`head`, then the name `name` when the data ends
/// with one, as SRV and CNAME do).
struct Rec {
    owner: u32,
    rtype: u16,
    ttl: u32,
    head: Box<[u8]>,
    name: u32,
}

impl Rec {
    fn of(names: &mut Names, r: &Record) -> Option<Rec> {
        let (head, name): (Vec<u8>, u32) = match r.data() {
            RData::A(a) => (a.0.octets().to_vec(), NONE),
            RData::AAAA(a) => (a.0.octets().to_vec(), NONE),
            RData::SRV(srv) => {
                let mut head = Vec::with_capacity(6);
                for v in [srv.priority(), srv.weight(), srv.port()] {
                    head.extend_from_slice(&v.to_be_bytes());
                }
                (head, names.intern(srv.target()))
            }
            RData::CNAME(c) => (Vec::new(), names.intern(&c.0)),
            RData::TXT(_) => {
                let mut head = Vec::new();
                r.data().emit(&mut BinEncoder::new(&mut head)).ok()?;
                (head, NONE)
            }
            _ => return None,
        };
        Some(Rec {
            owner: names.intern(r.name()),
            rtype: u16::from(r.record_type()),
            ttl: r.ttl(),
            head: head.into_boxed_slice(),
            name,
        })
    }

    fn write(&self, names: &Names, out: &mut Vec<u8>, offsets: &mut [u16]) {
        names.write(out, offsets, self.owner);
        out.extend_from_slice(&self.rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.head);
        if self.name != NONE {
            names.write(out, offsets, self.name);
        }
        let len = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }

    fn cost(&self, names: &Names, offsets: &[u16]) -> usize {
        let name = if self.name == NONE {
            0
        } else {
            names.cost(offsets, self.name)
        };
        names.cost(offsets, self.owner) + 10 + self.head.len() + name
    }
}

/// One answer with its ADDITIONAL records.
struct Item {
    answer: Rec,
    additional: Vec<Rec>,
    /// An A or AAAA answer (counts toward `a_record_limit`).
    address: bool,
    /// For an SRV answer whose target has an address: which of the distinct targets it is,
    /// and that address (`additional[0]`). A cut reply keeps one address per target.
    target: Option<u32>,
}

/// A service's answers in wire form.
pub struct Packed {
    names: Names,
    /// The owner of the answers (the question's name, lower-case).
    owner: u32,
    items: Vec<Item>,
    targets: usize,
}

/// The request a reply answers.
pub struct Ask<'a> {
    pub header: &'a Header,
    /// The question section as the client sent it (one question).
    pub question: &'a [u8],
    /// The client's EDNS buffer size.
    pub edns: Option<u16>,
}

/// What bounds a UDP reply.
pub struct Limits {
    /// The most bytes of the reply, less [`super::trim`]'s slack.
    pub size: usize,
    /// The most answers (without EDNS: `udp_answer_limit`), `usize::MAX` for no limit.
    pub answers: usize,
    pub a_record_limit: usize,
    pub enable_truncate: bool,
}

/// Buffers reused from one reply to the next.
#[derive(Default)]
pub struct Scratch {
    order: Vec<u32>,
    offsets: Vec<u16>,
    ends: Vec<usize>,
    seen: Vec<bool>,
}

impl Packed {
    /// `entries` in wire form; `None` when one holds a record this form does not carry, or
    /// when they are not all answers to one name.
    pub fn new(entries: &[Entry]) -> Option<Packed> {
        let mut names = Names::default();
        let owner = names.intern(entries.first()?.answer.name());
        let mut slots = HashMap::new();
        let mut items = Vec::with_capacity(entries.len());
        for e in entries {
            let answer = Rec::of(&mut names, &e.answer)?;
            if answer.owner != owner {
                return None;
            }
            let additional = e
                .additional
                .iter()
                .map(|r| Rec::of(&mut names, r))
                .collect::<Option<Vec<Rec>>>()?;
            let srv = matches!(e.answer.data(), RData::SRV(_));
            let target = match additional.first() {
                Some(a)
                    if srv
                        && a.owner == answer.name
                        && matches!(e.additional[0].data(), RData::A(_) | RData::AAAA(_)) =>
                {
                    let next = slots.len() as u32;
                    Some(*slots.entry(answer.name).or_insert(next))
                }
                _ => None,
            };
            items.push(Item {
                answer,
                additional,
                address: e.address,
                target,
            });
        }
        Some(Packed {
            names,
            owner,
            items,
            targets: slots.len(),
        })
    }

    /// Writes the reply to `ask` into `out`: the answers shuffled, at most `a_record_limit`
    /// addresses, then cut as [`super::trim::udp`] cuts (the answer limit without EDNS, then
    /// as many answers as fit `limits.size` with one address per SRV target, AUTHORITY
    /// empty); TC when something was cut and `enable_truncate` says so. Whether it was cut.
    pub fn write(&self, ask: &Ask, limits: &Limits, s: &mut Scratch, out: &mut Vec<u8>) -> bool {
        out.clear();
        s.order.clear();
        s.order.extend(0..self.items.len() as u32);
        s.order.shuffle(&mut rand::thread_rng());
        if limits.a_record_limit > 0 {
            // As the uncached reply: stop once an address answer reaches the limit.
            let mut n = 0;
            for (k, i) in s.order.iter().enumerate() {
                n = k + 1;
                if self.items[*i as usize].address && n >= limits.a_record_limit {
                    break;
                }
            }
            s.order.truncate(n);
        }
        let before = s.order.len();
        let mut cut = before > limits.answers;
        if cut {
            s.order.truncate(limits.answers);
        }
        let opt = ask.edns.map(|size| {
            let mut e = Edns::new();
            e.set_max_payload(size.max(512));
            let mut bytes = Vec::with_capacity(11);
            // An OPT record has no name to compress: encoding it cannot fail.
            let _ = Record::from(&e).emit(&mut BinEncoder::new(&mut bytes));
            bytes
        });
        let opt_len = opt.as_ref().map_or(0, Vec::len);

        out.resize(HEADER, 0);
        out.extend_from_slice(ask.question);
        s.offsets.clear();
        s.offsets.resize(self.names.labels.len(), 0);
        self.seed(ask.question, &mut s.offsets);
        s.ends.clear();
        let mut over = false;
        for i in &s.order {
            self.items[*i as usize]
                .answer
                .write(&self.names, out, &mut s.offsets);
            s.ends.push(out.len());
            if out.len() + opt_len > limits.size {
                over = true;
                break;
            }
        }
        let mut additional = 0;
        let whole = !cut && !over && {
            let extra: usize = s
                .order
                .iter()
                .flat_map(|i| &self.items[*i as usize].additional)
                .map(|r| r.cost(&self.names, &s.offsets))
                .sum();
            out.len() + extra + opt_len <= limits.size
        };
        if whole || before <= 1 {
            // Everything fits (or there is one answer, always kept whole).
            for i in &s.order {
                for r in &self.items[*i as usize].additional {
                    r.write(&self.names, out, &mut s.offsets);
                    additional += 1;
                }
            }
        } else {
            // The most answers that fit with one address per SRV target; at least one.
            s.seen.clear();
            s.seen.resize(self.targets, false);
            let mut extra = 0;
            let mut n = s.ends.len().min(1);
            for (k, i) in s.order.iter().take(s.ends.len()).enumerate() {
                let item = &self.items[*i as usize];
                if let Some(t) = item.target {
                    if !s.seen[t as usize] {
                        s.seen[t as usize] = true;
                        extra += item.additional[0].cost(&self.names, &s.offsets);
                    }
                }
                if s.ends[k] + extra + opt_len > limits.size {
                    break;
                }
                n = k + 1;
            }
            out.truncate(
                n.checked_sub(1)
                    .map_or(HEADER + ask.question.len(), |k| s.ends[k]),
            );
            let end = out.len();
            for o in s.offsets.iter_mut() {
                if usize::from(*o) >= end {
                    *o = 0;
                }
            }
            s.order.truncate(n);
            cut = cut || n < before;
            s.seen.iter_mut().for_each(|v| *v = false);
            for i in &s.order {
                let item = &self.items[*i as usize];
                if let Some(t) = item.target {
                    if !std::mem::replace(&mut s.seen[t as usize], true) {
                        item.additional[0].write(&self.names, out, &mut s.offsets);
                        additional += 1;
                    }
                }
            }
        }
        if let Some(opt) = &opt {
            out.extend_from_slice(opt);
            additional += 1;
        }
        let mut h = Header::response_from_request(ask.header);
        h.set_authoritative(true)
            .set_truncated(cut && limits.enable_truncate)
            .set_response_code(ResponseCode::NoError)
            .set_query_count(1)
            .set_answer_count(s.order.len() as u16)
            .set_name_server_count(0)
            .set_additional_count(additional);
        let mut head = Vec::with_capacity(HEADER);
        // A header is twelve fixed bytes: encoding it cannot fail.
        let _ = h.emit(&mut BinEncoder::new(&mut head));
        out[..HEADER].copy_from_slice(&head);
        cut
    }

    /// Points the owner's suffixes that the question spells the same way at the question.
    fn seed(&self, question: &[u8], offsets: &mut [u16]) {
        let mut at = 0;
        let mut asked = Vec::new();
        while let Some(&len) = question.get(at) {
            if len == 0 || len & 0xC0 != 0 {
                break;
            }
            asked.push(at);
            at += usize::from(len) + 1;
        }
        let mut owner = Vec::new();
        let mut id = self.owner;
        while id != NONE {
            owner.push(id);
            id = self.names.labels[id as usize].1;
        }
        if owner.len() != asked.len() {
            return;
        }
        for (k, id) in owner.iter().enumerate().rev() {
            let label = &self.names.labels[*id as usize].0;
            if question.get(asked[k]..asked[k] + label.len()) != Some(&label[..]) {
                break;
            }
            offsets[*id as usize] = (HEADER + asked[k]) as u16;
        }
    }
}

#[cfg(test)]
mod tests;
