/// The JSON object of a meter's values on `<prefix>/<meter>/state`: `time` (UTC milliseconds of the poll), then
/// each measurement by its canonical name in its canonical unit (`docs/measurements.md`), `null` for one the meter
/// provides but whose value is not current (an invalid read, a register not refreshed). Home Assistant's sensors
/// read it with `{{ value_json['voltage.l1n'] }}`, and a `null` makes the sensor "unknown" rather than repeat an old
/// value.
public enum StatePayload {
    /// The payload for a poll at `timeMs` with `values` in the order given.
    public static func json(timeMs: Int64, values: [(measurement: String, value: Double?)]) -> String {
        var out = "{\"time\":\(timeMs)"
        out.reserveCapacity(24 + values.count * 28)
        for (name, value) in values {
            out += ","
            JSONValue.writeString(name, to: &out)
            out += ":"
            if let value { JSONValue.writeNumber(value, to: &out) } else { out += "null" }
        }
        return out + "}"
    }
}
