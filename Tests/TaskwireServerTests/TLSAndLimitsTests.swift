import Foundation
import NIOSSL
import TaskwireProto
import TaskwireRuntime
import TaskwireServer
import Testing

@Suite("Mutual TLS and connection limits")
struct TLSAndLimitsTests {
  @Test(
    "With a client CA configured, a client without a certificate is refused; one signed by the CA gets in"
  )
  func mutualTLS() async throws {
    // A separate CA for clients, made in the test; its leaf carries the clientAuth usage.
    let clients = try DevelopmentTLS.issue(hosts: ["taskwire-test-client"], addresses: [])
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tw-mtls-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let clientCA = directory + "/client-ca.pem"
    try clients.caCertificatePEM.write(toFile: clientCA, atomically: true, encoding: .utf8)
    try await withTestNode(configure: { $0.clientCAPath = clientCA }) { node in
      var refused = false
      do {
        let anonymous = try await RawClient.connect(port: node.port, caPath: node.caPath)
        refused = (try? await anonymous.hello(token: node.adminToken))?.body == nil
      } catch {
        refused = true
      }
      #expect(refused, "no client certificate: no session")
      let stranger = try DevelopmentTLS.issue(hosts: ["stranger"], addresses: [])
      var strangerRefused = false
      do {
        let client = try await RawClient.connect(
          port: node.port,
          caPath: node.caPath,
          clientCertificate: (stranger.serverCertificatePEM, stranger.serverKeyPEM)
        )
        strangerRefused = (try? await client.hello(token: node.adminToken))?.body == nil
      } catch {
        strangerRefused = true
      }
      #expect(strangerRefused, "a certificate from another CA: no session")
      let trusted = try await RawClient.connect(
        port: node.port,
        caPath: node.caPath,
        clientCertificate: (clients.serverCertificatePEM, clients.serverKeyPEM)
      )
      let reply = try await trusted.hello(token: node.adminToken)
      guard case .helloReply(let hello)? = reply?.body else {
        throw TestFailure("a trusted client certificate was refused: \(String(describing: reply))")
      }
      #expect(hello.role == .admin, "mTLS adds to the token; the token still decides the role")
    }
  }

  @Test("Past max_connections_per_address a connection gets RESOURCE_EXHAUSTED and a close")
  func perAddressLimit() async throws {
    try await withTestNode(configure: { $0.limits.maxConnectionsPerAddress = 2 }) { node in
      let first = try await node.client()
      let second = try await node.client()
      let third = try await RawClient.connect(port: node.port, caPath: node.caPath)
      let refusal = await third.next()
      #expect(refusal?.status?.code == .resourceExhausted)
      #expect(refusal?.status?.limitName == "max_connections_per_address")
      #expect(refusal?.status?.limitValue == 2)
      #expect(await third.closed(within: .seconds(2)))
      await first.close()
      #expect(await first.closed(within: .seconds(2)))
      // A slot freed: a new connection is served again (the server forgets closed ones).
      var admitted = false
      for _ in 0..<50 where !admitted {
        let retry = try await RawClient.connect(port: node.port, caPath: node.caPath)
        if case .helloReply? = try await retry.hello(token: node.adminToken)?.body {
          admitted = true
        }
        await retry.close()
      }
      #expect(admitted)
      await second.close()
    }
  }
}
