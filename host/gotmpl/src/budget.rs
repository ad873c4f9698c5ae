//! The render budget: limits where Helm has none and would die (out of memory, or running
//! forever) on a hostile chart or values file. Each refusal is its own message naming the limit,
//! so a tenant sees which budget their chart exceeded rather than a crashed controller.
//!
//! | limit | default | what it bounds |
//! |---|---|---|
//! | [`MAX_STRING_BYTES`] | 64 MiB | one string made by `repeat`, `indent`, `nindent`, `rand*` |
//! | [`MAX_LIST_LEN`] | 1,000,000 | one list made by `until`, `untilStep`, `seq` |
//! | [`MAX_RENDER_OUTPUT`] | 256 MiB | all text written by one render (nested `include`/`tpl` output counted each time) |
//! | [`MAX_RENDER_STEPS`] | 50,000,000 | template nodes executed by one render (catches exponential `tpl`/`include` fan-out) |

/// Largest string one function may build, in bytes.
pub const MAX_STRING_BYTES: u64 = 64 << 20;

/// Longest list one function may build.
pub const MAX_LIST_LEN: u64 = 1_000_000;

/// Most bytes of text one render may write, nested outputs included.
pub const MAX_RENDER_OUTPUT: u64 = 256 << 20;

/// Most template nodes one render may execute.
pub const MAX_RENDER_STEPS: u64 = 50_000_000;

/// Refuses a string of `bytes` bytes past [`MAX_STRING_BYTES`].
pub(crate) fn string(func: &str, bytes: u128) -> Result<(), String> {
    if bytes > u128::from(MAX_STRING_BYTES) {
        return Err(format!(
            "render budget exceeded: {func} would build a string of {bytes} bytes (limit {MAX_STRING_BYTES})"
        ));
    }
    Ok(())
}

/// Refuses a list of `len` elements past [`MAX_LIST_LEN`].
pub(crate) fn list(func: &str, len: u128) -> Result<(), String> {
    if len > u128::from(MAX_LIST_LEN) {
        return Err(format!(
            "render budget exceeded: {func} would build a list of {len} elements (limit {MAX_LIST_LEN})"
        ));
    }
    Ok(())
}

/// How many elements Sprig's `untilStep(start, stop, step)` yields.
pub(crate) fn until_len(start: i64, stop: i64, step: i64) -> u128 {
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    if (stop < start && step >= 0) || (stop >= start && step <= 0) {
        return 0;
    }
    let span = (stop - start).unsigned_abs();
    let step = step.unsigned_abs();
    span.div_ceil(step)
}
