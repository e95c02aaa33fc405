package org.ntk4j.tensor;

import java.util.ArrayDeque;
import java.util.HashMap;
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
 * <p>The pool holds at most {@code ntk4j.poolBytes} bytes (system property; default a quarter of JavaCPP's
 * maxBytes; 0 turns reuse off). Pooled storage is not counted by {@link Tensor#liveBytes()} — it holds no
 * tensor — and is released whenever an allocation would otherwise fail.
 */
final class StoragePool {
    /**
     * Storage smaller than this is freed at once: its page faults are cheap. Not much larger: glibc hands freed
     * blocks of a few MiB back to the kernel, so the next one faults again (SD's per-layer Grams at moderate
     * N·O are such blocks).
     */
    static final long MIN_BYTES = 1L << 20;
    private static final long LIMIT = limit();
    private static final Map<Long, ArrayDeque<Pointer>> FREE = new HashMap<>();
    private static long held;

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
        return Pointer.maxBytes() / 4;
    }

    private static long key(DType dtype, long capacity) {
        return dtype == DType.F32 ? capacity : -capacity;
    }

    /** Storage for {@code capacity} elements of {@code dtype} from the pool, or null. */
    static synchronized Pointer take(DType dtype, long capacity) {
        ArrayDeque<Pointer> q = FREE.get(key(dtype, capacity));
        if (q == null || q.isEmpty()) {
            return null;
        }
        held -= capacity * dtype.bytes();
        return q.pop();
    }

    /** Keeps {@code p} (closed tensor storage) for reuse; false when the caller must free it. */
    static synchronized boolean offer(DType dtype, long capacity, Pointer p) {
        long bytes = capacity * dtype.bytes();
        if (bytes < MIN_BYTES || held + bytes > LIMIT) {
            return false;
        }
        FREE.computeIfAbsent(key(dtype, capacity), k -> new ArrayDeque<>()).push(p);
        held += bytes;
        return true;
    }

    /** Frees everything pooled; returns the bytes released. */
    static synchronized long drain() {
        long released = held;
        for (ArrayDeque<Pointer> q : FREE.values()) {
            for (Pointer p : q) {
                p.close();
            }
        }
        FREE.clear();
        held = 0;
        return released;
    }

    /** Bytes held for reuse. */
    static synchronized long heldBytes() {
        return held;
    }
}
