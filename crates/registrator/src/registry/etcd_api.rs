//! The few calls of etcd's v3 gRPC API the etcd backend ([`super::etcd`]) makes, and the
//! integration tests' reads, over tonic's generic client: no generated code, so no `protoc`
//! and no build script.
//!
//! The messages are declared by hand with `prost`'s derive, carrying only the fields used,
//! each with the field number and type etcd declares (a subset is wire-compatible: proto3
//! leaves unset fields out when encoding and `prost` skips unknown ones when decoding):
//!
//! - [`KeyValue`]: `mvccpb.KeyValue`, etcd's `api/mvccpb/kv.proto`.
//! - Everything else: package `etcdserverpb`, etcd's `api/etcdserverpb/rpc.proto`, same
//!   names: [`PutRequest`]/[`PutResponse`], [`RangeRequest`]/[`RangeResponse`],
//!   [`DeleteRangeRequest`]/[`DeleteRangeResponse`] (service `KV`),
//!   [`LeaseGrantRequest`]/[`LeaseGrantResponse`], [`LeaseRevokeRequest`]/
//!   [`LeaseRevokeResponse`], [`LeaseTimeToLiveRequest`]/[`LeaseTimeToLiveResponse`] (service
//!   `Lease`; time-to-live for the tests only), [`StatusRequest`]/[`StatusResponse`] (service
//!   `Maintenance`). Every response also carries a `ResponseHeader header = 1`, which nothing
//!   here reads, so it is not declared.
//!
//! The method paths are `/etcdserverpb.<service>/<rpc>` as gRPC names them.

use http::uri::PathAndQuery;
use std::time::Duration;
use tonic::client::Grpc;
use tonic::codec::ProstCodec;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

/// `mvccpb.KeyValue`: a key as etcd holds it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// `bytes key = 1`.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// `int64 mod_revision = 3`: the revision of the key's last modification.
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    /// `bytes value = 5` (empty with `keys_only`).
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
    /// `int64 lease = 6`: the lease the key lives on; 0: none.
    #[prost(int64, tag = "6")]
    pub lease: i64,
}

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    /// `bytes key = 1`.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// `bytes value = 2`.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// `int64 lease = 3`: 0 for no lease.
    #[prost(int64, tag = "3")]
    pub lease: i64,
}

/// `etcdserverpb.PutResponse` (its `header` and `prev_kv` unread).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {}

/// `etcdserverpb.RangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    /// `bytes key = 1`: the first key of the range.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// `bytes range_end = 2`: the range is `[key, range_end)`; empty: `key` alone.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// `bool keys_only = 8`: keys without their values.
    #[prost(bool, tag = "8")]
    pub keys_only: bool,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    /// `repeated mvccpb.KeyValue kvs = 2`.
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
}

/// `etcdserverpb.DeleteRangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeRequest {
    /// `bytes key = 1`.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
}

/// `etcdserverpb.DeleteRangeResponse` (its `header`, `deleted` and `prev_kvs` unread).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeResponse {}

/// `etcdserverpb.LeaseGrantRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseGrantRequest {
    /// `int64 TTL = 1`: seconds.
    #[prost(int64, tag = "1")]
    pub ttl: i64,
}

/// `etcdserverpb.LeaseGrantResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseGrantResponse {
    /// `int64 ID = 2`: the granted lease.
    #[prost(int64, tag = "2")]
    pub id: i64,
}

/// `etcdserverpb.LeaseRevokeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseRevokeRequest {
    /// `int64 ID = 1`.
    #[prost(int64, tag = "1")]
    pub id: i64,
}

/// `etcdserverpb.LeaseRevokeResponse` (its `header` unread).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseRevokeResponse {}

/// `etcdserverpb.LeaseTimeToLiveRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseTimeToLiveRequest {
    /// `int64 ID = 1`.
    #[prost(int64, tag = "1")]
    pub id: i64,
}

/// `etcdserverpb.LeaseTimeToLiveResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseTimeToLiveResponse {
    /// `int64 TTL = 3`: seconds left; -1 when the lease is gone (expired, revoked).
    #[prost(int64, tag = "3")]
    pub ttl: i64,
    /// `int64 grantedTTL = 4`: the TTL it was granted with.
    #[prost(int64, tag = "4")]
    pub granted_ttl: i64,
}

/// `etcdserverpb.StatusRequest` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusRequest {}

/// `etcdserverpb.StatusResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    /// `string version = 2`: the member's etcd version.
    #[prost(string, tag = "2")]
    pub version: String,
}

/// The end of the range of every key starting with `prefix` (etcd's `clientv3.GetPrefixRangeEnd`):
/// `prefix` with its last byte below 0xff incremented and what follows dropped; `[0]` (to the
/// end of the keyspace) when there is none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|b| *b < 0xff) {
        Some(i) => {
            let mut end = prefix[..=i].to_vec();
            end[i] += 1;
            end
        }
        None => vec![0],
    }
}

