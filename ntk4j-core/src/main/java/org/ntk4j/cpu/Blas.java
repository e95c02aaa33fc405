package org.ntk4j.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The BLAS calls ntk4j makes: row-major GEMM on off-heap tensors, addressed by element offsets, through
 * OpenBLAS 0.3.31 (org.bytedeco:openblas), which detects this project's CPUs correctly on its own.
 */
public final class Blas {
    static {
        org.ntk4j.tensor.NativeMemory.configure(); // before JavaCPP's Pointer initialises
    }

    private static volatile boolean loaded;

    // Time-in-BLAS counter for benchmarks (off by default: then gemm reads one volatile boolean and nothing else).
    // It counts wall time during which at least one thread is inside a GEMM, so calls overlapping on several
    // threads count once and the total can be compared with the wall time of the surrounding computation.
    private static volatile boolean counting;
    private static final Object COUNTER_LOCK = new Object();
    private static int callsInside;
    private static long busySince;
    private static long busyNanos;
    private static long countedCalls;

    // Threads. OpenBLAS runs every call on the calling thread alone (it is told 1 thread at load); a GEMM of at
    // least SPLIT_WORK multiply-adds is split by ntk4j into up to threads() blocks of C's rows or columns, one GEMM
    // each, on Parallel's pool (whose idle threads park). Why not OpenBLAS's own threads: after a threaded call its
    // workers spin for a while (THREAD_TIMEOUT) and take the second core from the JVM's work in between, and
    // telling OpenBLAS another thread count per call costs far more than it saves (measured on the paper's FCN
    // sweep at N = 64: 14 ms per kernel with one thread throughout, 80-150 ms when small and large GEMMs
    // switched between 1 and 2 threads). A block of C is a GEMM over the whole K, as OpenBLAS's own threads
    // split it (never along K). LAPACK calls of large order get OpenBLAS's threads for their duration.
    private static final long SPLIT_WORK = Long.getLong("ntk4j.blas.splitWork", 1L << 23);
    private static final int LAPACK_THREADED_ORDER = 1024;
    private static volatile int configuredThreads = 1;
    private static int threadedLapackCalls;

    private Blas() {
    }

    /**
     * Loads the native library (first call takes a moment: JavaCPP extracts it to its cache), points netlib (the
     * BLAS of Spark MLlib, Breeze and others in the same JVM) at the same OpenBLAS, and refuses to run if another
     * BLAS already sits in the process's global symbol scope (see {@code checkNoOtherBlas}). Later calls return at
     * once; every other method here calls it first.
     *
     * @throws IllegalStateException when another library's {@code cblas_dgemm} would take the place of OpenBLAS's
     */
    public static void load() {
        if (!loaded) {
            synchronized (Blas.class) {
                if (!loaded) {
                    String jni = org.bytedeco.javacpp.Loader.load(openblas.class);
                    java.nio.file.Path library = jni == null ? null
                            : java.nio.file.Paths.get(jni).resolveSibling("libopenblas.so.0");
                    if (library != null && java.nio.file.Files.isRegularFile(library)) {
                        shareWithNetlib(library.toString());
                    }
                    checkNoOtherBlas(library == null ? null : realParent(library));
                    // The vendor-neutral getter answers -1 until blas_set_num_threads has been called once;
                    // OpenBLAS's own getter knows the default (the number of cores, or OPENBLAS_NUM_THREADS).
                    int n = openblas.blas_get_num_threads();
                    configuredThreads = Math.max(1, n > 0 ? n
                            : org.bytedeco.openblas.global.openblas_full.openblas_get_num_threads());
                    openblas.blas_set_num_threads(1);
                    loaded = true;
                }
            }
        }
    }

    /**
     * Netlib (dev.ludovic.netlib, which Spark MLlib uses, e.g. in {@code KernelBlockMatrix}) opens the system's
     * {@code libblas.so.3} unless told otherwise, into the global symbol scope of the process, where the dynamic
     * linker finds it before OpenBLAS when it binds JavaCPP's calls: ntk4j's GEMMs would then silently run on that
     * BLAS (the reference BLAS is 100 times slower and rounds differently; a test saw a kernel change in its last
     * bits after an MLlib call in the same JVM). Pointing netlib at this OpenBLAS avoids it and gives MLlib a fast
     * BLAS. A user's own setting of these properties is kept.
     */
    private static void shareWithNetlib(String library) {
        for (String what : new String[] {"blas", "lapack"}) {
            String key = "dev.ludovic.netlib." + what + ".nativeLibPath";
            if (System.getProperty(key) == null
                    && System.getProperty("dev.ludovic.netlib." + what + ".nativeLib") == null) {
                System.setProperty(key, library);
            }
        }
    }

