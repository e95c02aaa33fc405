package org.ntk4j.cli;

import org.ntk4j.cpu.Layout;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.Tensor;

/**
 * Kernels for kernel regression: the train-train kernel into a {@link KernelMatrix} (float64, off-heap, any size)
 * and the test-train kernel row tile by row tile. A kernel that fits one tensor (2^31-1 bytes) is computed in one
 * call (the train kernel with x2 = null, reusing the work on x1); a larger one in tiles of rows of at most
 * {@link #TILE_BYTES}, each against all training examples.
 */
final class KernelRows {
    /** Largest kernel tile computed at once when the kernel does not fit one tensor. */
    static final long TILE_BYTES = 1L << 30;

    /** Receives the kernel rows of examples [first, first + rows.dim(0)). */
    interface TileConsumer {
        void accept(int first, Tensor rows);
    }

    private KernelRows() {
    }

    /** Bytes of the kernel rows of one example against {@code n2} examples. */
    static long bytesPerRow(KernelKind kind, int n2, int outputs, int dtypeBytes) {
        long entries = kind.family() == KernelKind.Family.FULL ? (long) n2 * outputs * outputs : n2;
        return entries * dtypeBytes;
    }

    /** The train-train kernel of {@code kind} on x [N, ...] as a float64 matrix (full layout for kind full). */
    static KernelMatrix train(EmpiricalNtk ntk, KernelKind kind, Tensor x, int outputs) {
        int n = x.dim(0);
        boolean full = kind.family() == KernelKind.Family.FULL;
        long perRow = bytesPerRow(kind, n, outputs, x.dtype().bytes());
        if (perRow * n <= Integer.MAX_VALUE) {
            try (Tensor k = ntk.kernel(kind, x, null)) {
                return KernelMatrix.of(k);
            }
        }
        KernelMatrix m = full ? KernelMatrix.zerosFull(n, outputs) : KernelMatrix.zerosShared(n);
        try {
            forEachTile(ntk, kind, x, x, outputs, (first, rows) -> m.setRows(first, rows));
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /**
     * Computes K(x1, x2) of {@code kind} in row tiles of x1 (one tile when the whole fits one tensor) and hands each
     * to {@code consumer}, closing it afterwards.
     */
    static void forEachTile(EmpiricalNtk ntk, KernelKind kind, Tensor x1, Tensor x2, int outputs,
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
