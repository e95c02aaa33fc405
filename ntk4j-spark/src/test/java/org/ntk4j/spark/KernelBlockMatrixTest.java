package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.mllib.linalg.Matrix;
import org.apache.spark.mllib.linalg.distributed.BlockMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class KernelBlockMatrixTest {
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        sc = new JavaSparkContext(SparkTesting.localConf(2, 1).setAppName("KernelBlockMatrixTest"));
    }

    @AfterAll
    static void stop() {
        if (sc != null) {
            sc.close();
        }
    }

    @TempDir
    Path dir;

    @Test
    void squareKernelInBlocksThatDoNotDivideIt() throws Exception {
        try (Tensor k = Tensor.randomNormal(DType.F64, 3, 7, 5)) {
            Path f = dir.resolve("k.npy");
            Npy.write(f, k);
            BlockMatrix m = KernelBlockMatrix.of(sc, f, 3);
            m.validate();
            assertThat(m.numRows()).isEqualTo(7);
            assertThat(m.numCols()).isEqualTo(5);
            assertThat(m.numRowBlocks()).isEqualTo(3);
            assertThat(m.numColBlocks()).isEqualTo(2);
            Matrix local = m.toLocalMatrix();
            for (int i = 0; i < 7; i++) {
                for (int j = 0; j < 5; j++) {
                    assertThat(local.apply(i, j)).isEqualTo(k.get(i, j));
                }
            }
        }
    }

    @Test
    void fullKernelIsTheMatrixOfStackedJacobianRows() throws Exception {
        // [N1, N2, O, O] = [4, 3, 2, 2] -> (4·2) × (3·2), row n1·2 + o1, column n2·2 + o2; float32 widened exactly
        try (Tensor k = Tensor.randomNormal(DType.F32, 5, 4, 3, 2, 2)) {
            Path f = dir.resolve("full.npy");
            Npy.write(f, k);
            Matrix local = KernelBlockMatrix.of(sc, f, 5).toLocalMatrix();
            assertThat(local.numRows()).isEqualTo(8);
            assertThat(local.numCols()).isEqualTo(6);
            for (int n1 = 0; n1 < 4; n1++) {
                for (int n2 = 0; n2 < 3; n2++) {
                    for (int o1 = 0; o1 < 2; o1++) {
                        for (int o2 = 0; o2 < 2; o2++) {
                            assertThat(local.apply(n1 * 2 + o1, n2 * 2 + o2)).isEqualTo(k.get(n1, n2, o1, o2));
                        }
                    }
                }
            }
        }
    }

    @Test
    void perLogitKernelOneLogitAtATime() throws Exception {
        try (Tensor k = Tensor.randomNormal(DType.F64, 9, 5, 4, 3)) {
            Path f = dir.resolve("diag.npy");
            Npy.write(f, k);
            for (int logit = 0; logit < 3; logit++) {
                Matrix local = KernelBlockMatrix.ofLogit(sc, f, logit, 2).toLocalMatrix();
                for (int i = 0; i < 5; i++) {
                    for (int j = 0; j < 4; j++) {
                        assertThat(local.apply(i, j)).isEqualTo(k.get(i, j, logit));
                    }
                }
            }
            assertThatThrownBy(() -> KernelBlockMatrix.of(sc, f, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("ofLogit");
            assertThatThrownBy(() -> KernelBlockMatrix.ofLogit(sc, f, 3, 2))
                    .hasMessage("logit: expected 0 to 2, got 3");
        }
    }

    @Test
    void blockMatrixAlgebraWorksOnTheResult() throws Exception {
        // downstream use: K·Kᵀ through MLlib equals the product computed here
        try (Tensor k = Tensor.randomNormal(DType.F64, 11, 6, 6)) {
            Path f = dir.resolve("sq.npy");
            Npy.write(f, k);
            BlockMatrix m = KernelBlockMatrix.of(sc, f, 4);
            Matrix p = m.multiply(m.transpose()).toLocalMatrix();
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 6; j++) {
                    double s = 0;
                    for (int l = 0; l < 6; l++) {
                        s += k.get(i, l) * k.get(j, l);
                    }
                    assertThat(p.apply(i, j)).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-12));
                }
            }
        }
    }

    @Test
    void fortranOrderKernelIsRefusedNotReadTransposed() throws Exception {
        // np.save(f, k.T) of a 2×3 kernel: 'fortran_order': True, shape (3, 2); the executors read C-order offsets
        String dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }";
        byte[] text = dict.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        int pad = (64 - (10 + text.length + 1) % 64) % 64;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(10 + text.length + 1 + pad + 48)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) (text.length + 1 + pad));
        b.put(text).put(" ".repeat(pad).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).put((byte) '\n');
        for (int i = 0; i < 6; i++) {
            b.putDouble(i);
        }
        Path f = dir.resolve("kt.npy");
        java.nio.file.Files.write(f, b.array());
        try (Tensor k = Npy.readTensor(f)) { // the local reader transposes: element (1, 0) is the file's second
            assertThat(k.get(1, 0)).isEqualTo(1.0);
        }
        assertThatThrownBy(() -> KernelBlockMatrix.of(sc, f, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Fortran (column-major) order")
                .hasMessageContaining("np.ascontiguousarray");
    }
}