    /**
     * Refuses to go on when {@code cblas_dgemm} in the global symbol scope belongs to a library other than this
     * OpenBLAS (one of JavaCPP's files in {@code ours}): JavaCPP's bindings would resolve to it. Normally no
     * library is global there (null); after netlib opened this OpenBLAS it is this one. Skipped when the user chose
     * another BLAS for JavaCPP on purpose ({@code -Dorg.bytedeco.openblas.load=...}, e.g. MKL).
     */
    static void checkNoOtherBlas(java.nio.file.Path ours) {
        if (System.getProperty("org.bytedeco.openblas.load") != null
                || System.getProperty("org.bytedeco.openblas_nolapack.load") != null) {
            return; // the user chose another BLAS for JavaCPP's OpenBLAS bindings (e.g. MKL) on purpose
        }
        org.bytedeco.javacpp.Pointer symbol = org.bytedeco.javacpp.Loader.addressof("cblas_dgemm");
        if (symbol == null || symbol.isNull()) {
            return;
        }
        String owner = mappedFile(symbol.address());
        if (owner != null && (ours == null || !ours.equals(java.nio.file.Paths.get(owner).getParent()))) {
            throw new IllegalStateException("another BLAS library, " + owner + ", was loaded into this JVM before "
                    + "OpenBLAS, and its cblas_dgemm would replace OpenBLAS's (much slower, other rounding): use "
                    + "ntk4j's kernels before anything that loads a native BLAS (Spark MLlib's netlib, for one), or "
                    + "point that library at OpenBLAS (-Ddev.ludovic.netlib.blas.nativeLibPath=...)");
        }
    }

    private static java.nio.file.Path realParent(java.nio.file.Path file) {
        try {
            return file.toRealPath().getParent();
        } catch (java.io.IOException e) {
            return file.getParent();
        }
    }

