package org.ntk4j.tensor;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;

/**
 * Reuse of large tensor storage. Fresh off-heap memory costs a page fault on first touch of every 4 KiB page
 * (the kernel also zeroes it); on this project's build machine, a KVM guest, that was measured at about
 * 1.3 s for 537 MB — three times the GEMM that wrote the memory (single-thread SGEMM, [32 × 2048 × 2048] with
 * a contraction of 16). Methods that form the same big tensors again and again (NTK-vector products over
 * tiles of basis vectors, Jacobian contraction over chunks, every repeated kernel call) therefore keep a
 * closed tensor's storage of at least {@link #MIN_BYTES} and hand it to the next tensor of the same dtype and
 * element count, as the design asks ("reuse buffers across tiles of the same shape").
 *
 * <p>The pool holds at most {@code ntk4j.poolBytes} bytes (system property; 0 turns reuse off). By default it is
 * bounded only by JavaCPP's maxBytes, together with the live tensors: before an allocation would take JavaCPP's
 * total over maxBytes, pooled storage is freed, oldest first (JavaCPP would otherwise call the garbage
 * collector and sleep 100 ms, up to ten times, before it fails), so the process's off-heap memory stays within
 * maxBytes as before, and {@link Tensor#releasePooledStorage()} hands it all back. When a block does not fit
 * under the limit, the storage given longest ago goes first. Why no smaller default: a long run (a benchmark
 * sweep, a study over widths) moves between sizes, and the earlier design — a quarter of maxBytes, no eviction
 * — filled with a sweep's first sizes, after which every larger point faulted its memory afresh on every call
 * (the paper's FCN at W = 1024, NTK-vector products: 9.3 s a call in the sweep, 2.3 s with reuse; Jacobian
 * contraction at W = 2048: 18.2 s, 13.5 s). Pooled storage is not counted by {@link Tensor#liveBytes()}: it
 * holds no tensor.
 *
 * <p>A footprint bound ({@link Tensor#boundPooledStorage}; the CLI sets it to a command's {@code --memory} while the
 * command runs) keeps the live tensors and the pool together within a budget: a closed block is pooled only where it
 * fits beside the live tensors (older blocks go first to make room), and an allocation that would take them over it
 * frees pooled blocks first. Without it the pool filled what maxBytes left beside a run's planned peak: a CNN
 * kernel planned at 394 MiB under {@code --memory 512m} held 805 MiB of anonymous memory, 570 MiB bounded
 * (docs/big-kernels.md).
 */
final class StoragePool {
    /**
     * Storage smaller than this is freed at once: its page faults are cheap. Not much larger: glibc hands freed
     * blocks of a few MiB back to the kernel, so the next one faults again (SD's per-layer Grams at moderate
     * N·O are such blocks).
     */
    static final long MIN_BYTES = 1L << 20;
    private static final long LIMIT = limit();
    /** Pooled storage by size key, most recently given first. */
    private static final Map<Long, ArrayDeque<Pointer>> FREE = new HashMap<>();
    /**
     * Every pooled block with its size key, in the order it was given (oldest first): the eviction order. Keys
     * are distinct blocks (a JavaCPP pointer's equality is its address), removed before they are freed.
     */
    private static final LinkedHashMap<Pointer, Long> AGE = new LinkedHashMap<>();
    private static long held;
    /** The most bytes live tensors and pooled storage may hold together (see {@link #bound}). */
    private static long footprint = Long.MAX_VALUE;

    private StoragePool() {
    }

    private static long limit() {
        String p = System.getProperty("ntk4j.poolBytes");
        if (p != null) {
            try {
                return Math.max(0, Long.parseLong(p.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("ntk4j.poolBytes: expected a number of bytes, got '" + p + "'");
            }
        }
        long max = Pointer.maxBytes();
        return max > 0 ? max : Runtime.getRuntime().maxMemory(); // JavaCPP without a limit: as much as the heap
    }

    private static long key(DType dtype, long capacity) {
        return dtype == DType.F32 ? capacity : -capacity;
    }

    private static long bytesOf(long key) {
        return key >= 0 ? key * DType.F32.bytes() : -key * DType.F64.bytes();
    }

    /** Storage for {@code capacity} elements of {@code dtype} from the pool, or null. */
    static synchronized Pointer take(DType dtype, long capacity) {
        ArrayDeque<Pointer> q = FREE.get(key(dtype, capacity));
        if (q == null || q.isEmpty()) {
            return null;
        }
        Pointer p = q.pop();
        AGE.remove(p);
        held -= capacity * dtype.bytes();
        return p;
    }

    /**
     * Bounds live tensors and pooled storage together to {@code bytes} (Long.MAX_VALUE: no bound beyond the pool's
     * own limit), freeing pooled blocks, oldest first, that are already over it.
     *
     * @param bytes the bound
     * @param live the live tensor bytes now
     */
    static synchronized void bound(long bytes, long live) {
        footprint = bytes;
        makeRoom(live, 0);
    }

    /** The footprint bound (Long.MAX_VALUE when none is set). */
    static synchronized long bound() {
        return footprint;
    }

    /**
     * Frees pooled blocks, oldest first, until {@code live} live bytes, the pool and {@code bytes} more fit the
     * footprint bound (or the pool is empty): called before an allocation of {@code bytes}.
     */
    static synchronized void makeRoom(long live, long bytes) {
        long over = saturatedSum(live, held, bytes) - footprint;
        if (over > 0) {
            release(over);
        }
    }

    private static long saturatedSum(long a, long b, long c) {
        long s = a + b;
        s = s < 0 ? Long.MAX_VALUE : s + c;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /**
     * Keeps {@code p} (closed tensor storage) for reuse; false when the caller must free it: too small, above the
     * pool's limit, or not fitting the footprint bound beside {@code live}, the live tensor bytes without it.
     */
    static synchronized boolean offer(DType dtype, long capacity, Pointer p, long live) {
        long bytes = capacity * dtype.bytes();
        if (bytes < MIN_BYTES || bytes > LIMIT || saturatedSum(live, bytes, 0) > footprint) {
            return false;
        }
        while (held + bytes > LIMIT || saturatedSum(live, held, bytes) > footprint) {
            evictOldest();
        }
        long k = key(dtype, capacity);
        FREE.computeIfAbsent(k, x -> new ArrayDeque<>()).push(p);
        AGE.put(p, k);
        held += bytes;
        return true;
    }

    /**
     * Frees pooled storage, oldest first, until at least {@code bytes} are released or the pool is empty.
     *
     * @return the bytes released
     */
    static synchronized long release(long bytes) {
        long released = 0;
        while (released < bytes && held > 0) {
            released += evictOldest();
        }
        return released;
    }

    /** Frees the block given longest ago; returns its bytes. Only called while something is held. */
    private static long evictOldest() {
        Iterator<Map.Entry<Pointer, Long>> oldest = AGE.entrySet().iterator();
        Map.Entry<Pointer, Long> e = oldest.next();
        oldest.remove();
        Pointer p = e.getKey();
        FREE.get(e.getValue()).removeLastOccurrence(p); // the oldest of its size: at the deque's end
        long bytes = bytesOf(e.getValue());
        held -= bytes;
        p.close();
        return bytes;
    }

    /** Frees everything pooled; returns the bytes released. */
    static synchronized long drain() {
        return release(Long.MAX_VALUE);
    }

    /** Bytes held for reuse. */
    static synchronized long heldBytes() {
        return held;
    }
}
