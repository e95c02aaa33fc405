package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.io.RawNpy.concat;
import static org.ntk4j.io.RawNpy.dict;
import static org.ntk4j.io.RawNpy.f4;
import static org.ntk4j.io.RawNpy.f8;
import static org.ntk4j.io.RawNpy.npy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class NpyTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------------------------------- round trips

    @Test
    void float32RoundTrip() throws IOException {
        Path file = dir.resolve("a.npy");
        float[] values = {1.5f, -2.25f, Float.NaN, Float.POSITIVE_INFINITY, -0.0f, Float.MIN_VALUE};
        try (Tensor t = Tensor.of(values, 2, 3)) {
            Npy.write(file, t);
        }
        try (Tensor back = Npy.readTensor(file)) {
            assertThat(back.dtype()).isEqualTo(DType.F32);
            assertThat(back.shape()).containsExactly(2, 3);
            assertThat(back.toFloatArray()).usingElementComparator(Float::compare).containsExactly(values);
        }
    }

    @Test
    void float16IsReadExactlyAndRoundedToNearestEven() throws IOException {
        // 2049 is a tie between 2048 and 2050 (even: 2048); 65520 is the tie between 65504 and 2^16 (∞); 1e-5 and
        // 2^-24 are subnormal; 0.1 rounds to 1638/16384
        double[] given = {0x1p-24, -0x1p-24, 1e-5, 65504, -65504, 2049, 2051, 0.1, 65520, -0.0, 3 * 0x1p-26};
        double[] expected = {0x1p-24, -0x1p-24, 168 * 0x1p-24, 65504, -65504, 2048, 2052, 1638 * 0x1p-14,
            Double.POSITIVE_INFINITY, -0.0, 0x1p-24};
        Path f = dir.resolve("h.npy");
        Npy.write(f, NpyArray.ofDoubles(NpyDType.FLOAT16, given, given.length));
        assertThat(Npy.readHeader(f).dtype()).isEqualTo(NpyDType.FLOAT16);
        assertThat(Npy.read(f).toDoubleArray()).containsExactly(expected);
        try (Tensor t = Npy.readTensor(f, DType.F32); Tensor own = Npy.readTensor(f)) {
            assertThat(t.toDoubleArray()).containsExactly(expected);
            assertThat(own.dtype()).isEqualTo(DType.F32);
            assertThat(own.toDoubleArray()).containsExactly(expected);
        }
        // every bit pattern but NaN's is its own value's rounding (NaN stays NaN)
        for (int bits = 0; bits < 65536; bits++) {
            short h = (short) bits;
            double v = NpyDType.halfToDouble(h);
            if (Double.isNaN(v)) {
                assertThat((bits >>> 10) & 0x1F).isEqualTo(31);
                assertThat(Double.isNaN(NpyDType.halfToDouble(NpyDType.doubleToHalf(v)))).isTrue();
            } else {
                assertThat(NpyDType.doubleToHalf(v)).as("bits %04x", bits).isEqualTo(h);
            }
        }
    }

    @Test
    void float16NaNsKeepTheirSignAndPayloadAsNumPyDoes() {
        // NumPy 2.4's np.array(bits, np.uint16).view(np.float16).astype(np.float64), and back with .astype(np.float16)
        // from the float64 bits (quiet NaNs only: the JVM need not carry a signalling NaN through a double). Until the
        // review of 2026-12-07 every float16 NaN read as 0x7ff8000000000000 and every NaN rounded to 0x7e00.
        short[] half = {0x7E00, (short) 0xFE00, 0x7FFF, (short) 0xFFFF, 0x7E55};
        long[] asF8 = {0x7ff8000000000000L, 0xfff8000000000000L, 0x7ffffc0000000000L, 0xfffffc0000000000L,
            0x7ff9540000000000L};
        for (int i = 0; i < half.length; i++) {
            assertThat(Double.doubleToRawLongBits(NpyDType.halfToDouble(half[i]))).as("%04x", half[i])
                    .isEqualTo(asF8[i]);
        }
        long[] f8 = {0x7FF8000000000000L, 0xFFF8000000000000L, 0x7FF8040000000000L, 0x7FFFFFFFFFFFFFFFL,
            0xFFF9540000000000L, 0x7FF80003FFFFFFFFL};
        short[] rounded = {0x7e00, (short) 0xfe00, 0x7e01, 0x7fff, (short) 0xfe55, 0x7e00};
        NpyArray a = NpyArray.ofDoubles(NpyDType.FLOAT16, java.util.Arrays.stream(f8)
                .mapToDouble(Double::longBitsToDouble).toArray(), f8.length);
        for (int i = 0; i < f8.length; i++) {
            assertThat(NpyDType.doubleToHalf(Double.longBitsToDouble(f8[i]))).as("%016x", f8[i])
                    .isEqualTo(rounded[i]);
            assertThat(Double.doubleToRawLongBits(a.getDouble(i)))
                    .isEqualTo(Double.doubleToRawLongBits(NpyDType.halfToDouble(rounded[i])));
        }
    }

    @Test
    void float64RoundTrip() throws IOException {
        Path file = dir.resolve("a.npy");
        double[] values = {Math.PI, -1e300, Double.NaN, Double.NEGATIVE_INFINITY, -0.0, Double.MIN_VALUE, 7};
        try (Tensor t = Tensor.of(values, 7)) {
            Npy.write(file, t);
        }
        try (Tensor back = Npy.readTensor(file)) {
            assertThat(back.dtype()).isEqualTo(DType.F64);
            assertThat(back.shape()).containsExactly(7);
            assertThat(back.toDoubleArray()).usingElementComparator(Double::compare).containsExactly(values);
        }
    }

    @Test
    void scalarsAndEmptyArraysRoundTrip() throws IOException {
        Path scalar = dir.resolve("s.npy");
        Path empty = dir.resolve("e.npy");
        try (Tensor s = Tensor.scalar(DType.F64, 2.5); Tensor e = Tensor.zeros(DType.F32, 3, 0, 2)) {
            Npy.write(scalar, s);
            Npy.write(empty, e);
        }
        assertThat(headerText(scalar)).startsWith(dict("<f8", "()") + " ").endsWith(" \n");
        assertThat(Files.size(scalar)).isEqualTo(128 + 8);
        assertThat(Files.size(empty)).isEqualTo(128);
        try (Tensor s = Npy.readTensor(scalar); Tensor e = Npy.readTensor(empty)) {
            assertThat(s.rank()).isZero();
            assertThat(s.getFlat(0)).isEqualTo(2.5);
            assertThat(e.shape()).containsExactly(3, 0, 2);
            assertThat(e.size()).isZero();
        }
    }

    @Test
    void largeArraysStreamThroughSeveralChunks() throws IOException {
        int n = NpyIO.CHUNK_BYTES / 4 * 3 + 12345; // three full f4 chunks and a partial one
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = i * 0.5f - 1000;
        }
        Path file = dir.resolve("big.npy");
        try (Tensor t = Tensor.of(values, n)) {
            Npy.write(file, t);
        }
        assertThat(Files.size(file)).isEqualTo(128 + 4L * n);
        try (Tensor back = Npy.readTensor(file); Tensor wide = Npy.readTensor(file, DType.F64)) {
            ArrayAsserts.assertSameElements("read back", back.toFloatArray(), values);
            assertThat(wide.dtype()).isEqualTo(DType.F64);
            assertThat(wide.getFlat(n - 1)).isEqualTo(values[n - 1]);
        }
        NpyArray array = Npy.read(file);
        assertThat(array.dtype()).isEqualTo(NpyDType.FLOAT32);
        assertThat(array.getDouble(n - 1)).isEqualTo(values[n - 1]);
    }

    /** The element-wise copy (used where the platform is big-endian) gives the same bytes as memcpy. */
    @Test
    void elementWiseAndMemcpyPathsAgree() throws IOException {
        for (DType dtype : DType.values()) {
            int n = NpyIO.CHUNK_BYTES / dtype.bytes() + 3 * 8192 + 5; // more than a chunk, several blocks
            try (Tensor t = Tensor.randomNormal(dtype, 42, n); Tensor back = Tensor.zeros(dtype, n)) {
                java.io.ByteArrayOutputStream viaMemcpy = new java.io.ByteArrayOutputStream();
                java.io.ByteArrayOutputStream viaElements = new java.io.ByteArrayOutputStream();
                NpyIO.writeArray(java.nio.channels.Channels.newChannel(viaMemcpy), NpyDType.of(dtype), t.shape(),
                        n, NpyIO.from(t, true));
                NpyIO.writeArray(java.nio.channels.Channels.newChannel(viaElements), NpyDType.of(dtype), t.shape(),
                        n, NpyIO.from(t, false));
                assertThat(viaElements.toByteArray()).isEqualTo(viaMemcpy.toByteArray());
                var in = java.nio.channels.Channels.newChannel(
                        new java.io.ByteArrayInputStream(viaElements.toByteArray()));
                NpyHeader h = NpyHeader.read(in, "memory", NpyIO.chunk());
                NpyIO.readData(in, h, "memory", -1, NpyIO.into(back, h.dtype(), "memory", false));
                ArrayAsserts.assertSameElements("read back", back.toDoubleArray(), t.toDoubleArray());
            }
        }
    }

    @Test
    void floatFilesConvertToTheOtherPrecision() throws IOException {
        Path file = dir.resolve("d.npy");
        try (Tensor t = Tensor.of(new double[] {0.1, 1e-50, 3}, 3)) {
            Npy.write(file, t);
        }
        try (Tensor f = Npy.readTensor(file, DType.F32)) {
            assertThat(f.toFloatArray()).containsExactly(0.1f, 0f, 3f); // 1e-50 underflows to 0 in float32
        }
    }

    @Test
    void aFiniteValueBeyondFloat32IsRefusedNotReadAsInfinity() throws IOException {
        Path file = dir.resolve("big.npy");
        try (Tensor t = Tensor.of(new double[] {1, Double.POSITIVE_INFINITY, -1e300, 2}, 4)) {
            Npy.write(file, t);
        }
        assertThatThrownBy(() -> Npy.readTensor(file, DType.F32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(file + ": element 2 is -1.0E300, beyond float32's range (±3.4028235E38); read the file "
                        + "as float64 (--dtype f64, DType.F64)");
        try (Tensor f = Npy.readTensor(file, DType.F64)) { // float64 holds it, and ∞ stays ∞ for the checks after
            assertThat(f.toDoubleArray()).containsExactly(1, Double.POSITIVE_INFINITY, -1e300, 2);
        }
    }

    // ------------------------------------------------------------------------------- byte-exact headers

    /** np.save('x.npy', np.arange(6, dtype='<f8').reshape(2, 3)), derived by hand from NumPy's format. */
    @Test
    void headerIsByteForByteWhatNumPyWrites() throws IOException {
        Path file = dir.resolve("arange.npy");
        try (Tensor t = Tensor.of(new double[] {0, 1, 2, 3, 4, 5}, 2, 3)) {
            Npy.write(file, t);
        }
        String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        assertThat(dict).hasSize(59);
        // 10-byte preamble + 59 + 58 spaces + '\n' = 128 = 2 * 64: NumPy's 20 spare spaces for the first axis
        // to grow to 21 digits, then 38 to align.
        byte[] expected = concat(
                new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0},
                (dict + " ".repeat(58) + "\n").getBytes(StandardCharsets.US_ASCII),
                f8(0, 1, 2, 3, 4, 5));
        assertThat(Files.readAllBytes(file)).isEqualTo(expected);
    }

    /**
     * The spare spaces for axis growth come before the alignment, so they can push the header past a 64-byte
     * boundary: shape (1, ..., 1, 10) of rank 15 needs 99 + 20 + 1 bytes of header, so the data starts at 192
     * (not 128, as plain padding of the dict would give). And a header that is already aligned gets 64 more
     * spaces, as NumPy's {@code ARRAY_ALIGN - (len % ARRAY_ALIGN)} does.
     */
    @Test
    void headerPaddingFollowsNumPyExactly() throws IOException {
        int[] growth = new int[15];
        Arrays.fill(growth, 1);
        growth[14] = 10;
        String growthDict = dict("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10)");
        assertThat(growthDict).hasSize(99);
        assertThat(NpyHeader.encode(NpyDType.FLOAT32, growth)).isEqualTo(concat(
                new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) 182, 0},
                (growthDict + " ".repeat(82) + "\n").getBytes(StandardCharsets.US_ASCII)));

        int[] aligned = new int[14];
        Arrays.fill(aligned, 1);
        aligned[12] = 10;
        aligned[13] = 10;
        String alignedDict = dict("<f8", "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10)");
        assertThat(alignedDict).hasSize(97);
        // 10 + 97 + 20 growth spaces + '\n' = 128 exactly, so NumPy adds a full 64 spaces.
        assertThat(NpyHeader.encode(NpyDType.FLOAT64, aligned)).isEqualTo(concat(
                new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) 182, 0},
                (alignedDict + " ".repeat(84) + "\n").getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void headersOfEveryShapeAreAlignedAndEndInNewline() {
        int[][] shapes = {{}, {0}, {7}, {123456789}, {2, 3}, {4, 0, 5}, {1, 2, 3, 4, 5, 6, 7, 8}};
        for (int[] shape : shapes) {
            for (NpyDType type : NpyDType.values()) {
                byte[] h = NpyHeader.encode(type, shape);
                assertThat(h.length % 64).as("%s %s", type, Arrays.toString(shape)).isZero();
                assertThat(h[h.length - 1]).isEqualTo((byte) '\n');
                assertThat(new String(h, StandardCharsets.ISO_8859_1)).contains("'descr': '" + type.descr() + "'");
            }
        }
    }

    @Test
    void writesVersion2WhenTheHeaderDoesNotFitVersion1() throws IOException {
        int[] shape = new int[22_000]; // "1, " per axis: a header over 64 KiB
        Arrays.fill(shape, 1);
        Path file = dir.resolve("v2.npy");
        try (Tensor t = Tensor.full(DType.F32, 4.5, shape)) {
            Npy.write(file, t);
        }
        byte[] bytes = Files.readAllBytes(file);
        assertThat(bytes[6]).isEqualTo((byte) 2);
        assertThat(bytes[7]).isEqualTo((byte) 0);
        long hlen = ByteBuffer.wrap(bytes, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL;
        assertThat(hlen).isGreaterThan(0xFFFF);
        assertThat((12 + hlen) % 64).isZero();
        NpyHeader header = Npy.readHeader(file);
        assertThat(header.majorVersion()).isEqualTo(2);
        assertThat(header.rank()).isEqualTo(22_000);
        try (Tensor back = Npy.readTensor(file)) {
            assertThat(back.rank()).isEqualTo(22_000);
            assertThat(back.getFlat(0)).isEqualTo(4.5);
        }
    }

    // --------------------------------------------------------------------------------------------- reading

    @Test
    void readsVersion2And3Headers() throws IOException {
        Path v2 = write("v2.npy", npy(2, dict("<f8", "(2,)"), f8(1, 2)));
        Path v3 = write("v3.npy", npy(3, dict("<f4", "(3,)") + " # \u00e9\u4e2d", f4(1, 2, 3)));
        assertThat(Npy.readHeader(v2).majorVersion()).isEqualTo(2);
        assertThat(Npy.readHeader(v3).majorVersion()).isEqualTo(3);
        try (Tensor a = Npy.readTensor(v2); Tensor b = Npy.readTensor(v3)) {
            assertThat(a.toDoubleArray()).containsExactly(1, 2);
            assertThat(b.toFloatArray()).containsExactly(1, 2, 3);
        }
    }

    @Test
    void readsHeadersWrittenDifferently() throws IOException {
        // Python 2 longs, double quotes, other key order, odd whitespace, no trailing comma.
        Path py2 = write("py2.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }", f8(1, 2)));
        Path other = write("other.npy", npy("{ \"shape\" : ( 1 , 2 ) ,\"fortran_order\":False,\"descr\":\"<f4\"}",
                f4(5, 6)));
        try (Tensor a = Npy.readTensor(py2); Tensor b = Npy.readTensor(other)) {
            assertThat(a.shape()).containsExactly(2, 1);
            assertThat(b.shape()).containsExactly(1, 2);
            assertThat(b.toFloatArray()).containsExactly(5, 6);
        }
    }

    @Test
    void ignoresBytesAfterTheData() throws IOException {
        Path file = write("extra.npy", concat(npy(dict("<f8", "(1,)"), f8(9)), new byte[] {1, 2, 3}));
        try (Tensor t = Npy.readTensor(file)) {
            assertThat(t.toDoubleArray()).containsExactly(9);
        }
    }

    @Test
    void fortranOrderWithOneLongAxisIsTheSameLayoutAndIsRead() throws IOException {
        Path file = write("f1.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 3), }",
                f8(1, 2, 3)));
        try (Tensor t = Npy.readTensor(file)) {
            assertThat(t.shape()).containsExactly(1, 3);
            assertThat(t.toDoubleArray()).containsExactly(1, 2, 3);
        }
    }

    @Test
    void readHeaderReportsTypeShapeAndOffset() throws IOException {
        Path file = dir.resolve("h.npy");
        try (Tensor t = Tensor.zeros(DType.F32, 4, 5)) {
            Npy.write(file, t);
        }
        NpyHeader h = Npy.readHeader(file);
        assertThat(h.dtype()).isEqualTo(NpyDType.FLOAT32);
        assertThat(h.descr()).isEqualTo("<f4");
        assertThat(h.shape()).containsExactly(4, 5);
        assertThat(h.size()).isEqualTo(20);
        assertThat(h.dataOffset()).isEqualTo(128);
        assertThat(h.dataBytes()).isEqualTo(80);
        assertThat(h.majorVersion()).isEqualTo(1);
        assertThat(h.minorVersion()).isZero();
    }

    // ---------------------------------------------------------------------------------- integer dtypes

    @Test
    void everyIntegerDtypeRoundTripsWithItsExtremes() throws IOException {
        long[][] cases = {
            {0, 1, 1, 0},
            {Byte.MIN_VALUE, -1, 0, Byte.MAX_VALUE},
            {0, 1, 128, 255},
            {Short.MIN_VALUE, -1, 0, Short.MAX_VALUE},
            {0, 1, 40000, 65535},
            {Integer.MIN_VALUE, -1, 0, Integer.MAX_VALUE},
            {0, 1, 3_000_000_000L, 0xFFFF_FFFFL},
            {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE},
            {0, 1, Long.MAX_VALUE, -1}, // -1: the bit pattern of 2^64 - 1
        };
        NpyDType[] types = {NpyDType.BOOL, NpyDType.INT8, NpyDType.UINT8, NpyDType.INT16, NpyDType.UINT16,
            NpyDType.INT32, NpyDType.UINT32, NpyDType.INT64, NpyDType.UINT64};
        for (int k = 0; k < types.length; k++) {
            Path file = dir.resolve(types[k].name() + ".npy");
            Npy.write(file, NpyArray.ofLongs(types[k], cases[k], 2, 2));
            assertThat(headerText(file)).contains("'descr': '" + types[k].descr() + "'");
            assertThat(Files.size(file)).isEqualTo(128 + 4L * types[k].itemSize());
            NpyArray back = Npy.read(file);
            assertThat(back.dtype()).isEqualTo(types[k]);
            assertThat(back.shape()).containsExactly(2, 2);
            assertThat(back.toLongArray()).as("%s", types[k]).containsExactly(cases[k]);
        }
        NpyArray u64 = Npy.read(dir.resolve("UINT64.npy"));
        assertThat(u64.getDouble(3)).isEqualTo(0x1p64);
        assertThat(Long.toUnsignedString(u64.getLong(3))).isEqualTo("18446744073709551615");
        assertThat(u64.toString()).contains("18446744073709551615");
        assertThat(Npy.read(dir.resolve("UINT32.npy")).getDouble(3)).isEqualTo(4294967295.0);
    }

    @Test
    void integerFilesConvertToTensors() throws IOException {
        Path labels = dir.resolve("labels.npy");
        Npy.write(labels, NpyArray.ofLongs(NpyDType.UINT8, new long[] {3, 255, 0, 7}, 4));
        try (Tensor t = Npy.readTensor(labels, DType.F32)) {
            assertThat(t.dtype()).isEqualTo(DType.F32);
            assertThat(t.toFloatArray()).containsExactly(3, 255, 0, 7);
        }
        Path big = dir.resolve("i8.npy");
        int n = NpyIO.CHUNK_BYTES / 8 + 100; // crosses a chunk boundary in the converting reader
        long[] values = new long[n];
        for (int i = 0; i < n; i++) {
            values[i] = (long) i * (i % 2 == 0 ? 1 : -1);
        }
        Npy.write(big, NpyArray.ofLongs(NpyDType.INT64, values, n));
        try (Tensor t = Npy.readTensor(big, DType.F64)) {
            for (int i = 0; i < n; i += 997) {
                assertThat(t.getFlat(i)).isEqualTo((double) values[i]);
            }
            assertThat(t.getFlat(n - 1)).isEqualTo((double) values[n - 1]);
        }
        NpyArray array = Npy.read(labels);
        try (Tensor t = array.toTensor(DType.F64)) {
            assertThat(t.toDoubleArray()).containsExactly(3, 255, 0, 7);
        }
    }

    /**
     * Integers convert exactly or not at all: float32 holds every integer up to 2^24 (and 2^30, a power of two),
     * float64 up to 2^53; 2^24 + 1 in float32 and 2^53 + 1 in float64 would be rounded to a neighbour (a token id
     * into another) and are refused naming the element, by the streaming reader and by NpyArray.toTensor alike.
     */
    @Test
    void integersConvertExactlyOrAreRefused() throws IOException {
        long[] exact = {16_777_216, -16_777_216, 1L << 30, Long.MIN_VALUE, 0, 49};
        Path ok = dir.resolve("exact.npy");
        Npy.write(ok, NpyArray.ofLongs(NpyDType.INT64, exact, exact.length));
        try (Tensor f = Npy.readTensor(ok, DType.F32); Tensor d = Npy.readTensor(ok, DType.F64)) {
            for (int i = 0; i < exact.length; i++) {
                assertThat(f.getFlat(i)).isEqualTo((double) exact[i]);
                assertThat(d.getFlat(i)).isEqualTo((double) exact[i]);
            }
        }
        Path f32 = dir.resolve("beyond24.npy");
        Npy.write(f32, NpyArray.ofLongs(NpyDType.INT64, new long[] {3, 16_777_217}, 2));
        String msg = f32 + ": element 1 is the integer 16777217, which float32 cannot hold exactly (it holds every "
                + "integer up to 2^24); converting would round it; read the file as float64 (--dtype f64, DType.F64)";
        assertThatThrownBy(() -> Npy.readTensor(f32, DType.F32)).hasMessage(msg);
        assertThatThrownBy(() -> Npy.read(f32).toTensor(DType.F32, f32.toString())).hasMessage(msg);
        try (Tensor d = Npy.readTensor(f32, DType.F64)) {
            assertThat(d.getFlat(1)).isEqualTo(16_777_217.0);
        }
        Path i32 = dir.resolve("i32.npy");
        Npy.write(i32, NpyArray.ofLongs(NpyDType.INT32, new long[] {-16_777_217}, 1));
        assertThatThrownBy(() -> Npy.readTensor(i32, DType.F32)).hasMessageContaining("element 0 is the integer "
                + "-16777217, which float32 cannot hold exactly");
        Path f64 = dir.resolve("beyond53.npy");
        Npy.write(f64, NpyArray.ofLongs(NpyDType.UINT64, new long[] {(1L << 53) + 1, -1}, 2));
        assertThatThrownBy(() -> Npy.readTensor(f64, DType.F64)).hasMessage(f64 + ": element 0 is the integer "
                + "9007199254740993, which float64 cannot hold exactly (it holds every integer up to 2^53); "
                + "converting would round it");
        Path u64 = dir.resolve("u64.npy");
        Npy.write(u64, NpyArray.ofLongs(NpyDType.UINT64, new long[] {1, -1}, 2)); // 2^64 - 1
        assertThatThrownBy(() -> Npy.readTensor(u64, DType.F64)).hasMessageContaining("element 1 is the integer "
                + "18446744073709551615, which float64 cannot hold exactly");
    }

    @Test
    void readTensorWithoutATypeRefusesIntegers() throws IOException {
        Path file = dir.resolve("ints.npy");
        Npy.write(file, NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 2}, 2));
        assertThatThrownBy(() -> Npy.readTensor(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("'<i8'")
                .hasMessageContaining("readTensor(path, DType)");
    }

    @Test
    void npyArrayValueAccess() {
        NpyArray f = NpyArray.ofDoubles(NpyDType.FLOAT64, new double[] {1, -2, 2.5}, 3);
        assertThat(f.getLong(1)).isEqualTo(-2);
        assertThatThrownBy(() -> f.getLong(2)).isInstanceOf(ArithmeticException.class).hasMessageContaining("2.5");
        assertThatThrownBy(f::toLongArray).isInstanceOf(ArithmeticException.class);
        assertThat(f.toDoubleArray()).containsExactly(1, -2, 2.5);
        NpyArray g = NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {0.1}, 1, 1);
        assertThat(g.getDouble(0)).isEqualTo(0.1f);
        assertThat(g.rank()).isEqualTo(2);
        assertThatThrownBy(() -> NpyArray.ofLongs(NpyDType.UINT8, new long[] {256}, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
        assertThatThrownBy(() -> NpyArray.ofLongs(NpyDType.BOOL, new long[] {2}, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NpyArray.ofLongs(NpyDType.INT8, new long[] {1, 2}, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 3 values");
        assertThatThrownBy(() -> NpyArray.ofLongs(NpyDType.FLOAT32, new long[] {1}, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NpyArray.ofDoubles(NpyDType.INT32, new double[] {1}, 1))
                .isInstanceOf(IllegalArgumentException.class);
        try (Tensor t = Tensor.of(new float[] {1, 2}, 2)) {
            NpyArray fromTensor = NpyArray.of(t);
            assertThat(fromTensor.dtype()).isEqualTo(NpyDType.FLOAT32);
            assertThat(fromTensor.toDoubleArray()).containsExactly(1, 2);
        }
    }

    @Test
    void booleansReadAsZeroOrOne() throws IOException {
        Path file = write("b.npy", npy(dict("|b1", "(3,)"), new byte[] {0, 1, 7}));
        assertThat(Npy.read(file).toLongArray()).containsExactly(0, 1, 1);
    }

    // ----------------------------------------------------------------------------------------------- errors

    @Test
    void fortranOrderIsTransposedOnRead() throws IOException {
        // np.save of np.asfortranarray([[0, 1, 2], [3, 4, 5]]): the column (0, 3) first
        Path file = write("fortran.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                f8(0, 3, 1, 4, 2, 5)));
        NpyHeader h = Npy.readHeader(file);
        assertThat(h.fortranOrder()).isTrue();
        assertThat(h.shape()).containsExactly(2, 3);
        try (Tensor t = Npy.readTensor(file); Tensor f32 = Npy.readTensor(file, DType.F32)) {
            assertThat(t.shape()).containsExactly(2, 3);
            assertThat(t.toDoubleArray()).containsExactly(0, 1, 2, 3, 4, 5);
            assertThat(f32.toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);
        }
        assertThat(Npy.read(file).toDoubleArray()).containsExactly(0, 1, 2, 3, 4, 5);
        try (Tensor first = Npy.readRows(file, DType.F64, 1).tensor()) {
            assertThat(first.shape()).containsExactly(1, 3);
            assertThat(first.toDoubleArray()).containsExactly(0, 1, 2);
        }
    }

    @Test
    void fortranOrderOfRankFourReadsEveryElementWhereNumPyHasIt() throws IOException {
        // shape (2, 3, 2, 2), C-order value of (a, b, c, d) = 1000a + 100b + 10c + d; in the file, a fastest
        int[] shape = {2, 3, 2, 2};
        ByteBuffer data = ByteBuffer.allocate(24 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int d = 0; d < 2; d++) {
            for (int c = 0; c < 2; c++) {
                for (int b = 0; b < 3; b++) {
                    for (int a = 0; a < 2; a++) {
                        data.putInt(1000 * a + 100 * b + 10 * c + d);
                    }
                }
            }
        }
        Path file = write("f4d.npy", npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2, 2), }",
                data.array()));
        NpyArray a = Npy.read(file);
        try (Tensor t = Npy.readTensor(file, DType.F64)) {
            assertThat(a.shape()).containsExactly(shape);
            assertThat(t.shape()).containsExactly(shape);
            int i = 0;
            for (int x = 0; x < 2; x++) {
                for (int y = 0; y < 3; y++) {
                    for (int z = 0; z < 2; z++) {
                        for (int w = 0; w < 2; w++, i++) {
                            assertThat(a.getLong(i)).isEqualTo(1000 * x + 100 * y + 10 * z + w);
                            assertThat(t.get(x, y, z, w)).isEqualTo(1000 * x + 100 * y + 10 * z + w);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aFortranOrderValueFloat32CannotHoldIsNamedByItsCOrderIndex() throws IOException {
        // [[1, 2], [3, 2^24 + 1]] in Fortran order: the refused value is element 3 (row 1, column 1), C order
        Path file = write("fwide.npy", npy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 2), }",
                concat(i8(1), i8(3), i8(2), i8((1L << 24) + 1))));
        assertThatThrownBy(() -> Npy.readTensor(file, DType.F32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(file + ": element 3 ");
        try (Tensor t = Npy.readTensor(file, DType.F64)) {
            assertThat(t.toDoubleArray()).containsExactly(1, 2, 3, (1L << 24) + 1);
        }
    }

    @Test
    void bigEndianIsRejected() throws IOException {
        Path file = write("big.npy", npy(dict(">f4", "(2,)"), new byte[8]));
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining("big-endian data ('>f4') is not supported")
                .hasMessageContaining("astype('<f4')");
        // Single-byte types have no byte order: NumPy writes '|u1', but any marker reads the same bytes.
        Path bytes = write("u1.npy", npy(dict(">u1", "(2,)"), new byte[] {1, 2}));
        assertThat(Npy.read(bytes).toLongArray()).containsExactly(1, 2);
    }

    @Test
    void objectArraysAreRejected() throws IOException {
        Path file = write("obj.npy", npy(dict("|O", "(2,)"), new byte[] {(byte) 0x80, 4, 'N', '.'}));
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining("object arrays")
                .hasMessageContaining("pickled");
    }

    @Test
    void badMagicIsRejected() throws IOException {
        Path text = write("text.npy", "hello, world\n".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> Npy.read(text))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(text + ": not a .npy file: bad magic string, expected \\x93NUMPY, found 'hello, w'");
        Path zip = write("zip.npy", new byte[] {'P', 'K', 3, 4, 20, 0, 0, 0});
        assertThatThrownBy(() -> Npy.read(zip))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("bad magic string")
                .hasMessageContaining("Npz.read");
        Path empty = write("empty.npy", new byte[0]);
        assertThatThrownBy(() -> Npy.read(empty))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(empty + ": not a .npy file: the file is empty");
        Path shortMagic = write("short.npy", new byte[] {(byte) 0x93, 'N', 'U'});
        assertThatThrownBy(() -> Npy.read(shortMagic))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining(shortMagic + ": truncated .npy file");
    }

    @Test
    void unsupportedVersionIsRejected() throws IOException {
        byte[] bytes = npy(dict("<f8", "(1,)"), f8(1));
        bytes[6] = 4;
        Path file = write("v4.npy", bytes);
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(file + ": unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), | unexpected end of header",
        "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3), } | expected ',' or '}'",
        "['descr', '<f8']                                            | the header is not a dict",
        "{'descr': '<f8', 'fortran_order': False}                    | exactly the keys",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1} | exactly the keys",
        "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}   | 'shape' is not a tuple",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3)}  | negative dimension -3",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3.5)} | only integer numbers",
        "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}       | 'fortran_order' is not True or False",
        "{'descr': 8, 'fortran_order': False, 'shape': (2, 3)}       | 'descr' is not a string",
        "{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3)}    | expected ',' or '}'",
        "{'descr': '<f8', 'fortran_order': Flase, 'shape': (2, 3)}   | unexpected name 'Flase'",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x | unexpected text after the end",
        "''                                                          | the header is not a dict",
    })
    void malformedHeadersAreRejected(String header, String problem) throws IOException {
        String text = header.strip();
        Path file = write("bad.npy", npy(text, f8(0, 0, 0, 0, 0, 0)));
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ": malformed .npy header: ")
                .hasMessageContaining(problem)
                .hasMessageContaining("header: " + text.substring(0, Math.min(10, text.length())));
    }

    @Test
    void truncatedDataIsRejectedBeforeAllocating() throws IOException {
        Path file = write("trunc.npy", npy(dict("<f8", "(2, 3)"), f8(1, 2, 3, 4, 5)));
        assertThatThrownBy(() -> Npy.readTensor(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(file + ": truncated .npy file: shape (2, 3) of '<f8' needs 48 data bytes after the"
                        + " 128-byte header, the file has only 40");
        // A header announcing 2^31 - 1 doubles in a small file fails the same way, without a 16 GB allocation.
        Path huge = write("huge.npy", npy(dict("<f8", "(2147483647,)"), f8(1)));
        assertThatThrownBy(() -> Npy.read(huge))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("needs 17179869176 data bytes");
    }

    @Test
    void truncatedHeaderIsRejected() throws IOException {
        byte[] whole = npy(dict("<f4", "(1,)"), f4(1));
        Path file = write("th.npy", Arrays.copyOf(whole, 40));
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(file + ": truncated .npy file: the header should be 118 bytes, the file ends after 30"
                        + " of them");
        Path noLength = write("tl.npy", Arrays.copyOf(whole, 9));
        assertThatThrownBy(() -> Npy.read(noLength))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("ends inside the header length");
    }

    @Test
    void arraysOverTheTensorLimitAreRejected() throws IOException {
        Path file = write("over.npy", npy(dict("|u1", "(65536, 65536)"), new byte[0]));
        // the header is read (for planning: its first rows can be read, PATH.npy:N), the array whole is refused
        // before the file's length is looked at
        assertThat(Npy.readHeader(file).size()).isEqualTo(1L << 32);
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessage(file + ": array of shape (65536, 65536) has more than 2^31-1 elements (4294967296), more "
                        + "than an ntk4j array holds; read its first rows with a data source's :N (PATH.npy:N, N at "
                        + "most 32767), or split it into several files");
        assertThatThrownBy(() -> Npy.readTensor(file, DType.F32))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("(65536, 65536) has more than 2^31-1 elements (4294967296), more than an ntk4j "
                        + "tensor holds; read its first rows with a data source's :N (PATH.npy:N, N at most 8191)");
        Path dim = write("dim.npy", npy(dict("|u1", "(0, 4294967296)"), new byte[0]));
        assertThatThrownBy(() -> Npy.readHeader(dim))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("has dimension 4294967296");
    }

    @ParameterizedTest
    @CsvSource(delimiterString = " => ", quoteCharacter = '"', value = {
        "'<c16' => unsupported dtype '<c16' (complex)",
        "'<U3' => unsupported dtype '<U3' (unicode string)",
        "'|S5' => unsupported dtype '|S5' (byte string)",
        "'>f2' => big-endian data ('>f2') is not supported",
        "'<f16' => unsupported dtype '<f16' (extended-precision float)",
        "'<M8[ns]' => unsupported dtype '<M8[ns]' (datetime64)",
        "'|V8' => unsupported dtype '|V8' (raw bytes / void)",
        "'=f8' => byte order '=' is ambiguous",
        "[('x', '<f4'), ('y', '<i4')] => structured arrays",
    })
    void unsupportedDtypesAreRejected(String descr, String problem) throws IOException {
        Path file = write("dtype.npy", npy("{'descr': " + descr.strip() + ", 'fortran_order': False, 'shape': (1,), }",
                new byte[16]));
        assertThatThrownBy(() -> Npy.read(file))
                .isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining(problem);
        assertThatThrownBy(() -> Npy.readTensor(file, DType.F64)).isInstanceOf(NpyFormatException.class);
    }

    @Test
    void writingAClosedTensorFailsWithoutTouchingTheFile() throws IOException {
        Path file = write("keep.npy", new byte[] {42});
        Tensor t = Tensor.zeros(DType.F32, 2);
        t.close();
        assertThatThrownBy(() -> Npy.write(file, t))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("closed");
        assertThat(Files.readAllBytes(file)).containsExactly(42);
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private static String headerText(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int hlen = (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8;
        return new String(bytes, 10, hlen, StandardCharsets.ISO_8859_1);
    }

    private static byte[] i8(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }
}
