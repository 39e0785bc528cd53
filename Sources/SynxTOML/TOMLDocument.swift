/// A parsed TOML file that knows the line of every table header and key, so that errors found after parsing
/// ("duplicate meter name", "unknown profile") point at the file's line as syntax errors do.
public struct TOMLDocument {
    public let file: String
    let root: TOMLTable

    /// Parses `text`, read from `file` (the name is used in errors only). A text that is not TOML 1.0.0 is a
    /// `ConfigError` at the line of the first problem; no text can make this trap.
    public init(file: String, text: String) throws {
        self.file = file
        do {
            root = try TOMLParser.parse(Array(text.utf8))
        } catch let error as TOMLSyntaxError {
            throw ConfigError(
                file: file, line: error.line, key: nil,
                message: "malformed TOML: \(error.message) (column \(error.column))")
        }
    }

    /// The top-level table.
    public var rootSection: TOMLSection {
        TOMLSection(document: self, table: root, displayPath: "")
    }
}
