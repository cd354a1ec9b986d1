import Foundation

/// A minimal SVG chart writer (axes, ticks, line/scatter/bar series, legend) for reports. Output is
/// plain SVG 1.1 that browsers and editors open directly.
public struct SVGPlot {
    public struct Series {
        public enum Style { case line, points, steps, bars }
        public var label: String
        public var x: [Double]
        public var y: [Double]
        public var style: Style
        public var color: String
        public init(_ label: String, x: [Double], y: [Double], style: Style = .line, color: String = "") {
            self.label = label; self.x = x; self.y = y; self.style = style; self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var width = 720.0, height = 360.0
    public var logX = false
    public var yMin: Double? = nil, yMax: Double? = nil
    public var xTicks: [Double]? = nil
    public var pointRadius = 1.2

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func niceTicks(_ lo: Double, _ hi: Double, _ n: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(n)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }

    public func render() -> String {
        let ml = 70.0, mr = 20.0, mt = 36.0, mb = 50.0
        let pw = width - ml - mr, ph = height - mt - mb
        let xs = series.flatMap(\.x).filter { $0.isFinite && (!logX || $0 > 0) }
        let ys = series.flatMap(\.y).filter(\.isFinite)
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1
        if logX { x0 = log10(x0); x1 = log10(x1) } else if x0 > 0 && x0 < (x1 - x0) { x0 = 0 }
        if x1 <= x0 { x1 = x0 + 1 }
        var y0 = yMin ?? min(0, ys.min() ?? 0), y1 = yMax ?? (ys.max() ?? 1)
        if y1 <= y0 { y1 = y0 + 1 }
        if yMax == nil { y1 += (y1 - y0) * 0.05 }
        func px(_ x: Double) -> Double { ml + ((logX ? log10(x) : x) - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { mt + ph - (y - y0) / (y1 - y0) * ph }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(Self.esc(title))</text>
        <rect x="\(ml)" y="\(mt)" width="\(pw)" height="\(ph)" fill="none" stroke="#444"/>

        """
        let xt = xTicks ?? (logX ? (Int(floor(x0))...Int(ceil(x1))).map { pow(10, Double($0)) } : Self.niceTicks(x0, x1))
        for t in xt {
            let X = px(t)
            guard X >= ml - 0.5, X <= ml + pw + 0.5 else { continue }
            s += "<line x1=\"\(X)\" y1=\"\(mt + ph)\" x2=\"\(X)\" y2=\"\(mt + ph + 5)\" stroke=\"#444\"/><text x=\"\(X)\" y=\"\(mt + ph + 18)\" text-anchor=\"middle\">\(Self.fmt(t))</text>\n"
            s += "<line x1=\"\(X)\" y1=\"\(mt)\" x2=\"\(X)\" y2=\"\(mt + ph)\" stroke=\"#eee\"/>\n"
        }
        for t in Self.niceTicks(y0, y1) {
            let Y = py(t)
            s += "<line x1=\"\(ml - 5)\" y1=\"\(Y)\" x2=\"\(ml)\" y2=\"\(Y)\" stroke=\"#444\"/><text x=\"\(ml - 8)\" y=\"\(Y + 4)\" text-anchor=\"end\">\(Self.fmt(t))</text>\n"
            s += "<line x1=\"\(ml)\" y1=\"\(Y)\" x2=\"\(ml + pw)\" y2=\"\(Y)\" stroke=\"#eee\"/>\n"
        }
        s += "<text x=\"\(ml + pw / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">\(Self.esc(xLabel))</text>\n"
        s += "<text x=\"16\" y=\"\(mt + ph / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(mt + ph / 2))\">\(Self.esc(yLabel))</text>\n"
        for (k, se) in series.enumerated() {
            let color = se.color.isEmpty ? Self.palette[k % Self.palette.count] : se.color
            let pts = zip(se.x, se.y).filter { $0.0.isFinite && $0.1.isFinite && (!logX || $0.0 > 0) }
            switch se.style {
            case .line, .steps:
                var d = ""
                var prevY: Double? = nil
                for (i, (x, y)) in pts.enumerated() {
                    if se.style == .steps, let py0 = prevY { d += " L\(String(format: "%.2f", px(x))),\(String(format: "%.2f", py(py0)))" }
                    d += (i == 0 ? "M" : " L") + "\(String(format: "%.2f", px(x))),\(String(format: "%.2f", py(y)))"
                    prevY = y
                }
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\"/>\n"
                if se.style == .line && pts.count <= 40 {
                    for (x, y) in pts { s += "<circle cx=\"\(String(format: "%.2f", px(x)))\" cy=\"\(String(format: "%.2f", py(y)))\" r=\"3\" fill=\"\(color)\"/>\n" }
                }
            case .points:
                s += "<g fill=\"\(color)\">"
                for (x, y) in pts { s += "<circle cx=\"\(String(format: "%.1f", px(x)))\" cy=\"\(String(format: "%.1f", py(y)))\" r=\"\(pointRadius)\"/>" }
                s += "</g>\n"
            case .bars:
                let n = Double(max(pts.count, 1))
                let bw = pw / n * 0.8 / Double(max(1, series.count))
                for (i, (_, y)) in pts.enumerated() {
                    let cx = ml + (Double(i) + 0.5) * pw / n + (Double(k) - Double(series.count - 1) / 2) * bw
                    s += "<rect x=\"\(String(format: "%.2f", cx - bw / 2))\" y=\"\(String(format: "%.2f", py(max(y, y0))))\" width=\"\(String(format: "%.2f", bw))\" height=\"\(String(format: "%.2f", py(y0) - py(max(y, y0))))\" fill=\"\(color)\"/>\n"
                }
            }
        }
        // legend
        var ly = mt + 8
        for (k, se) in series.enumerated() where !se.label.isEmpty {
            let color = se.color.isEmpty ? Self.palette[k % Self.palette.count] : se.color
            s += "<rect x=\"\(ml + pw - 150)\" y=\"\(ly)\" width=\"10\" height=\"10\" fill=\"\(color)\"/><text x=\"\(ml + pw - 135)\" y=\"\(ly + 9)\">\(Self.esc(se.label))</text>\n"
            ly += 16
        }
        s += "</svg>\n"
        return s
    }

    /// Stacks several plots vertically into one SVG document.
    public static func stack(_ plots: [SVGPlot]) -> String {
        let w = plots.map(\.width).max() ?? 0
        let h = plots.map(\.height).reduce(0, +)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n"
        var y = 0.0
        for p in plots {
            let inner = p.render().replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\"", with: "<svg y=\"\(y)\"")
            s += inner
            y += p.height
        }
        return s + "</svg>\n"
    }
}
