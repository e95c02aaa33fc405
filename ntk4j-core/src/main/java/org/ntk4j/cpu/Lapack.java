package org.ntk4j.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.openblas.global.openblas;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The LAPACK calls ntk4j makes (OpenBLAS's LAPACKE, float64, row-major). */
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

    /** Eigenvalues of the symmetric matrix {@code a} (its lower triangle is read), ascending. */
    public static double[] symmetricEigenvalues(Tensor a) {
        Blas.load();
        try (Tensor m = squareCopy("eigenvalues", a); DoublePointer w = new DoublePointer(Math.max(1, a.dim(0)))) {
            int n = a.dim(0);
            int info = openblas.LAPACKE_dsyevd(openblas.LAPACK_ROW_MAJOR, (byte) 'N', (byte) 'L', n,
                    m.doublePointer(), Math.max(1, n), w);
            if (info != 0) {
                throw new IllegalStateException("eigenvalues: LAPACK dsyevd failed to converge (info " + info + ")");
            }
            double[] r = new double[n];
            w.get(r);
            return r;
        }
    }

    /**
     * Solves A X = B for symmetric positive definite A [n, n] and B [n, k] by Cholesky, in float64; fails
     * with a clear message when A is not positive definite (add a diagonal regulariser).
     */
    public static Tensor solvePositiveDefinite(Tensor a, Tensor b) {
        Blas.load();
        if (b.rank() != 2 || b.dim(0) != a.dim(0)) {
            throw new IllegalArgumentException("solve: right-hand side " + java.util.Arrays.toString(b.shape())
                    + " does not match the matrix " + java.util.Arrays.toString(a.shape()));
        }
        try (Tensor m = squareCopy("solve", a)) {
            Tensor x = b.to(DType.F64);
            int n = a.dim(0);
            int k = b.dim(1);
            int info = openblas.LAPACKE_dposv(openblas.LAPACK_ROW_MAJOR, (byte) 'L', n, k, m.doublePointer(),
                    Math.max(1, n), x.doublePointer(), Math.max(1, k));
            if (info != 0) {
                x.close();
                throw new IllegalArgumentException("solve: the kernel matrix is not positive definite (leading minor "
                        + info + "); use a larger diagonal regulariser");
            }
            return x;
        }
    }
}
