package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Reuse of large tensor storage: what is kept, what a reused tensor holds, and what liveBytes counts. */
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
        }
        assertThat(StoragePool.drain()).isGreaterThanOrEqualTo(4L * LARGE);
        assertThat(StoragePool.heldBytes()).isZero();
    }

    @Test
    void smallStorageIsFreedAtOnce() {
        StoragePool.drain();
        Tensor.empty(DType.F64, 1000).close();
        assertThat(StoragePool.heldBytes()).isZero();
    }
}