/// A client of one etcd member. Cheap to clone (the connection is shared).
#[derive(Clone)]
pub struct EtcdApi {
    grpc: Grpc<Channel>,
}

impl EtcdApi {
    /// A client of `endpoint` (`http://host:port`) that connects on its first call (and again
    /// after the connection is lost). A call that cannot connect fails `Unavailable`; one
    /// without an answer within `timeout` fails `Cancelled`.
    pub fn new(
        endpoint: &str,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(endpoint.to_string())?
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .connect_lazy();
        Ok(EtcdApi {
            grpc: Grpc::new(channel),
        })
    }

    /// One unary call of `path` (`/etcdserverpb.<service>/<rpc>`).
    async fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = self.grpc.clone();
        // As tonic's generated clients word it.
        grpc.ready()
            .await
            .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
        let codec = ProstCodec::<Req, Resp>::default();
        let path = PathAndQuery::from_static(path);
        let answer = grpc
            .unary(tonic::Request::new(request), path, codec)
            .await?;
        Ok(answer.into_inner())
    }

    /// `KV.Put`.
    pub async fn put(&self, request: PutRequest) -> Result<PutResponse, Status> {
        self.unary("/etcdserverpb.KV/Put", request).await
    }

    /// `KV.Range`.
    pub async fn range(&self, request: RangeRequest) -> Result<RangeResponse, Status> {
        self.unary("/etcdserverpb.KV/Range", request).await
    }

    /// `KV.DeleteRange`.
    pub async fn delete_range(
        &self,
        request: DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, Status> {
        self.unary("/etcdserverpb.KV/DeleteRange", request).await
    }

    /// `Lease.LeaseGrant` of `ttl` seconds (etcd chooses the ID).
    pub async fn lease_grant(&self, ttl: i64) -> Result<LeaseGrantResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseGrant", LeaseGrantRequest { ttl })
            .await
    }

    /// `Lease.LeaseRevoke`: the lease and every key on it go.
    pub async fn lease_revoke(&self, id: i64) -> Result<LeaseRevokeResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseRevoke", LeaseRevokeRequest { id })
            .await
    }

    /// `Lease.LeaseTimeToLive` (without the lease's keys).
    pub async fn lease_time_to_live(&self, id: i64) -> Result<LeaseTimeToLiveResponse, Status> {
        let request = LeaseTimeToLiveRequest { id };
        self.unary("/etcdserverpb.Lease/LeaseTimeToLive", request)
            .await
    }

    /// `Maintenance.Status` of the member.
    pub async fn status(&self) -> Result<StatusResponse, Status> {
        self.unary("/etcdserverpb.Maintenance/Status", StatusRequest {})
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/s/"), b"/s0");
        assert_eq!(prefix_end(b"/"), b"0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    /// The bytes etcd's generated code would write: tag = field number << 3 | wire type.
    #[test]
    fn wire_format() {
        let put = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            lease: 5,
        };
        assert_eq!(put.encode_to_vec(), b"\x0a\x01k\x12\x01v\x18\x05");
        let range = RangeRequest {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            keys_only: true,
        };
        assert_eq!(range.encode_to_vec(), b"\x0a\x01a\x12\x01b\x40\x01");
        assert_eq!(
            LeaseGrantRequest { ttl: 8 }.encode_to_vec(),
            b"\x08\x08".to_vec()
        );
        // RangeResponse{header{revision: 3}, kvs: [{key "k", create_revision 2,
        // mod_revision 3, version 1, value "v", lease 7}], count 1}.
        let kv = b"\x0a\x01k\x10\x02\x18\x03\x20\x01\x2a\x01v\x30\x07";
        let mut answer = b"\x0a\x02\x18\x03\x12".to_vec();
        answer.push(kv.len() as u8);
        answer.extend_from_slice(kv);
        answer.extend_from_slice(b"\x20\x01");
        let decoded = RangeResponse::decode(answer.as_slice()).expect("decodes");
        assert_eq!(
            decoded.kvs,
            vec![KeyValue {
                key: b"k".to_vec(),
                mod_revision: 3,
                value: b"v".to_vec(),
                lease: 7,
            }]
        );
        let status = b"\x0a\x02\x18\x03\x12\x063.4.23\x18\x80\x20";
        let decoded = StatusResponse::decode(&status[..]).expect("decodes");
        assert_eq!(decoded.version, "3.4.23");
        let ttl = b"\x10\x07\x18\x03\x20\x08";
        let decoded = LeaseTimeToLiveResponse::decode(&ttl[..]).expect("decodes");
        assert_eq!((decoded.ttl, decoded.granted_ttl), (3, 8));
        let grant = b"\x10\x09\x18\x08";
        let decoded = LeaseGrantResponse::decode(&grant[..]).expect("decodes");
        assert_eq!(decoded.id, 9);
    }
}
