package org.ntk4j.predict;

import org.ntk4j.cpu.Layout;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.Tensor;

/**
 * Kernels for kernel regression: the train-train kernel into a {@link KernelMatrix} (float64, off-heap, any size)
 * and the test-train kernel row tile by row tile. A kernel that fits one tensor (2^31-1 bytes) is computed in one
 * call (the train kernel with x2 = null, reusing the work on x1); a larger one in tiles of rows of at most
 * {@link #TILE_BYTES}, each against all training examples.
 */
public final class KernelRows {
    /** Largest kernel tile computed at once when the kernel does not fit one tensor. */
    public static final long TILE_BYTES = 1L << 30;

    /** Receives the kernel rows of examples [first, first + rows.dim(0)). */
    @FunctionalInterface
    public interface TileConsumer {
        /**
         * Takes one tile of rows.
         *
         * @param first the index of the tile's first example
         * @param rows the tile's kernel rows, closed after the call
         */
        void accept(int first, Tensor rows);
    }

    private KernelRows() {
    }

    /**
     * Bytes of the kernel rows of one example against {@code n2} examples.
     *
     * @param kind the kind
     * @param n2 the examples of the other side
     * @param outputs O, the model's outputs per example
     * @param dtypeBytes bytes per entry
     * @return the bytes of one example's rows
     */
    public static long bytesPerRow(KernelKind kind, int n2, int outputs, int dtypeBytes) {
        return kind.entriesPerRow(n2, outputs) * dtypeBytes;
    }

    /**
     * The train-train kernel of {@code kind} on x [N, ...] as a float64 matrix (full layout for kind full). Past one
     * tensor, in row tiles of at most {@link #TILE_BYTES}, each against the examples from its own first on (the
     * upper part of its rows), mirrored below the diagonal at the end: K is symmetric, so this is about half the
     * work of whole rows, and the matrix is exactly symmetric.
     *
     * @param ntk the kernel's configuration (method, memory budget)
     * @param kind full or an N×N kind
     * @param x the training inputs [N, ...]; not closed
     * @param outputs O, the model's outputs per example
     * @return the matrix, which the caller closes
     */
    public static KernelMatrix train(EmpiricalNtk ntk, KernelKind kind, Tensor x, int outputs) {
        return train(ntk, kind, x, outputs, Integer.MAX_VALUE, TILE_BYTES);
    }

    /** {@link #train(EmpiricalNtk, KernelKind, Tensor, int)} with its one-call limit and tile size (for tests). */
    static KernelMatrix train(EmpiricalNtk ntk, KernelKind kind, Tensor x, int outputs, long oneCall,
                              long tileBytes) {
        int n = x.dim(0);
        long perRow = bytesPerRow(kind, n, outputs, x.dtype().bytes());
        if (perRow * n <= oneCall) {
            try (Tensor k = ntk.kernel(kind, x, null)) {
                return KernelMatrix.of(k);
            }
        }
        KernelMatrix m = kind.isFull() ? KernelMatrix.zerosFull(n, outputs) : KernelMatrix.zerosShared(n);
        try {
            int rows = (int) Math.max(1, Math.min(n, tileBytes / perRow)); // against n − first ≤ n columns
            for (int first = 0; first < n; first += rows) {
                int last = Math.min(n, first + rows);
                try (Tensor tile = Layout.sliceAxis(x, 0, first, last);
                     Tensor columns = Layout.sliceAxis(x, 0, first, n);
                     Tensor k = ntk.kernel(kind, tile, columns)) {
                    m.setUpperRows(first, k);
                }
            }
            m.mirrorUpper();
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
        return m;
    }

    /**
     * Computes K(x1, x2) of {@code kind} in row tiles of x1 (one tile when the whole fits one tensor) and hands each
     * to {@code consumer}, closing it afterwards.
     *
     * @param ntk the kernel's configuration (method, memory budget)
     * @param kind full or an N×N kind
     * @param x1 the row inputs [N1, ...]; not closed
     * @param x2 the column inputs [N2, ...]; not closed
     * @param outputs O, the model's outputs per example
     * @param consumer takes each tile of rows
     */
    public static void forEachTile(EmpiricalNtk ntk, KernelKind kind, Tensor x1, Tensor x2, int outputs,
                                   TileConsumer consumer) {
        int n1 = x1.dim(0);
        long perRow = bytesPerRow(kind, x2.dim(0), outputs, x1.dtype().bytes());
        long limit = perRow * n1 <= Integer.MAX_VALUE ? Integer.MAX_VALUE : TILE_BYTES;
        int rows = (int) Math.max(1, Math.min(n1, limit / perRow));
        for (int first = 0; first < n1; first += rows) {
            int last = Math.min(n1, first + rows);
            if (first == 0 && last == n1) {
                try (Tensor k = ntk.kernel(kind, x1, x2)) {
                    consumer.accept(0, k);
                }
            } else {
                try (Tensor tile = Layout.sliceAxis(x1, 0, first, last); Tensor k = ntk.kernel(kind, tile, x2)) {
                    consumer.accept(first, k);
                }
            }
        }
    }
}
