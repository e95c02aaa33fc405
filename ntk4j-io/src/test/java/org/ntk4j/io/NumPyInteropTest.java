package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Interoperability with real NumPy, both ways. Runs with the first of {@code $NTK4J_PYTHON}, {@code python3} and
 * {@code /usr/bin/python3} that can {@code import numpy}; when none can, every test is reported as skipped
 * (not passed) with a message saying how to install NumPy. The CI script installs {@code python3-numpy}, so
 * there these tests always run.
 */
class NumPyInteropTest {
    static final String NUMPY_NOT_FOUND = "NumPy was not found: none of $NTK4J_PYTHON, python3, /usr/bin/python3"
            + " could 'import numpy', so the NumPy interoperability tests cannot run. Install NumPy"
            + " (Debian/Ubuntu: apt-get install python3-numpy; or: pip install numpy), or set NTK4J_PYTHON to a"
            + " Python interpreter that has it.";

    private static String python;

    @TempDir
    Path dir;

    @BeforeAll
    static void findNumPy() {
        python = findPythonWithNumPy();
        if (python == null) {
            System.err.println("NumPyInteropTest: skipped. " + NUMPY_NOT_FOUND);
        }
    }

    @BeforeEach
    void requireNumPy() {
        requireOrSkip(python);
    }

    /**
     * Skips the calling test when NumPy is absent, saying why; but fails it when {@code NTK4J_REQUIRE_NUMPY=1}
     * (set by {@code .ci/run}, which installs NumPy), so that CI never goes green by skipping.
     */
    static void requireOrSkip(String python) {
        if ("1".equals(System.getenv("NTK4J_REQUIRE_NUMPY"))) {
            org.assertj.core.api.Assertions.assertThat(python).as(NUMPY_NOT_FOUND + "; NTK4J_REQUIRE_NUMPY=1 "
                    + "requires it").isNotNull();
        }
        assumeTrue(python != null, NUMPY_NOT_FOUND);
    }

