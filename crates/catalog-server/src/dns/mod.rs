//! The DNS interface (`ports.dns`, 8600): Consul's names answered from the agent's catalog
//! over UDP and TCP, on hickory (hickory-server reads and frames the messages, answers
//! FORMERR to what does not parse; hickory-proto holds the records). The only module naming
//! hickory. [`names`] reads what a name asks, [`answer`] builds the records from the catalog
//! at the moment of the query (no cache), [`trim`] cuts a reply to its transport.
//!
//! Names outside the domain go to the `recursors` ([`recurse`]), and are answered REFUSED
//! without any, as Consul does; a message that is not a single standard query gets REFUSED or
//! NOTIMP.

mod answer;
mod names;
mod recurse;
mod remote;
mod reverse;
mod trim;

use crate::agent::Agent;
use crate::listeners::DnsSocket;
use hickory_proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_proto::xfer::Protocol;
use hickory_server::authority::MessageResponseBuilder;
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
    server: ServerFuture<Handler>,
}

impl DnsServer {
    /// Serves `sockets` for `agent` (inside the runtime).
    pub fn start(agent: Arc<Agent>, sockets: Vec<DnsSocket>) -> std::io::Result<DnsServer> {
        let mut server = ServerFuture::new(Handler { agent });
        for s in sockets {
            server.register_socket_std(s.udp)?;
            server.register_listener_std(s.tcp, TCP_TIMEOUT)?;
        }
        Ok(DnsServer { server })
    }

    /// Stops accepting queries and waits for the sockets' tasks to end.
    pub async fn stop(mut self) {
        if let Err(e) = self.server.shutdown_gracefully().await {
            tracing::warn!(target: "agent.dns", "stopping the DNS server: {e}");
        }
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
        Box::pin(self.respond(request, response_handle))
    }
}

impl Handler {
    async fn respond<R: ResponseHandler>(&self, request: &Request, mut handle: R) -> ResponseInfo {
        let cfg = &self.agent.config().dns;
        let mut header = Header::response_from_request(request.header());
        let edns = request.edns().map(Edns::max_payload);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size.max(512));
            builder.edns(e);
        }
        let queries = request.queries();
        let refused = request.message_type() != MessageType::Query || queries.len() != 1;
        if refused || request.op_code() != OpCode::Query {
            header.set_response_code(if refused {
                ResponseCode::Refused
            } else {
                ResponseCode::NotImp
            });
            return send(&mut handle, builder.build_no_records(header), header).await;
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
                return send(&mut handle, builder.build_no_records(header), header).await;
            };
            let src = self.source(catalog.as_ref(), cfg, dc);
            let reply = reverse::answer(&src, &qname, query.query_type(), ip, &cfg.domain);
            header.set_authoritative(true);
            header.set_response_code(reply.rcode);
            let response = builder.build(
                header,
                reply.answers.iter(),
                reply.authority.iter(),
                std::iter::empty(),
                reply.additional.iter(),
            );
            return send(&mut handle, response, header).await;
        }
        let names::Parsed::Inside { domain, asked } = parsed else {
            if cfg.recursors.is_empty() {
                header.set_response_code(ResponseCode::Refused);
                return send(&mut handle, builder.build_no_records(header), header).await;
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
            let Some(m) = r.message else {
                return send(&mut handle, builder.build_no_records(header), header).await;
            };
            header.set_authoritative(m.authoritative());
            header.set_truncated(m.truncated());
            let response = builder.build(
                header,
                m.answers().iter(),
                m.name_servers().iter(),
                std::iter::empty(),
                m.additionals().iter(),
            );
            return send(&mut handle, response, header).await;
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
            return send(&mut handle, builder.build_no_records(header), header).await;
        };
        let src = self.source(catalog.as_ref(), cfg, dc);
        let mut reply = answer::answer(&src, &q);
        let cut = match request.protocol() {
            Protocol::Udp => trim::udp(&mut reply, query.original(), edns, cfg.udp_answer_limit),
            _ => trim::tcp(&mut reply, query.original(), edns),
        };
        header.set_authoritative(true);
        header.set_truncated(cut && cfg.enable_truncate);
        header.set_response_code(reply.rcode);
        let response = builder.build(
            header,
            reply.answers.iter(),
            reply.authority.iter(),
            std::iter::empty(),
            reply.additional.iter(),
        );
        send(&mut handle, response, header).await
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
    ) -> answer::Source<'a> {
        let authz = if self.agent.is_server() {
            self.agent.authorize("").ok()
        } else {
            // The server applied its ACLs to what it handed over.
            Some(crate::catalog::acl::Authz::manage_all())
        };
        answer::Source {
            catalog,
            queries: self.agent.is_server().then_some(&*self.agent),
            authz,
            cfg,
            dc,
        }
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::authority::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
    >,
    header: Header,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(target: "agent.dns", "sending a reply: {e}");
            header.into()
        }
    }
}
