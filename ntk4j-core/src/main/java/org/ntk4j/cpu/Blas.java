package org.ntk4j.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The BLAS calls ntk4j makes: row-major GEMM on off-heap tensors, addressed by element offsets, through
 * OpenBLAS 0.3.31 (org.bytedeco:openblas), which detects this project's CPUs correctly on its own.
 */
public final class Blas {
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
            if (System.getProperty(key) == null && System.getProperty("dev.ludovic.netlib." + what + ".nativeLib") == null) {
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
     * Threads OpenBLAS uses.
     *
     * @return the OpenBLAS thread count (by default the number of cores)
     */
    public static int threads() {
        load();
        // The vendor-neutral getter answers -1 until blas_set_num_threads has been called once; OpenBLAS's
        // own getter knows the default (the number of cores).
        int n = openblas.blas_get_num_threads();
        return n > 0 ? n : org.bytedeco.openblas.global.openblas_full.openblas_get_num_threads();
    }

    /**
     * Sets the number of OpenBLAS threads, for every later BLAS and LAPACK call in the process.
     *
     * @param n the thread count, at least 1
     */
    public static void setThreads(int n) {
        load();
        openblas.blas_set_num_threads(n);
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
        load();
        if (m == 0 || n == 0) {
            return;
        }
        boolean counted = counting;
        if (counted) {
            enterCounted();
        }
        try {
            gemmCall(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        } finally {
            if (counted) {
                exitCounted();
            }
        }
    }

    private static void gemmCall(boolean transA, boolean transB, int m, int n, int k, double alpha,
                                 Tensor a, long aOff, int lda, Tensor b, long bOff, int ldb,
                                 double beta, Tensor c, long cOff, int ldc) {
        int ta = transA ? openblas.CblasTrans : openblas.CblasNoTrans;
        int tb = transB ? openblas.CblasTrans : openblas.CblasNoTrans;
        if (c.dtype() == DType.F32) {
            FloatPointer pa = a.floatPointer().getPointer(aOff);
            FloatPointer pb = b.floatPointer().getPointer(bOff);
            FloatPointer pc = c.floatPointer().getPointer(cOff);
            openblas.cblas_sgemm(openblas.CblasRowMajor, ta, tb, m, n, k, (float) alpha, pa, Math.max(1, lda),
                    pb, Math.max(1, ldb), (float) beta, pc, Math.max(1, ldc));
        } else {
            dgemm(transA, transB, m, n, k, alpha, a.doublePointer().getPointer(aOff), lda,
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
                             DoublePointer a, int lda, DoublePointer b, int ldb, double beta, DoublePointer c, int ldc) {
        load();
        if (m == 0 || n == 0) {
            return;
        }
        openblas.cblas_dgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, alpha, a, Math.max(1, lda),
                b, Math.max(1, ldb), beta, c, Math.max(1, ldc));
    }
}
