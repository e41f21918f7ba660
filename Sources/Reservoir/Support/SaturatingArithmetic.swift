/// Arithmetic that pins to the type's range instead of trapping: for values that come from
/// disk (record timestamps, committed offsets, queue state) or from callers, where an extreme
/// value must give an extreme answer, not crash the process.
extension FixedWidthInteger {
    func clampedMinus(_ other: Self) -> Self {
        let (value, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return value }
        return other < 0 ? .max : .min
    }

    func clampedPlus(_ other: Self) -> Self {
        let (value, overflow) = addingReportingOverflow(other)
        guard overflow else { return value }
        return other > 0 ? .max : .min
    }
}

/// `milliseconds` as nanoseconds for timers, at most about 292 years so that a due time
/// computed from it cannot wrap.
func timerNanoseconds(milliseconds: some BinaryInteger) -> UInt64 {
    let ms = UInt64(clamping: milliseconds)
    let (value, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
    return overflow ? UInt64(Int64.max) : min(value, UInt64(Int64.max))
}
