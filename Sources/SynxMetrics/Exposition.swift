/// One metric family as Prometheus and OpenMetrics expose it: a name, a type, help text, a unit, and one sample
/// per label set.
public struct MetricFamily: Sendable, Equatable {
    /// Gauges go up and down (a voltage); counters only increase (an energy register, polls).
    public enum Kind: String, Sendable {
        case gauge, counter
    }

    /// One sample: its labels, in the order written, and its value.
    public struct Sample: Sendable, Equatable {
        public var labels: [Label]
        public var value: Double

        /// A sample of `value` with `labels`.
        public init(_ labels: [Label], _ value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    /// A label's name and value.
    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String

        /// The label `name="value"`.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The family's name: for a counter without `_total`, which each sample's name adds (OpenMetrics §4.1).
    public var name: String
    public var kind: Kind
    public var help: String
    /// The unit the name ends with (`volts`, `ratio`), or "" for a dimensionless value such as a flicker severity.
    public var unit: String
    public var samples: [Sample]

    /// A family `name` of `kind` with `help`, `unit` and `samples`.
    public init(name: String, kind: Kind, help: String, unit: String = "", samples: [Sample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.unit = unit
        self.samples = samples
    }
}

/// The two text formats a scraper may ask for.
public enum ExpositionFormat: Sendable, Equatable {
    /// The Prometheus text format, version 0.0.4.
    case prometheus
    /// OpenMetrics 1.0.0 text.
    case openMetrics

    /// The HTTP `Content-Type` of a response in this format.
    public var contentType: String {
        switch self {
        case .prometheus: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The format for a request's `Accept` header: OpenMetrics when the scraper lists it (as Prometheus does when
    /// it can parse it), else the Prometheus text format.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheus }
        return accept.lowercased().contains("application/openmetrics-text") ? .openMetrics : .prometheus
    }
}

/// Writes metric families in the Prometheus text format 0.0.4 or OpenMetrics 1.0.0 text
/// (https://prometheus.io/docs/instrumenting/exposition_formats/, the OpenMetrics specification): `# HELP`,
/// `# TYPE` (and `# UNIT` in OpenMetrics) once per family, then one line per sample; label values and help text
/// escaped; OpenMetrics ends with `# EOF`. Families without samples are left out.
public enum Exposition {
    /// The families in `format`.
    public static func render(_ families: [MetricFamily], as format: ExpositionFormat) -> String {
        var out = ""
        out.reserveCapacity(families.reduce(0) { $0 + 96 * ($1.samples.count + 2) })
        for family in families where !family.samples.isEmpty {
            let sampleName = family.kind == .counter ? family.name + "_total" : family.name
            switch format {
            case .prometheus:
                out += "# HELP \(sampleName) \(escape(family.help, quotes: false))\n"
                out += "# TYPE \(sampleName) \(family.kind.rawValue)\n"
            case .openMetrics:
                out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
                if !family.unit.isEmpty { out += "# UNIT \(family.name) \(family.unit)\n" }
                out += "# HELP \(family.name) \(escape(family.help, quotes: true))\n"
            }
            for sample in family.samples {
                out += sampleName
                if !sample.labels.isEmpty {
                    out += "{"
                    for (i, label) in sample.labels.enumerated() {
                        if i > 0 { out += "," }
                        out += label.name + "=\"" + escape(label.value, quotes: true) + "\""
                    }
                    out += "}"
                }
                out += " " + number(sample.value) + "\n"
            }
        }
        if format == .openMetrics { out += "# EOF\n" }
        return out
    }

    /// A value as both formats write it: the shortest decimal that reads back exactly, `NaN`, `+Inf`, `-Inf`.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        return "\(v)"
    }

    /// `s` with backslash, line feed and carriage return (both written `\n`) escaped, and double quotes where the
    /// format asks (label values always, OpenMetrics help text). Done on Unicode scalars, not characters: a quote
    /// followed by a combining mark is one Swift character, but still a quote to a scraper.
    static func escape(_ s: String, quotes: Bool) -> String {
        // The common case, checked on the bytes: nothing to escape.
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || $0 == 0x0D || ($0 == 0x22 && quotes) }) else {
            return s
        }
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n", "\r": out.append(contentsOf: "\\n".unicodeScalars)
            case "\"" where quotes: out.append(contentsOf: "\\\"".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
