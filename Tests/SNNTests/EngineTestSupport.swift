import Foundation
@testable import SNN

/// Builds a simulator from populations/projections with dt = 0.1 ms unless given.
func makeSim(_ pops: [Population], _ projs: [Projection] = [], currents: [CurrentInput] = [], dt: Double = 0.1, seed: UInt64 = 1) throws -> Simulator {
    let net = Network(dt: dt, populations: pops, projections: projs, currents: currents)
    return try Simulator(CompiledNetwork(net, seed: seed))
}

/// A simulator of `net` whose first population is driven by the constant external current `drive` (one
/// value per neuron), its spikes recorded when `record`: the set-up of the delivery tests that replay a
/// source's recorded spikes.
func drivenSim(_ net: Network, drive: [Float], record: Bool = true) throws -> Simulator {
    let sim = try Simulator(CompiledNetwork(net, seed: 1))
    let ext = sim.externalCurrent(population: 0)
    for q in 0..<drive.count { ext[q] = drive[q] }
    if record { try sim.recordSpikes(net.populations[0].name) }
    return sim
}

/// FNV-1a over spike steps and ids (Auryn-style raster checksum).
func rasterChecksum(_ trains: [SpikeTrain]) -> UInt64 {
    var h: UInt64 = 0xcbf29ce484222325
    func mix(_ x: UInt64) { for b in 0..<8 { h ^= (x >> (8 * UInt64(b))) & 0xff; h = h &* 0x100000001b3 } }
    for t in trains { for (s, i) in zip(t.steps, t.ids) { mix(UInt64(bitPattern: s)); mix(UInt64(UInt32(bitPattern: i))) } }
    return h
}

/// One step's conv delivery as snn_deliver_conv.c documents it, in Float, and the synaptic events. `fires`:
/// the source's spikes, HWC. 3x3 kernels of stride 1 with in and out channels multiples of 16 go by rows
/// (deliver_conv_rows): per target, S = 0 + the kernel values of its window's spikes one after another,
/// window column by window column (kx), in each by window row, then channel; other shapes by lists: the
/// spikes of the window by window row, column, then channel, even and odd list entries summed apart,
/// S = E + O. Then target = 0 + S.
func documentedConvSum(_ g: ConvGeometry, _ kernel: [Float], _ fires: [Bool]) -> (v: [Float], events: Int64) {
    let byRows = g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.inChannels % 16 == 0 && g.outChannels % 16 == 0 && !g.depthwise
    var out = [Float](repeating: 0, count: g.outputSize)
    var events: Int64 = 0
    for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
        var list: [Int] = []   // kernel index (ky, kx, ci) of each listed spike, in the order of addition
        let outer = byRows ? g.kernelWidth : g.kernelHeight, inner = byRows ? g.kernelHeight : g.kernelWidth
        for a in 0..<outer { for b in 0..<inner {
            let (ky, kx) = byRows ? (b, a) : (a, b)
            let y = oy * g.stride - g.padding + ky, x = ox * g.stride - g.padding + kx
            guard y >= 0, y < g.inHeight, x >= 0, x < g.inWidth else { continue }
            for ci in 0..<g.inChannels where fires[(y * g.inWidth + x) * g.inChannels + ci] {
                list.append((ky * g.kernelWidth + kx) * g.inChannels + ci)
            }
        }}
        events += Int64(list.count * g.outChannels)
        for co in 0..<g.outChannels {
            var e: Float = 0, o: Float = 0
            for (r, k) in list.enumerated() {
                if byRows || r % 2 == 0 { e += kernel[k * g.outChannels + co] } else { o += kernel[k * g.outChannels + co] }
            }
            out[(oy * g.outWidth + ox) * g.outChannels + co] = 0 + (byRows ? e : e + o)
        }
    }}
    return (out, events)
}
