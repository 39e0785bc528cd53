import Foundation

extension ComplianceReport {
    /// The report as one self-contained HTML page with inline SVG plots: no script, no external asset, so it opens
    /// offline and prints; lines differ by dash pattern and marks by shape, so grey-scale print reads the same.
    public func html() -> String {
        let title = "\(standard) — \(meter)"
        let sourceName =
            source == .classA
            ? "Class A: IEC 61000-4-30, synx's engine on sampled waveforms"
            : "meter-derived: values the meter computed, aggregated by synx (not IEC 61000-4-30 Class A)"
        var body = """
            <h1>\(HTML.escape(title))</h1>
            <p class="meta">\(HTML.escape(Self.iso(fromMs))) to \(HTML.escape(Self.iso(toMs))) · values: \
            \(HTML.escape(sourceName)) · 10-min coverage \(String(format: "%.1f", coveragePercent)) % · \
            \(HTML.escape(settings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))</p>
            <p class="verdict \(verdict.rawValue)">Verdict: \(verdict.rawValue.uppercased())</p>

            """
        if !checks.isEmpty {
            body += "<h2>Checks</h2>\n<table class=\"checks\"><tr>"
            body += checkColumns.map { "<th>\(HTML.escape($0))</th>" }.joined()
            body += "</tr>\n"
            for c in checks {
                let cells = checkCells(c, none: "–")
                body += "<tr>" + cells.dropLast().map { "<td>\(HTML.escape($0))</td>" }.joined()
                body += "<td class=\"verdict \(c.verdict.rawValue)\">\(c.verdict.rawValue.uppercased())</td></tr>\n"
            }
            body += "</table>\n"
        }
        if !trends.isEmpty || !spectrum.isEmpty { body += "<h2>Trends</h2>\n" }
        for t in trends { body += SVGPlot.trend(t, from: fromMs, to: toMs) }
        if !spectrum.isEmpty {
            body += "<h2>Harmonic spectrum</h2>\n" + SVGPlot.spectrum(spectrum)
        }
        if !tables.isEmpty || !curves.isEmpty || !events.isEmpty { body += eventsSection() }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #000; background: #fff; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
            th, td { border: 1px solid #888; padding: 0.2em 0.5em; text-align: left; }
            .verdict.fail { font-weight: bold; text-decoration: underline; }
            .verdict.inconclusive { font-style: italic; }
            .meta { color: #333; }
            svg { display: block; margin: 0.5em 0 1.5em; }
            svg text { font-family: sans-serif; font-size: 11px; }
            @media print { h2 { page-break-before: auto; } svg { page-break-inside: avoid; } }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    /// The voltage events: the tables as heat maps, the ITIC and SEMI F47 plots, and the list.
    private func eventsSection() -> String {
        var body = "<h2>Voltage events</h2>\n"
        for t in tables { body += SVGPlot.heatMap(t) }
        body += SVGPlot.curve(
            "ITIC (CBEMA) curve", envelopes: [EventCurves.iticLower, EventCurves.iticUpper], start: 0.001,
            events: events.filter { EventCurves.insideITIC($0) != nil }, inside: EventCurves.insideITIC)
        body += SVGPlot.curve(
            "SEMI F47-0706 curve", envelopes: [EventCurves.semiF47], start: EventCurves.semiF47Start,
            events: events.filter { EventCurves.insideSEMIF47($0) != nil }, inside: EventCurves.insideSEMIF47)
        body += "<table class=\"events\"><tr><th>Kind</th><th>Start (UTC)</th><th>Duration (s)</th>"
        body += "<th>% of reference</th><th>Worst phase</th></tr>\n"
        for e in events {
            body += "<tr><td>\(HTML.escape(e.kind))</td><td>\(Self.iso(e.startMs))</td>"
            body += "<td>\(String(format: "%.3f", e.durationSeconds))</td><td>\(String(format: "%.1f", e.percent))</td>"
            body += "<td>\(HTML.escape(e.worstPhase.uppercased()))</td></tr>\n"
        }
        body += "</table>\n"
        return body
    }
}

/// HTML text escaping.
enum HTML {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// The report's plots as inline SVG: a frame with labelled axes, and the data in it.
enum SVGPlot {
    static let width = 900.0, height = 240.0, left = 60.0, right = 20.0, top = 28.0, bottom = 36.0
    /// Dash patterns per line, so phases read apart in grey-scale print.
    static let dashes = ["", "6,3", "2,2", "8,3,2,3"]

    private static func number(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Round tick values covering [low, high], about five.
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        guard low.isFinite, high.isFinite else { return [] }
        let span = max(high - low, 1e-9)
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw }!
        return stride(from: (low / step).rounded(.up) * step, through: high + 1e-9, by: step).map { $0 }
    }

    private static func frame(
        _ title: String, yLabel: String, xTicks: [(Double, String)], yTicks: [Double], y: (Double) -> Double
    ) -> String {
        var s = "<text x=\"\(number(left))\" y=\"16\" font-weight=\"bold\">\(HTML.escape(title))</text>\n"
        s += "<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(width - left - right))\" "
        s += "height=\"\(number(height - top - bottom))\" fill=\"none\" stroke=\"#000\"/>\n"
        for (x, label) in xTicks {
            s += "<line x1=\"\(number(x))\" y1=\"\(number(height - bottom))\" x2=\"\(number(x))\" y2=\"\(number(height - bottom + 4))\" stroke=\"#000\"/>"
            s += "<text x=\"\(number(x))\" y=\"\(number(height - bottom + 16))\" text-anchor=\"middle\">\(HTML.escape(label))</text>\n"
        }
        for v in yTicks {
            let yy = y(v)
            s += "<line x1=\"\(number(left - 4))\" y1=\"\(number(yy))\" x2=\"\(number(width - right))\" y2=\"\(number(yy))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(number(left - 6))\" y=\"\(number(yy + 4))\" text-anchor=\"end\">\(String(format: "%g", v))</text>\n"
        }
        s += "<text x=\"14\" y=\"\(number((top + height - bottom) / 2))\" transform=\"rotate(-90 14 \(number((top + height - bottom) / 2)))\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>\n"
        return s
    }

    /// A trend: one polyline per line over the period, flagged intervals as hollow squares, limits dash-dotted.
    static func trend(_ t: Trend, from: Int64, to: Int64) -> String {
        let all = (t.lines.flatMap(\.values) + t.limits.map(\.value)).filter(\.isFinite)
        let low = all.min() ?? 0
        let high = all.max() ?? 1
        let pad = max((high - low) * 0.08, 1e-3)
        let (y0, y1) = (low - pad, high + pad)
        let y = { (v: Double) in top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom) }
        let x = { (ms: Int64) in left + Double(ms - from) / Double(max(1, to - from)) * (width - left - right) }
        var days: [(Double, String)] = []
        var day = from
        while day <= to {
            days.append((x(day), String(ComplianceReport.iso(day).prefix(10).suffix(5))))
            day += 86_400_000
        }
        if days.count > 10 { days = days.enumerated().filter { $0.offset % ((days.count + 9) / 10) == 0 }.map(\.element) }
        var s = "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(width))\" height=\"\(number(height))\" viewBox=\"0 0 \(number(width)) \(number(height))\" role=\"img\">\n"
        s += frame(t.title, yLabel: t.unit.isEmpty ? t.title : t.unit, xTicks: days, yTicks: ticks(y0, y1), y: y)
        for limit in t.limits {
            s += "<line class=\"limit\" x1=\"\(number(left))\" y1=\"\(number(y(limit.value)))\" x2=\"\(number(width - right))\" y2=\"\(number(y(limit.value)))\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"10,3,2,3\"/>"
            s += "<text x=\"\(number(width - right - 4))\" y=\"\(number(y(limit.value) - 3))\" text-anchor=\"end\">\(HTML.escape(limit.label))</text>\n"
        }
        for (i, line) in t.lines.enumerated() {
            let points = zip(line.times, line.values).filter { $1.isFinite }.map { "\(number(x($0))),\(number(y($1)))" }
                .joined(separator: " ")
            s += "<polyline class=\"data\" data-points=\"\(line.values.count)\" points=\"\(points)\" fill=\"none\" stroke=\"#000\" stroke-width=\"1\" stroke-dasharray=\"\(dashes[i % dashes.count])\"/>\n"
            for (k, flagged) in line.flagged.enumerated() where flagged && line.values[k].isFinite {
                s += "<rect class=\"flagged\" x=\"\(number(x(line.times[k]) - 3))\" y=\"\(number(y(line.values[k]) - 3))\" width=\"6\" height=\"6\" fill=\"#fff\" stroke=\"#000\"/>"
            }
            let ly = top + 14 + Double(i) * 14
            s += "<line x1=\"\(number(left + 10))\" y1=\"\(number(ly - 4))\" x2=\"\(number(left + 40))\" y2=\"\(number(ly - 4))\" stroke=\"#000\" stroke-dasharray=\"\(dashes[i % dashes.count])\"/>"
            s += "<text x=\"\(number(left + 46))\" y=\"\(number(ly))\">\(HTML.escape(line.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// The harmonic spectrum: a bar per order (95th percentile, worst phase) and its limit as a thick tick.
    static func spectrum(_ bars: [SpectrumBar]) -> String {
        let high = max(bars.map { max($0.percentile95, $0.limit) }.max() ?? 1, 0.1) * 1.1
        let y = { (v: Double) in top + (1 - v / high) * (height - top - bottom) }
        let slot = (width - left - right) / Double(max(bars.count, 1))
        var s = "<svg class=\"spectrum\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(width))\" height=\"\(number(height))\" viewBox=\"0 0 \(number(width)) \(number(height))\" role=\"img\">\n"
        // Every order labelled up to 25 bars; above that (orders to 50) the odd ones, so the labels do not collide.
        let orders = bars.enumerated().filter { bars.count <= 25 || $0.element.order % 2 == 1 }.map {
            (left + (Double($0.offset) + 0.5) * slot, String($0.element.order))
        }
        s += frame(
            "Harmonic voltage, 95th percentile of the 10-min values (worst phase) against the limits", yLabel: "% of fundamental",
            xTicks: orders, yTicks: ticks(0, high), y: y)
        for (i, b) in bars.enumerated() {
            let x0 = left + Double(i) * slot + slot * 0.2
            s += "<rect class=\"bar\" x=\"\(number(x0))\" y=\"\(number(y(b.percentile95)))\" width=\"\(number(slot * 0.6))\" height=\"\(number(y(0) - y(b.percentile95)))\" fill=\"\(b.percentile95 > b.limit ? "#000" : "#999")\"><title>order \(b.order): \(String(format: "%.2f", b.percentile95)) % (\(b.phase.uppercased())), limit \(String(format: "%g", b.limit)) %</title></rect>"
            s += "<line class=\"limit\" x1=\"\(number(x0 - 2))\" y1=\"\(number(y(b.limit)))\" x2=\"\(number(x0 + slot * 0.6 + 2))\" y2=\"\(number(y(b.limit)))\" stroke=\"#000\" stroke-width=\"3\"/>\n"
        }
        return s + "</svg>\n"
    }

    /// An event table as a heat map: darker for more events, the count written in each cell.
    static func heatMap(_ t: EventTable) -> String {
        let cellW = 120.0, cellH = 26.0, labelW = 130.0
        let h = top + Double(t.rows.count + 1) * cellH + 8
        let most = max(1, t.counts.joined().max() ?? 1)
        var s = "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(labelW + Double(t.columns.count) * cellW + 10))\" height=\"\(number(h))\" role=\"img\">\n"
        s += "<text x=\"0\" y=\"16\" font-weight=\"bold\">\(HTML.escape(t.title))</text>\n"
        for (c, column) in t.columns.enumerated() {
            s += "<text x=\"\(number(labelW + (Double(c) + 0.5) * cellW))\" y=\"\(number(top + cellH - 8))\" text-anchor=\"middle\">\(HTML.escape(column))</text>"
        }
        for (r, row) in t.rows.enumerated() {
            let yy = top + Double(r + 1) * cellH
            s += "<text x=\"0\" y=\"\(number(yy + cellH - 9))\">\(HTML.escape(row))</text>"
            for (c, n) in t.counts[r].enumerated() {
                let shade = 255 - Int(Double(n) / Double(most) * 200)
                let grey = String(format: "#%02x%02x%02x", shade, shade, shade)
                s += "<rect class=\"cell\" x=\"\(number(labelW + Double(c) * cellW))\" y=\"\(number(yy))\" width=\"\(number(cellW))\" height=\"\(number(cellH))\" fill=\"\(n == 0 ? "#fff" : grey)\" stroke=\"#000\"/>"
                s += "<text x=\"\(number(labelW + (Double(c) + 0.5) * cellW))\" y=\"\(number(yy + cellH - 9))\" text-anchor=\"middle\" fill=\"\(shade < 140 ? "#fff" : "#000")\">\(n)</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    /// Events on a voltage-tolerance curve: magnitude (% of the reference) over duration (log axis); dips as
    /// circles, swells as triangles, filled when outside the envelope.
    static func curve(
        _ title: String, envelopes: [EventCurves.Envelope], start: Double, events: [ReportEvent],
        inside: (ReportEvent) -> Bool?
    ) -> String {
        let (t0, t1) = (log10(0.001), log10(100.0))
        let x = { (seconds: Double) in left + (log10(min(max(seconds, 0.001), 100)) - t0) / (t1 - t0) * (width - left - right) }
        let y = { (p: Double) in top + (1 - min(max(p, 0), 200) / 200) * (height - top - bottom) }
        var s = "<svg class=\"curve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(number(width))\" height=\"\(number(height))\" viewBox=\"0 0 \(number(width)) \(number(height))\" role=\"img\">\n"
        let decades = [0.001, 0.01, 0.1, 1, 10, 100].map { (x($0), $0 < 1 ? "\(Int($0 * 1000)) ms" : "\(Int($0)) s") }
        s += frame("\(title): \(events.count) events", yLabel: "% of reference", xTicks: decades, yTicks: [0, 50, 100, 150, 200], y: y)
        for envelope in envelopes {
            var points: [String] = []
            var from = start
            for step in envelope {
                let to = min(step.upTo, 100)
                points += ["\(number(x(from))),\(number(y(step.percent)))", "\(number(x(to))),\(number(y(step.percent)))"]
                from = to
            }
            s += "<polyline class=\"envelope\" points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\n"
        }
        for e in events where e.durationSeconds.isFinite && e.percent.isFinite {
            let (ex, ey) = (x(e.durationSeconds), y(e.percent))
            let fill = inside(e) == false ? "#000" : "#fff"
            let label = "<title>\(HTML.escape(e.kind)) \(String(format: "%.1f", e.percent)) % for \(String(format: "%.3f", e.durationSeconds)) s</title>"
            if e.kind == "swell" {
                s += "<polygon class=\"event\" points=\"\(number(ex)),\(number(ey - 5)) \(number(ex - 5)),\(number(ey + 4)) \(number(ex + 5)),\(number(ey + 4))\" fill=\"\(fill)\" stroke=\"#000\">\(label)</polygon>\n"
            } else {
                s += "<circle class=\"event\" cx=\"\(number(ex))\" cy=\"\(number(ey))\" r=\"4\" fill=\"\(fill)\" stroke=\"#000\">\(label)</circle>\n"
            }
        }
        return s + "</svg>\n"
    }
}
