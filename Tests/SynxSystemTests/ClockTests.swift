import SynxSystem
import XCTest

final class ClockTests: XCTestCase {
    func testStepDetector_seesStepsBothWays_notSlewOrJitter() {
        var d = ClockStepDetector()
        var wall: Int64 = 1_800_000_000_000
        var mono: Int64 = 5_000
        _ = d.check(wall: wall, monotonic: mono)
        for _ in 0..<10 {  // a second at a time, with 0.5 ms of slew and a few ms of read jitter
            wall += 1000 + 3
            mono += 1000
            XCTAssertNil(d.check(wall: wall, monotonic: mono))
        }
        wall -= 3_600_000
        wall += 1000
        mono += 1000
        XCTAssertEqual(d.check(wall: wall, monotonic: mono), -3_600_000)
        wall += 5000
        mono += 1000
        XCTAssertEqual(d.check(wall: wall, monotonic: mono), 4000)
        wall += 1000
        mono += 1000
        XCTAssertNil(d.check(wall: wall, monotonic: mono))
    }

    func testMonotonicCondition_timedWait_returnsAfterItsTime_orWhenSignalled() {
        let c = MonotonicCondition()
        let start = monotonicMilliseconds()
        let signalled = c.withLock { c.wait(milliseconds: 60) }
        XCTAssertFalse(signalled)
        XCTAssertGreaterThanOrEqual(monotonicMilliseconds() - start, 60)
        var woken = false
        let t = Thread {
            c.withLock {
                woken = true
                c.signal()
            }
        }
        c.lock()
        t.start()
        let deadline = monotonicMilliseconds() + 5000
        while !woken && monotonicMilliseconds() < deadline { c.wait(milliseconds: deadline - monotonicMilliseconds()) }
        c.unlock()
        XCTAssertTrue(woken)
        XCTAssertFalse(c.withLock { c.wait(milliseconds: 0) }, "no time: returns at once")
    }
}
