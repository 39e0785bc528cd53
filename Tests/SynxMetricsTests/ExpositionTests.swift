import XCTest

@testable import SynxMetrics

/// The two text formats against the rules of the Prometheus exposition format 0.0.4 and OpenMetrics 1.0.0, and the
/// naming of synx's measurements (the end-to-end test has `promtool check metrics` and a real Prometheus read them).
final class ExpositionTests: XCTestCase {
    private let voltage = MetricFamily(
        name: "synx_voltage_volts", kind: .gauge, help: "RMS voltage.", unit: "volts",
        samples: [.init([.init("meter", "m1"), .init("phase", "l1n")], 230.5)])
    private let energy = MetricFamily(
        name: "synx_active_energy_joules", kind: .counter, help: "Active energy.", unit: "joules",
        samples: [.init([.init("meter", "m1")], 3.6e9)])

    func testPrometheusText_helpTypeAndSamples_counterNamedTotal() {
        XCTAssertEqual(
            Exposition.render([voltage, energy, MetricFamily(name: "synx_empty", kind: .gauge, help: "none")], as: .prometheus),
            """
            # HELP synx_voltage_volts RMS voltage.
            # TYPE synx_voltage_volts gauge
            synx_voltage_volts{meter="m1",phase="l1n"} 230.5
            # HELP synx_active_energy_joules_total Active energy.
            # TYPE synx_active_energy_joules_total counter
            synx_active_energy_joules_total{meter="m1"} 3600000000.0

            """)
    }

    func testOpenMetrics_typeUnitHelp_familyNameWithoutTotal_andEOF() {
        XCTAssertEqual(
            Exposition.render([voltage, energy], as: .openMetrics),
            """
            # TYPE synx_voltage_volts gauge
            # UNIT synx_voltage_volts volts
            # HELP synx_voltage_volts RMS voltage.
            synx_voltage_volts{meter="m1",phase="l1n"} 230.5
            # TYPE synx_active_energy_joules counter
            # UNIT synx_active_energy_joules joules
            # HELP synx_active_energy_joules Active energy.
            synx_active_energy_joules_total{meter="m1"} 3600000000.0
            # EOF

            """)
        XCTAssertEqual(Exposition.render([], as: .openMetrics), "# EOF\n")
    }

    /// Backslash, quote and line ends escaped (CR and LF each as `\n`, so a CR LF is two); NaN and infinities.
    func testEscaping_labelValuesAndHelp_andSpecialNumbers() {
        let family = MetricFamily(
            name: "x", kind: .gauge, help: "a \\ b \"q\"\nc",
            samples: [.init([.init("reason", "a\"b\\c\nd\r\ne")], .nan), .init([], .infinity), .init([], -.infinity)])
        XCTAssertEqual(
            Exposition.render([family], as: .prometheus),
            """
            # HELP x a \\\\ b "q"\\nc
            # TYPE x gauge
            x{reason="a\\"b\\\\c\\nd\\n\\ne"} NaN
            x +Inf
            x -Inf

            """)
        XCTAssertTrue(Exposition.render([family], as: .openMetrics).contains(#"# HELP x a \\ b \"q\"\nc"#))
        // A quote or backslash followed by a combining mark is one Swift character, but still escaped.
        XCTAssertEqual(Exposition.escape("a\"\u{301}b\\\u{FE0F}", quotes: true), "a\\\"\u{301}b\\\\\u{FE0F}")
    }

    func testNegotiation_openMetricsOnlyWhenAsked() {
        XCTAssertEqual(ExpositionFormat.negotiate(accept: nil), .prometheus)
        XCTAssertEqual(ExpositionFormat.negotiate(accept: "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), .prometheus)
        XCTAssertEqual(
            ExpositionFormat.negotiate(
                accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            .openMetrics)
        XCTAssertTrue(ExpositionFormat.openMetrics.contentType.hasPrefix("application/openmetrics-text; version=1.0.0"))
    }

    /// Base units in the name, percentages as ratios, energy in joules, the phase and order as labels.
    func testMeasurementNaming() throws {
        func place(_ name: String) throws -> MeasurementMetrics.Placement {
            try XCTUnwrap(MeasurementMetrics.placement(of: name), name)
        }
        let v = try place("voltage.l12")
        XCTAssertEqual(v.family, "synx_voltage_volts")
        XCTAssertEqual(v.labels, [.init("phase", "l12")])
        XCTAssertEqual(v.conversion, .none)
        let e = try place("energy.active.import.l2")
        XCTAssertEqual(e.family, "synx_active_energy_joules")
        XCTAssertEqual(e.kind, .counter)
        XCTAssertEqual(e.labels, [.init("direction", "import"), .init("phase", "l2")])
        XCTAssertEqual(e.conversion.apply(1), 3_600_000, "kWh → J")
        XCTAssertEqual(try place("energy.apparent.total").family, "synx_apparent_energy_volt_ampere_seconds")
        let thd = try place("thd.current.l3")
        XCTAssertEqual(thd.family, "synx_current_thd_ratio")
        XCTAssertEqual(thd.conversion.apply(7), 0.07, "a division: not 0.07000000000000001")
        let h = try place("harmonic.voltage.l1.h7")
        XCTAssertEqual(h.family, "synx_voltage_harmonic_ratio")
        XCTAssertEqual(h.labels, [.init("phase", "l1"), .init("order", "7")])
        XCTAssertEqual(try place("unbalance.voltage.nema").labels, [.init("component", "nema")])
        XCTAssertEqual(try place("flicker.pst.l2").family, "synx_flicker_pst")
        XCTAssertEqual(try place("frequency").family, "synx_frequency_hertz")
        XCTAssertEqual(try place("power.reactive.total").family, "synx_reactive_power_vars")
        XCTAssertEqual(try place("power_factor.l1").family, "synx_power_factor_ratio")
        XCTAssertEqual(try place("events.dip.count").family, "synx_meter_counted_events")
        XCTAssertNil(MeasurementMetrics.placement(of: "nonsense"))
        XCTAssertNil(MeasurementMetrics.placement(of: "voltage.l1n.extra.parts"))
    }
}
