extension BuiltinProfiles {
    /// SunSpec meters (models 201–204 int+scale factor, 211–214 float): the map is discovered on the device.
    static let sunspec = """
        [profile]
        name = "sunspec"
        manufacturer = "SunSpec Alliance"
        model = "SunSpec meter models 201-204, 211-214"
        document = "https://sunspec.org/specifications/ (SunSpec Information Model Specification; model_20x/21x)"
        discovery = "sunspec"
        """
}