    /** The file mapped at {@code address} in this process, from /proc/self/maps; null when not found. */
    private static String mappedFile(long address) {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Paths.get("/proc/self/maps"))) {
                String[] f = line.trim().split("\\s+", 6);
                int dash = f[0].indexOf('-');
                if (f.length == 6 && dash > 0) {
                    long from = Long.parseUnsignedLong(f[0].substring(0, dash), 16);
                    long to = Long.parseUnsignedLong(f[0].substring(dash + 1), 16);
                    if (Long.compareUnsigned(address, from) >= 0 && Long.compareUnsigned(address, to) < 0) {
                        return f[5];
                    }
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return null; // no /proc: nothing to check against
        }
        return null;
    }

    /**
     * Threads a large BLAS or LAPACK call uses: a GEMM is split into up to this many blocks run in parallel, a
     * LAPACK call of large order gets this many OpenBLAS threads; small calls run on the calling thread.
     *
     * @return the thread count (by default OpenBLAS's: {@code OPENBLAS_NUM_THREADS}, else the number of cores)
     */
    public static int threads() {
        load();
        return configuredThreads;
    }

    /**
     * Sets the number of threads of later BLAS and LAPACK calls in the process (see {@link #threads()}).
     *
     * @param n the thread count, at least 1
     * @throws IllegalArgumentException when {@code n} is below 1
     */
    public static void setThreads(int n) {
        load();
        if (n < 1) {
            throw new IllegalArgumentException("BLAS threads: expected at least 1, got " + n);
        }
        configuredThreads = n;
    }

    /**
     * Gives OpenBLAS its threads for a LAPACK call of order {@code order} (when large): call before the LAPACK
     * routine, and {@link #lapackEnd} with the result after it.
     *
     * @param order the matrix order
     * @return whether threads were given (pass it to {@link #lapackEnd})
     */
    static boolean lapackBegin(long order) {
        load();
        int t = configuredThreads;
        if (t <= 1 || order < LAPACK_THREADED_ORDER) {
            return false;
        }
        synchronized (Blas.class) {
            threadedLapackCalls++;
            openblas.blas_set_num_threads(t);
        }
        return true;
    }

    /**
     * Ends what {@link #lapackBegin} started: OpenBLAS goes back to one thread when no threaded LAPACK call runs.
     *
     * @param threaded what {@link #lapackBegin} returned
     */
    static void lapackEnd(boolean threaded) {
        if (threaded) {
            synchronized (Blas.class) {
                if (--threadedLapackCalls == 0) {
                    openblas.blas_set_num_threads(1);
                }
            }
        }
    }

    /**
     * Blocks a GEMM of {@code work} multiply-adds is split into, at most {@code longest / 64} (its longer side of
     * C): 1 for small work, when only one thread is configured, or on a pool thread (already in parallel work).
     */
    static int parts(long work, int longest) {
        int t = configuredThreads;
        if (t <= 1 || work < SPLIT_WORK || Parallel.inPool()) {
            return 1;
        }
        return Math.max(1, Math.min(t, longest / 64));
    }

    /** One block of a split GEMM: C's columns (or rows) [from, to). */
    @FunctionalInterface
    private interface Block {
        void run(boolean byColumns, int from, int to);
    }

    /** Runs {@code block} for each of {@code parts} blocks of C's longer side (columns when n ≥ m), in parallel. */
    private static void inBlocks(int m, int n, int parts, Block block) {
        boolean byColumns = n >= m;
        int len = byColumns ? n : m;
        Parallel.range(parts, 1, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int from = blockStart(len, parts, p);
                int to = blockStart(len, parts, p + 1);
                if (to > from) {
                    block.run(byColumns, from, to);
                }
            }
        });
    }

    /** The start of block {@code p} of {@code parts} over {@code len}, a multiple of 16 (the last ends at len). */
    private static int blockStart(int len, int parts, int p) {
        return p >= parts ? len : (int) Math.min(len, ((long) len * p / parts + 8) / 16 * 16);
    }

    /**
     * Turns the time-in-BLAS counter on or off and resets it. For benchmarks: while on, every {@link #gemm} call
     * takes a lock twice.
     *
     * @param on true to start counting, false to stop
     */
    public static void countTime(boolean on) {
        synchronized (COUNTER_LOCK) {
            busyNanos = 0;
            countedCalls = 0;
            counting = on;
        }
    }

    /**
     * Wall time with at least one thread inside {@link #gemm} since {@link #countTime}(true); overlapping calls on
     * several threads count once.
     *
     * @return nanoseconds, of completed calls only
     */
    public static long countedNanos() {
        synchronized (COUNTER_LOCK) {
            return busyNanos;
        }
    }

    /**
     * GEMM calls since {@link #countTime}(true).
     *
     * @return the number of {@link #gemm} calls that started while counting was on (empty ones excluded)
     */
    public static long countedCalls() {
        synchronized (COUNTER_LOCK) {
            return countedCalls;
        }
    }

    private static void enterCounted() {
        synchronized (COUNTER_LOCK) {
            if (callsInside++ == 0) {
                busySince = System.nanoTime();
            }
            countedCalls++;
        }
    }

    private static void exitCounted() {
        synchronized (COUNTER_LOCK) {
            if (--callsInside == 0) {
                busyNanos += System.nanoTime() - busySince;
            }
        }
    }

    /**
     * OpenBLAS's description of itself (version, detected core), for reports.
     *
     * @return the string {@code openblas_get_config} returns
     */
    public static String config() {
        load();
        return org.bytedeco.openblas.global.openblas_full.openblas_get_config().getString();
    }

    /**
     * C[cOff..] = alpha * op(A[aOff..]) op(B[bOff..]) + beta * C, row-major, with op(A) of shape m×k and
     * op(B) of shape k×n. All three tensors must have the same dtype; float32 computes in float32 (alpha and beta
     * rounded). Nothing is checked against the tensors' sizes: the caller keeps every access inside them. Returns at
     * once when m or n is 0.
     *
     * @param transA whether op(A) is Aᵀ (A then stored k×m)
     * @param transB whether op(B) is Bᵀ (B then stored n×k)
     * @param m rows of op(A) and of C
     * @param n columns of op(B) and of C
     * @param k columns of op(A), rows of op(B)
     * @param alpha scale of the product
     * @param a the tensor holding A
     * @param aOff element offset of A's first element in {@code a}
     * @param lda row stride of A as stored, in elements (0 is taken as 1)
     * @param b the tensor holding B
     * @param bOff element offset of B's first element in {@code b}
     * @param ldb row stride of B as stored, in elements (0 is taken as 1)
     * @param beta scale of the old C (0: C is not read, so it may hold garbage)
     * @param c the tensor holding C, overwritten
     * @param cOff element offset of C's first element in {@code c}
     * @param ldc row stride of C, in elements (0 is taken as 1)
     * @throws IllegalStateException when a tensor is closed or of another dtype than {@code c}
     */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
                            Tensor a, long aOff, int lda, Tensor b, long bOff, int ldb,
                            double beta, Tensor c, long cOff, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, true);
    }

    /**
     * {@link #gemm} on the calling thread alone, for a caller that runs several GEMMs in parallel itself.
     *
     * @param transA whether op(A) is Aᵀ
     * @param transB whether op(B) is Bᵀ
     * @param m rows of op(A) and of C
     * @param n columns of op(B) and of C
     * @param k columns of op(A), rows of op(B)
     * @param alpha scale of the product
     * @param a the tensor holding A
     * @param aOff element offset of A
     * @param lda row stride of A as stored
     * @param b the tensor holding B
     * @param bOff element offset of B
     * @param ldb row stride of B as stored
     * @param beta scale of the old C
     * @param c the tensor holding C
     * @param cOff element offset of C
     * @param ldc row stride of C
     */
    static void gemmUnsplit(boolean transA, boolean transB, int m, int n, int k, double alpha,
                            Tensor a, long aOff, int lda, Tensor b, long bOff, int ldb,
                            double beta, Tensor c, long cOff, int ldc) {
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, false);
    }

    /**
     * Parallel parts for a loop of {@code calls} GEMMs of {@code total} multiply-adds in all: 1 when small, with
     * one configured thread, or on a pool thread.
     */
    static int loopParts(long total, long calls) {
        int t = configuredThreads;
        if (t <= 1 || calls < 2 || total < SPLIT_WORK || Parallel.inPool()) {
            return 1;
        }
        return (int) Math.min(t, calls);
    }

    private static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
                             Tensor a, long aOff, int lda, Tensor b, long bOff, int ldb,
                             double beta, Tensor c, long cOff, int ldc, boolean maySplit) {
        load();
        if (m == 0 || n == 0) {
            return;
        }
        if (beta == 0 && b.isParameterView() && bOff == 0
                && readsTransposedWeight(transA, transB, m, n, k, ldb, b.size(), c.dtype())) {
            // A·B = A·(Bᵀ)ᵀ: the few-row form that gemmTransposedOutput computes fastest, from Bᵀ kept with the
            // parameter, else from a temporary transpose: the same products either way, so the bits never depend
            // on whether a copy was kept (the tiled runs' guarantee)
            Tensor kept = transposedWeights(b, k, n);
            try (Tensor bt = kept != null ? kept : transposed(b, k, n)) { // closing the kept copy's view frees nothing
                gemm(false, true, m, n, k, alpha, a, aOff, lda, bt, 0, k, beta, c, cOff, ldc, maySplit);
            }
            return;
        }
        boolean counted = counting;
        if (counted) {
            enterCounted();
        }
        try {
            int parts = maySplit ? parts((long) m * n * k, Math.max(m, n)) : 1;
            if (parts <= 1) {
                gemmCall(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            } else {
                inBlocks(m, n, parts, (byColumns, from, to) -> {
                    if (byColumns) {
                        long bo = bOff + (transB ? (long) from * Math.max(1, ldb) : from);
                        gemmCall(transA, transB, m, to - from, k, alpha, a, aOff, lda, b, bo, ldb, beta, c,
                                cOff + from, ldc);
                    } else {
                        long ao = aOff + (transA ? from : (long) from * Math.max(1, lda));
                        gemmCall(transA, transB, to - from, n, k, alpha, a, ao, lda, b, bOff, ldb, beta, c,
                                cOff + (long) from * Math.max(1, ldc), ldc);
                    }
                });
            }
        } finally {
            if (counted) {
                exitCounted();
            }
        }
    }

    /**
     * The Gram product C = alpha · op(A) · op(A)ᵀ, of order m, written whole and exactly symmetric (row-major):
     * op(A) is A stored m×k, or with {@code transA} Aᵀ of A stored k×m. It costs m(m+1)/2 · k multiply-adds, about
     * half a GEMM's: OpenBLAS's SYRK computes the upper triangle, which is then mirrored. Large products are split
     * like {@link #gemm}'s, over at most {@link #threads()} parts, never from a pool thread: along K when the
     * contraction is long and C small ({@code k ≥ 2m}, {@code m ≤ 512}: a Jacobian's N·O rows over its
     * parameters), each part's triangle summed into C in the parts' order; otherwise into blocks of rows, the
     * diagonal blocks SYRKs and the blocks above them GEMMs, the blocks shared out so that each thread has about
     * the same multiply-adds. Either way the result for a given thread count is always the same; it may differ
     * in the last bits from a GEMM's, and from the same Gram split otherwise. C must not overlap A.
     *
     * @param transA whether op(A) is Aᵀ (A then stored k×m)
     * @param m the order of C: rows of op(A)
     * @param k columns of op(A)
     * @param alpha scale of the product
     * @param a the tensor holding A
     * @param aOff element offset of A's first element in {@code a}
     * @param lda row stride of A as stored, in elements (0 is taken as 1)
     * @param c the tensor holding C, of {@code a}'s dtype, overwritten (not read)
     * @param cOff element offset of C's first element in {@code c}
     * @param ldc row stride of C, in elements (0 is taken as 1)
     */
    public static void gram(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda, Tensor c,
                            long cOff, int ldc) {
        gram(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc, true, true);
    }

    /**
     * {@link #gram}'s upper triangle only (the diagonal included, row-major: C[i][j] for j ≥ i); the elements below
     * the diagonal are not written. For a caller that reads the upper triangle alone, or mirrors parts of it
     * itself ({@link #mirrorUpper}).
     *
     * @param transA whether op(A) is Aᵀ (A then stored k×m)
     * @param m the order of C: rows of op(A)
     * @param k columns of op(A)
     * @param alpha scale of the product
     * @param a the tensor holding A
     * @param aOff element offset of A's first element in {@code a}
     * @param lda row stride of A as stored, in elements (0 is taken as 1)
     * @param c the tensor holding C, of {@code a}'s dtype, whose upper triangle is overwritten
     * @param cOff element offset of C's first element in {@code c}
     * @param ldc row stride of C, in elements (0 is taken as 1)
     */
    public static void gramUpper(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda, Tensor c,
                                 long cOff, int ldc) {
        gram(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc, true, false);
    }

    /** {@link #gram} on the calling thread alone, for a caller that runs several Grams in parallel itself. */
    static void gramUnsplit(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda, Tensor c,
                            long cOff, int ldc, boolean mirror) {
        gram(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc, false, mirror);
    }

    private static void gram(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda, Tensor c,
                             long cOff, int ldc, boolean maySplit, boolean mirror) {
        load();
        if (m == 0) {
            return;
        }
        boolean counted = counting;
        if (counted) {
            enterCounted();
        }
        try {
            // split where the GEMM of the same shape would be (its m·m·k multiply-adds): the symmetric product
            // runs about twice as many per multiply-add of its own as a GEMM of half the work
            boolean alongK = k >= 2L * m && m <= K_SPLIT_MAX_ORDER;
            int parts = maySplit ? parts((long) m * m * k, alongK ? k : m) : 1;
            if (parts <= 1) {
                syrkCall(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc);
            } else if (alongK) {
                gramAlongK(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc, parts);
            } else {
                gramInBlocks(transA, m, k, alpha, a, aOff, lda, c, cOff, ldc, parts);
            }
            if (mirror) {
                mirrorUpper(c, cOff, Math.max(1, ldc), m);
            }
        } finally {
            if (counted) {
                exitCounted();
            }
        }
    }

    /** Grams of at most this order may split along K: each extra part holds its triangle in order² scratch. */
    private static final int K_SPLIT_MAX_ORDER = 512;

    /** C's upper triangle over {@code parts} ranges of K: the first part's SYRK writes C, the others' are added. */
    private static void gramAlongK(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda,
                                   Tensor c, long cOff, int ldc, int parts) {
        boolean f32 = c.dtype() == DType.F32;
        // the other parts' triangles, m² elements each: scratch outside the tensors' accounting, as OpenBLAS's own
        // buffers are (at most 2 MiB a part, K_SPLIT_MAX_ORDER)
        org.bytedeco.javacpp.Pointer[] partial = new org.bytedeco.javacpp.Pointer[parts];
        try {
            partial[0] = f32 ? c.floatPointer().getPointer(cOff) : c.doublePointer().getPointer(cOff);
            for (int p = 1; p < parts; p++) {
                partial[p] = f32 ? new FloatPointer((long) m * m) : new DoublePointer((long) m * m);
            }
            int stride = Math.max(1, lda);
            Parallel.range(parts, 1, (lo, hi) -> {
                for (int p = lo; p < hi; p++) {
                    int from = blockStart(k, parts, p);
                    int to = blockStart(k, parts, p + 1);
                    long ao = aOff + (transA ? (long) from * stride : from);
                    syrkCall(f32, transA, m, to - from, alpha, f32 ? a.floatPointer().getPointer(ao)
                            : a.doublePointer().getPointer(ao), lda, partial[p], p == 0 ? ldc : m);
                }
            });
            // each other part's upper triangle added into C's, row by row, in the parts' order
            int ld = Math.max(1, ldc);
            for (int p = 1; p < parts; p++) {
                for (int i = 0; i < m; i++) {
                    long row = cOff + (long) i * ld + i;
                    if (f32) {
                        openblas.cblas_saxpy(m - i, 1f, ((FloatPointer) partial[p]).getPointer((long) i * m + i), 1,
                                c.floatPointer().getPointer(row), 1);
                    } else {
                        openblas.cblas_daxpy(m - i, 1.0, ((DoublePointer) partial[p]).getPointer((long) i * m + i), 1,
                                c.doublePointer().getPointer(row), 1);
                    }
                }
            }
        } finally {
            for (int p = 1; p < parts; p++) {
                if (partial[p] != null) {
                    partial[p].close();
                }
            }
        }
    }

    /**
     * C's upper triangle over {@code parts} blocks of rows: block pair (i, j ≥ i) is a SYRK on the diagonal and a
     * GEMM above it; the pairs go, largest first, to the thread with the fewest multiply-adds so far.
     */
    private static void gramInBlocks(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda,
                                     Tensor c, long cOff, int ldc, int parts) {
        int[] bound = new int[parts + 1];
        for (int p = 0; p <= parts; p++) {
            bound[p] = blockStart(m, parts, p);
        }
        int pairs = parts * (parts + 1) / 2;
        int[][] pair = new int[pairs][];
        double[] cost = new double[pairs];
        for (int i = 0, q = 0; i < parts; i++) {
            for (int j = i; j < parts; j++, q++) {
                double si = bound[i + 1] - bound[i];
                double sj = bound[j + 1] - bound[j];
                pair[q] = new int[] {i, j};
                cost[q] = i == j ? si * (si + 1) / 2 : si * sj;
            }
        }
        Integer[] order = new Integer[pairs];
        for (int q = 0; q < pairs; q++) {
            order[q] = q;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(cost[y], cost[x]));
        int[] owner = new int[pairs];
        double[] load = new double[parts];
        for (int q : order) {
            int least = 0;
            for (int t = 1; t < parts; t++) {
                least = load[t] < load[least] ? t : least;
            }
            owner[q] = least;
            load[least] += cost[q];
        }
        int stride = Math.max(1, lda);
        int ld = Math.max(1, ldc);
        Parallel.range(parts, 1, (lo, hi) -> {
            for (int q = 0; q < pairs; q++) {
                if (owner[q] < lo || owner[q] >= hi) {
                    continue;
                }
                int i = pair[q][0];
                int j = pair[q][1];
                int ri = bound[i];
                int rj = bound[j];
                long ai = aOff + (transA ? ri : (long) ri * stride);
                long aj = aOff + (transA ? rj : (long) rj * stride);
                long ci = cOff + (long) ri * ld + rj;
                if (i == j) {
                    syrkCall(transA, bound[i + 1] - ri, k, alpha, a, ai, lda, c, ci, ldc);
                } else {
                    gemmCall(transA, !transA, bound[i + 1] - ri, bound[j + 1] - rj, k, alpha, a, ai, lda, a, aj,
                            lda, 0.0, c, ci, ldc);
                }
            }
        });
    }

    /**
     * C[i][j] = C[j][i] below the diagonal of the order-m matrix at {@code off} (row stride {@code ldc}), in tiles
     * of 32 by 32: a symmetric matrix from its upper triangle. Not {@link Layout#stridedCopy}: a triangle is not one
     * strided box, and its tiles as boxes took a call per row (a Gram of order 128 over 2048: 0.40–0.57 ms against
     * 0.35 ms with this loop).
     *
     * @param c the tensor holding the matrix
     * @param off element offset of its first element
     * @param ldc its row stride, in elements
     * @param m its order
     */
    public static void mirrorUpper(Tensor c, long off, int ldc, int m) {
        final int tile = 32;
        int bands = (m + tile - 1) / tile;
        boolean f32 = c.dtype() == DType.F32;
        java.nio.FloatBuffer cf = f32 ? c.floats() : null;
        java.nio.DoubleBuffer cd = f32 ? null : c.doubles();
        int base = (int) off;
        Parallel.range(bands, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, tile * m)), (lo, hi) -> {
            float[] tf = f32 ? new float[tile * tile] : null;
            double[] td = f32 ? null : new double[tile * tile];
            for (int band = lo; band < hi; band++) {
                int i0 = band * tile;
                int ni = Math.min(m, i0 + tile) - i0;
                for (int j0 = 0; j0 <= i0; j0 += tile) {
                    int nj = Math.min(m, j0 + tile) - j0;
                    // read the tile above the diagonal, rows j0.., columns i0.., and write it transposed
                    for (int j = 0; j < nj; j++) {
                        int src = base + (j0 + j) * ldc + i0;
                        if (f32) {
                            cf.get(src, tf, j * tile, ni);
                        } else {
                            cd.get(src, td, j * tile, ni);
                        }
                    }
                    for (int i = 0; i < ni; i++) {
                        int dst = base + (i0 + i) * ldc + j0;
                        int upto = j0 == i0 ? i : nj; // on the diagonal tile, only below the diagonal
                        for (int j = 0; j < upto; j++) {
                            if (f32) {
                                cf.put(dst + j, tf[j * tile + i]);
                            } else {
                                cd.put(dst + j, td[j * tile + i]);
                            }
                        }
                    }
                }
            }
        });
    }

    private static void syrkCall(boolean transA, int m, int k, double alpha, Tensor a, long aOff, int lda,
                                 Tensor c, long cOff, int ldc) {
        boolean f32 = c.dtype() == DType.F32;
        syrkCall(f32, transA, m, k, alpha, f32 ? a.floatPointer().getPointer(aOff) : a.doublePointer().getPointer(aOff),
                lda, f32 ? c.floatPointer().getPointer(cOff) : c.doublePointer().getPointer(cOff), ldc);
    }

    /**
     * C's upper triangle = alpha · op(A) · op(A)ᵀ (OpenBLAS's SYRK, beta 0), on pointers at A's and C's first elements.
     */
    private static void syrkCall(boolean f32, boolean transA, int m, int k, double alpha,
                                 org.bytedeco.javacpp.Pointer a, int lda, org.bytedeco.javacpp.Pointer c, int ldc) {
        int ta = transA ? openblas.CblasTrans : openblas.CblasNoTrans;
        if (f32) {
            openblas.cblas_ssyrk(openblas.CblasRowMajor, openblas.CblasUpper, ta, m, k, (float) alpha,
                    (FloatPointer) a, Math.max(1, lda), 0f, (FloatPointer) c, Math.max(1, ldc));
        } else {
            openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasUpper, ta, m, k, alpha,
                    (DoublePointer) a, Math.max(1, lda), 0.0, (DoublePointer) c, Math.max(1, ldc));
        }
    }

    /** Most bytes of {@link #gemmTransposedOutput}'s scratch (per thread, outside the tensors' accounting). */
    private static final long TRANSPOSED_OUTPUT_MAX_BYTES = 2L << 20;

    /** Shortest contraction for which {@link #gemmTransposedOutput} pays its transpose of C. */
    private static final int TRANSPOSED_OUTPUT_MIN_K = 256;

    /**
     * Whether C = A·Bᵀ in float32 with few rows (m ≤ n/4), a long contraction (k ≥
     * {@link #TRANSPOSED_OUTPUT_MIN_K}) and C within {@link #TRANSPOSED_OUTPUT_MAX_BYTES} is computed as Cᵀ = B·Aᵀ
     * and transposed ({@link #gemmTransposedOutput}). Not float64: OpenBLAS's DGEMM gained on some of those shapes and
     * lost up to 11% on others (64×256×256 0.175 → 0.195 ms, 16×2048×2048 3.17 → 2.84–2.99 ms; Haswell kernels).
     */
    static boolean transposesOutput(int m, int n, int k, DType dtype) {
        return dtype == DType.F32 && 4L * m <= n && k >= TRANSPOSED_OUTPUT_MIN_K
                && (long) m * n * dtype.bytes() <= TRANSPOSED_OUTPUT_MAX_BYTES;
    }

    /**
     * Per thread: native scratch for Cᵀ, grown to the largest seen (at most {@link #TRANSPOSED_OUTPUT_MAX_BYTES})
     * and kept while the thread lives, outside the tensors' accounting as OpenBLAS's own per-thread buffers
     * are: allocated per call, every such GEMM would also pay an allocation (for half a MiB an mmap and its page
     * faults).
     */
    private static final ThreadLocal<FloatPointer> TRANSPOSED_SCRATCH = new ThreadLocal<>();

    /**
     * C = alpha · A · Bᵀ (float32, beta 0) as Cᵀ = alpha · B · Aᵀ into scratch, then C = (Cᵀ)ᵀ by OpenBLAS's
     * out-of-place transpose: the same products, with the large B as OpenBLAS's first operand. Measured (both
     * threads, one GEMM each, OpenBLAS's Haswell, SkylakeX, Cooperlake and Zen kernels alike): 128×2048×2048
     * 6.0–6.5 against 6.9–7.4 ms, 16×2048×3072 1.9–2.4 against 3.0–4.3 ms, 128×512×512 0.42–0.44 against
     * 0.46–0.55 ms — the backward GEMMs of dense layers with N·O cotangent rows.
     */
    private static void gemmTransposedOutput(int m, int n, int k, double alpha, Tensor a, long aOff, int lda,
                                             Tensor b, long bOff, int ldb, Tensor c, long cOff, int ldc) {
        long size = (long) m * n;
        FloatPointer t = TRANSPOSED_SCRATCH.get();
        if (t == null || t.capacity() < size) {
            if (t != null) {
                t.close();
            }
            t = new FloatPointer(size);
            TRANSPOSED_SCRATCH.set(t);
        }
        openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, n, m, k,
                (float) alpha, b.floatPointer().getPointer(bOff), Math.max(1, ldb),
                a.floatPointer().getPointer(aOff), Math.max(1, lda), 0f, t.position(0), m);
        openblas_full.cblas_somatcopy(openblas.CblasRowMajor, openblas.CblasTrans, n, m, 1f, t, m,
                c.floatPointer().getPointer(cOff), Math.max(1, ldc));
    }

    /**
     * Most rows of an x·W that reads W's kept transposed copy: 16–64 rows ran 1.2–1.9× faster that way, 100–196
     * rows as fast as x·W itself (49×2048×512 0.67 against 0.84–1.0 ms, 196×1024×256 0.58–0.59 either way; two
     * threads, Haswell kernels), where the copy would only cost memory.
     */
    private static final int KEPT_TRANSPOSE_MAX_ROWS = 64;

    /**
     * Whether C = A·B (beta 0) with B a whole parameter of {@code bSize} elements is computed from Bᵀ (n × k): a
     * float32 product with few rows that {@link #gemmTransposedOutput} computes fastest. Bᵀ is the copy kept with
     * the parameter, or, when none can be kept, a transient one of B's size for the length of the product — which
     * the memory model counts ({@code DotGeneralKernel.transposedOperandElements}, {@link
     * Convolution.Geometry#transposedFilterElements}), as whether a copy is kept is not known before the run.
     *
     * @param transA whether op(A) is Aᵀ
     * @param transB whether op(B) is Bᵀ
     * @param m rows of op(A) and of C
     * @param n columns of op(B) and of C
     * @param k columns of op(A), rows of op(B)
     * @param ldb B's row stride
     * @param bSize elements of the tensor holding B
     * @param dtype the element type
     * @return true when such a product reads Bᵀ
     */
    static boolean readsTransposedWeight(boolean transA, boolean transB, int m, int n, int k, int ldb, long bSize,
                                         DType dtype) {
        return !transA && !transB && m <= KEPT_TRANSPOSE_MAX_ROWS && Math.max(1, ldb) == n && bSize == (long) k * n
                && transposesOutput(m, n, k, dtype);
    }

    /** Most bytes that {@link #transposedWeights}' kept copies may hold in all (outside the tensors' accounting). */
    private static final long TRANSPOSED_WEIGHTS_MAX_BYTES = Long.getLong("ntk4j.transposedWeightsBytes", 512L << 20);

    /**
     * The key of a kept transposed copy of a rows × cols matrix. Not a record: a record's equals links an
     * invokedynamic call site on first use, which took about 10 ms of a fresh JVM's second kernel call.
     */
    private static final class Transposed {
        private final int rows;
        private final int cols;

        Transposed(int rows, int cols) {
            this.rows = rows;
            this.cols = cols;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Transposed t && t.rows == rows && t.cols == cols;
        }

        @Override
        public int hashCode() {
            return 31 * rows + cols;
        }
    }

    /**
     * Bᵀ (n × k) for a GEMM's B (k × n) that is a whole parameter read through a parameter view, made at its first
     * such read and kept with the parameter while it is unchanged ({@link Tensor#keptCopy}); null when it cannot
     * be kept (the parameter's storage was handed out, as a trainer's is, or the copies would take more than
     * {@code -Dntk4j.transposedWeightsBytes}, 512 MiB by default, or an eighth of JavaCPP's maxBytes). Why: a
     * product with few rows x·W (a dense layer's forward pass, W stored [in, out]; a 1×1 convolution of a few
     * positions) runs up to twice as fast as x·(Wᵀ)ᵀ through {@link #gemmTransposedOutput}, with the large
     * operand's rows along the contraction, than as it is: 16×512×3072 0.68 against 1.37 ms, 16×2048×2048 2.6
     * against 3.5 ms on one core (OpenBLAS's Haswell kernels); transposing W costs about as much as the product,
     * so it pays when W is read again and again, as parameters are.
     */
    private static Tensor transposedWeights(Tensor b, int k, int n) {
        long max = Math.min(TRANSPOSED_WEIGHTS_MAX_BYTES, org.bytedeco.javacpp.Pointer.maxBytes() / 8);
        return b.keptCopy(new Transposed(k, n), new int[] {n, k}, max, (from, into) -> transposeInto(from, into, k, n));
    }

    /** A new n × k tensor holding the transpose of the k × n float32 matrix {@code from} ({@link #transposeInto}). */
    private static Tensor transposed(Tensor from, int k, int n) {
        Tensor t = Tensor.empty(DType.F32, n, k);
        try {
            transposeInto(from, t, k, n);
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    /**
     * into (n × k) = fromᵀ, from a k × n float32 matrix, by OpenBLAS's out-of-place transpose in blocks of rows on
     * the cores, split as a GEMM of 4·k·n multiply-adds would be ({@link #parts}): a copy's first touch of fresh
     * pages costs about as much as the transpose (3072×2048: 16–23 ms on one core, 9–16 ms on two, 4.5 ms once
     * touched).
     */
    private static void transposeInto(Tensor from, Tensor into, int k, int n) {
        int parts = parts(4L * k * n, k);
        FloatPointer w = from.floatPointer();
        FloatPointer t = into.floatPointer();
        Parallel.range(parts, 1, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int r0 = blockStart(k, parts, p);
                int r1 = blockStart(k, parts, p + 1);
                if (r1 > r0) {
                    openblas_full.cblas_somatcopy(openblas.CblasRowMajor, openblas.CblasTrans, r1 - r0, n, 1f,
                            w.getPointer((long) r0 * n), n, t.getPointer(r0), k);
                }
            }
        });
    }

    private static void gemmCall(boolean transA, boolean transB, int m, int n, int k, double alpha,
                                 Tensor a, long aOff, int lda, Tensor b, long bOff, int ldb,
                                 double beta, Tensor c, long cOff, int ldc) {
        if (!transA && transB && beta == 0 && transposesOutput(m, n, k, c.dtype())) {
            gemmTransposedOutput(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
            return;
        }
        int ta = transA ? openblas.CblasTrans : openblas.CblasNoTrans;
        int tb = transB ? openblas.CblasTrans : openblas.CblasNoTrans;
        if (c.dtype() == DType.F32) {
            FloatPointer pa = a.floatPointer().getPointer(aOff);
            FloatPointer pb = b.floatPointer().getPointer(bOff);
            FloatPointer pc = c.floatPointer().getPointer(cOff);
            openblas.cblas_sgemm(openblas.CblasRowMajor, ta, tb, m, n, k, (float) alpha, pa, Math.max(1, lda),
                    pb, Math.max(1, ldb), (float) beta, pc, Math.max(1, ldc));
        } else {
            dgemmCall(transA, transB, m, n, k, alpha, a.doublePointer().getPointer(aOff), lda,
                    b.doublePointer().getPointer(bOff), ldb, beta, c.doublePointer().getPointer(cOff), ldc);
        }
    }

    /**
     * The float64 GEMM on bare pointers, row-major: C = alpha * op(A) op(B) + beta * C. For matrices held outside
     * tensors (larger than one tensor's 2^31-1 bytes, e.g. the eigenvectors of a full 20000×20000 kernel). Nothing
     * is checked; returns at once when m or n is 0.
     *
     * @param transA whether op(A) is Aᵀ (A then stored k×m)
     * @param transB whether op(B) is Bᵀ (B then stored n×k)
     * @param m rows of op(A) and of C
     * @param n columns of op(B) and of C
     * @param k columns of op(A), rows of op(B)
     * @param alpha scale of the product
     * @param a A's first element
     * @param lda row stride of A as stored, in elements
     * @param b B's first element
     * @param ldb row stride of B as stored, in elements
     * @param beta scale of the old C (0: C is not read)
     * @param c C's first element, overwritten
     * @param ldc row stride of C, in elements
     */
    public static void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
                             DoublePointer a, int lda, DoublePointer b, int ldb, double beta,
                             DoublePointer c, int ldc) {
        load();
        if (m == 0 || n == 0) {
            return;
        }
        int parts = parts((long) m * n * k, Math.max(m, n));
        if (parts <= 1) {
            dgemmCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        inBlocks(m, n, parts, (byColumns, from, to) -> {
            if (byColumns) {
                DoublePointer bp = b.getPointer(transB ? (long) from * Math.max(1, ldb) : from);
                dgemmCall(transA, transB, m, to - from, k, alpha, a, lda, bp, ldb, beta, c.getPointer(from), ldc);
            } else {
                DoublePointer ap = a.getPointer(transA ? from : (long) from * Math.max(1, lda));
                dgemmCall(transA, transB, to - from, n, k, alpha, ap, lda, b, ldb, beta,
                        c.getPointer((long) from * Math.max(1, ldc)), ldc);
            }
        });
    }

    private static void dgemmCall(boolean transA, boolean transB, int m, int n, int k, double alpha,
                                  DoublePointer a, int lda, DoublePointer b, int ldb, double beta, DoublePointer c,
                                  int ldc) {
        openblas.cblas_dgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, alpha, a, Math.max(1, lda),
                b, Math.max(1, ldb), beta, c, Math.max(1, ldc));
    }
}
