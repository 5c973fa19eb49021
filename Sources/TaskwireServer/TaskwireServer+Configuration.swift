import NIOSSL
import TaskwireWire

extension TaskwireServer {
  /// Where to listen, which TLS material to use, and the limits in force.
  public struct Configuration: Sendable {
    /// The address to bind; default `127.0.0.1`.
    public var host: String
    /// The port to bind; 0 picks a free one (see ``TaskwireServer/listeningAddress()``).
    public var port: Int
    /// Certificates and client verification.
    public var tls: TLS
    /// Limits and timeouts (docs/protocol.md, "Limits").
    public var limits: Limits

    /// Creates a configuration with default limits.
    public init(host: String = "127.0.0.1", port: Int = 7433, tls: TLS) {
      self.host = host
      self.port = port
      self.tls = tls
      self.limits = Limits()
    }

    /// TLS material, by file path.
    public struct TLS: Sendable {
      /// PEM chain of the server certificate (leaf first).
      public var certificateChainPath: String
      /// PEM private key of the server certificate.
      public var privateKeyPath: String
      /// PEM CA that client certificates must chain to; setting it turns on mutual TLS.
      public var clientCAPath: String?

      /// Creates TLS settings from PEM files.
      public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil)
      {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
      }

      /// TLS 1.2 minimum (1.3 preferred), ECDHE with AEAD ciphers only; BoringSSL offers no
      /// renegotiation or compression to begin with.
      func makeServerTLS() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(self.certificateChainPath)
        let key = try NIOSSLPrivateKey(file: self.privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
          certificateChain: chain.map { .certificate($0) },
          privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuiteValues = [
          .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
          .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
          .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
          .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
          .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
          .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
        if let clientCA = self.clientCAPath {
          configuration.trustRoots = .file(clientCA)
          configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
      }
    }

    /// Every limit and timeout with its documented default.
    public struct Limits: Sendable {
      /// Largest frame: 4 MiB.
      public var maxFrameBytes: Int = 4 * 1024 * 1024
      /// Largest payload or result: 1 MiB.
      public var maxPayloadBytes: Int = 1024 * 1024
      /// Calls in flight per connection: 100.
      public var maxConcurrentCalls: Int = 100
      /// TLS handshake plus hello: 10 s.
      public var handshakeTimeout: Duration = .seconds(10)
      /// A started frame must be complete within 30 s.
      public var frameTimeout: Duration = .seconds(30)
      /// Nothing received for 300 s closes the connection.
      public var idleTimeout: Duration = .seconds(300)
      /// Open connections in all: 20,000.
      public var maxConnections: Int = 20_000
      /// Open connections from one client address: 1,024.
      public var maxConnectionsPerAddress: Int = 1_024

      /// The defaults.
      public init() {}

      var wire: WireLimits {
        var limits = WireLimits()
        limits.maxFrameBytes = self.maxFrameBytes
        limits.maxPayloadBytes = self.maxPayloadBytes
        limits.maxConcurrentCalls = self.maxConcurrentCalls
        limits.handshakeTimeout = self.handshakeTimeout
        limits.frameTimeout = self.frameTimeout
        limits.idleTimeout = self.idleTimeout
        return limits
      }
    }
  }
}
