package org.ntk4j.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.openblas.global.openblas;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The LAPACK calls ntk4j makes (OpenBLAS's LAPACKE, float64).
 *
 * <p>The symmetric routines take the matrix as a bare n×n float64 buffer, so that kernels larger than one tensor
 * (2^31-1 bytes, e.g. the 20000×20000 full eNTK of 2,000 examples with 10 outputs) can be factorised. They call
 * LAPACK in column-major order: a symmetric matrix reads the same in either order, and LAPACKE's row-major entry
 * points would first copy the whole matrix into a transposed work array.
 */
public final class Lapack {
    private Lapack() {
    }

    private static Tensor squareCopy(String op, Tensor a) {
        if (a.rank() != 2 || a.dim(0) != a.dim(1)) {
            throw new IllegalArgumentException(op + ": expected a square matrix, got shape "
                    + java.util.Arrays.toString(a.shape()));
        }
        return a.to(DType.F64);
    }

    /**
     * Eigenvalues of the symmetric matrix {@code a} (its lower triangle is read), ascending, computed in float64 on a
     * copy.
     *
     * @param a a square float32 or float64 matrix [n, n]; not changed
     * @return the n eigenvalues in ascending order
     * @throws IllegalArgumentException when {@code a} is not a square matrix
     * @throws IllegalStateException when LAPACK fails to converge
     */
    public static double[] symmetricEigenvalues(Tensor a) {
        try (Tensor m = squareCopy("eigenvalues", a)) {
            return symmetricEigenInPlace(m.doublePointer(), a.dim(0), false);
        }
    }

    /**
     * Eigen-decomposition of the symmetric n×n matrix in {@code a} (divide and conquer, dsyevd): returns the
     * eigenvalues in ascending order. With {@code vectors}, {@code a} is overwritten by the orthonormal
     * eigenvectors, eigenvector i in row i (row-major), i.e. a = Vᵀ; without, {@code a} is destroyed.
     * Workspace: about 2n² doubles more with vectors (dsyevd's), n otherwise.
     *
     * @param a the row-major n×n matrix (its lower triangle is read); overwritten
     * @param n the order of the matrix
     * @param vectors whether to compute the eigenvectors into {@code a}
     * @return the n eigenvalues in ascending order
     * @throws IllegalStateException when LAPACK fails to converge or rejects an argument
     */
    public static double[] symmetricEigenInPlace(DoublePointer a, int n, boolean vectors) {
        boolean threaded = Blas.lapackBegin(n);
        try (DoublePointer w = new DoublePointer(Math.max(1, n))) {
            // Column-major 'U' on a row-major symmetric buffer is row-major 'L'; the columns of the column-major
            // eigenvector matrix are the rows of the row-major buffer.
            int info;
            try {
                info = openblas.LAPACKE_dsyevd(openblas.LAPACK_COL_MAJOR, (byte) (vectors ? 'V' : 'N'), (byte) 'U',
                        n, a, Math.max(1, n), w);
            } finally {
                Blas.lapackEnd(threaded);
            }
            if (info != 0) {
                throw new IllegalStateException("eigenvalues: LAPACK dsyevd failed to converge (info " + info + ")");
            }
            double[] r = new double[n];
            w.get(r);
            return r;
        }
    }

    /**
     * Cholesky factorisation in place of the symmetric positive definite n×n matrix {@code a} (dpotrf), for
     * {@link #choleskySolveInPlace}. Returns 0, or the order k &gt; 0 of the leading minor that is not positive
     * definite (then {@code a} is partly overwritten).
     *
     * @param a the row-major n×n matrix (its lower triangle is read); overwritten by the factor
     * @param n the order of the matrix
     * @return 0 on success, else the order of the first leading minor that is not positive definite
     * @throws IllegalStateException when LAPACK rejects an argument
     */
    public static int choleskyInPlace(DoublePointer a, int n) {
        boolean threaded = Blas.lapackBegin(n);
        int info;
        try {
            info = openblas.LAPACKE_dpotrf(openblas.LAPACK_COL_MAJOR, (byte) 'U', n, a, Math.max(1, n));
        } finally {
            Blas.lapackEnd(threaded);
        }
        if (info < 0) {
            throw new IllegalStateException("cholesky: LAPACK dpotrf rejected argument " + (-info));
        }
        return info;
    }

    /**
     * The 1-norm max_j Σ_i |a_ij| of the n×n row-major matrix {@code a} (for a symmetric matrix, its largest absolute
     * row sum), as {@link #choleskyReciprocalCondition} needs it of the matrix before factorisation.
     *
     * @param a the row-major n×n matrix; not changed
     * @param n the order of the matrix
     * @return the 1-norm
     */
    public static double oneNorm(DoublePointer a, int n) {
        double[] row = new double[n];
        double[] columnSums = new double[n];
        DoublePointer p = new DoublePointer(a);
        for (int i = 0; i < n; i++) {
            p.position((long) i * n).get(row, 0, n);
            for (int j = 0; j < n; j++) {
                columnSums[j] += Math.abs(row[j]);
            }
        }
        double norm = 0;
        for (double s : columnSums) {
            norm = Math.max(norm, s);
        }
        return norm;
    }

    /**
     * LAPACK's estimate (dpocon) of the reciprocal condition number 1 / (‖A‖₁ ‖A⁻¹‖₁) of a symmetric positive
     * definite matrix from its {@link #choleskyInPlace} factor: a Cholesky solve loses about log10(1/rcond) digits,
     * so below {@link #SINGULAR_TO_WORKING_PRECISION} the solution has none left.
     *
     * @param factor the n×n factor {@link #choleskyInPlace} left; not changed
     * @param n the order of the matrix
     * @param oneNorm the 1-norm of A before factorisation ({@link #oneNorm})
     * @return the estimate of 1/κ₁(A), in [0, 1]
     * @throws IllegalStateException when LAPACK rejects an argument
     */
    public static double choleskyReciprocalCondition(DoublePointer factor, int n, double oneNorm) {
        try (DoublePointer rcond = new DoublePointer(1)) {
            int info = openblas.LAPACKE_dpocon(openblas.LAPACK_COL_MAJOR, (byte) 'U', n, factor, Math.max(1, n),
                    oneNorm, rcond);
            if (info != 0) {
                throw new IllegalStateException("condition estimate: LAPACK dpocon rejected argument " + (-info));
            }
            return rcond.get();
        }
    }

    /**
     * ε = 2⁻⁵³, the float64 unit round-off (LAPACK's dlamch('E')): a positive definite matrix whose reciprocal
     * condition number is below it is singular to working precision, as LAPACK's expert drivers report it (dposvx:
     * INFO = N+1). A Cholesky solve's relative error is about κ·ε, so past this point no digit of the solution is
     * right; pivots that round-off left positive let dpotrf succeed on such a matrix.
     */
    public static final double SINGULAR_TO_WORKING_PRECISION = 0x1p-53;

    /**
     * Solves A X = B with the factor of {@link #choleskyInPlace} (dpotrs). {@code b} holds the k right-hand sides
     * one after the other (row-major [k, n]) and is overwritten by the solutions in the same layout.
     *
     * @param factor the n×n factor {@link #choleskyInPlace} left; not changed
     * @param n the order of the matrix
     * @param b the right-hand sides, row-major [k, n]; overwritten by the solutions
     * @param k the number of right-hand sides
     * @throws IllegalStateException when LAPACK rejects an argument
     */
    public static void choleskySolveInPlace(DoublePointer factor, int n, DoublePointer b, int k) {
        boolean threaded = Blas.lapackBegin(n);
        int info;
        try {
            info = openblas.LAPACKE_dpotrs(openblas.LAPACK_COL_MAJOR, (byte) 'U', n, k, factor, Math.max(1, n), b,
                    Math.max(1, n));
        } finally {
            Blas.lapackEnd(threaded);
        }
        if (info != 0) {
            throw new IllegalStateException("cholesky solve: LAPACK dpotrs rejected argument " + (-info));
        }
    }

    /**
     * Solves A X = B for symmetric positive definite A [n, n] and B [n, k] by Cholesky, in float64; fails
     * with a clear message when A is not positive definite or is numerically singular (its reciprocal condition
     * number below {@link #SINGULAR_TO_WORKING_PRECISION}; add a diagonal regulariser). Only A's lower triangle is
     * read; neither argument is changed. To solve several right-hand sides given at different times with one
     * factorisation, use {@link Cholesky}.
     *
     * @param a the matrix A [n, n], float32 or float64
     * @param b the right-hand sides B [n, k], float32 or float64
     * @return a new float64 tensor X [n, k], owned by the caller
     * @throws IllegalArgumentException when B is not [n, k], A is not square, or A is not positive definite or is
     *     numerically singular
     */
    public static Tensor solvePositiveDefinite(Tensor a, Tensor b) {
        try (Cholesky c = Cholesky.of(a)) {
            return c.solve(b);
        }
    }

    /**
     * The Cholesky factor of a symmetric positive definite matrix A [n, n] (float64, dpotrf on a copy), checked once
     * for positive definiteness and conditioning as {@link #solvePositiveDefinite} checks it, then used for any
     * number of solves: each {@link #solve} gives exactly what {@link #solvePositiveDefinite} gives for the same A and
     * B. Owns native memory until closed.
     */
    public static final class Cholesky implements AutoCloseable {
        /** Factorisations made by {@link #of}, in this JVM (tests count them). */
        private static final java.util.concurrent.atomic.AtomicLong FACTORISATIONS =
                new java.util.concurrent.atomic.AtomicLong();
        private final Tensor factor;
        private final int n;

        private Cholesky(Tensor factor, int n) {
            this.factor = factor;
            this.n = n;
        }

        /**
         * Factorises A.
         *
         * @param a the matrix A [n, n], float32 or float64 (only its lower triangle is read); not changed
         * @return the factorisation, which the caller closes
         * @throws IllegalArgumentException when A is not square, or is not positive definite or is numerically
         *     singular (reciprocal condition number below {@link #SINGULAR_TO_WORKING_PRECISION})
         */
        public static Cholesky of(Tensor a) {
            Tensor m = squareCopy("solve", a);
            try {
                int n = a.dim(0);
                double norm = oneNorm(m.doublePointer(), n);
                FACTORISATIONS.incrementAndGet();
                int info = choleskyInPlace(m.doublePointer(), n);
                if (info != 0) {
                    throw new IllegalArgumentException("solve: the kernel matrix is not positive definite (leading "
                            + "minor " + info + " of " + n + "); use a larger diagonal regulariser");
                }
                double rcond = choleskyReciprocalCondition(m.doublePointer(), n, norm);
                if (rcond < SINGULAR_TO_WORKING_PRECISION) {
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "solve: the kernel "
                            + "matrix is numerically singular (reciprocal condition number %.3g < ε = 2^-53: the "
                            + "solution would have no correct digit); use a larger diagonal regulariser", rcond));
                }
                return new Cholesky(m, n);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        /**
         * Solves A X = B with this factor (dpotrs).
         *
         * @param b the right-hand sides B [n, k], float32 or float64; not changed
         * @return a new float64 tensor X [n, k], owned by the caller
         * @throws IllegalArgumentException when B is not [n, k]
         * @throws IllegalStateException when this factorisation was closed
         */
        public Tensor solve(Tensor b) {
            if (b.rank() != 2 || b.dim(0) != n) {
                throw new IllegalArgumentException("solve: right-hand side " + java.util.Arrays.toString(b.shape())
                        + " does not match the matrix [" + n + ", " + n + "]");
            }
            try (Tensor b64 = b.to(DType.F64); Tensor bt = Layout.transpose(b64, new int[] {1, 0})) {
                choleskySolveInPlace(factor.doublePointer(), n, bt.doublePointer(), b.dim(1));
                return Layout.transpose(bt, new int[] {1, 0});
            }
        }

        /**
         * How many factorisations {@link #of} has made in this JVM (a test reads it before and after a call).
         *
         * @return the count
         */
        public static long factorisations() {
            return FACTORISATIONS.get();
        }

        /** Frees the factor. Idempotent. */
        @Override
        public void close() {
            factor.close();
        }
    }
}
