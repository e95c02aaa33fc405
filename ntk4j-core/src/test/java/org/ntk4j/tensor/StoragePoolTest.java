package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Reuse of large tensor storage: what is kept, what a reused tensor holds, what liveBytes counts, and which block
 * goes first when room is needed.
 */
class StoragePoolTest {
    private static final int LARGE = (int) (StoragePool.MIN_BYTES / 4); // float32 elements of the smallest pooled size

    @Test
    void largeStorageIsReusedByTheNextTensorOfTheSameSizeAndZerosAreZeroed() {
        StoragePool.drain();
        long live = Tensor.liveBytes();
        Tensor a = Tensor.full(DType.F32, 7.0, LARGE);
        a.close();
        assertThat(StoragePool.heldBytes()).isEqualTo(4L * LARGE);
        assertThat(Tensor.liveBytes()).as("pooled storage holds no tensor").isEqualTo(live);
        try (Tensor b = Tensor.zeros(DType.F32, 2, LARGE / 2)) {
            assertThat(StoragePool.heldBytes()).as("taken from the pool").isZero();
            assertThat(Tensor.liveBytes()).isEqualTo(live + 4L * LARGE);
            assertThat(b.getFlat(0)).isZero();
            assertThat(b.getFlat(b.size() - 1)).isZero();
        }
        // another dtype or size does not take it
        Tensor c = Tensor.empty(DType.F32, LARGE);
        c.close();
        try (Tensor d = Tensor.empty(DType.F64, LARGE / 2); Tensor e = Tensor.empty(DType.F32, LARGE + 1)) {
            assertThat(StoragePool.heldBytes()).isEqualTo(4L * LARGE);
            assertThat(d.size() + e.size()).isEqualTo(LARGE / 2 + LARGE + 1);
        }
        assertThat(Tensor.releasePooledStorage()).isGreaterThanOrEqualTo(4L * LARGE);
        assertThat(Tensor.pooledBytes()).isZero();
    }

    @Test
    void smallStorageIsFreedAtOnce() {
        StoragePool.drain();
        Tensor.empty(DType.F64, 1000).close();
        assertThat(StoragePool.heldBytes()).isZero();
    }

    @Test
    void roomIsMadeFromTheBlockGivenLongestAgoAndATakenBlockIsNoLongerOld() {
        StoragePool.drain();
        // three sizes, closed in the order a, b, c; then a's storage is taken and given back: now the newest
        Tensor a = Tensor.empty(DType.F32, LARGE);
        Tensor b = Tensor.empty(DType.F32, LARGE + 1);
        Tensor c = Tensor.empty(DType.F64, LARGE);
        a.close();
        b.close();
        c.close();
        Tensor.empty(DType.F32, LARGE).close();
        long held = StoragePool.heldBytes();
        assertThat(held).isEqualTo(4L * LARGE + 4L * (LARGE + 1) + 8L * LARGE);

        assertThat(StoragePool.release(1)).as("b, the oldest now, and only b").isEqualTo(4L * (LARGE + 1));
        try (Tensor again = Tensor.empty(DType.F32, LARGE + 1)) {
            assertThat(StoragePool.heldBytes()).as("b's size is gone from the pool").isEqualTo(held - 4L * (LARGE + 1));
        }
        // the freshly closed [LARGE + 1] is the newest; c is the oldest
        assertThat(StoragePool.release(1)).isEqualTo(8L * LARGE);
        assertThat(StoragePool.release(1)).as("then a").isEqualTo(4L * LARGE);
        try (Tensor x = Tensor.empty(DType.F32, LARGE)) {
            assertThat(StoragePool.heldBytes()).as("a's size is not pooled any more").isEqualTo(4L * (LARGE + 1));
        }
        assertThat(StoragePool.drain()).isEqualTo(4L * (LARGE + 1) + 4L * LARGE);
        assertThat(StoragePool.heldBytes()).isZero();
    }

    @Test
    void severalBlocksOfOneSizeGoOldestFirst() {
        StoragePool.drain();
        Tensor first = Tensor.full(DType.F32, 1.0, LARGE);
        Tensor second = Tensor.full(DType.F32, 2.0, LARGE);
        long firstAddress = first.pointer().address();
        long secondAddress = second.pointer().address();
        first.close();
        second.close();
        StoragePool.release(1); // frees the first block
        try (Tensor t = Tensor.empty(DType.F32, LARGE)) {
            assertThat(t.pointer().address()).as("the second block remains").isEqualTo(secondAddress)
                    .isNotEqualTo(firstAddress);
        }
        StoragePool.drain();
    }

