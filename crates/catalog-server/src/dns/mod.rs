//! The DNS interface (`ports.dns`, 8600): Consul's names answered from the agent's catalog
//! over UDP and TCP, on hickory-proto's records and messages. The only module naming hickory.
//! [`udp`] serves the UDP sockets with a few workers each, answering service questions from
//! their [`cache`] (answers kept in wire form, [`packed`], checked against the catalog's
//! indexes at every question); hickory-server serves TCP. Both answer everything else with
//! [`Handler::respond`]: [`names`] reads what a name asks, [`answer`] builds the records from
//! the catalog at the moment of the query, [`trim`] cuts a reply to its transport. What
//! hickory cannot read is answered FORMERR (when its header can be read).
//!
//! Names outside the domain go to the `recursors` ([`recurse`]), and are answered REFUSED
//! without any, as Consul does; a message that is not a single standard query gets REFUSED or
//! NOTIMP.

mod answer;
mod cache;
mod names;
mod packed;
mod recurse;
mod remote;
mod reverse;
mod trim;
mod udp;

use self::names::Asked;
use crate::agent::Agent;
use crate::listeners::DnsSocket;
use hickory_proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::xfer::Protocol;
use hickory_server::authority::{MessageResponse, MessageResponseBuilder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::ServerFuture;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// How long a TCP client may stay idle between queries.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// The running DNS server; [`DnsServer::stop`] closes its sockets.
pub struct DnsServer {
    tcp: ServerFuture<Handler>,
    udp: udp::Workers,
}

impl DnsServer {
    /// Serves `sockets` for `agent` (inside the runtime): each UDP socket with one worker per
    /// core, TCP with hickory-server.
    pub fn start(agent: Arc<Agent>, sockets: Vec<DnsSocket>) -> std::io::Result<DnsServer> {
        let mut tcp = ServerFuture::new(Handler {
            agent: agent.clone(),
        });
        let mut udp = Vec::new();
        for s in sockets {
            udp.push(s.udp);
            tcp.register_listener_std(s.tcp, TCP_TIMEOUT)?;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let udp = udp::Workers::start(Arc::new(Handler { agent }), udp, cores)?;
        Ok(DnsServer { tcp, udp })
    }

    /// Stops accepting queries and waits for the sockets' tasks to end.
    pub async fn stop(mut self) {
        self.udp.stop().await;
        if let Err(e) = self.tcp.shutdown_gracefully().await {
            tracing::warn!(target: "agent.dns", "stopping the DNS server: {e}");
        }
    }
}

/// A reply as [`Handler::respond`] makes it, before it is encoded for its transport.
struct Out {
    header: Header,
    /// The EDNS record answered to a client that sent one.
    edns: Option<Edns>,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
}

impl Out {
    fn empty(header: Header, edns: Option<Edns>) -> Out {
        Out {
            header,
            edns,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    /// The response to `request` for hickory to encode.
    fn response<'q>(
        &'q self,
        request: &'q Request,
    ) -> MessageResponse<
        'q,
        'q,
        std::slice::Iter<'q, Record>,
        std::slice::Iter<'q, Record>,
        std::iter::Empty<&'q Record>,
        std::slice::Iter<'q, Record>,
    > {
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &self.edns {
            builder.edns(e.clone());
        }
        builder.build(
            self.header,
            self.answers.iter(),
            self.authority.iter(),
            std::iter::empty(),
            self.additional.iter(),
        )
    }
}

/// Answers each request from the agent's catalog.
struct Handler {
    agent: Arc<Agent>,
}

impl RequestHandler for Handler {
    fn handle_request<'l0, 'l1, 'at, R>(
        &'l0 self,
        request: &'l1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'at>>
    where
        R: 'at + ResponseHandler,
        Self: 'at,
        'l0: 'at,
        'l1: 'at,
    {
        let mut handle = response_handle;
        Box::pin(async move {
            let out = self.respond(request).await;
            match handle.send_response(out.response(request)).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::debug!(target: "agent.dns", "sending a reply: {e}");
                    out.header.into()
                }
            }
        })
    }
}

impl Handler {
    /// The reply to `request`.
    async fn respond(&self, request: &Request) -> Out {
        let cfg = &self.agent.config().dns;
        let mut header = Header::response_from_request(request.header());
        let edns = request.edns().map(Edns::max_payload);
        let answered = edns.map(|size| {
            let mut e = Edns::new();
            e.set_max_payload(size.max(512));
            e
        });
        let queries = request.queries();
        let refused = request.message_type() != MessageType::Query || queries.len() != 1;
        if refused || request.op_code() != OpCode::Query {
            header.set_response_code(if refused {
                ResponseCode::Refused
            } else {
                ResponseCode::NotImp
            });
            return Out::empty(header, answered);
        }
        let query = &queries[0];
        let qname = query.name().to_string().to_lowercase();
        let parsed = names::parse(
            &qname,
            &cfg.domain,
            cfg.alt_domain.as_deref(),
            self.agent.datacenter(),
        );
        let dc = self.agent.datacenter();
        if let Some(ip) = reverse::parse(&qname) {
            let Some(catalog) = self.catalog(remote::Needs::AllNodes).await else {
                header.set_response_code(ResponseCode::ServFail);
                return Out::empty(header, answered);
            };
            let src = self.source(catalog.as_ref(), cfg, dc, None);
            let reply = reverse::answer(&src, &qname, query.query_type(), ip, &cfg.domain);
            header.set_authoritative(true);
            header.set_response_code(reply.rcode);
            return Out {
                header,
                edns: answered,
                answers: reply.answers,
                authority: reply.authority,
                additional: reply.additional,
            };
        }
        let names::Parsed::Inside { domain, asked } = parsed else {
            if cfg.recursors.is_empty() {
                header.set_response_code(ResponseCode::Refused);
                return Out::empty(header, answered);
            }
            let r = recurse::ask(
                &cfg.recursors,
                cfg.recursor_random,
                cfg.recursor_timeout,
                query.original(),
                request.protocol(),
            )
            .await;
            header.set_recursion_available(true);
            header.set_response_code(r.rcode);
            let Some(mut m) = r.message else {
                return Out::empty(header, answered);
            };
            header.set_authoritative(m.authoritative());
            header.set_truncated(m.truncated());
            return Out {
                header,
                edns: answered,
                answers: m.take_answers(),
                authority: m.take_name_servers(),
                additional: m.take_additionals(),
            };
        };
        let q = answer::Query {
            qname: &qname,
            qtype: query.query_type(),
            domain: &domain,
            asked: &asked,
        };
        let soa_or_ns = matches!(
            query.query_type(),
            hickory_proto::rr::RecordType::SOA | hickory_proto::rr::RecordType::NS
        );
        let Some(catalog) = self.catalog(remote::Needs::of(&asked, soa_or_ns)).await else {
            header.set_response_code(ResponseCode::ServFail);
            return Out::empty(header, answered);
        };
        // A client runs a prepared query on a server.
        let ran = match &asked {
            Asked::Query { query } if !self.agent.is_server() => {
                match remote::fetch_query(&self.agent, query).await {
                    Ok(ran) => ran,
                    Err(()) => {
                        header.set_response_code(ResponseCode::ServFail);
                        return Out::empty(header, answered);
                    }
                }
            }
            _ => None,
        };
        let src = self.source(catalog.as_ref(), cfg, dc, ran.as_ref());
        let mut reply = answer::answer(&src, &q);
        let cut = match request.protocol() {
            Protocol::Udp => trim::udp(&mut reply, query.original(), edns, cfg.udp_answer_limit),
            _ => trim::tcp(&mut reply, query.original(), edns),
        };
        header.set_authoritative(true);
        header.set_truncated(cut && cfg.enable_truncate);
        header.set_response_code(reply.rcode);
        Out {
            header,
            edns: answered,
            answers: reply.answers,
            authority: reply.authority,
            additional: reply.additional,
        }
    }
}

/// The catalog an answer comes from: the agent's own on a server, a catalog filled from a
/// server for this question on a client (`None` when no server answered).
enum Held<'a> {
    Own(&'a crate::blocking::Catalog),
    Fetched(Box<crate::blocking::Catalog>),
}

impl Held<'_> {
    fn as_ref(&self) -> &crate::blocking::Catalog {
        match self {
            Held::Own(c) => c,
            Held::Fetched(c) => c,
        }
    }
}

impl Handler {
    async fn catalog(&self, needs: remote::Needs<'_>) -> Option<Held<'_>> {
        if self.agent.is_server() {
            return Some(Held::Own(self.agent.catalog()));
        }
        remote::fetch(&self.agent, needs)
            .await
            .map(|c| Held::Fetched(Box::new(c)))
    }

    fn source<'a>(
        &'a self,
        catalog: &'a crate::blocking::Catalog,
        cfg: &'a crate::config::DnsConfig,
        dc: &'a str,
        ran: Option<&'a answer::Ran>,
    ) -> answer::Source<'a> {
        let authz = if self.agent.is_server() {
            // The DNS token, else the default token (Consul's `coalesceDNSToken`), else
            // anonymous (`""`).
            let token = self.agent.tokens().dns_token().unwrap_or_default();
            self.agent.authorize(&token).ok()
        } else {
            // The server applied its ACLs to what it handed over.
            Some(crate::catalog::acl::Authz::manage_all())
        };
        answer::Source {
            catalog,
            queries: self.agent.is_server().then_some(&*self.agent),
            ran,
            authz,
            cfg,
            dc,
        }
    }
}
