package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * {@link Tensor#keptCopy}: a copy of a parameter view's elements in another layout, made at the first request, kept
 * with the storage's owner while they are tracked unchanged, refilled after a write, never for what cannot be
 * tracked, freed with the owner, and bounded in bytes.
 */
class KeptCopyTest {
    private static final long NO_BOUND = Long.MAX_VALUE;

    /** The transpose of a rows × cols matrix, element by element, counting how often it is made. */
    private static BiConsumer<Tensor, Tensor> transpose(int rows, int cols, AtomicInteger made) {
        return (from, into) -> {
            made.incrementAndGet();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    into.setFlat(j * rows + i, from.getFlat(i * cols + j));
                }
            }
        };
    }

    @Test
    void madeAtTheFirstRequestAndKeptWhileTheOwnerIsUnchanged() {
        AtomicInteger made = new AtomicInteger();
        long before = Tensor.keptCopyBytes();
        try (Tensor w = Tensor.randomNormal(DType.F32, 1, 3, 5)) {
            double[] expected = transposed(w.toDoubleArray(), 3, 5);
            Tensor first = w.parameterView().keptCopy("t", new int[] {5, 3}, NO_BOUND, transpose(3, 5, made));
            assertThat(first).isNotNull();
            assertThat(first.shape()).containsExactly(5, 3);
            assertThat(first.toDoubleArray()).containsExactly(expected);
            assertThat(Tensor.keptCopyBytes() - before).isEqualTo(15 * 4);
            first.close(); // a read view: frees nothing
            // a view of a parameter view, under another shape, finds the same copy
            Tensor again = w.parameterView().readView(15).keptCopy("t", new int[] {5, 3}, NO_BOUND,
                    transpose(3, 5, made));
            assertThat(again.toDoubleArray()).containsExactly(expected);
            assertThat(made).hasValue(1);
            assertThat(Tensor.keptCopyBytes() - before).isEqualTo(15 * 4);
            // another key is another copy
            BiConsumer<Tensor, Tensor> flat = (from, into) -> {
                for (int q = 0; q < 15; q++) {
                    into.setFlat(q, from.getFlat(q));
                }
            };
            assertThat(w.parameterView().keptCopy("u", new int[] {15}, NO_BOUND, flat)).isNotNull();
            assertThat(Tensor.keptCopyBytes() - before).isEqualTo(2 * 15 * 4);
        }
        assertThat(Tensor.keptCopyBytes()).as("freed with the owner").isEqualTo(before);
    }

    @Test
    void aWriteIsSeenByTheNextRequest() {
        AtomicInteger made = new AtomicInteger();
        long before = Tensor.keptCopyBytes();
        try (Tensor w = Tensor.randomNormal(DType.F64, 2, 4, 2)) {
            w.parameterView().keptCopy("t", new int[] {2, 4}, NO_BOUND, transpose(4, 2, made));
            w.setFlat(3, 42.0);
            Tensor after = w.parameterView().keptCopy("t", new int[] {2, 4}, NO_BOUND, transpose(4, 2, made));
            assertThat(made).hasValue(2);
            assertThat(after.get(1, 1)).isEqualTo(42.0);
            assertThat(after.toDoubleArray()).containsExactly(transposed(w.toDoubleArray(), 4, 2));
            assertThat(Tensor.keptCopyBytes() - before).as("refilled in place").isEqualTo(8 * 8);
            w.parameterView().keptCopy("t", new int[] {2, 4}, NO_BOUND, transpose(4, 2, made));
            assertThat(made).hasValue(2);
        }
        assertThat(Tensor.keptCopyBytes()).isEqualTo(before);
    }

    @Test
    void nothingIsKeptForWhatCannotBeTracked() {
        AtomicInteger made = new AtomicInteger();
        long before = Tensor.keptCopyBytes();
        try (Tensor w = Tensor.randomNormal(DType.F32, 3, 2, 2)) {
            assertThat(w.keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made)))
                    .as("not a view: a temporary's copy would be thrown away").isNull();
            assertThat(w.readView().keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made)))
                    .as("a plain read view").isNull();
            assertThat(w.parameterView().keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made)))
                    .isNotNull();
            w.floats(); // the storage handed out: later writes go unseen
            assertThat(w.parameterView().keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made))).isNull();
            assertThat(Tensor.keptCopyBytes()).as("the copy made before is freed").isEqualTo(before);
            w.trackWritesFromNow(); // its maker declares the handle gone (a file reader after filling it)
            assertThat(w.parameterView().keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made)))
                    .isNotNull();
            assertThatThrownBy(() -> w.readView().trackWritesFromNow()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("view");
        }
        assertThat(made).hasValue(2);
        try (Tensor w = Tensor.randomNormal(DType.F32, 4, 2, 2)) {
            Tensor view = w.parameterView();
            Tensor moved = w.reshapeMove(4);
            assertThat(view.keptCopy("t", new int[] {2, 2}, NO_BOUND, transpose(2, 2, made)))
                    .as("a view of a tensor moved since").isNull();
            moved.close();
        }
    }

    /** Workers of a tiled run read the same parameter at once: one copy is made, and every reader gets it whole. */
    @Test
    void concurrentReadersShareOneCopy() throws Exception {
        AtomicInteger made = new AtomicInteger();
        try (Tensor w = Tensor.randomNormal(DType.F32, 7, 64, 48)) {
            double[] expected = transposed(w.toDoubleArray(), 64, 48);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                java.util.List<java.util.concurrent.Future<double[]>> got = new java.util.ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    got.add(pool.submit(() -> w.parameterView()
                            .keptCopy("t", new int[] {48, 64}, NO_BOUND, transpose(64, 48, made)).toDoubleArray()));
                }
                for (java.util.concurrent.Future<double[]> f : got) {
                    assertThat(f.get()).containsExactly(expected);
                }
                assertThat(made).hasValue(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void theBoundIsKept() {
        AtomicInteger made = new AtomicInteger();
        try (Tensor w = Tensor.randomNormal(DType.F32, 5, 4, 4)) {
            long bound = Tensor.keptCopyBytes() + 16 * 4 - 1;
            assertThat(w.parameterView().keptCopy("t", new int[] {4, 4}, bound, transpose(4, 4, made))).isNull();
            assertThat(w.parameterView().keptCopy("t", new int[] {4, 4}, bound + 1, transpose(4, 4, made)))
                    .isNotNull();
            assertThat(made).hasValue(1);
        }
    }

    @Test
    void theCopiesMoveWithTheStorage() {
        AtomicInteger made = new AtomicInteger();
        long before = Tensor.keptCopyBytes();
        Tensor w = Tensor.randomNormal(DType.F32, 6, 2, 3);
        w.parameterView().keptCopy("t", new int[] {3, 2}, NO_BOUND, transpose(2, 3, made));
        try (Tensor moved = w.reshapeMove(3, 2)) {
            Tensor again = moved.parameterView().keptCopy("t", new int[] {3, 2}, NO_BOUND, transpose(2, 3, made));
            assertThat(again).isNotNull();
            assertThat(made).hasValue(1);
            assertThat(Tensor.keptCopyBytes() - before).isEqualTo(6 * 4);
        }
        assertThat(Tensor.keptCopyBytes()).isEqualTo(before);
    }

    private static double[] transposed(double[] m, int rows, int cols) {
        double[] t = new double[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }
}
