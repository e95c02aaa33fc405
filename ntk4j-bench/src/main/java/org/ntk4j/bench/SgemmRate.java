package org.ntk4j.bench;

import org.ntk4j.cpu.Blas;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The machine's float32 GEMM rate, measured in the same process as the benchmark it is compared with: square
 * n×n·n×n products through {@link Blas#gemm} (the call every ntk4j GEMM goes through) on off-heap tensors, the
 * same shape as {@link DotGeneralBenchmark}'s direct {@code cblas_sgemm} case.
 */
final class SgemmRate {
    /** GFLOP/s of the fastest and of the median timed call, and the side used. */
    record Rate(int n, double bestGflops, double medianGflops, int calls) {
    }

    private SgemmRate() {
    }

    /** Times {@code reps} products after {@code warmup} untimed ones; 2·n³ floating-point operations each. */
    static Rate measure(int n, int warmup, int reps) {
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, n, n);
             Tensor b = Tensor.randomNormal(DType.F32, 2, n, n);
             Tensor c = Tensor.zeros(DType.F32, n, n)) {
            double[] t = Timing.repeat(warmup, reps,
                    () -> Blas.gemm(false, false, n, n, n, 1.0, a, 0, n, b, 0, n, 0.0, c, 0, n));
            double flops = 2.0 * n * (double) n * n;
            return new Rate(n, flops / Timing.min(t) / 1e9, flops / Timing.median(t) / 1e9, reps);
        }
    }
}
