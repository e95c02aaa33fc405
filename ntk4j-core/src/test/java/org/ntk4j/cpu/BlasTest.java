package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class BlasTest {
    @AfterEach
    void counterOff() {
        Blas.countTime(false);
    }

    @Test
    void gemmComputesTheProductWithTheCounterOnOrOff() {
        try (Tensor a = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = Tensor.of(new double[] {1, 0, 2, 1, 0, 3}, 3, 2);
             Tensor c = Tensor.zeros(DType.F64, 2, 2)) {
            for (boolean on : new boolean[] {false, true}) {
                Blas.countTime(on);
                Blas.gemm(false, false, 2, 2, 3, 1.0, a, 0, 3, b, 0, 2, 0.0, c, 0, 2);
                // [1 2 3; 4 5 6] · [1 0; 2 1; 0 3] = [5 11; 14 23]
                assertThat(new double[] {c.getFlat(0), c.getFlat(1), c.getFlat(2), c.getFlat(3)})
                        .containsExactly(5, 11, 14, 23);
            }
        }
    }

    @Test
    void counterCountsCallsAndTimeOnlyWhileOn() {
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, 256, 256);
             Tensor c = Tensor.zeros(DType.F32, 256, 256)) {
            Blas.countTime(false);
            Blas.gemm(false, false, 256, 256, 256, 1.0, a, 0, 256, a, 0, 256, 0.0, c, 0, 256);
            assertThat(Blas.countedCalls()).isZero();
            assertThat(Blas.countedNanos()).isZero();
            Blas.countTime(true);
            long t0 = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                Blas.gemm(false, false, 256, 256, 256, 1.0, a, 0, 256, a, 0, 256, 0.0, c, 0, 256);
            }
            long wall = System.nanoTime() - t0;
            assertThat(Blas.countedCalls()).isEqualTo(3);
            assertThat(Blas.countedNanos()).isPositive().isLessThanOrEqualTo(wall);
            Blas.countTime(true);
            assertThat(Blas.countedCalls()).isZero();
        }
    }
}
