/// A stable 128-bit hash of a row's content, used to remember which rows that share the
/// checkpoint's iterator value were already delivered.
///
/// Swift's `Hasher` is seeded per process, so it cannot identify a row across runs; this is
/// MurmurHash3 x64-128 (public domain algorithm by Austin Appleby) over the row's canonical JSON.
package struct RowHash: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var high: UInt64
    package var low: UInt64

    package init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    package static func < (a: RowHash, b: RowHash) -> Bool { (a.high, a.low) < (b.high, b.low) }

    package var description: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }

    /// Another stable hash derived from this one (for ids that must differ from it).
    package func derived(_ n: UInt64) -> RowHash {
        RowHash(high: Self.fmix(high &+ n &* 0x9e37_79b9_7f4a_7c15), low: Self.fmix(low ^ Self.rotl(high, 29) ^ n))
    }

    /// Hashes a row's values and extra keys.
    package static func of(values: [Value], extras: [Value.ObjectEntry]) -> RowHash {
        var writer = JSONWriter(reservingCapacity: 256)
        writer.value(.array(values))
        if !extras.isEmpty { writer.value(.object(extras)) }
        return murmur3(writer.bytes)
    }

    package static func murmur3(_ bytes: [UInt8], seed: UInt64 = 0x5359_4e43_4a4f_4253) -> RowHash {
        bytes.withUnsafeBytes { murmur3($0, seed: seed) }
    }

    package static func murmur3(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x5359_4e43_4a4f_4253) -> RowHash {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed, h2 = seed
        let count = bytes.count
        let blocks = count / 16
        do {
            let raw = bytes
            for i in 0..<blocks {
                var k1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self))
                var k2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self))
                k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
                h1 = rotl(h1, 27); h1 &+= h2; h1 = h1 &* 5 &+ 0x52dc_e729
                k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
                h2 = rotl(h2, 31); h2 &+= h1; h2 = h2 &* 5 &+ 0x3849_5ab5
            }
            var k1: UInt64 = 0, k2: UInt64 = 0
            let tail = blocks * 16
            let remaining = count & 15
            if remaining > 8 {
                for i in stride(from: remaining - 1, through: 8, by: -1) { k2 ^= UInt64(raw[tail + i]) << (UInt64(i - 8) * 8) }
                k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            }
            if remaining > 0 {
                for i in stride(from: min(remaining, 8) - 1, through: 0, by: -1) { k1 ^= UInt64(raw[tail + i]) << (UInt64(i) * 8) }
                k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
            }
        }
        h1 ^= UInt64(count); h2 ^= UInt64(count)
        h1 &+= h2; h2 &+= h1
        h1 = fmix(h1); h2 = fmix(h2)
        h1 &+= h2; h2 &+= h1
        return RowHash(high: h1, low: h2)
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) private static func fmix(_ k: UInt64) -> UInt64 {
        var k = k
        k ^= k >> 33; k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33; k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
