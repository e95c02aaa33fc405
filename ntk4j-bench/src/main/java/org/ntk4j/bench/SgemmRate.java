package org.ntk4j.bench;

import java.util.Arrays;
import java.util.Locale;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The machine's SGEMM rate right now, for ratios against it: median GFLOP/s of {@code rounds} 2048 × 2048 ×
 * 2048 float32 GEMMs (through dot_general, which runs at the direct cblas_sgemm rate: RESULTS.md) with the
 * given number of BLAS threads. Usage: {@code SgemmRate [threads] [rounds]}.
 */
public final class SgemmRate {
    private SgemmRate() {
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        Blas.setThreads(threads);
        int n = 2048;
        double[] rates = new double[rounds];
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, n, n); Tensor b = Tensor.randomNormal(DType.F32, 2, n, n)) {
            DotGeneralKernel.dot(a, b, new int[] {1}, new int[] {0}, new int[0], new int[0]).close(); // warm-up
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                DotGeneralKernel.dot(a, b, new int[] {1}, new int[] {0}, new int[0], new int[0]).close();
                rates[r] = 2.0 * n * n * n / ((System.nanoTime() - t0) / 1e9) / 1e9;
            }
        }
        Arrays.sort(rates);
        System.out.printf(Locale.ROOT, "sgemm %d^3, %d BLAS thread%s: median %.1f GFLOP/s (min %.1f, max %.1f)%n", n,
                threads, threads == 1 ? "" : "s", rates[rounds / 2], rates[0], rates[rounds - 1]);
    }
}
