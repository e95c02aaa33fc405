package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The train kernel past one tensor ({@link KernelRows#train}), in row tiles each against the examples from its own
 * first on, mirrored below the diagonal: the same matrix as the kernel computed in one call, to 1e-12 relative in
 * float64, and exactly symmetric, for the full kernel (the O×O blocks of an example with itself mirrored within
 * the tile) and N×N kinds, with tiles of one row, of two rows (a shorter last tile) and of all rows but one.
 */
class KernelRowsTest {
    private static final Model NET = Zoo.parse("fcn(depth=2,width=8,out=3)");

    @Test
    void aTrainKernelInUpperRowTilesIsTheKernelInOneCall() {
        int n = 9;
        try (Params p = NET.init(4, new int[] {5}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 7, n, 5)) {
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk ntk = EmpiricalNtk.of(NET, p).method(method);
                for (KernelKind kind : new KernelKind[] {KernelKind.full(), KernelKind.trace(), KernelKind.pntk()}) {
                    long perRow = KernelRows.bytesPerRow(kind, n, 3, 8);
                    try (KernelMatrix whole = KernelRows.train(ntk, kind, x, 3)) {
                        assertThat(whole.isFull()).isEqualTo(kind.isFull());
                        for (long tile : new long[] {1, 2 * perRow, (n - 1) * perRow}) {
                            try (KernelMatrix tiled = KernelRows.train(ntk, kind, x, 3, 0, tile)) {
                                int d = tiled.dimension();
                                assertThat(d).isEqualTo(whole.dimension());
                                double scale = 0;
                                for (int i = 0; i < d; i++) {
                                    for (int j = 0; j < d; j++) {
                                        scale = Math.max(scale, Math.abs(whole.get(i, j)));
                                    }
                                }
                                assertThat(scale).isGreaterThan(0);
                                for (int i = 0; i < d; i++) {
                                    for (int j = 0; j < d; j++) {
                                        String at = method + " " + kind + " tile " + tile + " (" + i + ", " + j + ")";
                                        assertThat(tiled.get(i, j)).as(at).isEqualTo(tiled.get(j, i));
                                        assertThat(Math.abs(tiled.get(i, j) - whole.get(i, j))).as(at)
                                                .isLessThanOrEqualTo(1e-12 * scale);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
