package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Round trips over random shapes (rank 0 to 5, axes of length 0 included), dtypes and values. */
class NpyProperties {
    private static final float[] SPECIAL_F = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f,
        0.0f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL};
    private static final double[] SPECIAL_D = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0,
        0.0, Double.MIN_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_NORMAL};

    @Provide
    Arbitrary<int[]> shapes() {
        return Arbitraries.integers().between(0, 5).array(int[].class).ofMaxSize(5);
    }

    @Property(tries = 300)
    void tensorsRoundTripBitForBit(@ForAll("shapes") int[] shape, @ForAll DType dtype, @ForAll long seed)
            throws IOException {
        Path file = Files.createTempFile("ntk4j-prop", ".npy");
        try (Tensor t = randomTensor(dtype, shape, new Random(seed))) {
            Npy.write(file, t);
            assertThat(Files.size(file) % 64).isEqualTo(t.bytes() % 64);
            try (Tensor back = Npy.readTensor(file)) {
                assertSameBits(back, t);
            }
            NpyArray array = Npy.read(file);
            assertThat(array.shape()).isEqualTo(shape);
            assertThat(array.dtype()).isEqualTo(NpyDType.of(dtype));
            try (Tensor viaArray = array.toTensor(dtype)) {
                assertSameBits(viaArray, t);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Provide
    Arbitrary<NpyDType> integerTypes() {
        return Arbitraries.of(NpyDType.class).filter(t -> !t.isFloating());
    }

    @Property(tries = 200)
    void integerArraysRoundTrip(@ForAll("shapes") int[] shape, @ForAll("integerTypes") NpyDType dtype,
            @ForAll long seed) throws IOException {
        Random r = new Random(seed);
        long[] values = new long[Shapes.size(shape)];
        for (int i = 0; i < values.length; i++) {
            values[i] = randomInRange(dtype, r);
        }
        Path file = Files.createTempFile("ntk4j-prop", ".npy");
        try {
            Npy.write(file, NpyArray.ofLongs(dtype, values, shape));
            NpyArray back = Npy.read(file);
            assertThat(back.dtype()).isEqualTo(dtype);
            assertThat(back.shape()).isEqualTo(shape);
            assertThat(back.toLongArray()).isEqualTo(values);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Property(tries = 500)
    void headersParseBackToTheirTypeAndShape(@ForAll("shapes") int[] smallShape, @ForAll NpyDType dtype,
            @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int firstAxis) throws IOException {
        int[] shape = smallShape.clone();
        if (shape.length > 0 && Shapes.size(shape) > 0) {
            shape[0] = Math.max(1, firstAxis / Math.max(1, Shapes.size(shape) / shape[0]));
        }
        byte[] bytes = NpyHeader.encode(dtype, shape);
        assertThat(bytes.length % 64).isZero();
        assertThat(bytes[bytes.length - 1]).isEqualTo((byte) '\n');
        NpyHeader h = NpyHeader.read(Channels.newChannel(new java.io.ByteArrayInputStream(bytes)), "header",
                ByteBuffer.allocate(1024));
        assertThat(h.dtype()).isEqualTo(dtype);
        assertThat(h.shape()).isEqualTo(shape);
        assertThat(h.dataOffset()).isEqualTo(bytes.length);
    }

    @Property(tries = 100)
    void npzRoundTripsInInsertionOrder(@ForAll @IntRange(min = 0, max = 5) int entries, @ForAll long seed)
            throws IOException {
        Random r = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<String> keys = new ArrayList<>();
        Path file = Files.createTempFile("ntk4j-prop", ".npz");
        try {
            while (out.size() < entries) {
                String key = randomKey(r);
                if (out.containsKey(key)) {
                    continue;
                }
                int[] shape = new int[r.nextInt(4)];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = r.nextInt(4);
                }
                out.put(key, randomTensor(r.nextBoolean() ? DType.F32 : DType.F64, shape, r));
                keys.add(key);
            }
            Npz.write(file, out);
            Map<String, NpyArray> back = Npz.read(file);
            assertThat(new ArrayList<>(back.keySet())).isEqualTo(keys);
            for (String key : keys) {
                try (Tensor t = back.get(key).toTensor(out.get(key).dtype())) {
                    assertSameBits(t, out.get(key));
                }
            }
        } finally {
            out.values().forEach(Tensor::close);
            Files.deleteIfExists(file);
        }
    }

    private static String randomKey(Random r) {
        String alphabet = "abcxyz_019/.-";
        StringBuilder sb = new StringBuilder();
        int n = 1 + r.nextInt(8);
        for (int i = 0; i < n; i++) {
            sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    private static Tensor randomTensor(DType dtype, int[] shape, Random r) {
        int n = Shapes.size(shape);
        if (dtype == DType.F32) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = r.nextInt(8) == 0 ? SPECIAL_F[r.nextInt(SPECIAL_F.length)]
                        : Float.intBitsToFloat(r.nextInt());
            }
            return Tensor.of(v, shape);
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(8) == 0 ? SPECIAL_D[r.nextInt(SPECIAL_D.length)] : Double.longBitsToDouble(r.nextLong());
        }
        return Tensor.of(v, shape);
    }

    private static long randomInRange(NpyDType dtype, Random r) {
        long bits = r.nextLong();
        switch (dtype) {
            case BOOL:
                return bits & 1;
            case INT8:
                return (byte) bits;
            case UINT8:
                return bits & 0xFF;
            case INT16:
                return (short) bits;
            case UINT16:
                return bits & 0xFFFF;
            case INT32:
                return (int) bits;
            case UINT32:
                return bits & 0xFFFF_FFFFL;
            default:
                return bits;
        }
    }

    /** Same shape, dtype and bits; NaNs compare equal whatever their payload. */
    private static void assertSameBits(Tensor actual, Tensor expected) {
        assertThat(actual.dtype()).isEqualTo(expected.dtype());
        assertThat(actual.shape()).isEqualTo(expected.shape());
        if (expected.dtype() == DType.F32) {
            float[] a = actual.toFloatArray();
            float[] e = expected.toFloatArray();
            for (int i = 0; i < e.length; i++) {
                assertThat(Float.floatToIntBits(a[i])).as("element %d", i).isEqualTo(Float.floatToIntBits(e[i]));
            }
        } else {
            double[] a = actual.toDoubleArray();
            double[] e = expected.toDoubleArray();
            for (int i = 0; i < e.length; i++) {
                assertThat(Double.doubleToLongBits(a[i])).as("element %d", i).isEqualTo(Double.doubleToLongBits(e[i]));
            }
        }
    }
}
