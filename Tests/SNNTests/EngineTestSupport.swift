import Foundation
@testable import SNN

/// Builds a simulator from populations/projections with dt = 0.1 ms unless given.
func makeSim(_ pops: [Population], _ projs: [Projection] = [], currents: [CurrentInput] = [], dt: Double = 0.1, seed: UInt64 = 1) throws -> Simulator {
    let net = Network(dt: dt, populations: pops, projections: projs, currents: currents)
    return try Simulator(CompiledNetwork(net, seed: seed))
}

/// FNV-1a over spike steps and ids (Auryn-style raster checksum).
func rasterChecksum(_ trains: [SpikeTrain]) -> UInt64 {
    var h: UInt64 = 0xcbf29ce484222325
    func mix(_ x: UInt64) { for b in 0..<8 { h ^= (x >> (8 * UInt64(b))) & 0xff; h = h &* 0x100000001b3 } }
    for t in trains { for (s, i) in zip(t.steps, t.ids) { mix(UInt64(bitPattern: s)); mix(UInt64(UInt32(bitPattern: i))) } }
    return h
}
