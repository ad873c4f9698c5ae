//! How one call's objects are cut into parts for a per-object transform (`describe` says
//! `per-object`): consecutive ranges, decided by the objects alone, so the same input always
//! runs as the same parts whatever machine or load (same input, same bytes; and a part that
//! fits a limit fits it everywhere). Parts then run on several cores, each in a fresh instance.

use std::ops::Range;

/// A part closes once it holds this many bytes of JSON: large enough that a call's fixed cost
/// (~15 µs) is lost in its work, small enough that a 1,000-object release gives every core
/// several parts and each part's guest heap stays a few MiB (a one-shot process faults in
/// fewer fresh pages when parts reuse their slot's memory). 128 KiB rather than 256 KiB: paired
/// `capstan transform` runs of the 3-plugin chain, 0.961 of the wall time at 1,000 objects and
/// 0.988 at 10,000 (`docs/benchmarks.md`, session 13): the first part on each core, in a slot
/// no call has used yet, faults in half as many pages.
pub(crate) const PART_BYTES: usize = 128 << 10;

/// ... and at least this many objects.
pub(crate) const PART_OBJECTS: usize = 64;

/// The parts of `objects`, in order, covering all of it; one part when it is too small to cut.
/// A last part smaller than both thresholds joins the one before it.
pub(crate) fn plan(objects: &[String]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, object) in objects.iter().enumerate() {
        bytes += object.len();
        if bytes >= PART_BYTES && i + 1 - start >= PART_OBJECTS {
            parts.push(start..i + 1);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < objects.len() {
        match parts.last_mut() {
            Some(last) if bytes < PART_BYTES / 2 && objects.len() - start < PART_OBJECTS => {
                last.end = objects.len();
            }
            _ => parts.push(start..objects.len()),
        }
    }
    if parts.is_empty() {
        parts.push(0..objects.len());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_objects(count: usize, bytes_each: usize) -> Vec<String> {
        (0..count).map(|_| "x".repeat(bytes_each)).collect()
    }

    fn check_cover(parts: &[Range<usize>], len: usize) {
        assert_eq!(parts.first().map(|p| p.start), Some(0));
        assert_eq!(parts.last().map(|p| p.end), Some(len));
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{parts:?}");
        }
    }

    #[test]
    fn small_lists_are_one_part() {
        assert_eq!(plan(&[]), vec![0..0]);
        assert_eq!(plan(&mk_objects(10, 100)), vec![0..10]);
        // Many bytes but few objects: still one part.
        assert_eq!(plan(&mk_objects(63, 100_000)), vec![0..63]);
    }

    #[test]
    fn large_lists_are_cut_by_bytes_and_count() {
        // 1,000 objects of 2 KB: 64 objects make a part (128 KiB), and the last 40 are one.
        let objects = mk_objects(1000, 2048);
        let parts = plan(&objects);
        check_cover(&parts, 1000);
        assert_eq!(parts[0], 0..64);
        assert_eq!(parts.len(), 16, "{parts:?}");
        assert_eq!(parts[15], 960..1000);
        // Tiny objects: the byte threshold decides, not the count.
        let parts = plan(&mk_objects(10_000, 10));
        assert_eq!(parts, vec![0..10_000]);
    }

    #[test]
    fn a_small_tail_joins_the_last_part() {
        let mut objects = mk_objects(64, 2048);
        objects.extend(mk_objects(10, 100));
        assert_eq!(plan(&objects), vec![0..74]);
        let mut objects = mk_objects(64, 2048);
        objects.extend(mk_objects(64, 100));
        assert_eq!(plan(&objects), vec![0..64, 64..128]);
    }

    #[test]
    fn the_plan_depends_on_the_objects_alone() {
        let objects: Vec<String> = (0..3000).map(|i| "y".repeat(500 + i % 3000)).collect();
        let parts = plan(&objects);
        check_cover(&parts, objects.len());
        assert_eq!(parts, plan(&objects));
        assert!(parts.len() > 2, "{parts:?}");
    }
}
