package org.ntk4j.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.ntk4j.cpu.Blas;
import org.ntk4j.primitive.DotGeneral;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * float32 dot_general against the OpenBLAS call it makes, side by side in one JMH run.
 *
 * <p>Threads: ntk4j keeps OpenBLAS on one thread and splits a large GEMM over its own pool, one part per core
 * ({@link Blas}). The separate benchmarks give each side the machine's cores: dot_general its own split, the
 * direct calls OpenBLAS's own threads ({@link OpenBlasThreads}, {@link Blas#threads()} of them), what a user
 * calling OpenBLAS gets. The paired benchmarks run in a JVM where ntk4j does not split
 * ({@code -Dntk4j.blas.splitWork} at its maximum) and OpenBLAS stays on one thread: both sides on one core, so
 * their ratio is ntk4j's overhead alone. (Until 2026-12-06 the direct calls ran on one thread beside a
 * dot_general on two, and the ratios of the separate runs, 1.5–1.6 at 1024³, measured threads, not overhead.)
 *
 * <ul>
 *   <li>{@code matmul1024DotGeneral}: {@link DotGeneral#evaluate} of a plain 1024×1024 · 1024×1024 matmul on
 *       off-heap tensors. The output tensor is allocated by every call (that is part of what ntk4j costs) and
 *       closed before the next.</li>
 *   <li>{@code matmul1024Sgemm}: one {@code cblas_sgemm} on the same {@link FloatPointer}s into a
 *       preallocated output.</li>
 *   <li>{@code batchedDotGeneral}: lhs [64,128,512] · rhs [64,512,512], batch axis 0, lhs axis 2 contracted
 *       with rhs axis 1, giving [64,128,512].</li>
 *   <li>{@code batchedSgemm}: the same product as 64 direct {@code cblas_sgemm} calls on pointers to each
 *       batch's offset, created once in the setup, into a preallocated output.</li>
 *   <li>{@code pairedMatmul1024} and {@code pairedBatched}: the same two competitors interleaved call by call
 *       (alternating which goes first), each timed with {@link System#nanoTime} into {@link PairTimes}. On a
 *       machine shared with other work, the separate benchmarks above run seconds apart and see different
 *       load; the paired ones see the same load, so their ratio is the one to trust when the machine is
 *       busy.</li>
 * </ul>
 *
 * <p>Both states check in their setup that dot_general and the direct call agree with each other and with a
 * double-precision dot product at a few entries, so a benchmark never times a wrong product.
 * {@link GemmReport} runs this class and turns the times into GFLOP/s and ratios.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(1)
public class DotGeneralBenchmark {
    /** Side of the square matmul. */
    public static final int N = 1024;
    /** Batched shape: B × (M×K · K×P). */
    public static final int BATCH = 64;
    /** Rows of each batched left operand. */
    public static final int M = 128;
    /** The contracted size of each batched product. */
    public static final int K = 512;
    /** Columns of each batched right operand. */
    public static final int P = 512;

    /** Floating-point operations of one square matmul: 2·N³. */
    public static final double SQUARE_FLOPS = 2.0 * N * N * N;
    /** Floating-point operations of one batched product: 2·B·M·K·P. */
    public static final double BATCHED_FLOPS = 2.0 * BATCH * M * K * P;

    private static final int[] NONE = {};

    /** The 1024³ operands, the preallocated output of the direct call, and the dot_general primitive. */
    @State(Scope.Benchmark)
    public static class Square {
        final DotGeneral matmul = new DotGeneral(new int[] {1}, new int[] {0}, NONE, NONE);
        Tensor a;
        Tensor b;
        Tensor c;
        FloatPointer pa;
        FloatPointer pb;
        FloatPointer pc;

        /** Allocates the operands, and checks dot_general against the direct sgemm once. */
        @Setup(Level.Trial)
        public void setup() {
            Blas.load();
            a = Tensor.randomNormal(DType.F32, 1, N, N);
            b = Tensor.randomNormal(DType.F32, 2, N, N);
            c = Tensor.zeros(DType.F32, N, N);
            pa = a.floatPointer();
            pb = b.floatPointer();
            pc = c.floatPointer();
            sgemm(pa, pb, pc, N, N, N);
            try (Tensor ours = matmul.evaluate(a, b)) {
                check("1024^3", ours, c, a, b, 0, N, N, N);
            }
        }

        /** Frees the operands. */
        @TearDown(Level.Trial)
        public void tearDown() {
            a.close();
            b.close();
            c.close();
        }
    }

    /** The 64 × (128×512 · 512×512) operands, per-batch pointers for the direct calls, and the primitive. */
    @State(Scope.Benchmark)
    public static class Batched {
        final DotGeneral bmm = new DotGeneral(new int[] {2}, new int[] {1}, new int[] {0}, new int[] {0});
        Tensor lhs;
        Tensor rhs;
        Tensor out;
        FloatPointer[] pl;
        FloatPointer[] pr;
        FloatPointer[] po;

        /** Allocates the batched operands, and checks dot_general against the direct sgemm calls once. */
        @Setup(Level.Trial)
        public void setup() {
            Blas.load();
            lhs = Tensor.randomNormal(DType.F32, 3, BATCH, M, K);
            rhs = Tensor.randomNormal(DType.F32, 4, BATCH, K, P);
            out = Tensor.zeros(DType.F32, BATCH, M, P);
            pl = new FloatPointer[BATCH];
            pr = new FloatPointer[BATCH];
            po = new FloatPointer[BATCH];
            for (int i = 0; i < BATCH; i++) {
                pl[i] = lhs.floatPointer().getPointer((long) i * M * K);
                pr[i] = rhs.floatPointer().getPointer((long) i * K * P);
                po[i] = out.floatPointer().getPointer((long) i * M * P);
            }
            for (int i = 0; i < BATCH; i++) {
                sgemm(pl[i], pr[i], po[i], M, P, K);
            }
            try (Tensor ours = bmm.evaluate(lhs, rhs)) {
                for (int i = 0; i < BATCH; i += 21) {
                    check("batch " + i, ours, out, lhs, rhs, i, M, P, K);
                }
            }
        }

        /** Frees the batched operands. */
        @TearDown(Level.Trial)
        public void tearDown() {
            lhs.close();
            rhs.close();
            out.close();
        }
    }

    /** OpenBLAS on its own threads, one per core, for the direct calls of the separate benchmarks. */
    @State(Scope.Benchmark)
    public static class OpenBlasThreads {
        /** Sets OpenBLAS's thread count to the machine's ({@link Blas#threads()}). */
        @Setup(Level.Trial)
        public void setup() {
            Blas.load();
            openblas.blas_set_num_threads(Blas.threads());
        }

        /** Back to the one thread ntk4j keeps OpenBLAS on. */
        @TearDown(Level.Trial)
        public void tearDown() {
            openblas.blas_set_num_threads(1);
        }
    }

    /** JVM option of the paired benchmarks: ntk4j does not split its GEMMs over threads. */
    static final String ONE_THREAD = "-Dntk4j.blas.splitWork=9223372036854775807";

    /**
     * Nanoseconds spent in each competitor of a paired benchmark during one iteration, reported by JMH as
     * secondary results {@code oursNs}, {@code directNs} and {@code pairs} (per-iteration sums).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class PairTimes {
        /** Nanoseconds in dot_general this iteration. */
        public long oursNs;
        /** Nanoseconds in the direct sgemm calls this iteration. */
        public long directNs;
        /** Pairs (one of each) run this iteration. */
        public long pairs;

        /** Zeroes the counters at the start of each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            oursNs = 0;
            directNs = 0;
            pairs = 0;
        }
    }

    /** C = A·B, row-major, A m×k, B k×n, C m×n, all contiguous. */
    static void sgemm(FloatPointer a, FloatPointer b, FloatPointer c, int m, int n, int k) {
        openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, m, n, k,
                1.0f, a, k, b, n, 0.0f, c, n);
    }

    /**
     * Fails unless batch {@code batch} of {@code ours} equals that of {@code direct} to float rounding and
     * both match a double-precision dot product at a few random entries.
     */
    static void check(String what, Tensor ours, Tensor direct, Tensor a, Tensor b, int batch, int m, int n,
                      int k) {
        long cBase = (long) batch * m * n;
        for (int i = 0; i < m * n; i++) {
            double x = ours.getFlat(Math.toIntExact(cBase + i));
            double y = direct.getFlat(Math.toIntExact(cBase + i));
            if (Math.abs(x - y) > 1e-4 * (1 + Math.abs(y))) {
                throw new AssertionError(what + ": dot_general and cblas_sgemm differ at flat index " + i + ": "
                        + x + " vs " + y);
            }
        }
        Random r = new Random(batch);
        long aBase = (long) batch * m * k;
        long bBase = (long) batch * k * n;
        for (int t = 0; t < 16; t++) {
            int i = r.nextInt(m);
            int j = r.nextInt(n);
            double exact = 0;
            for (int q = 0; q < k; q++) {
                exact += a.getFlat(Math.toIntExact(aBase + (long) i * k + q))
                        * b.getFlat(Math.toIntExact(bBase + (long) q * n + j));
            }
            double got = ours.getFlat(Math.toIntExact(cBase + (long) i * n + j));
            if (Math.abs(got - exact) > 1e-3 * Math.sqrt(k)) {
                throw new AssertionError(what + ": entry (" + i + "," + j + ") is " + got + ", expected " + exact);
            }
        }
    }

    /**
     * One 1024³ product through dot_general.
     *
     * @param s the operands
     * @param bh consumes the result
     */
    @Benchmark
    public void matmul1024DotGeneral(Square s, Blackhole bh) {
        try (Tensor c = s.matmul.evaluate(s.a, s.b)) {
            bh.consume(c);
        }
    }

    /**
     * One 1024³ product through cblas_sgemm directly, OpenBLAS on its own threads.
     *
     * @param s the operands
     * @param threads OpenBLAS's threads, one per core
     */
    @Benchmark
    public void matmul1024Sgemm(Square s, OpenBlasThreads threads) {
        sgemm(s.pa, s.pb, s.pc, N, N, N);
    }

    /**
     * The batched product through one dot_general with a batch axis.
     *
     * @param s the operands
     * @param bh consumes the result
     */
    @Benchmark
    public void batchedDotGeneral(Batched s, Blackhole bh) {
        try (Tensor c = s.bmm.evaluate(s.lhs, s.rhs)) {
            bh.consume(c);
        }
    }

    /**
     * The batched product as 64 direct cblas_sgemm calls, OpenBLAS on its own threads.
     *
     * @param s the operands
     * @param threads OpenBLAS's threads, one per core
     */
    @Benchmark
    public void batchedSgemm(Batched s, OpenBlasThreads threads) {
        batchedDirect(s);
    }

    private static void batchedDirect(Batched s) {
        for (int i = 0; i < BATCH; i++) {
            sgemm(s.pl[i], s.pr[i], s.po[i], M, P, K);
        }
    }

    /**
     * dot_general and the direct sgemm on the 1024³ product back to back, timed apart, so that both see the same
     * load.
     *
     * @param s the operands
     * @param t the per-competitor time counters
     * @param bh consumes the results
     */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = ONE_THREAD)
    public void pairedMatmul1024(Square s, PairTimes t, Blackhole bh) {
        boolean oursFirst = (t.pairs & 1) == 0;
        long t0 = System.nanoTime();
        if (oursFirst) {
            matmul1024DotGeneral(s, bh);
        } else {
            sgemm(s.pa, s.pb, s.pc, N, N, N);
        }
        long t1 = System.nanoTime();
        if (oursFirst) {
            sgemm(s.pa, s.pb, s.pc, N, N, N);
        } else {
            matmul1024DotGeneral(s, bh);
        }
        long t2 = System.nanoTime();
        t.oursNs += oursFirst ? t1 - t0 : t2 - t1;
        t.directNs += oursFirst ? t2 - t1 : t1 - t0;
        t.pairs++;
    }

    /**
     * dot_general and the 64 direct sgemm calls on the batched product back to back, timed apart.
     *
     * @param s the operands
     * @param t the per-competitor time counters
     * @param bh consumes the results
     */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = ONE_THREAD)
    public void pairedBatched(Batched s, PairTimes t, Blackhole bh) {
        boolean oursFirst = (t.pairs & 1) == 0;
        long t0 = System.nanoTime();
        if (oursFirst) {
            batchedDotGeneral(s, bh);
        } else {
            batchedDirect(s);
        }
        long t1 = System.nanoTime();
        if (oursFirst) {
            batchedDirect(s);
        } else {
            batchedDotGeneral(s, bh);
        }
        long t2 = System.nanoTime();
        t.oursNs += oursFirst ? t1 - t0 : t2 - t1;
        t.directNs += oursFirst ? t2 - t1 : t1 - t0;
        t.pairs++;
    }
}
