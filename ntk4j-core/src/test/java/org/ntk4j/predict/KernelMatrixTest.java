package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.Fixtures;
import org.ntk4j.cpu.Layout;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class KernelMatrixTest {
    /** R + R', R'[a, b, k, l] = R[b, a, l, k]: a random kernel that is symmetric as the NO×NO matrix. */
    private static Tensor symmetricTheta(long seed, int n, int o) {
        try (Tensor r = Tensor.randomNormal(DType.F64, seed, n, n, o, o)) {
            Tensor s = Tensor.zeros(DType.F64, n, n, o, o);
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    for (int k = 0; k < o; k++) {
                        for (int l = 0; l < o; l++) {
                            s.set(r.get(a, b, k, l) + r.get(b, a, l, k), a, b, k, l);
                        }
                    }
                }
            }
            return s;
        }
    }

    /** Row (a, k), column (b, l) of the NO×NO matrix is Θ[a, b, k, l]; row tiles give the same matrix. */
    @Property(tries = 30)
    void fullLayoutAndRowTiles(@ForAll @IntRange(min = 1, max = 6) int n, @ForAll @IntRange(min = 1, max = 4) int o,
                               @ForAll @IntRange(min = 1, max = 6) int tile, @ForAll long seed) {
        try (Tensor theta = symmetricTheta(seed, n, o); KernelMatrix whole = KernelMatrix.of(theta);
             KernelMatrix tiled = KernelMatrix.zerosFull(n, o)) {
            for (int first = 0; first < n; first += tile) {
                try (Tensor rows = Layout.sliceAxis(theta, 0, first, Math.min(n, first + tile))) {
                    tiled.setRows(first, rows.to(DType.F32).to(DType.F64));
                }
            }
            assertThat(whole.dimension()).isEqualTo(n * o);
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    for (int k = 0; k < o; k++) {
                        for (int l = 0; l < o; l++) {
                            assertThat(whole.get(a * o + k, b * o + l)).isEqualTo(theta.get(a, b, k, l));
                            assertThat(tiled.get(a * o + k, b * o + l))
                                    .isEqualTo((double) (float) theta.get(a, b, k, l));
                        }
                    }
                }
            }
            try (Tensor back = whole.toTensor()) {
                Fixtures.assertSameElements("toTensor", back.toDoubleArray(), theta.toDoubleArray());
            }
        }
    }

    @Property(tries = 20)
    void asymmetryIsMeasured(@ForAll @IntRange(min = 2, max = 300) int n, @ForAll long seed) {
        try (Tensor a = Tensor.randomNormal(DType.F64, seed, n, n); Tensor s = a.copy()) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    s.set(a.get(i, j) + a.get(j, i), i, j);
                }
            }
            try (KernelMatrix sym = KernelMatrix.of(s)) {
                assertThat(sym.relativeAsymmetry()).isEqualTo(0);
                int i = Math.floorMod(seed, n - 1);
                double before = sym.get(i, n - 1);
                double[] row = new double[n];
                sym.getRow(i, row);
                row[n - 1] += 1;
                sym.putRow(i, row);
                double max = 0;
                for (double v : s.toDoubleArray()) {
                    max = Math.max(max, Math.abs(v));
                }
                max = Math.max(max, Math.abs(before + 1));
                assertThat(sym.relativeAsymmetry()).isCloseTo(1 / max, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
    }

    @Property(tries = 10)
    void badRowTilesAreRejected(@ForAll @IntRange(min = 2, max = 5) int n) {
        try (KernelMatrix m = KernelMatrix.zerosFull(n, 3); Tensor rows = Tensor.zeros(DType.F64, 1, n, 2, 2)) {
            assertThatThrownBy(() -> m.setRows(0, rows)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("do not fit a kernel of " + n + " examples and 3 outputs");
        }
    }

    /**
     * A train-train kernel that is not symmetric is refused (its solvers and eigensolver read one triangle: the
     * other would be ignored), float32 round-off is not; indices outside the matrix are an error, not a read of
     * other memory.
     */
    @org.junit.jupiter.api.Test
    void asymmetricKernelsAndIndicesOutsideAreRefused() {
        double[] k = {4, 1, .5, 1, 3, .2, .5, .2, 2};
        double[] changed = k.clone();
        changed[2] = 100;
        try (Tensor t = Tensor.of(changed, 3, 3)) {
            assertThatThrownBy(() -> KernelMatrix.of(t)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("kernel: not symmetric (max |K − Kᵀ| / max |K| = 0.995); a train-train kernel K(x, x) "
                            + "must be symmetric");
        }
        double[] roundOff = k.clone();
        roundOff[2] = Math.nextUp((float) .5);
        try (Tensor t = Tensor.of(roundOff, 3, 3); KernelMatrix m = KernelMatrix.of(t)) {
            assertThat(m.relativeAsymmetry()).isPositive().isLessThan(KernelMatrix.SYMMETRY_TOLERANCE);
            assertThatThrownBy(() -> m.get(3, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("kernel matrix: row 3 is outside [0, 3)");
            assertThatThrownBy(() -> m.get(0, -1)).hasMessage("kernel matrix: column -1 is outside [0, 3)");
            assertThatThrownBy(() -> m.getRow(1 << 28, new double[3])).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> m.getRow(0, new double[2])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("kernel matrix: out has 2 entries; a row has 3");
            assertThatThrownBy(() -> m.putRow(-1, new double[3])).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
