package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Kernel files read back for analysis ({@code ntk4j spectrum}), in the orders NumPy saves them. */
class KernelFilesTest {
    @TempDir
    Path dir;

    /**
     * A full kernel [N, N, O, O] saved in Fortran order ({@code np.save(f, np.asfortranarray(k))}) is transposed on
     * read: the NO×NO matrix, entry (n1·O + o1, n2·O + o2) = K[n1, n2, o1, o2], equals the C-order file's entry for
     * entry. The matrix is symmetric, but the file's bytes read as C order would not be it (axes reversed, not
     * the matrix transposed), so this checks the transpose, not symmetry. float32 and float64.
     */
    @Test
    void aFortranOrderFullKernelReadsAsItsCOrderFile() throws IOException {
        int n = 3;
        int o = 2;
        Random r = new Random(3);
        double[][] jac = new double[n * o][5]; // rows J_o(x_n), K = J Jᵀ
        for (double[] row : jac) {
            for (int k = 0; k < row.length; k++) {
                row[k] = r.nextGaussian();
            }
        }
        double[] k = new double[n * n * o * o]; // C order [n1, n2, o1, o2]
        for (int n1 = 0; n1 < n; n1++) {
            for (int n2 = 0; n2 < n; n2++) {
                for (int o1 = 0; o1 < o; o1++) {
                    for (int o2 = 0; o2 < o; o2++) {
                        double s = 0;
                        for (int q = 0; q < 5; q++) {
                            s += jac[n1 * o + o1][q] * jac[n2 * o + o2][q];
                        }
                        k[((n1 * n + n2) * o + o1) * o + o2] = s;
                    }
                }
            }
        }
        for (NpyDType type : new NpyDType[] {NpyDType.FLOAT32, NpyDType.FLOAT64}) {
            Path c = dir.resolve("c-" + type + ".npy");
            try (Tensor t = Tensor.of(type == NpyDType.FLOAT32 ? DType.F32 : DType.F64, k, n, n, o, o)) {
                Npy.write(c, t);
            }
            // Fortran order: (n1, n2, o1, o2) at n1 + n·(n2 + n·(o1 + o·o2)), written here element by element
            ByteBuffer data = ByteBuffer.allocate(k.length * type.itemSize()).order(ByteOrder.LITTLE_ENDIAN);
            for (int o2 = 0; o2 < o; o2++) {
                for (int o1 = 0; o1 < o; o1++) {
                    for (int n2 = 0; n2 < n; n2++) {
                        for (int n1 = 0; n1 < n; n1++) {
                            double v = k[((n1 * n + n2) * o + o1) * o + o2];
                            if (type == NpyDType.FLOAT32) {
                                data.putFloat((float) v);
                            } else {
                                data.putDouble(v);
                            }
                        }
                    }
                }
            }
            Path f = dir.resolve("f-" + type + ".npy");
            Files.write(f, RawNpy.npy("{'descr': '" + type.descr() + "', 'fortran_order': True, 'shape': (3, 3, 2, 2),"
                    + " }", data.array()));
            KernelFiles.SquareKernel read = KernelFiles.readSquareKernel(f);
            try (KernelMatrix fromF = read.matrix(); KernelMatrix fromC = KernelFiles.readSquare(c)) {
                assertThat(read.precision()).isEqualTo(type == NpyDType.FLOAT32 ? DType.F32 : DType.F64);
                assertThat(fromF.dimension()).isEqualTo(n * o);
                for (int i = 0; i < n * o; i++) {
                    for (int j = 0; j < n * o; j++) {
                        double expected = type == NpyDType.FLOAT32 ? (float) k[((i / o * n + j / o) * o + i % o) * o
                                + j % o] : k[((i / o * n + j / o) * o + i % o) * o + j % o];
                        assertThat(fromF.get(i, j)).as("%s (%d, %d)", type, i, j).isEqualTo(expected);
                        assertThat(fromF.get(i, j)).isEqualTo(fromC.get(i, j));
                    }
                }
            }
        }
    }
}
