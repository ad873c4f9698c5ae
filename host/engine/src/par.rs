//! Host-side work that is independent per object or per document — reading YAML documents, JSON
//! encoding and decoding, writing YAML — spread over the machine's cores. A post-render chain's
//! plugins run one after another on the whole stream, but what the host does before, between and
//! after them is per object, and on a 2-core machine that is most of a release's host time.
//!
//! Results always come back in input order, so output bytes never depend on how many threads
//! ran or which finished first. Small inputs stay on the calling thread: starting a thread costs
//! tens of microseconds.

use std::sync::OnceLock;
use std::thread;

/// How many threads host-side work may use: the cores this process may run on.
pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| thread::available_parallelism().map_or(1, usize::from))
}

/// How many threads to use for `len` items when each thread should get at least `min_each`.
fn split_count(len: usize, min_each: usize) -> usize {
    threads().min(len / min_each.max(1)).max(1)
}

/// `f` over every item, in order, on up to [`threads`] threads (each given at least `min_each`
/// consecutive items; the calling thread takes the first share).
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    min_each: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let n = split_count(items.len(), min_each);
    if n == 1 {
        return items.iter().map(&f).collect();
    }
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let rest: Vec<_> = chunks
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for handle in rest {
            out.extend(join(handle));
        }
        out
    })
}

/// Like [`map`], with each item borrowed mutably.
pub(crate) fn map_mut<T: Send, R: Send>(
    items: &mut [T],
    min_each: usize,
    f: impl Fn(&mut T) -> R + Sync,
) -> Vec<R> {
    let n = split_count(items.len(), min_each);
    if n == 1 {
        return items.iter_mut().map(&f).collect();
    }
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let mut chunks = items.chunks_mut(size);
        let first = chunks.next().unwrap_or_default();
        let rest: Vec<_> = chunks
            .map(|chunk| s.spawn(move || chunk.iter_mut().map(f).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<R> = first.iter_mut().map(f).collect();
        for handle in rest {
            out.extend(join(handle));
        }
        out
    })
}

/// `f` over consecutive shares of the items (at least `min_each` each), one share per thread;
/// the shares' results in order.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    min_each: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let n = split_count(items.len(), min_each);
    if n == 1 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let rest: Vec<_> = chunks.map(|chunk| s.spawn(move || f(chunk))).collect();
        let mut out = vec![f(first)];
        out.extend(rest.into_iter().map(join));
        out
    })
}

/// A worker's result; a worker's panic goes on in the caller, as if the work had run there.
fn join<R>(handle: thread::ScopedJoinHandle<'_, R>) -> R {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_whatever_the_split() {
        let items: Vec<usize> = (0..1001).collect();
        let expected: Vec<usize> = items.iter().map(|i| i * 3).collect();
        for min_each in [1, 7, 500, 2000] {
            assert_eq!(map(&items, min_each, |i| i * 3), expected);
            let mut owned = items.clone();
            assert_eq!(
                map_mut(&mut owned, min_each, |i| {
                    *i *= 3;
                    *i
                }),
                expected
            );
            assert_eq!(owned, expected);
            let joined: Vec<usize> = map_chunks(&items, min_each, |c| c.to_vec())
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(joined, items);
        }
        assert!(map(&[] as &[usize], 1, |i| *i).is_empty());
        assert_eq!(map_chunks(&[] as &[usize], 1, <[usize]>::len), vec![0]);
    }
}
