import SwiftProtobuf
import TaskwireCoordinator
import TaskwireRuntime
import TaskwireServer
import TaskwireStore
import Foundation
import NIOSSL
import TaskwireProto
import Testing

@Suite("Handshake and authentication over TLS")
struct HandshakeTests {
  @Test("A valid token gets a hello reply with role, version and limits")
  func helloOK() async throws {
    try await withTestNode { node in
      let client = try await RawClient.connect(port: node.port, caPath: node.caPath)
      let reply = try await client.hello(token: node.adminToken)
      guard case .helloReply(let hello)? = reply?.body else {
        Issue.record("expected hello_reply, got \(String(describing: reply))")
        return
      }
      #expect(hello.protocolVersion == 1)
      #expect(hello.role == .admin)
      #expect(hello.limits.maxFrameBytes == 4 * 1024 * 1024)
      #expect(hello.limits.maxPayloadBytes == 1024 * 1024)
      #expect(hello.limits.maxConcurrentCalls == 100)
      #expect(hello.limits.heartbeatIntervalMs == 10_000)
      #expect(!hello.connectionID.isEmpty)
      let health = try await client.call(1, .healthRequest(.init()))
      guard case .healthResponse(let response)? = health else {
        Issue.record("expected health_response, got \(String(describing: health))")
        return
      }
      #expect(response.ready && response.storeOk && response.accepting)
      await client.close()
    }
  }

  @Test("Absent, wrong and revoked tokens get the same UNAUTHENTICATED, then close")
  func badTokens() async throws {
    try await withTestNode { node in
      let revoked = try await node.token(.client, name: "soon-revoked")
      try await node.coordinator.revokeToken("soon-revoked")
      var messages: Set<String> = []
      for token in ["", "tw_not_a_token", revoked] {
        let client = try await RawClient.connect(port: node.port, caPath: node.caPath)
        let reply = try await client.hello(token: token)
        #expect(reply?.callID == 0)
        #expect(
          reply?.status?.code == .unauthenticated,
          "token \(token.isEmpty ? "(absent)" : "given")"
        )
        messages.insert(reply?.status?.message ?? "")
        #expect(await client.closed(within: .seconds(2)))
      }
      #expect(messages.count == 1, "unknown and revoked tokens are indistinguishable")
    }
  }

  @Test("A request before the hello gets UNAUTHENTICATED and a close")
  func callBeforeHello() async throws {
    try await withTestNode { node in
      let client = try await RawClient.connect(port: node.port, caPath: node.caPath)
      try await client.send(.request(1, .healthRequest(.init())))
      let reply = await client.next()
      #expect(reply?.status?.code == .unauthenticated)
      #expect(await client.closed(within: .seconds(2)))
    }
  }

  @Test("A revoked token's open connections are closed within seconds")
  func revocationClosesConnections() async throws {
    try await withTestNode { node in
      let secret = try await node.token(.worker, name: "revoke-me")
      let victim = try await node.client(token: secret)
      let admin = try await node.client()
      let answer = try await admin.call(1, .revokeTokenRequest(.with { $0.id = "revoke-me" }))
      guard case .revokeTokenResponse? = answer else {
        Issue.record("revoke failed: \(String(describing: answer))")
        return
      }
      #expect(await victim.closed(within: .seconds(3)))
      // The admin's own connection is untouched.
      let health = try await admin.call(2, .healthRequest(.init()))
      guard case .healthResponse? = health else {
        Issue.record("admin connection broke")
        return
      }
    }
  }

  @Test("An unsupported protocol version gets FAILED_PRECONDITION and a close")
  func wrongVersion() async throws {
    try await withTestNode { node in
      let client = try await RawClient.connect(port: node.port, caPath: node.caPath)
      var frame = Taskwire_V1_Frame()
      frame.hello.protocolVersion = 99
      frame.hello.token = node.adminToken
      try await client.send(frame)
      #expect(await client.next()?.status?.code == .failedPrecondition)
      #expect(await client.closed(within: .seconds(2)))
    }
  }
}