    /** The first candidate interpreter that imports NumPy, or null. */
    static String findPythonWithNumPy() {
        List<String> candidates = new ArrayList<>();
        String env = System.getenv("NTK4J_PYTHON");
        if (env != null && !env.isBlank()) {
            candidates.add(env.strip());
        }
        candidates.add("python3");
        candidates.add("/usr/bin/python3");
        for (String candidate : candidates) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import numpy").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return candidate;
                }
                p.destroyForcibly();
            } catch (IOException e) {
                // not installed under this name: try the next
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------ Java -> NumPy

    private static final String CHECK_FLOATS = String.join("\n",
            "import sys, numpy as np",
            "for spec in sys.argv[1:]:",
            "    name, descr, dims = spec.split(':')",
            "    shape = tuple(int(s) for s in dims.split(',') if s)",
            "    a = np.load(name)",
            "    assert a.dtype == np.dtype(descr), (name, a.dtype)",
            "    assert a.shape == shape, (name, a.shape, shape)",
            "    assert a.flags.c_contiguous, name",
            "    expect = (np.arange(a.size, dtype=np.float64) * 0.25 - 3).astype(descr).reshape(shape)",
            "    assert np.array_equal(a, expect), (name, a)",
            "    np.save(name + '.numpy.npy', a)",
            "print('ok')");

    @Test
    void npyWrittenByJavaLoadsInNumPyAndEqualsWhatNpSaveWrites() throws Exception {
        int[][] shapes = {{}, {0}, {5}, {2, 3}, {3, 0, 2}, {4, 5, 6}, {100_003},
            ones(15, 10), ones(14, 10, 10)}; // the last two exercise NumPy's header growth padding
        List<String> specs = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        for (int k = 0; k < shapes.length; k++) {
            for (DType dtype : DType.values()) {
                int n = Shapes.size(shapes[k]);
                double[] v = new double[n];
                for (int i = 0; i < n; i++) {
                    v[i] = i * 0.25 - 3;
                }
                Path file = dir.resolve("j" + k + "_" + dtype.shortName() + ".npy");
                try (Tensor t = Tensor.of(dtype, v, shapes[k])) {
                    Npy.write(file, t);
                }
                files.add(file);
                specs.add(file.getFileName() + ":" + NpyDType.of(dtype).descr() + ":" + join(shapes[k]));
            }
        }
        assertThat(py(CHECK_FLOATS, specs.toArray(new String[0]))).contains("ok");
        for (Path file : files) {
            assertThat(Files.readAllBytes(file)).as("%s vs np.save", file.getFileName())
                    .isEqualTo(Files.readAllBytes(Path.of(file + ".numpy.npy")));
        }
    }

    private static final String CHECK_INTS = String.join("\n",
            "import sys, numpy as np",
            "for name in sys.argv[1:]:",
            "    a = np.load(name)",
            "    print(name, a.dtype.str, a.shape, a.ravel().tolist())",
            "    np.save(name + '.numpy.npy', a)");

    @Test
    void integerNpyWrittenByJavaLoadsInNumPy() throws Exception {
        Map<NpyDType, long[]> cases = new LinkedHashMap<>();
        cases.put(NpyDType.BOOL, new long[] {0, 1, 1, 0});
        cases.put(NpyDType.INT8, new long[] {-128, -1, 0, 127});
        cases.put(NpyDType.UINT8, new long[] {0, 1, 128, 255});
        cases.put(NpyDType.INT16, new long[] {-32768, -1, 0, 32767});
        cases.put(NpyDType.UINT16, new long[] {0, 1, 40000, 65535});
        cases.put(NpyDType.INT32, new long[] {Integer.MIN_VALUE, -1, 0, Integer.MAX_VALUE});
        cases.put(NpyDType.UINT32, new long[] {0, 1, 3_000_000_000L, 4294967295L});
        cases.put(NpyDType.INT64, new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE});
        cases.put(NpyDType.UINT64, new long[] {0, 1, Long.MAX_VALUE, -1});
        List<String> names = new ArrayList<>();
        StringBuilder expected = new StringBuilder();
        for (Map.Entry<NpyDType, long[]> c : cases.entrySet()) {
            String name = c.getKey().name().toLowerCase(java.util.Locale.ROOT) + ".npy";
            Npy.write(dir.resolve(name), NpyArray.ofLongs(c.getKey(), c.getValue(), 2, 2));
            names.add(name);
            expected.append(name).append(' ').append(c.getKey().descr()).append(" (2, 2) [");
            long[] v = c.getValue();
            for (int i = 0; i < v.length; i++) {
                expected.append(i > 0 ? ", " : "");
                if (c.getKey() == NpyDType.BOOL) {
                    expected.append(v[i] != 0 ? "True" : "False");
                } else if (c.getKey() == NpyDType.UINT64) {
                    expected.append(Long.toUnsignedString(v[i]));
                } else {
                    expected.append(v[i]);
                }
            }
            expected.append("]\n");
        }
        assertThat(py(CHECK_INTS, names.toArray(new String[0]))).isEqualTo(expected.toString());
        for (String name : names) {
            assertThat(Files.readAllBytes(dir.resolve(name))).as("%s vs np.save", name)
                    .isEqualTo(Files.readAllBytes(dir.resolve(name + ".numpy.npy")));
        }
    }

    private static final String CHECK_NPZ = String.join("\n",
            "import sys, zipfile, numpy as np",
            "path = sys.argv[1]",
            "with zipfile.ZipFile(path) as zf:",
            "    assert zf.testzip() is None  # every CRC-32 checks out",
            "    assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())",
            "with np.load(path) as z:",
            "    print(z.files)",
            "    for k in z.files:",
            "        a = z[k]",
            "        print(k, a.dtype.str, a.shape, a.ravel().tolist())");

    @Test
    void npzWrittenByJavaLoadsInNumPyInOrder() throws Exception {
        Path file = dir.resolve("java.npz");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("weights/w1", Tensor.of(new float[] {1.5f, -2, 0.25f, 8}, 2, 2));
        tensors.put("b", Tensor.of(new double[] {0.125, -1e100}, 2));
        tensors.put("a", Tensor.scalar(DType.F64, 3));
        tensors.put("none", Tensor.zeros(DType.F32, 0, 5));
        try {
            Npz.write(file, tensors);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        assertThat(py(CHECK_NPZ, file.toString())).isEqualTo(String.join("\n",
                "['weights/w1', 'b', 'a', 'none']",
                "weights/w1 <f4 (2, 2) [1.5, -2.0, 0.25, 8.0]",
                "b <f8 (2,) [0.125, -1e+100]",
                "a <f8 () [3.0]",
                "none <f4 (0, 5) []",
                ""));

        Path ints = dir.resolve("labels.npz");
        Map<String, NpyArray> arrays = new LinkedHashMap<>();
        arrays.put("y", NpyArray.ofLongs(NpyDType.INT64, new long[] {7, 2, 1}, 3));
        arrays.put("x/img", NpyArray.ofLongs(NpyDType.UINT8, new long[] {0, 255}, 1, 2));
        Npz.writeArrays(ints, arrays);
        assertThat(py(CHECK_NPZ, ints.toString())).isEqualTo(String.join("\n",
                "['y', 'x/img']",
                "y <i8 (3,) [7, 2, 1]",
                "x/img |u1 (1, 2) [0, 255]",
                ""));
    }

    // ------------------------------------------------------------------------------------ NumPy -> Java

    private static final String WRITE_FILES = String.join("\n",
            "import numpy as np",
            "from numpy.lib import format as fmt",
            "np.save('i8.npy', (np.arange(-6, 6, dtype='<i8') * 1000000007).reshape(3, 4))",
            "np.save('u1.npy', np.arange(256, dtype=np.uint8).reshape(16, 16))",
            "np.save('f4.npy', (np.arange(24, dtype=np.float32) / 8 - 1).reshape(2, 3, 4))",
            "np.save('f8_scalar.npy', np.array(np.pi))",
            "np.save('empty.npy', np.zeros((0, 3), np.float32))",
            "np.save('b1.npy', np.array([True, False, True]))",
            "for t in ['i1', 'i2', 'u2', 'i4', 'u4', 'u8']:",
            "    info = np.iinfo(t)",
            "    np.save(t + '.npy', np.array([info.min, 0, 1, info.max], dtype=t))",
            "np.save('sliced.npy', np.arange(12.0).reshape(3, 4)[:, ::2])",
            "for v in [(2, 0), (3, 0)]:",
            "    with open('v%d.npy' % v[0], 'wb') as f:",
            "        fmt.write_array(f, np.arange(5, dtype='<f8'), version=v)",
            "np.save('fortran.npy', np.asfortranarray(np.arange(6.0).reshape(2, 3)))",
            "np.save('fortran_row.npy', np.asfortranarray(np.arange(3.0).reshape(1, 3)))",
            "np.save('bigendian.npy', np.arange(4, dtype='>f4'))",
            "np.save('object.npy', np.array([1, 'a', None], dtype=object), allow_pickle=True)",
            "np.save('unicode.npy', np.array(['ab', 'c']))",
            "np.save('complex.npy', np.arange(3) * 1j)",
            "half = np.arange(65536, dtype=np.uint16).view(np.float16)",
            "half = half[~np.isnan(half)].reshape(-1, 2)",
            "np.save('half.npy', half)",
            "np.save('half_as_f8.npy', half.astype(np.float64))",
            "rng = np.random.default_rng(7)",
            "src = np.concatenate([rng.standard_normal(4000) * 10.0 ** rng.integers(-9, 6, 4000),",
            "    half.astype(np.float64).ravel()[::7] * (1 + 2.0 ** -11), [2049.0, 2051.0, 65519.99, 65520.0,",
            "    2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -26, -0.0, 1e300, np.inf, -np.inf]])",
            "np.save('half_src.npy', src)",
            "with np.errstate(over='ignore'):",
            "    np.save('half_rounded.npy', src.astype(np.float16))",
            "np.save('structured.npy', np.zeros(2, dtype=[('x', '<f4'), ('y', '<i4')]))",
            "big = np.sin(np.arange(300001, dtype=np.float64))",
            "kw = {'x': np.arange(6, dtype=np.float32).reshape(2, 3), 'labels': np.array([3, 1, 2], np.uint8),",
            "      'a/b': np.array(2.5), 'big': big}",
            "np.savez('savez.npz', **kw)",
            "np.savez_compressed('savez_compressed.npz', **kw)",
            "np.savez('bad.npz', good=np.ones(2), bad=np.ones(2, dtype='>f8'))",
            "print('ok')");

    @Test
    void filesWrittenByNumPyReadInJavaOrAreRejectedClearly() throws Exception {
        assertThat(py(WRITE_FILES)).contains("ok");

        NpyArray i8 = Npy.read(dir.resolve("i8.npy"));
        assertThat(i8.descr()).isEqualTo("<i8");
        assertThat(i8.shape()).containsExactly(3, 4);
        for (int i = 0; i < 12; i++) {
            assertThat(i8.getLong(i)).isEqualTo((i - 6) * 1000000007L);
        }
        NpyArray u1 = Npy.read(dir.resolve("u1.npy"));
        assertThat(u1.descr()).isEqualTo("|u1");
        assertThat(u1.shape()).containsExactly(16, 16);
        assertThat(u1.getLong(255)).isEqualTo(255);
        try (Tensor images = Npy.readTensor(dir.resolve("u1.npy"), DType.F32)) {
            assertThat(images.get(15, 15)).isEqualTo(255);
            assertThat(images.get(1, 0)).isEqualTo(16);
        }
        try (Tensor f4 = Npy.readTensor(dir.resolve("f4.npy"))) {
            assertThat(f4.dtype()).isEqualTo(DType.F32);
            assertThat(f4.shape()).containsExactly(2, 3, 4);
            for (int i = 0; i < 24; i++) {
                assertThat(f4.getFlat(i)).isEqualTo(i / 8.0 - 1);
            }
        }
        try (Tensor pi = Npy.readTensor(dir.resolve("f8_scalar.npy"))) {
            assertThat(pi.rank()).isZero();
            assertThat(pi.getFlat(0)).isEqualTo(Math.PI);
        }
        try (Tensor empty = Npy.readTensor(dir.resolve("empty.npy"))) {
            assertThat(empty.shape()).containsExactly(0, 3);
        }
        assertThat(Npy.read(dir.resolve("b1.npy")).toLongArray()).containsExactly(1, 0, 1);
        assertThat(Npy.read(dir.resolve("i1.npy")).toLongArray()).containsExactly(-128, 0, 1, 127);
        assertThat(Npy.read(dir.resolve("i2.npy")).toLongArray()).containsExactly(-32768, 0, 1, 32767);
        assertThat(Npy.read(dir.resolve("u2.npy")).toLongArray()).containsExactly(0, 0, 1, 65535);
        assertThat(Npy.read(dir.resolve("i4.npy")).toLongArray())
                .containsExactly(Integer.MIN_VALUE, 0, 1, Integer.MAX_VALUE);
        assertThat(Npy.read(dir.resolve("u4.npy")).toLongArray()).containsExactly(0, 0, 1, 4294967295L);
        NpyArray u8 = Npy.read(dir.resolve("u8.npy"));
        assertThat(u8.descr()).isEqualTo("<u8");
        assertThat(Long.toUnsignedString(u8.getLong(3))).isEqualTo("18446744073709551615");
        assertThat(u8.getDouble(3)).isEqualTo(0x1p64);
        try (Tensor sliced = Npy.readTensor(dir.resolve("sliced.npy"))) {
            assertThat(sliced.shape()).containsExactly(3, 2);
            assertThat(sliced.toDoubleArray()).containsExactly(0, 2, 4, 6, 8, 10);
        }
        for (String v : List.of("v2", "v3")) {
            Path file = dir.resolve(v + ".npy");
            assertThat(Npy.readHeader(file).majorVersion()).isEqualTo(v.equals("v2") ? 2 : 3);
            try (Tensor t = Npy.readTensor(file)) {
                assertThat(t.toDoubleArray()).containsExactly(0, 1, 2, 3, 4);
            }
        }
        try (Tensor row = Npy.readTensor(dir.resolve("fortran_row.npy"))) {
            assertThat(row.toDoubleArray()).containsExactly(0, 1, 2);
        }

        try (Tensor fortran = Npy.readTensor(dir.resolve("fortran.npy"))) {
            assertThat(Npy.readHeader(dir.resolve("fortran.npy")).fortranOrder()).isTrue();
            assertThat(fortran.shape()).containsExactly(2, 3);
            assertThat(fortran.toDoubleArray()).containsExactly(0, 1, 2, 3, 4, 5);
        }
        assertRejected("bigendian.npy", "big-endian data ('>f4') is not supported");
        assertRejected("object.npy", "object arrays (dtype '|O', pickled Python objects) are not supported");
        assertRejected("unicode.npy", "unsupported dtype '<U2' (unicode string)");
        assertRejected("complex.npy", "unsupported dtype '<c16' (complex)");
        // float16, every finite and infinite value (subnormals, ±0, ±65504, ±inf), exactly NumPy's float64 of it, as
        // an array and as a tensor of either type; and rounding to float16 as NumPy's astype (before 2026-12-07 the
        // type was refused)
        double[] halfAsF8 = Npy.read(dir.resolve("half_as_f8.npy")).toDoubleArray();
        assertThat(halfAsF8).hasSize(65536 - 2046);
        NpyArray half = Npy.read(dir.resolve("half.npy"));
        assertThat(half.descr()).isEqualTo("<f2");
        assertThat(half.toDoubleArray()).containsExactly(halfAsF8);
        for (DType t : DType.values()) {
            try (Tensor read = Npy.readTensor(dir.resolve("half.npy"), t)) {
                assertThat(read.toDoubleArray()).as("%s", t).containsExactly(halfAsF8);
            }
        }
        double[] src = Npy.read(dir.resolve("half_src.npy")).toDoubleArray();
        NpyArray rounded = Npy.read(dir.resolve("half_rounded.npy"));
        NpyArray mine = NpyArray.ofDoubles(NpyDType.FLOAT16, src, src.length);
        for (int i = 0; i < src.length; i++) {
            assertThat(Double.doubleToRawLongBits(mine.getDouble(i))).as("%s", src[i])
                    .isEqualTo(Double.doubleToRawLongBits(rounded.getDouble(i)));
        }
        assertRejected("structured.npy", "structured arrays");

        for (String name : List.of("savez.npz", "savez_compressed.npz")) {
            Path file = dir.resolve(name);
            Map<String, NpyArray> arrays = Npz.read(file);
            assertThat(arrays.keySet()).as(name).containsExactly("x", "labels", "a/b", "big");
            assertThat(arrays.get("x").descr()).isEqualTo("<f4");
            assertThat(arrays.get("x").toDoubleArray()).containsExactly(0, 1, 2, 3, 4, 5);
            assertThat(arrays.get("labels").toLongArray()).containsExactly(3, 1, 2);
            assertThat(arrays.get("a/b").getDouble(0)).isEqualTo(2.5);
            double[] big = arrays.get("big").toDoubleArray();
            assertThat(big).hasSize(300001);
            assertThat(big[300000]).isEqualTo(Math.sin(300000), org.assertj.core.data.Offset.offset(1e-12));
            Map<String, Tensor> tensors = Npz.readTensors(file, DType.F32);
            try {
                assertThat(tensors.get("labels").toFloatArray()).containsExactly(3, 1, 2);
                assertThat(tensors.get("big").size()).isEqualTo(300001);
            } finally {
                tensors.values().forEach(Tensor::close);
            }
            assertThat(Npz.readHeaders(file).get("big").shape()).containsExactly(300001);
        }
        Path bad = dir.resolve("bad.npz");
        assertThatThrownBy(() -> Npz.read(bad))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(bad + ", entry 'bad.npy': big-endian data ('>f8')");
    }

    private static final String WRITE_FORTRAN = String.join("\n",
            "import numpy as np",
            "rng = np.random.default_rng(11)",
            "arrays = {",
            "    'v1': np.asfortranarray(rng.standard_normal(7)),",
            "    'x2': rng.standard_normal((5, 9)).astype(np.float32).T,",  // np.save(f, X.T): (9, 5), Fortran
            "    'x4': np.asfortranarray(rng.standard_normal((6, 3, 2, 4))),",
            "    'i8': np.asfortranarray(rng.integers(-10**12, 10**12, size=(4, 5), dtype=np.int64)),",
            "    'u1': np.asfortranarray(rng.integers(0, 256, size=(8, 3, 2), dtype=np.uint8)),",
            "}",
            "for k, a in arrays.items():",
            "    np.save(k + '.npy', a)",
            "    np.save(k + '_c.npy', np.ascontiguousarray(a))",
            "    print(k, np.load(k + '.npy').flags.f_contiguous, np.load(k + '_c.npy').flags.c_contiguous)",
            "np.savez('f.npz', **arrays)",
            "np.savez_compressed('fz.npz', **arrays)",
            "np.savez('c.npz', **{k: np.ascontiguousarray(a) for k, a in arrays.items()})",
            "np.savez('xy.npz', x=arrays['x4'], y=np.arange(6) % 3)",
            "np.savez('xy_c.npz', x=np.ascontiguousarray(arrays['x4']), y=np.arange(6) % 3)",
            "print('ok')");

    /**
     * Arrays NumPy saves in Fortran order ({@code X.T}, {@code np.asfortranarray}; 1-D, 2-D, 3-D, 4-D; float32,
     * float64, int64, uint8), in {@code .npy} files and {@code .npz} entries stored and deflated, read element for
     * element as their C-order copies ({@code np.ascontiguousarray}) read, whole and their first rows (a data
     * source's {@code :N}).
     */
    @Test
    void fortranOrderFilesWrittenByNumPyReadAsTheirCOrderCopies() throws Exception {
        String out = py(WRITE_FORTRAN);
        assertThat(out).contains("x2 True True").contains("x4 True True").contains("ok");
        List<String> keys = List.of("v1", "x2", "x4", "i8", "u1");
        for (String k : keys) {
            Path f = dir.resolve(k + ".npy");
            Path c = dir.resolve(k + "_c.npy");
            assertThat(Npy.readHeader(f).fortranOrder()).as(k).isEqualTo(!k.equals("v1")); // 1-D: C order too
            assertSameArray(k, Npy.read(f), Npy.read(c));
            try (Tensor tf = Npy.readTensor(f, DType.F64); Tensor tc = Npy.readTensor(c, DType.F64)) {
                assertThat(tf.shape()).isEqualTo(tc.shape());
                assertThat(tf.toDoubleArray()).as(k).containsExactly(tc.toDoubleArray());
            }
            int rows = Npy.readHeader(f).shape()[0];
            for (int n : new int[] {1, rows / 2, rows}) {
                DType target = k.equals("i8") ? DType.F64 : DType.F32; // int64 beyond 2^24: float64 holds them
                try (Tensor tf = Npy.readRows(f, target, n).tensor();
                     Tensor tc = Npy.readRows(c, target, n).tensor()) {
                    assertThat(tf.shape()).as(k + ":" + n).isEqualTo(tc.shape());
                    assertThat(tf.toDoubleArray()).as(k + ":" + n).containsExactly(tc.toDoubleArray());
                }
            }
        }
        Map<String, NpyArray> expected = Npz.read(dir.resolve("c.npz"));
        for (String name : List.of("f.npz", "fz.npz")) {
            Map<String, NpyArray> read = Npz.read(dir.resolve(name));
            assertThat(read.keySet()).as(name).containsExactlyElementsOf(keys);
            for (String k : keys) {
                assertSameArray(name + " " + k, read.get(k), expected.get(k));
            }
            Map<String, Tensor> tensors = Npz.readTensors(dir.resolve(name), DType.F64);
            try {
                for (String k : keys) {
                    assertThat(tensors.get(k).toDoubleArray()).as(name + " " + k)
                            .containsExactly(expected.get(k).toDoubleArray());
                }
            } finally {
                tensors.values().forEach(Tensor::close);
            }
        }
        for (String spec : List.of("x2.npy", "x4.npy", "xy.npz")) {
            String cSpec = spec.replace(".", "_c.");
            for (String n : List.of("", ":1", ":4")) {
                try (Dataset df = DataSource.loadDataset(dir.resolve(spec) + n, DType.F64, 0);
                     Dataset dc = DataSource.loadDataset(dir.resolve(cSpec) + n, DType.F64, 0)) {
                    assertThat(df.x().shape()).as(spec + n).isEqualTo(dc.x().shape());
                    assertThat(df.x().toDoubleArray()).as(spec + n).containsExactly(dc.x().toDoubleArray());
                    assertThat(df.labels()).isEqualTo(dc.labels());
                }
            }
        }
    }

    private static void assertSameArray(String what, NpyArray actual, NpyArray expected) {
        assertThat(actual.dtype()).as(what).isEqualTo(expected.dtype());
        assertThat(actual.shape()).as(what).isEqualTo(expected.shape());
        for (int i = 0; i < expected.size(); i++) {
            if (expected.dtype().isFloating()) {
                assertThat(actual.getDouble(i)).as("%s: element %d", what, i).isEqualTo(expected.getDouble(i));
            } else {
                assertThat(actual.getLong(i)).as("%s: element %d", what, i).isEqualTo(expected.getLong(i));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private void assertRejected(String name, String problem) {
        Path file = dir.resolve(name);
        assertThatThrownBy(() -> Npy.read(file))
                .as(name)
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining(problem);
    }

    // --------------------------------------------------------------------------------- data sources

    private static final String WRITE_LABELLED = String.join("\n",
            "import numpy as np",
            "rng = np.random.default_rng(5)",
            "x = rng.integers(0, 256, size=(7, 4, 4, 1), dtype=np.uint8)",
            "y = rng.integers(0, 10, size=7)",
            "np.savez('labelled.npz', x=x, y=y)",
            "np.savez_compressed('compressed.npz', images=x.astype(np.float32) / 255, classes=y.astype(np.int32))",
            "np.save('x.npy', x)",
            "np.save('y.npy', y.astype(np.uint8))",
            "cols = ['p%d' % i for i in range(16)] + ['label']",
            "np.savetxt('d.csv', np.column_stack([x.reshape(7, -1) / 255.0, y]), delimiter=',',",
            "           header=','.join(cols), comments='', fmt='%.17g')",
            "np.save('expect_x.npy', (x / 255.0).astype(np.float64))",
            "np.save('expect_y.npy', y)",
            "print('ok')");

    @Test
    void labelledDataWrittenByNumPyLoadsAsDataSources() throws Exception {
        assertThat(py(WRITE_LABELLED)).contains("ok");
        double[] expectX = Npy.read(dir.resolve("expect_x.npy")).toDoubleArray();
        long[] expectY = Npy.read(dir.resolve("expect_y.npy")).toLongArray();
        int[] labels = Arrays.stream(expectY).mapToInt(v -> (int) v).toArray();
        String[] specs = {"labelled.npz", "compressed.npz:x=images:y=classes", "x.npy:labels=y.npy", "d.csv"};
        for (String spec : specs) {
            String[] parts = spec.split(":", 2);
            String full = dir.resolve(parts[0]) + (parts.length > 1 ? ":" + parts[1] : "");
            full = full.replace("labels=y.npy", "labels=" + dir.resolve("y.npy"));
            try (Dataset d = DataSource.loadDataset(full, DType.F64, 0)) {
                assertThat(d.labels()).as(spec).isEqualTo(labels);
                double[] x = d.x().toDoubleArray();
                assertThat(x).as(spec).hasSameSizeAs(expectX);
                for (int i = 0; i < x.length; i++) {
                    // uint8 / 255 in float64 is exact in both; float32 images round once.
                    double tol = spec.startsWith("compressed") ? 1e-7 : 0;
                    assertThat(Math.abs(x[i] - expectX[i])).as("%s element %d", spec, i).isLessThanOrEqualTo(tol);
                }
            }
        }
    }

    private static final String CHECK_DEFAULT_DATA = String.join("\n",
            "import gzip, sys, numpy as np",
            "def idx(path):",
            "    b = gzip.open(path, 'rb').read()",
            "    rank = b[3]",
            "    dims = np.frombuffer(b, dtype='>u4', count=rank, offset=4)",
            "    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)",
            "res = sys.argv[1]",
            "x = idx(res + '/train-images-idx3-ubyte.gz')[:300].reshape(300, -1) / 255.0",
            "y = idx(res + '/train-labels-idx1-ubyte.gz')[:300]",
            "mu, sd = x.mean(), x.std()",
            "xs = (x - mu) / sd",
            "java = np.load('java_std.npy')",
            "assert java.shape == (300, 28, 28, 1), java.shape",
            "err = np.abs(java.reshape(300, -1) - xs).max()",
            "assert err < 1e-12, err",
            "assert np.array_equal(np.load('java_y.npy'), y)",
            "print('ok', err, mu, sd)");

    /** The embedded data and the GLOBAL standardisation agree with the same steps done in NumPy. */
    @Test
    void embeddedDataAndStandardisationMatchNumPy() throws Exception {
        Path res = Path.of(DataSource.class.getResource("/org/ntk4j/io/default/train-images-idx3-ubyte.gz").toURI())
                .getParent();
        try (Dataset d = DataSource.loadDataset("default:train:300", DType.F64, 0);
             Dataset s = Standardizer.fit(d.x(), Standardizer.Mode.GLOBAL).apply(d)) {
            Npy.write(dir.resolve("java_std.npy"), s.x());
            long[] y = Arrays.stream(d.labels()).asLongStream().toArray();
            Npy.write(dir.resolve("java_y.npy"), NpyArray.ofLongs(NpyDType.UINT8, y, y.length));
        }
        assertThat(py(CHECK_DEFAULT_DATA, res.toString())).startsWith("ok");
    }

    /** Runs a Python script in the test directory; fails with its output unless it exits with 0. */
    private String py(String script, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(python, "-c", script));
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean finished = p.waitFor(120, TimeUnit.SECONDS);
        if (!finished) {
            p.destroyForcibly();
        }
        assertThat(finished && p.exitValue() == 0).as("%s failed:%n%s", python, out).isTrue();
        return out;
    }

    private static int[] ones(int rank, int... last) {
        int[] shape = new int[rank];
        Arrays.fill(shape, 1);
        System.arraycopy(last, 0, shape, rank - last.length, last.length);
        return shape;
    }

    private static String join(int[] shape) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            sb.append(i > 0 ? "," : "").append(shape[i]);
        }
        return sb.toString();
    }
}
