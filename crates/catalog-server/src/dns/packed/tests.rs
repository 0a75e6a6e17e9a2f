//! The wire form read back with hickory's decoder: whole and cut replies, the limits, the
//! question's case, shuffling, CNAMEs.

use super::*;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::rdata::{A, CNAME, SRV, TXT};
use hickory_proto::rr::RecordType;
use std::str::FromStr;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn srv_entries(n: usize, meta: bool) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let target = name(&format!("node-{i}.node.dc1.consul."));
            let mut additional = vec![Record::from_rdata(
                target.clone(),
                0,
                RData::A(A::new(10, 0, (i / 250) as u8, (i % 250) as u8)),
            )];
            if meta {
                additional.push(Record::from_rdata(
                    target.clone(),
                    0,
                    RData::TXT(TXT::new(vec![format!("rack=r{i}")])),
                ));
            }
            Entry {
                answer: Record::from_rdata(
                    name("web.service.consul."),
                    0,
                    RData::SRV(SRV::new(1, 1, 8000 + i as u16, target)),
                ),
                additional,
                address: false,
            }
        })
        .collect()
}

fn a_entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            answer: Record::from_rdata(
                name("web.service.consul."),
                0,
                RData::A(A::new(10, 1, 0, i as u8)),
            ),
            additional: Vec::new(),
            address: true,
        })
        .collect()
}