    /**
     * A footprint bound ({@link Tensor#boundPooledStorage}) keeps live and pooled storage together within it, the
     * sums derived here from the tensors' sizes: a closed block is pooled only beside the live tensors within the
     * bound (the oldest pooled block goes to make room), a block that could not fit even alone is freed, and a
     * fresh allocation that would cross the bound frees pooled storage first. Without the bound all three blocks
     * stay pooled (the pool was bounded by JavaCPP's maxBytes alone).
     */
    @Test
    void aFootprintBoundKeepsLiveAndPooledStorageWithinIt() {
        StoragePool.drain();
        long mib = 4L * LARGE; // 1 MiB
        long base = Tensor.liveBytes(); // tensors other tests leave cached in this JVM
        try {
            Tensor.boundPooledStorage(base + 3 * mib);
            assertThat(Tensor.pooledStorageBound()).isEqualTo(base + 3 * mib);
            Tensor a = Tensor.full(DType.F32, 1.0, LARGE);
            Tensor b = Tensor.full(DType.F32, 2.0, LARGE);
            Tensor c = Tensor.full(DType.F32, 3.0, LARGE + 1);
            long cAddress = c.pointer().address();
            a.close(); // live: base + b + c = base + 2 MiB + 4 bytes; a's MiB does not fit beside it
            assertThat(Tensor.pooledBytes()).isZero();
            b.close(); // live: base + c; b fits
            assertThat(Tensor.pooledBytes()).isEqualTo(mib);
            c.close(); // live: base; b and c fit together (2 MiB + 4 bytes of 3 MiB)
            assertThat(Tensor.pooledBytes()).isEqualTo(2 * mib + 4);
            assertThat(Tensor.pooledBytes() + Tensor.liveBytes()).isLessThanOrEqualTo(base + 3 * mib);
            // a fresh block of 2 MiB - 4 bytes, 1 MiB over: b, the oldest, goes first, and that is enough
            try (Tensor d = Tensor.empty(DType.F32, 2 * LARGE - 1)) {
                assertThat(Tensor.pooledBytes()).isEqualTo(mib + 4);
                assertThat(Tensor.liveBytes() + Tensor.pooledBytes()).isLessThanOrEqualTo(base + 3 * mib);
                assertThat(d.pointer().address()).as("c's block is still pooled").isNotEqualTo(cAddress).isNotZero();
            }
            // closed, d's block fits beside c's: 3 MiB, the bound less what is live
            assertThat(Tensor.pooledBytes()).isEqualTo(3 * mib);
            // lowering the bound frees what is over it at once
            Tensor.boundPooledStorage(base + mib);
            assertThat(Tensor.pooledBytes()).isZero();
            // a block larger than the bound is freed at close, not pooled
            Tensor.full(DType.F32, 1.0, 2 * LARGE).close();
            assertThat(Tensor.pooledBytes()).isZero();

            Tensor.boundPooledStorage(Long.MAX_VALUE);
            Tensor e = Tensor.full(DType.F32, 1.0, LARGE);
            Tensor f = Tensor.full(DType.F32, 1.0, LARGE);
            Tensor g = Tensor.full(DType.F32, 1.0, LARGE + 1);
            e.close();
            f.close();
            g.close();
            assertThat(Tensor.pooledBytes()).as("unbounded: all kept").isEqualTo(3 * mib + 4);
        } finally {
            Tensor.boundPooledStorage(Long.MAX_VALUE);
            StoragePool.drain();
        }
    }

    @Test
    void aNegativeBoundIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Tensor.boundPooledStorage(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("boundPooledStorage: expected bytes >= 0, got -1");
    }

    /**
     * An allocation that would take JavaCPP's total over its maxBytes frees pooled storage first, only as much as
     * it needs and oldest first (before, JavaCPP's own loop — System.gc() and 100 ms sleeps, ten times — ran
     * until it failed, and the fallback then emptied the whole pool). In a child JVM with maxBytes = 40 MiB: two
     * 16 MiB blocks pooled, a third size asked for; only the older block may go.
     */
    @Test
    void anAllocationOverJavaCppsMaxBytesFreesTheOldestPooledBlocksFirst() throws Exception {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        Process proc = new ProcessBuilder(java.toString(), "-Dorg.bytedeco.javacpp.maxBytes=40m",
                "-cp", System.getProperty("java.class.path"), UnderMaxBytes.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(proc.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(proc.exitValue()).as(out).isZero();
        long older = 4L * UnderMaxBytes.ELEMENTS;
        long newer = 4L * (UnderMaxBytes.ELEMENTS + 1);
        assertThat(out).as(out).contains("pooled before " + (older + newer) + "\n")
                .contains("pooled after " + newer + "\n").contains("kept the newer block true\n");
    }

    /** The child JVM of {@link #anAllocationOverJavaCppsMaxBytesFreesTheOldestPooledBlocksFirst}. */
    static final class UnderMaxBytes {
        static final int ELEMENTS = 4 << 20; // 16 MiB of float32

        public static void main(String[] args) {
            Tensor older = Tensor.empty(DType.F32, ELEMENTS);
            Tensor newer = Tensor.empty(DType.F32, ELEMENTS + 1);
            long newerAddress = newer.pointer().address();
            older.close();
            newer.close();
            System.out.println("pooled before " + StoragePool.heldBytes());
            try (Tensor third = Tensor.zeros(DType.F32, ELEMENTS + 2)) {
                System.out.println("pooled after " + StoragePool.heldBytes());
                try (Tensor again = Tensor.empty(DType.F32, ELEMENTS + 1)) {
                    System.out.println("kept the newer block " + (again.pointer().address() == newerAddress));
                }
            }
        }
    }
}
