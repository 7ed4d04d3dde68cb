import Testing
@testable import SyncJobsCore

@Suite struct RequestPackerTests {
    func pack(_ batches: [[UInt8]]) -> [PackedRequest] {
        var packer = RequestPacker()
        var requests: [PackedRequest] = []
        for (n, batch) in batches.enumerated() {
            if !packer.fits(batch), let request = packer.seal() { requests.append(request) }
            packer.add(batch, rowNumber: n + 1, ordinal: n + 1)
            if packer.count >= packer.maxBatches, let request = packer.seal() { requests.append(request) }
        }
        if let request = packer.seal() { requests.append(request) }
        return requests
    }

    @Test func twoHundredFiftyBatchesGoOutAsHundredHundredFifty() {
        let requests = pack((0..<250).map { Array("{\"n\":\($0)}".utf8) })
        #expect(requests.map(\.batchCount) == [100, 100, 50])
        #expect(requests.map(\.sequence) == [0, 1, 2])
        #expect(requests[2].rowNumbers.first == 201)
        #expect(String(decoding: requests[0].body.prefix(17), as: UTF8.self) == "[{\"n\":0},{\"n\":1},")
        #expect(String(decoding: requests[0].batch(99), as: UTF8.self) == "{\"n\":99}")
    }

    @Test func requestsStayWithin256KB() throws {
        let batch = Array(repeating: UInt8(ascii: "x"), count: 100 * 1024)
        let requests = pack([batch, batch, batch, batch, batch])
        #expect(requests.map(\.batchCount) == [2, 2, 1])
        #expect(requests.allSatisfy { $0.body.count <= RequestPacker.maxBytes })
        #expect(requests[0].body.count == 2 * 100 * 1024 + 3)
    }

    @Test func exactlyFullRequestFits() {
        // 256 KB = brackets + 2 batches + comma
        let half = (RequestPacker.maxBytes - 3) / 2
        let requests = pack([Array(repeating: 1, count: half), Array(repeating: 2, count: RequestPacker.maxBytes - 3 - half)])
        #expect(requests.map(\.batchCount) == [2])
        #expect(requests[0].body.count == RequestPacker.maxBytes)
    }

    @Test func oneByteOverTheLimitStartsASecondRequest() {
        // The brackets, both batches and the comma come to 256 KB + 1 byte: the second batch
        // does not fit, so a size check that forgets a bracket or the comma fails here.
        let half = (RequestPacker.maxBytes - 3) / 2
        let first = [UInt8](repeating: 1, count: half)
        let second = [UInt8](repeating: 2, count: RequestPacker.maxBytes - 3 - half + 1)
        var packer = RequestPacker()
        packer.add(first, rowNumber: 1, ordinal: 1)
        let fits = packer.fits(second)
        #expect(!fits)
        let requests = pack([first, second])
        #expect(requests.map(\.batchCount) == [1, 1])
        #expect(requests.map(\.body.count) == [half + 2, second.count + 2])
        #expect(requests.allSatisfy { $0.body.count <= RequestPacker.maxBytes })
    }
}
