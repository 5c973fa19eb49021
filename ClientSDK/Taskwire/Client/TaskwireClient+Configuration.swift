import Foundation
import NIOSSL

extension TaskwireClient {
  /// A coordinator's address.
  public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// A host name or IP address. The server's certificate is verified against it.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// An endpoint at `host:port`.
    public init(host: String, port: Int) {
      self.host = host
      self.port = port
    }

    /// `host:port` (IPv6 in brackets).
    public var description: String {
      self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
  }

  /// How a client (or worker) connects: where, with which TLS trust and token, and how it waits
  /// and reconnects.
  public struct Configuration: Sendable {
    /// TLS settings. TLS is always on (1.2 minimum, 1.3 preferred) and the server's certificate
    /// is always verified, including its host name or IP address.
    public struct TLS: Sendable {
      /// Which certificate authorities the client trusts.
      public enum Trust: Sendable, Hashable {
        /// The operating system's roots.
        case systemRoots
        /// The PEM certificates in a file (e.g. the development CA `DATA_DIR/tls/ca.pem`).
        case caFile(String)
        /// PEM certificates given as a string.
        case caPEM(String)
      }

      /// A client certificate for mutual TLS. The token still decides the role.
      public enum ClientCertificate: Sendable, Hashable {
        /// A PEM certificate chain file and its PEM private key file.
        case files(certificateChain: String, privateKey: String)
        /// A PEM certificate chain and its PEM private key.
        case pem(certificateChain: String, privateKey: String)
      }

      /// Which authorities to trust. Default: the system roots.
      public var trust: Trust = .systemRoots
      /// A client certificate for mutual TLS. Default: none.
      public var clientCertificate: ClientCertificate?
      /// The name to verify the server's certificate against, when it differs from the
      /// endpoint's host. Default: the endpoint's host.
      public var serverHostname: String?

      /// TLS trusting `trust`.
      public init(trust: Trust = .systemRoots, clientCertificate: ClientCertificate? = nil) {
        self.trust = trust
        self.clientCertificate = clientCertificate
      }

      func makeContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        do {
          switch self.trust {
          case .systemRoots:
            tls.trustRoots = .default
          case .caFile(let path):
            tls.trustRoots = .file(path)
          case .caPEM(let pem):
            tls.trustRoots = .certificates(
              try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
            )
          }
          switch self.clientCertificate {
          case nil:
            break
          case .files(let chain, let key)?:
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
          case .pem(let chain, let key)?:
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(chain.utf8))
              .map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
          }
          return try NIOSSLContext(configuration: tls)
        } catch {
          // Never echo PEM contents; name the problem only.
          throw TaskwireError(
            code: .invalidArgument,
            message: "the TLS configuration cannot be loaded",
            cause: SendableCause(error)
          )
        }
      }
    }

    /// How long things may take.
    public struct Timeouts: Sendable, Hashable {
      /// TCP connect, TLS handshake and hello together. Default 10 s.
      public var connect: Duration = .seconds(10)
      /// A connection that wrote nothing for this long sends a ping, so the server's 300 s idle
      /// timer never closes a quiet watch or worker. Default 100 s.
      public var pingInterval: Duration = .seconds(100)

      /// The defaults.
      public init() {}
    }

    /// Reconnect backoff: after every endpoint failed in a row, wait
    /// `initial × multiplier^n` (capped at `maximum`), varied by ±`jitter`.
    public struct Backoff: Sendable, Hashable {
      /// The first delay. Default 100 ms.
      public var initial: Duration = .milliseconds(100)
      /// The growth per failed round. Default 2.
      public var multiplier: Double = 2
      /// The longest delay. Default 5 s.
      public var maximum: Duration = .seconds(5)
      /// Fraction 0...1 of random variation. Default 0.2.
      public var jitter: Double = 0.2

      /// The defaults.
      public init() {}

      /// A backoff with the given values.
      public init(initial: Duration, multiplier: Double, maximum: Duration, jitter: Double) {
        self.initial = initial
        self.multiplier = multiplier
        self.maximum = maximum
        self.jitter = jitter
      }
    }

    /// The coordinators to use, tried in order; the next is tried when one is down.
    public var endpoints: [Endpoint]
    /// TLS trust and client certificate.
    public var tls: TLS
    /// The API token. Never logged.
    public var token: String
    /// Free text shown in the server's logs and worker registry. Default `taskwire-swift`.
    public var clientName = "taskwire-swift"
    /// A stable id of this process, so the registry can tell restarts apart. Default: a new UUID.
    public var instanceID = UUID().uuidString
    /// Timeouts.
    public var timeouts = Timeouts()
    /// Reconnect backoff.
    public var backoff = Backoff()
    /// How often an idempotent call (get, list, count, submit with an idempotency key) is tried
    /// in all when it fails with UNAVAILABLE (a dropped connection, a server restart). Default 5.
    public var idempotentCallAttempts = 5
    /// Events a watch keeps for a consumer that reads slower than they arrive; past it the
    /// server stream is cut and resumed after the last event delivered. A watch by id keeps at
    /// least one per id (its first snapshots), and every watch at least one. Default 10,000.
    public var watchBufferLimit = 10_000

    /// A configuration for `endpoints` with `token`.
    public init(endpoints: [Endpoint], tls: TLS, token: String) {
      self.endpoints = endpoints
      self.tls = tls
      self.token = token
    }

    /// A configuration for one endpoint.
    public init(host: String, port: Int, tls: TLS, token: String) {
      self.init(endpoints: [Endpoint(host: host, port: port)], tls: tls, token: token)
    }
  }
}
