import Crypto
import Foundation
import SwiftASN1
import X509

/// The development TLS material a new data directory gets when no certificate is configured:
/// a CA (`tls/ca.pem`, key `tls/ca-key.pem`, 0600) and a server certificate for `localhost`,
/// `127.0.0.1` and `::1` signed by it (`tls/server.pem`, key `tls/server-key.pem`, 0600).
///
/// Existing files are reused, so clients that trust the CA keep trusting restarts.
package struct DevelopmentTLS: Sendable {
  /// `DATA_DIR/tls/ca.pem`: what clients trust.
  package var caPath: String
  /// `DATA_DIR/tls/server.pem`.
  package var certificatePath: String
  /// `DATA_DIR/tls/server-key.pem`.
  package var privateKeyPath: String

  /// Loads the development material in `dataDirectory`, creating it first if it is missing.
  package static func prepare(in dataDirectory: String) throws -> DevelopmentTLS {
    let directory = (dataDirectory as NSString).appendingPathComponent("tls")
    let material = DevelopmentTLS(
      caPath: (directory as NSString).appendingPathComponent("ca.pem"),
      certificatePath: (directory as NSString).appendingPathComponent("server.pem"),
      privateKeyPath: (directory as NSString).appendingPathComponent("server-key.pem")
    )
    let files = FileManager.default
    if files.fileExists(atPath: material.certificatePath),
      files.fileExists(atPath: material.privateKeyPath),
      files.fileExists(atPath: material.caPath)
    {
      return material
    }
    try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let issued = try Self.issue(hosts: ["localhost"], addresses: ["127.0.0.1", "::1"])
    try writeFile(
      issued.caKeyPEM,
      to: (directory as NSString).appendingPathComponent("ca-key.pem"),
      mode: 0o600
    )
    try writeFile(issued.serverKeyPEM, to: material.privateKeyPath, mode: 0o600)
    try writeFile(issued.serverCertificatePEM, to: material.certificatePath, mode: 0o644)
    try writeFile(issued.caCertificatePEM, to: material.caPath, mode: 0o644)
    return material
  }

  /// PEM strings of a freshly made CA and a server certificate it signed.
  package struct Issued: Sendable {
    package var caCertificatePEM: String
    package var caKeyPEM: String
    package var serverCertificatePEM: String
    package var serverKeyPEM: String
  }

  /// Makes a P-256 CA valid for 10 years and a server certificate for `hosts` and `addresses`.
  package static func issue(hosts: [String], addresses: [String]) throws -> Issued {
    let now = Date()
    let caKey = P256.Signing.PrivateKey()
    let caName = try DistinguishedName {
      OrganizationName("Taskwire")
      CommonName("Taskwire development CA")
    }
    let caCertificate = try Certificate(
      version: .v3,
      serialNumber: Certificate.SerialNumber(),
      publicKey: .init(caKey.publicKey),
      notValidBefore: now.addingTimeInterval(-3600),
      notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
      issuer: caName,
      subject: caName,
      signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
      },
      issuerPrivateKey: .init(caKey)
    )

    let serverKey = P256.Signing.PrivateKey()
    let serverName = try DistinguishedName {
      OrganizationName("Taskwire")
      CommonName(hosts.first ?? "localhost")
    }
    var names: [GeneralName] = hosts.map { .dnsName($0) }
    for address in addresses {
      names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(try ipBytes(address)))))
    }
    let serverCertificate = try Certificate(
      version: .v3,
      serialNumber: Certificate.SerialNumber(),
      publicKey: .init(serverKey.publicKey),
      notValidBefore: now.addingTimeInterval(-3600),
      notValidAfter: now.addingTimeInterval(825 * 86400),
      issuer: caName,
      subject: serverName,
      signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true))
        try ExtendedKeyUsage([.serverAuth, .clientAuth])
        SubjectAlternativeNames(names)
      },
      issuerPrivateKey: .init(caKey)
    )
    return Issued(
      caCertificatePEM: try caCertificate.serializeAsPEM().pemString,
      caKeyPEM: caKey.pemRepresentation,
      serverCertificatePEM: try serverCertificate.serializeAsPEM().pemString,
      serverKeyPEM: serverKey.pemRepresentation
    )
  }
}

/// The network-order bytes of an IPv4 or IPv6 literal.
private func ipBytes(_ address: String) throws -> [UInt8] {
  var v4 = in_addr()
  if inet_pton(AF_INET, address, &v4) == 1 {
    return withUnsafeBytes(of: &v4) { Array($0) }
  }
  var v6 = in6_addr()
  if inet_pton(AF_INET6, address, &v6) == 1 {
    return withUnsafeBytes(of: &v6) { Array($0) }
  }
  throw WireConfigurationError("not an IP address: \(address)")
}

/// Writes `contents` to `path` atomically with the given permission bits.
package func writeFile(_ contents: String, to path: String, mode: Int) throws {
  let temporary = path + ".tmp"
  guard
    FileManager.default.createFile(
      atPath: temporary,
      contents: Data(contents.utf8),
      attributes: [.posixPermissions: mode]
    )
  else {
    throw WireConfigurationError("cannot write \(temporary)")
  }
  guard rename(temporary, path) == 0 else {
    throw WireConfigurationError("cannot rename \(temporary) to \(path): errno \(errno)")
  }
}

/// A configuration problem found at start-up (bad path, bad address, unreadable key).
package struct WireConfigurationError: Error, CustomStringConvertible {
  package var description: String
  package init(_ description: String) { self.description = description }
}
