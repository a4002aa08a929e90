//! Raw-bytes gRPC codec shared by the tests and the ingest benchmark.

/// A gRPC codec that sends and receives message bytes untouched (pre-encoded or garbage).
#[derive(Clone, Copy, Default)]
pub struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;
    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }
    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--otlp-token", "s3cret"]);
    let client = reqwest::Client::new();
    let pb = std::fs::read(fixtures_dir().join("http-protobuf/tools/00001-logs.pb")).expect("pb");
    let logs = server.http_url("/v1/logs");
    let no_token = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        pb.clone(),
    )
    .await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.headers["www-authenticate"], "Bearer");
    for header in ["Bearer wrong", "s3cret"] {
        let r = client
            .post(logs.clone())
            .header("content-type", "application/x-protobuf")
            .header("authorization", header)
            .body(pb.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 401, "{header}");
    }
    // Claude Code sends `Bearer%20…` literally over HTTP and `Bearer …` over gRPC: both work.
    for header in ["Bearer s3cret", "Bearer%20s3cret"] {
        let r = client
            .post(logs.clone())
            .header("content-type", "application/x-protobuf")
            .header("authorization", header)
            .body(pb.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 200, "{header}");
    }
    let denied = send_grpc(server.grpc, "logs", &pb, None)
        .await
        .expect_err("no token");
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
    send_grpc(server.grpc, "logs", &pb, Some("s3cret"))
        .await
        .expect("with token");
    assert!(report(dir.path(), &[])["events"]["user_prompt"].as_u64() >= Some(1));
    drop(server);
}
