package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
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

    /**
     * A C-order kernel is read in blocks of example rows straight into the float64 matrix: whatever the block (one
     * row, two rows, the whole file), the matrix is entry for entry the one built from the whole tensor, for the
     * shared layout [5, 5] and the full one [4, 4, 3, 3], in float32, float64 and int32 files (integers exact in
     * float64; float32 values widened exactly). The last block is shorter when the rows do not divide evenly.
     */
    @Test
    void aKernelReadInBlocksIsTheKernelReadWhole() throws IOException {
        Random r = new Random(11);
        for (int[] shape : new int[][] {{5, 5}, {4, 4, 3, 3}}) {
            int n = shape[0];
            int o = shape.length == 4 ? shape[2] : 1;
            double[][] jac = new double[n * o][4];
            for (double[] row : jac) {
                for (int q = 0; q < row.length; q++) {
                    row[q] = r.nextInt(7) - 3; // small integers: every type below holds the kernel exactly
                }
            }
            double[] k = new double[n * n * o * o];
            for (int i = 0; i < n * o; i++) {
                for (int j = 0; j < n * o; j++) {
                    double v = 0;
                    for (int q = 0; q < 4; q++) {
                        v += jac[i][q] * jac[j][q];
                    }
                    // C order: [n1, n2] or [n1, n2, o1, o2] for matrix entry (n1·O + o1, n2·O + o2)
                    k[((i / o * n + j / o) * o + i % o) * o + j % o] = v;
                }
            }
            for (NpyDType type : new NpyDType[] {NpyDType.FLOAT32, NpyDType.FLOAT64, NpyDType.INT32}) {
                Path f = dir.resolve("k" + shape.length + type + ".npy");
                try (Tensor t = Tensor.of(k, shape)) {
                    if (type == NpyDType.INT32) {
                        long[] ints = new long[k.length];
                        for (int i = 0; i < k.length; i++) {
                            ints[i] = (long) k[i];
                        }
                        Npy.write(f, NpyArray.ofLongs(NpyDType.INT32, ints, shape));
                    } else {
                        try (Tensor c = t.to(type == NpyDType.FLOAT32 ? DType.F32 : DType.F64)) {
                            Npy.write(f, c);
                        }
                    }
                }
                long rowBytes = (long) k.length / n * (type == NpyDType.FLOAT32 ? 4 : 8);
                for (long blockBytes : new long[] {1, 2 * rowBytes, 1L << 30}) {
                    KernelFiles.SquareKernel read = KernelFiles.readSquareKernel(f, 0, blockBytes);
                    try (KernelMatrix m = read.matrix()) {
                        assertThat(read.precision()).isEqualTo(type == NpyDType.FLOAT32 ? DType.F32 : DType.F64);
                        assertThat(m.isFull()).isEqualTo(shape.length == 4);
                        assertThat(m.dimension()).isEqualTo(n * o);
                        for (int i = 0; i < n * o; i++) {
                            for (int j = 0; j < n * o; j++) {
                                double v = k[((i / o * n + j / o) * o + i % o) * o + j % o];
                                assertThat(m.get(i, j)).as("%s %s block %d (%d, %d)", type,
                                        java.util.Arrays.toString(shape), blockBytes, i, j).isEqualTo(v);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * A value refused in a later block is named by its index in the file, not in the block: a NaN at [3, 1] of a
     * [4, 4] float64 kernel read one row at a time, and an int64 beyond 2^53 (not exactly a float64) at [2, 3].
     */
    @Test
    void aBadValueInALaterBlockIsNamedByItsIndexInTheFile() throws IOException {
        double[] k = new double[16];
        for (int i = 0; i < 4; i++) {
            k[i * 4 + i] = 1;
        }
        k[3 * 4 + 1] = Double.NaN;
        Path nan = dir.resolve("nan.npy");
        try (Tensor t = Tensor.of(k, 4, 4)) {
            Npy.write(nan, t);
        }
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(nan, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(nan + ": contains NaN at [3, 1]; a spectrum needs a finite kernel");
        long[] ints = new long[16];
        ints[2 * 4 + 3] = (1L << 53) + 1;
        Path wide = dir.resolve("wide.npy");
        Npy.write(wide, NpyArray.ofLongs(NpyDType.INT64, ints, 4, 4));
        assertThatThrownBy(() -> KernelFiles.readSquareKernel(wide, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(wide + ": element 11");
    }

    /**
     * {@code cat K.npy | ntk4j spectrum /dev/stdin}: a pipe is opened once and read in blocks like a file (a 4×4
     * float64 kernel one row of 32 bytes at a time, the matrix entry for entry the file's). A pipe cut short is
     * found only as it is read, in a later block: the message gives the data bytes the file had in all, those of
     * the earlier blocks included (it gave only the bytes of the block being read: 8, not 3·32 + 8 = 104).
     */
    @Test
    void aPipeIsReadInBlocksAndACutOneNamesTheBytesItHad() throws Exception {
        Path fifo = dir.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).as("mkfifo").isZero();
        double[] k = new double[16];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                k[i * 4 + j] = i == j ? 4 : 1.0 / (1 + i + j);
            }
        }
        byte[] whole = RawNpy.npy(RawNpy.dict("<f8", "(4, 4)"), RawNpy.f8(k));
        KernelFiles.SquareKernel read = throughPipe(fifo, whole, () -> KernelFiles.readSquareKernel(fifo, 0, 32));
        try (KernelMatrix m = read.matrix()) {
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    assertThat(m.get(i, j)).as("(%d, %d)", i, j).isEqualTo(k[i * 4 + j]);
                }
            }
        }
        int header = whole.length - 16 * 8;
        byte[] cut = java.util.Arrays.copyOf(whole, header + 3 * 32 + 8); // three rows and one value of the fourth
        assertThatThrownBy(() -> throughPipe(fifo, cut, () -> KernelFiles.readSquareKernel(fifo, 0, 32)))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(fifo + ": truncated .npy file: shape (4, 4) of '<f8' needs 128 data bytes after the "
                        + header + "-byte header, the file has only 104");
    }

    private interface Read {
        KernelFiles.SquareKernel read() throws IOException;
    }

    /** Reads while another thread writes {@code bytes} into the FIFO (which the read opens once). */
    private static KernelFiles.SquareKernel throughPipe(Path fifo, byte[] bytes, Read read) throws Exception {
        Thread writer = new Thread(() -> {
            try (java.io.OutputStream out = Files.newOutputStream(fifo)) {
                out.write(bytes);
            } catch (IOException e) {
                // the reader stopped early (a broken pipe): what it read is what the test checks
            }
        });
        writer.setDaemon(true); // blocked in its open if the read never opens the FIFO: the test fails below
        writer.start();
        try {
            return org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                    read::read, "reading the pipe blocked: did it open it twice?");
        } finally {
            writer.join(10_000);
            assertThat(writer.isAlive()).as("the writer is done").isFalse();
        }
    }

    /**
     * {@code OUT.partial} of a tiled {@code kernel --out} run that has not finished (its manifest beside it) is a valid
     * .npy whose missing tiles are zeros: it is refused in one line naming the manifest, the tiles recorded and
     * {@code --resume}, where it was read as a kernel (spectrum printed the eigenvalues of that other matrix). Once
     * the run finishes, OUT reads as the kernel; a file that merely ends in .partial, without a manifest, is read.
     */
    @Test
    void theUnfinishedOutputOfATiledRunIsRefused() throws IOException {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=3)");
        int[] in = {5};
        try (Params p = m.init(1, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 40, 5)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).memoryBudget(1L << 30);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(40, 0, in, DType.F64);
            TiledKernel tk = new TiledKernel(ntk, plan, x, null);
            Path out = dir.resolve("k.npy");
            Path partial = TileStore.partialPath(out);
            try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(m.spec(), p, x, null))) {
                try (Tensor first = tk.computeTile(0)) {
                    store.write(plan.tiles().get(0), first);
                }
                assertThatThrownBy(() -> KernelFiles.readSquareKernel(partial))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage(partial + ": the unfinished output of a tiled kernel run ("
                                + TileStore.manifestPath(out) + " records 1 of " + plan.tileCount() + " tiles; the "
                                + "others are still zeros): finish it with the same kernel command and --resume, then "
                                + "read " + out);
                tk.run(store.finishedTiles(), store::write, null);
                store.finish();
            }
            try (KernelMatrix read = KernelFiles.readSquare(out); Tensor all = tk.computeAll()) {
                // the same tiles computed twice: equal to rounding (no bit equality across BLAS paths)
                assertThat(read.get(39, 0)).isNotZero()
                        .isCloseTo(all.get(39, 0), org.assertj.core.api.Assertions.within(1e-12 * Math.abs(
                                all.get(39, 0))));
            }
            Files.move(out, partial); // a file of that name alone, no run beside it: a kernel like any other
            try (KernelMatrix read = KernelFiles.readSquare(partial)) {
                assertThat(read.dimension()).isEqualTo(40);
            }
        }
    }
}
