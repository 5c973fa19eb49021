import Foundation
import NIOCore
import NIOTestUtils
import TaskwireProto
import Testing

@testable import TaskwireWire

@Suite("Frame decoder")
struct FrameDecoderTests {
  private func framed(_ bodies: [[UInt8]]) -> ByteBuffer {
    var buffer = ByteBuffer()
    for body in bodies {
      buffer.writeInteger(UInt32(body.count))
      buffer.writeBytes(body)
    }
    return buffer
  }

  @Test("Splits frames however the bytes arrive (ByteToMessageDecoderVerifier)")
  func verifier() throws {
    let bodies: [[UInt8]] = [[1], [2, 3, 4], Array(repeating: 7, count: 300), [0xff, 0]]
    let input = self.framed(bodies)
    try ByteToMessageDecoderVerifier.verifyDecoder(
      inputOutputPairs: [(input, bodies.map { ByteBuffer(bytes: $0) })],
      decoderFactory: { FrameDecoder(maxFrameBytes: 1024) }
    )
  }

  @Test("Rejects a declared length over the limit from the 4-byte header alone")
  func rejectsOversizedHeader() throws {
    var decoder = FrameDecoder(maxFrameBytes: 4 * 1024 * 1024)
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32.max)  // 4 GiB declared, no body sent
    #expect(
      throws: FrameTooLargeError(declaredLength: UInt64(UInt32.max), maxFrameBytes: 4 * 1024 * 1024)
    ) {
      try decoder.decode(buffer: &buffer)
    }
  }

  @Test("Accepts a frame of exactly the limit and waits for a partial one")
  func boundaries() throws {
    var decoder = FrameDecoder(maxFrameBytes: 8)
    var exact = self.framed([Array(repeating: 1, count: 8)])
    #expect(try decoder.decode(buffer: &exact)?.readableBytes == 8)
    var partial = ByteBuffer(bytes: [0, 0, 0, 5, 1, 2])
    #expect(try decoder.decode(buffer: &partial) == nil)
    #expect(partial.readableBytes == 6, "a partial frame is left in the buffer untouched")
    var over = ByteBuffer(bytes: [0, 0, 0, 9])
    #expect(throws: FrameTooLargeError.self) { try decoder.decode(buffer: &over) }
  }

  @Test("The hello hex dump in docs/protocol.md decodes to the documented hello")
  func goldenHello() throws {
    let doc = try String(
      contentsOf: Self.repositoryRoot.appendingPathComponent("docs/protocol.md"),
      encoding: .utf8
    )
    guard let start = doc.range(of: "```hex\n"),
      let end = doc.range(of: "```", range: start.upperBound..<doc.endIndex)
    else {
      Issue.record("docs/protocol.md has no ```hex block")
      return
    }
    let bytes = doc[start.upperBound..<end.lowerBound]
      .split(whereSeparator: { $0 == " " || $0 == "\n" })
      .map { UInt8($0, radix: 16)! }
    var buffer = ByteBuffer(bytes: bytes)
    var decoder = FrameDecoder(maxFrameBytes: 4 * 1024 * 1024)
    let body = try #require(try decoder.decode(buffer: &buffer))
    #expect(buffer.readableBytes == 0)
    let frame = try body.readFrameBody()
    #expect(frame.callID == 0)
    guard case .hello(let hello)? = frame.body else {
      Issue.record("golden frame is not a hello: \(frame)")
      return
    }
    #expect(hello.protocolVersion == 1)
    #expect(hello.token == "tw_example_token")
    #expect(hello.clientName == "doc-example")
    #expect(hello.instanceID == "")
    // And encoding the same hello gives the same bytes.
    var expected = Taskwire_V1_Frame()
    expected.hello.protocolVersion = 1
    expected.hello.token = "tw_example_token"
    expected.hello.clientName = "doc-example"
    let encoded = try expected.framedBuffer()
    #expect(Array(encoded.readableBytesView) == bytes)
  }

  @Test("Thousands of random and mutated inputs never crash the decoder or escape its limit")
  func fuzz() throws {
    var generator = SplitMix64(seed: 0x7A5C_0001)
    var valid = Taskwire_V1_Frame()
    valid.callID = 42
    valid.submitRequest.task.type = "resize"
    valid.submitRequest.task.payload = Data(repeating: 9, count: 40)
    let template = Array(try valid.framedBuffer().readableBytesView)
    var decodedFrames = 0
    for round in 0..<5_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in
          UInt8.random(in: 0...255, using: &generator)
        }
      } else {
        bytes = template
        for _ in 0..<Int.random(in: 1...6, using: &generator) {
          bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
            in: 0...255,
            using: &generator
          )
        }
      }
      var decoder = FrameDecoder(maxFrameBytes: 1024)
      var buffer = ByteBuffer(bytes: bytes)
      do {
        while let body = try decoder.decode(buffer: &buffer) {
          #expect(body.readableBytes <= 1024)
          if (try? body.readFrameBody()) != nil { decodedFrames += 1 }
        }
      } catch is FrameTooLargeError {
        // the documented rejection
      }
    }
    #expect(decodedFrames > 0, "some mutations still decode, so the parser was exercised")
  }

  static let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
    {
      url.deleteLastPathComponent()
    }
    return url
  }()
}

/// A small deterministic generator so fuzz failures reproduce.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { self.state = seed }
  mutating func next() -> UInt64 {
    self.state &+= 0x9E37_79B9_7F4A_7C15
    var z = self.state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
