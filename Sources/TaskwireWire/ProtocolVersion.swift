/// The wire protocol version this build speaks; bumped only for incompatible changes.
package let taskwireProtocolVersion: UInt32 = 1

/// The version string servers and clients report.
package let taskwireVersion = "0.1.0"
