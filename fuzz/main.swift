// libFuzzer entry point for scripts/fuzz: FUZZ_BODY names the function of the target being built.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FUZZ_BODY(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
