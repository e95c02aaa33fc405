package org.ntk4j.bench;

import org.ntk4j.cpu.Blas;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The machine's float32 GEMM rate, measured in the same process as the benchmark it is compared with: square
 * n×n·n×n products through {@link Blas#gemm} (the call every ntk4j GEMM goes through) on off-heap tensors, the
 * same shape as {@link DotGeneralBenchmark}'s direct {@code cblas_sgemm} case.
 */
public final class SgemmRate {
    /** GFLOP/s of the fastest and of the median timed call, and the side used. */
    record Rate(int n, double bestGflops, double medianGflops, int calls) {
    }

    private SgemmRate() {
    }

    /**
     * {@code SgemmRate [threads] [rounds]}: prints the median and best GFLOP/s of {@code rounds} 2048³ products on
     * {@code threads} BLAS threads (for scripts that bracket a run with the machine's rate).
     *
     * @param args {@code [threads] [rounds]}
     */
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        Blas.setThreads(threads);
        Rate r = measure(2048, 1, rounds);
        System.out.printf(java.util.Locale.ROOT, "sgemm %d^3, %d BLAS thread%s: median %.1f GFLOP/s (best %.1f)%n",
                r.n(), threads, threads == 1 ? "" : "s", r.medianGflops(), r.bestGflops());
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