/// A request for `qname`/`qtype` with EDNS `edns`, and its question section's bytes.
fn request(qname: &str, qtype: RecordType, edns: Option<u16>) -> (Header, Vec<u8>) {
    let mut m = Message::new();
    m.set_id(7).set_recursion_desired(true);
    m.add_query(Query::query(name(qname), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    let bytes = m.to_vec().unwrap();
    let qlen = name(qname).len() + 1 + 4;
    (*m.header(), bytes[12..12 + qlen].to_vec())
}

fn limits(size: usize, answers: usize) -> Limits {
    Limits {
        size,
        answers,
        a_record_limit: 0,
        enable_truncate: true,
    }
}

fn reply(p: &Packed, qname: &str, qtype: RecordType, edns: Option<u16>, l: &Limits) -> Message {
    let (header, question) = request(qname, qtype, edns);
    let ask = Ask {
        header: &header,
        question: &question,
        edns,
    };
    let mut out = Vec::new();
    let cut = p.write(&ask, l, &mut Scratch::default(), &mut out);
    assert!(
        out.len() <= l.size || p.items.len() == 1,
        "{} > {}",
        out.len(),
        l.size
    );
    let m = Message::from_vec(&out).expect("hickory reads the reply");
    assert_eq!(m.id(), 7);
    assert!(m.authoritative() && m.recursion_desired());
    assert_eq!(m.truncated(), cut);
    assert_eq!(m.queries()[0].name(), &name(qname));
    assert_eq!(
        m.extensions().as_ref().map(Edns::max_payload),
        edns.map(|s| s.max(512))
    );
    // hickory's own encoding of what it read is no smaller: our compression is as good.
    assert!(m.to_vec().unwrap().len() >= out.len());
    m
}

#[test]
fn a_whole_reply_holds_every_answer_and_its_additional_records() {
    let p = Packed::new(&srv_entries(5, true)).unwrap();
    let m = reply(
        &p,
        "web.service.consul.",
        RecordType::SRV,
        Some(4096),
        &limits(4088, usize::MAX),
    );
    assert_eq!(m.answers().len(), 5);
    assert_eq!(m.additionals().len(), 10);
    let mut ports: Vec<u16> = m
        .answers()
        .iter()
        .map(|r| match r.data() {
            RData::SRV(s) => {
                // Each answer's address and meta follow it, named as its target.
                let extra: Vec<&Record> = m
                    .additionals()
                    .iter()
                    .filter(|a| a.name() == s.target())
                    .collect();
                assert_eq!(extra.len(), 2, "{extra:?}");
                s.port()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    ports.sort();
    assert_eq!(ports, [8000, 8001, 8002, 8003, 8004]);
    assert!(m
        .answers()
        .iter()
        .all(|r| r.name() == &name("web.service.consul.")));
}

#[test]
fn a_cut_reply_holds_as_many_answers_as_fit_and_their_addresses() {
    let p = Packed::new(&srv_entries(400, true)).unwrap();
    for edns in [600u16, 1232, 2000, 4096, 9000] {
        let size = usize::from(edns) - 8;
        let m = reply(
            &p,
            "web.service.consul.",
            RecordType::SRV,
            Some(edns),
            &limits(size, usize::MAX),
        );
        let n = m.answers().len();
        assert!(m.truncated() && n > 3 && n < 400, "{edns}: {n}");
        assert_eq!(
            m.additionals()
                .iter()
                .filter(|r| r.record_type() == RecordType::A)
                .count(),
            n
        );
        assert!(m
            .additionals()
            .iter()
            .all(|r| r.record_type() == RecordType::A));
        // One more would not fit: hickory encodes n + 1 answers with their addresses in
        // more than the size.
        let mut more = Message::from_vec(&m.to_vec().unwrap()).unwrap();
        let extra = srv_entries(400, false)
            .into_iter()
            .find(|e| !m.answers().contains(&e.answer))
            .unwrap();
        more.add_answer(extra.answer);
        more.add_additionals(extra.additional);
        assert!(
            more.to_vec().unwrap().len() > size,
            "{edns}: {n} is not the most that fit"
        );
    }
}

#[test]
fn without_edns_the_answer_limit_and_512_bytes_hold() {
    let p = Packed::new(&srv_entries(20, true)).unwrap();
    let m = reply(
        &p,
        "web.service.consul.",
        RecordType::SRV,
        None,
        &limits(504, 3),
    );
    assert!(m.truncated());
    assert_eq!(m.answers().len(), 3);
    assert_eq!(m.additionals().len(), 3);
    let small = Packed::new(&srv_entries(2, false)).unwrap();
    let m = reply(
        &small,
        "web.service.consul.",
        RecordType::SRV,
        None,
        &limits(504, 3),
    );
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), 2);
}

#[test]
fn the_a_record_limit_and_the_question_case() {
    let p = Packed::new(&a_entries(10)).unwrap();
    let mut l = limits(4088, usize::MAX);
    l.a_record_limit = 4;
    let m = reply(&p, "web.service.consul.", RecordType::A, Some(4096), &l);
    assert_eq!(m.answers().len(), 4);
    assert!(!m.truncated());
    // A question in capitals: the answers are still named in lower case.
    let m = reply(
        &p,
        "WEB.Service.consul.",
        RecordType::A,
        None,
        &limits(504, 3),
    );
    assert_eq!(m.answers().len(), 3);
    for r in m.answers() {
        assert_eq!(r.name().to_string(), "web.service.consul.");
    }
}

#[test]
fn shuffled_per_reply() {
    let p = Packed::new(&a_entries(20)).unwrap();
    let first = |_| {
        reply(
            &p,
            "web.service.consul.",
            RecordType::A,
            None,
            &limits(504, 3),
        )
        .answers()[0]
            .clone()
    };
    let one = first(0);
    assert!((0..50).map(first).any(|r| r != one));
}

#[test]
fn cnames_and_records_it_does_not_carry() {
    let cname = Entry {
        answer: Record::from_rdata(
            name("db.service.consul."),
            5,
            RData::CNAME(CNAME(name("db.example.test."))),
        ),
        additional: Vec::new(),
        address: false,
    };
    let p = Packed::new(std::slice::from_ref(&cname)).unwrap();
    let m = reply(
        &p,
        "db.service.consul.",
        RecordType::A,
        None,
        &limits(504, 3),
    );
    assert_eq!(m.answers(), std::slice::from_ref(&cname.answer));
    let mut other = cname;
    other.answer = Record::from_rdata(
        name("db.service.consul."),
        5,
        RData::NULL(Default::default()),
    );
    assert!(Packed::new(&[other]).is_none());
    assert!(Packed::new(&[]).is_none());
}
